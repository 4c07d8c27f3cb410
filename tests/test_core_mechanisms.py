"""VCG and Myerson under MNL: payments by definition, textbook numbers, IC and IR."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import aigc_auction as aa
from aigc_auction.payments import monotone_payment

U01 = stats.uniform(0, 1)


def best_welfare(p: np.ndarray, slots: int, bids: np.ndarray) -> float:
    """Optimal MNL welfare by plain enumeration (independent of the library)."""
    n, m = p.shape
    w = p / (1 - p)
    best = 0.0
    for k in range(1, min(slots, n, m) + 1):
        for ads in permutations(range(n), k):
            for pos in permutations(range(m), k):
                ww = w[list(ads), list(pos)]
                best = max(best, float(bids[list(ads)] @ ww / (1 + ww.sum())))
    return best


def random_market(seed: int) -> tuple[aa.Instance, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    inst = aa.Instance(ctr=rng.uniform(0, 0.9, size=(n, m)), slots=int(rng.integers(1, m + 1)))
    bids = rng.uniform(0, 1, size=n)
    bids[rng.random(n) < 0.1] = 0.0
    return inst, bids


def test_vcg_payments_equal_clarke_by_definition() -> None:
    for seed in range(200):
        inst, b = random_market(seed)
        out = aa.VCG(aa.MNL()).run(inst, b)
        w_star = best_welfare(inst.ctr, inst.slots, b)
        assert out.welfare == pytest.approx(w_star, rel=1e-12, abs=1e-15)
        for i in range(inst.n_advertisers):
            others = np.delete(np.arange(inst.n_advertisers), i)
            w_minus = best_welfare(inst.ctr[others], inst.slots, b[others]) if others.size else 0.0
            clarke = w_minus - (w_star - b[i] * out.ctr[i])
            assert out.payments[i] == pytest.approx(clarke, abs=1e-12), (seed, i)


def test_myerson_formula_with_welfare_rule_equals_vcg() -> None:
    """The generic Myerson payment of the welfare-maximising rule is the VCG payment."""
    vcg = aa.VCG(aa.MNL())
    for seed in range(60):
        inst, b = random_market(seed)
        out = vcg.run(inst, b)
        for i in np.flatnonzero(out.ctr > 0):

            def ctr_at(
                z: float, i: int = int(i), b: np.ndarray = b, inst: aa.Instance = inst
            ) -> float:
                bb = b.copy()
                bb[i] = z
                return float(vcg.run(inst, bb).ctr[i]) if z > 0 else 0.0

            # 1e-10: near a kink the LP backend's optimality tolerance (~1e-10
            # relative) decides ties, which moves a bisected jump by that much
            assert monotone_payment(ctr_at, float(b[i])) == pytest.approx(
                out.payments[i], abs=1e-10
            ), (seed, i)


def test_envelope_thresholds_with_welfare_rule_equal_vcg() -> None:
    """Exact threshold payments (envelope, few solves) agree with Clarke pivots."""
    vcg = aa.VCG(aa.MNL())
    for seed in range(200, 300):
        inst, b = random_market(seed)
        out = vcg.run(inst, b)
        alloc = vcg.allocate(inst, b)
        for i in np.flatnonzero(out.ctr > 0):
            jumps = vcg.threshold_jumps(inst, b, int(i), alloc)
            pay = aa.payments.payment_from_jumps(jumps)
            assert pay == pytest.approx(out.payments[i], abs=1e-12), (seed, i)


def _expected_revenue_two_bidders(mech: aa.Mechanism, inst: aa.Instance) -> float:
    """E[revenue] for two U[0, 1] bidders, integrated exactly.

    Revenue is affine on each triangle of the square cut by v1 = 1/2, v2 = 1/2 and
    v1 = v2 (the only kinks and jumps of VCG and Myerson here), so area times the
    value at the centroid integrates it exactly; each triangle is split further
    to show the answer does not move.
    """
    corners = [(0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (0.0, 0.5), (0.5, 0.5),
               (1.0, 0.5), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0)]
    c = np.array(corners)
    tris = [(0, 1, 4), (0, 3, 4), (1, 2, 5), (1, 4, 5), (3, 4, 7), (3, 6, 7),
            (4, 5, 8), (4, 7, 8)]
    pieces = [c[list(t)] for t in tris]
    for _ in range(2):  # refine: each triangle into four
        nxt = []
        for t in pieces:
            a, b_, d = t
            ab, bd, da = (a + b_) / 2, (b_ + d) / 2, (d + a) / 2
            nxt += [np.array(x) for x in ([a, ab, da], [ab, b_, bd], [da, bd, d], [ab, bd, da])]
        pieces = nxt
    total = 0.0
    for t in pieces:
        (x1, y1), (x2, y2) = t[1] - t[0], t[2] - t[0]
        area = 0.5 * abs(x1 * y2 - x2 * y1)
        total += area * mech.run(inst, t.mean(axis=0)).revenue
    return total


def test_textbook_one_position_half_ctr() -> None:
    """p = 0.5 for both bidders, values U[0, 1]: VCG 1/6, Myerson 5/24 (reserve 1/2)."""
    inst = aa.Instance(ctr=[[0.5], [0.5]])
    assert _expected_revenue_two_bidders(aa.VCG(aa.MNL()), inst) == pytest.approx(1 / 6, abs=1e-12)
    mye = aa.Myerson(aa.MNL(), prior=U01)
    assert _expected_revenue_two_bidders(mye, inst) == pytest.approx(5 / 24, abs=1e-12)
    assert aa.VirtualValue(U01).reserve() == pytest.approx(0.5, abs=1e-15)


def test_myerson_reserve_and_prices() -> None:
    inst = aa.Instance(ctr=[[0.5], [0.5]])
    mye = aa.Myerson("mnl", prior=U01)
    assert mye.run(inst, [0.45, 0.3]).assignment.tolist() == [-1, -1]  # below reserve
    out = mye.run(inst, [0.9, 0.7])
    assert out.price_per_click.tolist() == pytest.approx([0.7, 0.0])
    out = mye.run(inst, [0.9, 0.2])
    assert out.price_per_click.tolist() == pytest.approx([0.5, 0.0])


IRREGULAR = stats.rv_histogram((np.array([1.0, 0.05, 1.0]), np.array([0.0, 1.0, 2.0, 3.0])))


def test_ironing_gives_monotone_virtual_values() -> None:
    vv = aa.VirtualValue(IRREGULAR)
    assert not vv.regular and len(vv.ironed) == 1
    grid = np.linspace(0, 3.5, 2001)
    phibar = vv(grid)
    assert np.all(np.diff(phibar) >= 0)
    raw = vv.raw(grid)
    assert np.any(np.diff(raw[np.isfinite(raw)]) < 0)  # raw phi really is non-monotone
    lo, hi, level = vv.ironed[0]
    assert np.allclose(vv(np.linspace(lo, hi, 9)), level)
    for dist in (U01, stats.expon(), stats.lognorm(0.5)):
        assert aa.VirtualValue(dist).regular


def test_myerson_with_irregular_prior_is_truthful() -> None:
    mech = aa.Myerson(aa.MNL(), prior=IRREGULAR)
    rng = np.random.default_rng(5)
    for _ in range(6):
        inst = aa.Instance(ctr=rng.uniform(0, 0.8, (3, 2)), slots=2)
        v = rng.uniform(0, 3, 3)
        out = mech.run(inst, v)
        assert aa.is_individually_rational(out)
        grid = np.concatenate((np.linspace(0, 3.5, 15), vv_edges()))
        assert aa.max_misreport_gain(mech, inst, v, grid=grid).gain <= 1e-9


def vv_edges() -> np.ndarray:
    lo, hi, _ = aa.VirtualValue(IRREGULAR).ironed[0]
    return np.array([lo, hi, (lo + hi) / 2, lo - 1e-3, hi + 1e-3])


def test_per_advertiser_priors() -> None:
    inst = aa.Instance(ctr=[[0.5], [0.5]])
    mech = aa.Myerson(aa.MNL(), prior=[stats.uniform(0, 1), stats.uniform(0, 2)])
    # reserves 1/2 and 1: the second bidder at 0.9 is below its reserve
    assert mech.run(inst, [0.6, 0.9]).assignment.tolist() == [0, -1]
    with pytest.raises(ValueError, match="`prior`"):
        mech.run(aa.Instance(ctr=[[0.5], [0.5], [0.2]]), [0.1, 0.2, 0.3])


ctr_entries = st.floats(0.0, 0.9, allow_nan=False)
bid_entries = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def markets(draw: st.DrawFn) -> tuple[aa.Instance, np.ndarray]:
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 3))
    p = np.array(draw(st.lists(ctr_entries, min_size=n * m, max_size=n * m))).reshape(n, m)
    k = draw(st.integers(1, m))
    v = np.array(draw(st.lists(bid_entries, min_size=n, max_size=n)))
    return aa.Instance(ctr=p, slots=k), v


MECHANISMS = [aa.VCG(aa.MNL()), aa.Myerson(aa.MNL(), prior=U01),
              aa.Myerson(aa.MNL(), prior=stats.expon(scale=0.5))]


@pytest.mark.parametrize("mech", MECHANISMS, ids=["vcg", "myerson-uniform", "myerson-expon"])
@settings(max_examples=40)
@given(market=markets())
def test_ir_and_payment_bounds(mech: aa.Mechanism, market: tuple) -> None:
    inst, v = market
    out = mech.run(inst, v)
    assert aa.is_individually_rational(out, v)
    assert np.all(out.payments >= 0)
    assert np.all(out.payments <= v * out.ctr + 1e-12)
    assert np.all(out.payments[out.ctr == 0] == 0)
    assert aa.is_feasible(inst, out.assignment, out.order)


@pytest.mark.parametrize("mech", MECHANISMS, ids=["vcg", "myerson-uniform", "myerson-expon"])
@settings(max_examples=15)
@given(market=markets())
def test_no_profitable_misreport(mech: aa.Mechanism, market: tuple) -> None:
    inst, v = market
    grid = np.linspace(0.0, 1.5, 16)
    assert aa.max_misreport_gain(mech, inst, v, grid=grid).gain <= 1e-9


@pytest.mark.parametrize("mech", MECHANISMS[:2], ids=["vcg", "myerson"])
def test_conformance(mech: aa.Mechanism) -> None:
    aa.check_mechanism(mech, n_instances=4, rng=11)


def test_outcome_tables() -> None:
    inst = aa.Instance(ctr=[[0.3, 0.1], [0.2, 0.25], [0.1, 0.05]], slots=2)
    out = aa.VCG("mnl").run(inst, [1.0, 0.8, 0.5])
    d = out.to_dict()
    assert d["welfare"] == pytest.approx(out.welfare)
    assert d["revenue"] == pytest.approx(out.payments.sum())
    df = out.to_frame()
    assert list(df.index) == [0, 1, 2]
    assert {"bid", "position", "ctr", "payment", "price_per_click"} <= set(df.columns)
    assert df["payment"].sum() == pytest.approx(out.revenue)
    assert out.price_per_click[2] == 0.0
    with pytest.raises(ValueError):
        out.payments[0] = 1.0  # read-only


def test_vcg_refuses_nothing_exact_and_myerson_needs_prior() -> None:
    with pytest.raises(TypeError):
        aa.Myerson(aa.MNL())  # type: ignore[call-arg]
    for name in aa.available_solvers("mnl"):
        aa.VCG(aa.MNL(), solver=name)  # every MNL solver is exact
