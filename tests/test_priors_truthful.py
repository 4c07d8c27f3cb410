"""Myerson is truthful whatever the prior (issue 9).

* ``phibar`` is checked against an independent characterisation of ironing: its
  integral must be the least concave majorant of the revenue curve ``R(q) = q v``
  computed from scipy's own ``sf`` (concave = ``phibar`` monotone on every float
  probed; a majorant = ``R`` under the chord of every flat; least = ``phibar == phi``
  off the flats and every flat a chord between two points of ``R``).
* One bidder, one position: the revenue equals ``ctr * max_r r (1 - F(r))``, the
  best posted price, computed in closed form (histograms) or by a bounded search.
* IC over a misreport grid for a zoo of regular and irregular priors, on the
  batched (parametric) and the per-auction (brute force) path, with one tie rule.
* The reproductions of the issue, and hypothesis histograms with gaps, narrow
  dips and rare high modes.
"""

from __future__ import annotations

import warnings
import zlib
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

import aigc_auction as aa
from aigc_auction.ironing import iron_piecewise_uniform
from aigc_auction.virtual_values import _CACHE, FLAT_BAND_RTOL, _piecewise_uniform


def hist(masses: list[float], edges: list[float]) -> Any:
    return stats.rv_histogram((np.array(masses, float), np.array(edges, float)), density=False)


def gamma_mixture(w: float, a1: float, s1: float, a2: float, s2: float) -> Any:
    """``(1 - w) Gamma(a1, s1) + w Gamma(a2, s2)`` with a vectorised bisection ``isf``."""

    def comps(x: Any, f: str) -> Any:
        return (1 - w) * getattr(stats.gamma, f)(x, a1, scale=s1) + w * getattr(
            stats.gamma, f)(x, a2, scale=s2)

    class _Mix(stats.rv_continuous):
        def _pdf(self, x: Any) -> Any:
            return comps(x, "pdf")

        def _cdf(self, x: Any) -> Any:
            return comps(x, "cdf")

        def _sf(self, x: Any) -> Any:
            return comps(x, "sf")

        def _isf(self, q: Any) -> Any:
            q = np.asarray(q, dtype=float)
            lo = np.zeros_like(q)
            hi = np.maximum(stats.gamma.isf(q, a1, scale=s1), stats.gamma.isf(q, a2, scale=s2))
            for _ in range(80):
                mid = 0.5 * (lo + hi)
                above = comps(mid, "sf") > q
                lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
            return hi

        def _ppf(self, p: Any) -> Any:
            return self._isf(1.0 - np.asarray(p, dtype=float))

    return _Mix(a=0.0, name="gamma_mixture")()


#: name -> (prior, regular?)
ZOO: dict[str, tuple[Any, bool]] = {
    "uniform": (stats.uniform(0, 1), True),
    "shifted-uniform": (stats.uniform(0.5, 1), True),
    "exponential": (stats.expon(scale=0.5), True),
    "lognormal": (stats.lognorm(0.5), True),
    "beta": (stats.beta(2, 3), True),
    "lognormal-wide": (stats.lognorm(2.0), False),
    "weibull-0.7": (stats.weibull_min(0.7), False),
    "gamma-bimodal": (gamma_mixture(0.3, 2, 0.5, 40, 0.1), False),
    "gamma-rare-mode": (gamma_mixture(1e-4, 2, 1, 200, 0.1), False),
    "hist-bimodal": (hist([1.0, 0.05, 1.0], [0, 1, 2, 3]), False),
    "hist-gap": (hist([0.6, 0.0, 0.4], [0, 1, 2, 3]), False),
    "hist-rare-top": (hist([1 - 1e-4, 1e-4], [0, 1, 10]), False),
    "hist-narrow-band": (hist([0.5999, 1e-4, 0.4], [0, 2, 2.05, 3]), False),
    "hist-flat": (hist([0.8, 0.005, 0.195], [0, 1, 1.5, 3]), False),
    "hist-two-gaps-atomlike": (hist([0.3, 0.0, 0.3, 0.0, 0.4], [1, 2, 3, 3.001, 5, 6]), False),
}
EXACT = [k for k in ZOO if k.startswith("hist") or k.endswith("uniform")]


def _sf_points(prior: Any, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = np.asarray(prior.sf(v), dtype=float)
    return q, q * v


def check_least_concave_majorant(prior: Any, rtol: float = 1e-9) -> None:
    """phibar's integral is the least concave majorant of R (independent check).

    Checks the exact ironing (``iron_piecewise_uniform``) and that
    ``VirtualValue`` differs from it only inside the flats' bands, by at most the band.
    """
    pw = _piecewise_uniform(prior)
    assert pw is not None
    vv, _ = iron_piecewise_uniform(*pw)
    public = aa.VirtualValue(prior)
    band = FLAT_BAND_RTOL * max(float(np.max(np.abs(vv.flats()[0]), initial=0.0)),
                                abs(float(prior.ppf(0.5))))
    x = vv.x
    top = x[-1] * 1.2 + 1.0
    probe = np.unique(np.concatenate((
        np.linspace(0.0, top, 20001), x, np.nextafter(x, -np.inf), np.nextafter(x, np.inf),
    )))
    y = vv(probe)
    y_pub = public(probe)
    fin = np.isfinite(y)
    assert np.array_equal(fin, np.isfinite(y_pub))
    assert np.all(np.abs(y_pub[fin] - y[fin]) <= band * (1 + 1e-12))
    below = probe < x[0]
    assert np.all(y[below] == -np.inf) and np.all(np.isfinite(y[~below]))
    assert np.all(np.diff(y[~below]) >= 0), "phibar must be non-decreasing"
    scale = max(1.0, float(x[-1]))
    levels, lo, hi = vv.flats()
    on_flat = np.zeros(probe.size, dtype=bool)
    for lev, a, b in zip(levels, lo, hi, strict=True):
        on_flat |= (probe >= a) & (probe <= b)
        # the chord of R between the flat's ends has slope `lev` ...
        (q_hi, q_lo), (r_hi, r_lo) = _sf_points(prior, np.array([b, a]))
        if q_lo > q_hi:
            assert (r_lo - r_hi) / (q_lo - q_hi) == pytest.approx(lev, rel=rtol, abs=rtol * scale)
        # ... and R lies under it
        vs = np.linspace(a, b, 2001)
        q, r = _sf_points(prior, vs)
        assert np.all(r <= r_hi + lev * (q - q_hi) + rtol * scale)
    off = ~on_flat & ~below & (probe <= x[-1])
    raw = public.raw(probe[off])
    ok = np.isfinite(raw)
    np.testing.assert_allclose(y[off][ok], raw[ok], rtol=rtol, atol=rtol * scale)


def best_posted_price_revenue(prior: Any, exact: bool) -> float:
    """``max_r r P(v >= r)``: closed form on each histogram bin, else a bounded search."""
    if exact:
        dist = getattr(prior, "dist", prior)
        ends = [prior.ppf(0.0), prior.ppf(1.0)]
        edges = np.asarray(getattr(dist, "_hbins", ends), dtype=float)
        best = float(np.max(edges * prior.sf(edges)))
        for a, b in pairwise(edges):
            s_a, s_b = float(prior.sf(a)), float(prior.sf(b))
            if s_a > s_b:  # r (s_a - d (r - a)) on [a, b], a concave parabola
                d = (s_a - s_b) / (b - a)
                r = float(np.clip((s_a + d * a) / (2 * d), a, b))
                best = max(best, r * (s_a - d * (r - a)))
        return best
    q = np.concatenate((np.linspace(1e-6, 1 - 1e-9, 20001), 10.0 ** -np.arange(6, 12.0)))
    grid = prior.isf(q)
    rev = grid * prior.sf(grid)
    k = int(np.argmax(rev))
    lo, hi = grid[min(k + 1, grid.size - 1)], grid[max(k - 1, 0)]
    res = optimize.minimize_scalar(lambda r: -r * prior.sf(r), bounds=(min(lo, hi), max(lo, hi)),
                                   method="bounded", options={"xatol": 1e-13})
    return max(float(-res.fun), float(rev[k]))


@pytest.mark.parametrize("name", list(ZOO))
def test_regular_and_monotone_everywhere(name: str) -> None:
    prior, regular = ZOO[name]
    vv = aa.VirtualValue(prior)
    assert vv.regular is regular
    assert (len(vv.ironed) == 0) is regular
    assert vv.exact is (name in EXACT)
    x = vv.table.x
    probe = np.sort(np.concatenate((np.linspace(x[0], 2 * x[-1] + 1, 50001), x,
                                    np.nextafter(x, np.inf))))
    assert np.all(np.diff(vv(probe)) >= 0)
    for lo, hi, level in vv.ironed:
        assert np.all(vv(np.linspace(lo, hi, 9)) == level)


@pytest.mark.parametrize("name", EXACT)
def test_exact_ironing_is_the_least_concave_majorant(name: str) -> None:
    check_least_concave_majorant(ZOO[name][0])


@pytest.mark.parametrize("name", list(ZOO))
def test_one_bidder_revenue_is_the_best_posted_price(name: str) -> None:
    prior, _ = ZOO[name]
    exact = name in EXACT
    one = aa.Instance(ctr=[[0.5]])
    mech = aa.Myerson(prior=prior)
    ctr = 0.5
    r = aa.VirtualValue(prior).threshold(0.0, inclusive=False)  # shown iff phibar > 0
    # the mechanism really is the posted price r: not shown below, charged r above
    below, at, above = mech.run(one, [np.nextafter(r, 0.0)]), mech.run(one, [r]), mech.run(
        one, [2 * r + 1])
    assert below.ctr[0] == 0 and at.payments[0] == pytest.approx(ctr * r, rel=1e-15)
    assert above.payments[0] == pytest.approx(ctr * r, rel=1e-15)
    revenue = ctr * r * float(prior.sf(r))  # E[payment]: a step function of the value
    best = ctr * best_posted_price_revenue(prior, exact)
    assert revenue <= best * (1 + 1e-12)  # no truthful IR mechanism beats a posted price
    assert revenue == pytest.approx(best, rel=1e-12 if exact else 1e-9)


def _utilities(mech: aa.Mechanism, inst: aa.Instance, values: np.ndarray,
               grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Truthful utilities (n,) and the best misreport utility of each advertiser (n,)."""
    n = values.size
    rows = [values]
    for i in range(n):
        bb = np.repeat(values[None, :], grid.size, axis=0)
        bb[:, i] = grid
        rows.append(bb)
    bids = np.vstack(rows)
    res = aa.run_batch_arrays(mech, inst, bids)
    u = values[None, :] * res.ctr - res.payments
    truth = u[0]
    best = np.array([u[1 + i * grid.size: 1 + (i + 1) * grid.size, i].max() for i in range(n)])
    return truth, best


def _misreports(vv: aa.VirtualValue, values: np.ndarray) -> np.ndarray:
    _, lo, hi = vv.flats
    x = vv.table.x
    pts = np.concatenate((
        np.linspace(0.0, min(float(x[-1]) * 1.1, 50.0), 31), lo, hi, values,
        np.nextafter(lo, 0.0), np.nextafter(hi, 0.0), 0.5 * (lo + hi),
        [vv.reserve(), vv.threshold(0.0, inclusive=False)],
    ))
    return np.unique(pts[np.isfinite(pts) & (pts >= 0)])


@pytest.mark.parametrize("name", list(ZOO))
def test_no_profitable_misreport_for_every_prior(name: str) -> None:
    prior, _ = ZOO[name]
    vv = aa.VirtualValue(prior)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    _, lo, hi = vv.flats
    for k, solver in enumerate(("parametric", "parametric", "brute_force")):
        n = 3
        inst = aa.Instance(ctr=rng.uniform(0.05, 0.6, (n, 2)), slots=2)
        values = np.asarray(prior.rvs(size=n, random_state=rng), dtype=float)
        if lo.size and k:  # values on the ironed flats
            f = rng.integers(0, lo.size, n)
            values = rng.uniform(lo[f], hi[f])
        mech = aa.Myerson(prior=prior, solver=solver)
        grid = _misreports(vv, values)
        truth, best = _utilities(mech, inst, values, grid)
        scale = np.maximum(values, 1.0) * inst.ctr.max()
        assert np.all(best - truth <= 1e-9 * scale), (solver, values, best - truth)
        out = mech.run(inst, values)
        assert aa.is_individually_rational(out) and np.all(out.payments >= 0)


# -- the reproductions of issue 9 ------------------------------------------------------
ONE = aa.Instance(ctr=[[0.5]], slots=1)


def _u(mech: aa.Mechanism, inst: aa.Instance, bids: list[float], i: int, v: float) -> float:
    out = mech.run(inst, bids)
    return float(v * out.ctr[i] - out.payments[i])


def test_issue_rare_top_mode_is_ironed() -> None:
    pr = hist([1 - 1e-4, 1e-4], [0, 1, 10])
    vv = aa.VirtualValue(pr)
    assert not vv.regular
    assert vv.reserve() == pytest.approx(1 / (2 * (1 - 1e-4)), rel=1e-12)  # 0.50005
    assert vv(3.0) >= vv(0.9)
    mech = aa.Myerson(prior=pr)
    assert mech.run(ONE, [0.9]).payments[0] == pytest.approx(0.5 * vv.reserve(), rel=1e-12)
    assert _u(mech, ONE, [0.6], 0, 0.9) <= _u(mech, ONE, [0.9], 0, 0.9) + 1e-15


def test_issue_gap_in_the_support() -> None:
    pr = hist([0.6, 0.0, 0.4], [0, 1, 2, 3])
    vv = aa.VirtualValue(pr)
    assert not vv.regular and vv.reserve() == 2.0 and vv(0.9) < 0
    mech = aa.Myerson(prior=pr)
    for v, lie in ((0.95, 0.85), (2.675, 0.833)):
        assert _u(mech, ONE, [lie], 0, v) <= _u(mech, ONE, [v], 0, v) + 1e-15
    # revenue: posting 2 earns 2 * 0.4, times the CTR 0.5 -- exactly, no more
    assert 0.5 * 2.0 * float(pr.sf(2.0)) == pytest.approx(0.4, rel=1e-15)


def test_issue_narrow_low_density_band() -> None:
    pr = hist([0.5999, 1e-4, 0.4], [0, 2, 2.05, 3])
    mech = aa.Myerson(prior=pr)
    assert not aa.VirtualValue(pr).regular
    assert _u(mech, ONE, [1.99], 0, 2.03) <= _u(mech, ONE, [2.03], 0, 2.03) + 1e-15


@pytest.mark.parametrize("solver", ["parametric", "brute_force", "lp_highs"])
def test_issue_tie_on_an_ironed_flat(solver: str) -> None:
    pr = hist([0.8, 0.005, 0.195], [0, 1, 1.5, 3])
    lo, hi, _ = aa.VirtualValue(pr).ironed[0]
    assert lo < 1.2 < hi
    inst = aa.Instance(ctr=[[0.07, 0.05], [0.07, 0.05]], slots=2)
    mech = aa.Myerson(prior=pr, solver=solver)
    truthful = _u(mech, inst, [1.2, 1.2], 1, 1.2)
    for lie in (1.6, hi, np.nextafter(hi, 0), lo, 1.0, 2.5):
        assert _u(mech, inst, [1.2, lie], 1, 1.2) <= truthful + 1e-15, lie


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 4),
    m=st.integers(1, 3),
)
def test_symmetric_markets_with_values_on_a_flat(seed: int, n: int, m: int) -> None:
    """Identical CTR rows, values on the ironed flat: ties everywhere, nobody gains."""
    pr = hist([0.8, 0.005, 0.195], [0, 1, 1.5, 3])
    vv = aa.VirtualValue(pr)
    lo, hi, _ = vv.ironed[0]
    rng = np.random.default_rng(seed)
    inst = aa.Instance(ctr=np.repeat(rng.uniform(0.01, 0.5, (1, m)), n, axis=0),
                       slots=int(rng.integers(1, m + 1)))
    values = rng.uniform(lo, hi, n)
    values[rng.random(n) < 0.3] = rng.uniform(0, 3)
    grid = _misreports(vv, values)
    for solver in ("parametric", "brute_force"):
        truth, best = _utilities(aa.Myerson(prior=pr, solver=solver), inst, values, grid)
        assert np.all(best - truth <= 1e-12), (solver, best - truth)


def test_bid_just_above_a_flat_is_not_a_tie() -> None:
    """A bid one ulp above a flat must not land in the solver's tie tolerance.

    Four identical advertisers on the flat, three positions: at exactly the flat's
    level the solver breaks the tie by index; one ulp above it the objectives still
    tie to 1e-12, and the solver could pick an allocation worse for the higher
    bidder (a non-monotone rule). Virtual values within the flat's band are set to
    its level, so the first coefficient above the flat is clearly above it.
    """
    pr = hist([0.8, 0.005, 0.195], [0, 1, 1.5, 3])
    vv = aa.VirtualValue(pr)
    level, _, z_hi = (f[0] for f in vv.flats)
    assert vv(z_hi) > level * (1 + 1e-10)
    inst = aa.Instance(ctr=np.repeat([[0.34916679, 0.35366825, 0.0535745]], 4, axis=0), slots=3)
    values = np.array([0.72111602, 1.09951843, 1.15535567, 0.70319928])
    for solver in ("parametric", "brute_force"):
        mech = aa.Myerson(prior=pr, solver=solver)
        grid = np.array([z_hi, np.nextafter(z_hi, 0), np.nextafter(z_hi, 9), 1.2, 2.0])
        for i in range(4):
            for z in grid:
                b = values.copy()
                b[i] = z
                out = mech.run(inst, b)
                assert aa.is_individually_rational(out)
        truth, best = _utilities(mech, inst, values, _misreports(vv, values))
        assert np.all(best - truth <= 1e-12)


def test_scalar_and_batched_paths_share_the_tie_rule() -> None:
    pr = hist([0.8, 0.005, 0.195], [0, 1, 1.5, 3])
    lo, hi, _ = aa.VirtualValue(pr).ironed[0]
    rng = np.random.default_rng(4)
    fast = aa.Myerson(prior=pr)

    class Generic(aa.Myerson):  # the per-auction path with the same solver
        def fast_arrays(self, *args: object) -> None:
            return None

    slow = Generic(prior=pr)
    for _ in range(15):
        inst = aa.Instance(ctr=np.repeat(rng.uniform(0.01, 0.5, (1, 2)), 3, axis=0), slots=2)
        b = rng.uniform(lo, hi, 3)
        o1, o2 = fast.run(inst, b), slow.run(inst, b)
        assert np.array_equal(o1.assignment, o2.assignment)
        np.testing.assert_allclose(o1.payments, o2.payments, rtol=1e-12, atol=1e-15)


# -- random histograms ----------------------------------------------------------------
@st.composite
def histograms(draw: st.DrawFn) -> Any:
    k = draw(st.integers(1, 6))
    widths = draw(st.lists(st.sampled_from([1e-3, 0.05, 0.5, 1.0, 3.0]), min_size=k, max_size=k))
    start = draw(st.sampled_from([0.0, 0.2, 1.0]))
    edges = start + np.concatenate(([0.0], np.cumsum(widths)))
    masses = np.array(draw(st.lists(st.sampled_from([0.0, 1e-6, 1e-4, 0.01, 0.3, 1.0]),
                                    min_size=k, max_size=k)))
    if masses.sum() == 0:
        masses[-1] = 1.0
    return hist(list(masses), list(edges))


@settings(max_examples=40, deadline=None)
@given(prior=histograms())
def test_random_histograms_iron_exactly(prior: Any) -> None:
    check_least_concave_majorant(prior)
    vv = aa.VirtualValue(prior)
    assert vv.exact
    r = vv.threshold(0.0, inclusive=False)
    revenue = r * float(prior.sf(r))
    assert revenue == pytest.approx(best_posted_price_revenue(prior, True), rel=1e-11)


@settings(max_examples=15, deadline=None)
@given(prior=histograms(), seed=st.integers(0, 2**32 - 1))
def test_random_histograms_are_truthful(prior: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vv = aa.VirtualValue(prior)
    inst = aa.Instance(ctr=rng.uniform(0.05, 0.6, (2, 2)), slots=int(rng.integers(1, 3)))
    values = np.asarray(prior.rvs(size=2, random_state=rng), dtype=float)
    truth, best = _utilities(aa.Myerson(prior=prior), inst, values, _misreports(vv, values))
    assert np.all(best - truth <= 1e-9 * np.maximum(values, 1.0))


# -- vectorised priors (issue 10): no scipy call per auction ------------------------
class CountingPrior:
    """A prior that counts calls of its methods (validation and ironing use them)."""

    def __init__(self, base: Any) -> None:
        self.base = base
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        if name in ("pdf", "sf", "cdf", "ppf", "isf", "rvs"):
            def f(*a: Any, **k: Any) -> Any:
                self.calls += 1
                return getattr(self.base, name)(*a, **k)
            return f
        raise AttributeError(name)


def test_no_scipy_calls_per_auction_and_one_table_per_prior() -> None:
    prior = CountingPrior(stats.lognorm(0.5))
    mech = aa.Myerson(prior=prior)
    built = prior.calls
    assert built > 0
    rng = np.random.default_rng(0)
    inst = aa.Instance(ctr=rng.uniform(0, 0.5, (6, 3)), slots=2)
    aa.run_batch_arrays(mech, inst, rng.uniform(0, 4, (200, 6)))
    mech.run(inst, rng.uniform(0, 4, 6))
    assert prior.calls == built  # evaluation and thresholds read the table only
    again = aa.Myerson(prior=prior)
    assert again.virtual_values(1)[0].table is mech.virtual_values(1)[0].table
    assert aa.VirtualValue(stats.lognorm(0.5)).table is aa.VirtualValue(stats.lognorm(0.5)).table
    assert len(_CACHE) >= 1


@pytest.mark.parametrize("solver", ["parametric", "brute_force", "lp_highs"])
def test_bids_below_the_support_raise_no_warning(solver: str) -> None:
    """A bid below its prior's support has phibar = -inf: never shown, no NaN warning."""
    mech = aa.Myerson(prior=stats.uniform(0.5, 1), solver=solver)
    inst = aa.Instance(ctr=[[0.3, 0.2], [0.2, 0.1], [0.4, 0.3]], slots=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = mech.run(inst, [0.1, 0.9, 1.2])
        batch = aa.run_batch_arrays(mech, inst, np.array([[0.1, 0.9, 1.2], [0.2, 0.3, 0.4]]))
    assert out.ctr[0] == 0 and out.payments[0] == 0
    np.testing.assert_array_equal(batch.payments[0], out.payments)
    assert np.all(batch.payments[1] == 0)
