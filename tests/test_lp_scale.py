"""LP and MILP backends are scale-free: they agree with brute force or raise (issue 9).

Bids of 1e-9 .. 1e9 (also mixed within one market), CTRs from 1e-9 to 1 - 1e-6:
the MNL assortment LP (``lp_highs``, ``pulp_highs``, ``pulp_cbc``) and the
cascade MILP (``milp``, ``milp_cbc``) give brute force's welfare and VCG
payments, never a wrong or negative payment; a verification failure is a
``SolverError``, not a silent answer.
"""

from __future__ import annotations

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.payments import clip_roundoff
from aigc_auction.solvers.mnl import lp

MNL_LP = ["lp_highs", "pulp_highs", "pulp_cbc"]
CASCADE_MILP = ["milp", "milp_cbc"]


def _agree(out: aa.Outcome, ref: aa.Outcome) -> None:
    assert out.welfare == pytest.approx(ref.welfare, rel=1e-9, abs=0.0)
    assert np.all(out.payments >= 0)
    np.testing.assert_allclose(out.payments, ref.payments, rtol=1e-7,
                               atol=1e-9 * max(ref.welfare, 1e-300))


def extreme_market(seed: int, p_max: float) -> tuple[aa.Instance, np.ndarray]:
    """CTRs near 1, moderate and tiny; bids at a random scale, sometimes mixed."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 5)), int(rng.integers(1, 4))
    kind = rng.integers(0, 3, (n, m))
    p = np.where(kind == 0, 1 - 10.0 ** -rng.uniform(0, 9, (n, m)),
                 np.where(kind == 1, rng.uniform(0, 0.9, (n, m)),
                          10.0 ** -rng.uniform(1, 9, (n, m))))
    inst = aa.Instance(ctr=np.minimum(p, p_max), slots=int(rng.integers(1, m + 1)))
    bids = rng.uniform(0, 1, n) * 10.0 ** rng.uniform(-9, 9)
    if seed % 3 == 0:
        bids *= 10.0 ** rng.uniform(-6, 0, n)
    return inst, bids


@pytest.mark.parametrize("scale", [1e-9, 1e-8, 1e-6, 1.0, 1e9])
@pytest.mark.parametrize("solver", MNL_LP)
def test_issue_example_at_every_bid_scale(solver: str, scale: float) -> None:
    inst = aa.Instance(ctr=[[0.3, 0.2], [0.25, 0.25], [0.4, 0.1]], slots=2)
    b = np.array([0.9, 0.7, 0.5]) * scale
    out, ref = aa.VCG(solver=solver).run(inst, b), aa.VCG(solver="brute_force").run(inst, b)
    assert np.array_equal(out.assignment, ref.assignment)
    _agree(out, ref)
    assert np.all(out.utilities() >= 0)


def test_issue_negative_payment_example() -> None:
    inst = aa.Instance(ctr=[[0.12, 0.25], [0.73, 0.54], [0.13, 0.42]], slots=2)
    b = np.array([0.51, 0.2, 0.75]) * 1e-9
    ref = aa.VCG(solver="brute_force").run(inst, b)
    for solver in MNL_LP:
        _agree(aa.VCG(solver=solver).run(inst, b), ref)


@pytest.mark.parametrize("scale", [1e-9, 1e-6, 1e9])
@pytest.mark.parametrize("solver", MNL_LP)
def test_mnl_lp_agrees_with_brute_force_at_every_scale(solver: str, scale: float) -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, m = int(rng.integers(2, 6)), int(rng.integers(1, 4))
        inst = aa.Instance(ctr=rng.uniform(0, 0.9, (n, m)), slots=int(rng.integers(1, m + 1)))
        b = rng.uniform(0, 1, n) * scale
        _agree(aa.VCG(solver=solver).run(inst, b), aa.VCG(solver="brute_force").run(inst, b))


@pytest.mark.parametrize("solver", MNL_LP)
def test_mnl_lp_agrees_with_brute_force_at_extremes(solver: str) -> None:
    for seed in range(40):
        inst, b = extreme_market(seed, 1 - 1e-6)
        out = aa.VCG(solver=solver).run(inst, b)
        _agree(out, aa.VCG(solver="brute_force").run(inst, b))


@pytest.mark.parametrize("solver", CASCADE_MILP)
def test_cascade_milp_agrees_with_brute_force_at_extremes(solver: str) -> None:
    for seed in range(30):
        inst, b = extreme_market(seed, 1.0)
        rng = np.random.default_rng(seed)
        model = aa.Cascade(continue_after_click=float(rng.uniform()),
                           continue_after_skip=float(rng.uniform()),
                           order=("optimized", "fixed")[seed % 2])
        out = aa.VCG(model, solver=solver).run(inst, b)
        _agree(out, aa.VCG(model, solver="brute_force").run(inst, b))


@pytest.mark.parametrize("solver", [*CASCADE_MILP, "brute_force"])
def test_subnormal_bid_gives_an_answer(solver: str) -> None:
    """Issue 11, item 11: a bid of 5e-324 used to reach PuLP as an objective 0/0."""
    out = aa.VCG(aa.Cascade(continue_after_skip=0.8), solver=solver).run(
        aa.Instance(ctr=[[0.3]]), [5e-324])
    assert out.welfare == 0.0 and out.revenue == 0.0 and out.payments[0] == 0.0


@pytest.mark.parametrize("solver", MNL_LP)
def test_subnormal_and_huge_bids_under_mnl(solver: str) -> None:
    inst = aa.Instance(ctr=[[0.3, 0.2], [0.25, 0.25]], slots=2)
    for b in ([5e-324, 1e-320], [1e300, 3e299], [1e300, 5e-324]):
        out = aa.VCG(solver=solver).run(inst, b)
        assert np.all(out.payments >= 0) and np.all(np.isfinite(out.payments))
        assert out.welfare == pytest.approx(
            aa.VCG(solver="brute_force").run(inst, b).welfare, rel=1e-12)


def test_a_suboptimal_lp_vertex_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the LP stops at a worse vertex, the certificate raises SolverError."""
    inst = aa.Instance(ctr=[[0.5, 0.2], [0.2, 0.5], [0.3, 0.3]], slots=2)

    def lazy(prog: lp._LP) -> tuple[float, np.ndarray]:  # shows advertiser 2 alone
        y = np.zeros(prog.obj.size - 1)
        w = inst.odds[2, 0]
        y0 = 1.0 / (1.0 + w)
        rows, cols = np.nonzero(inst.ctr > 0)
        y[np.flatnonzero((rows == 2) & (cols == 0))] = y0
        return y0, y

    monkeypatch.setattr(lp, "_solve_highs", lazy)
    with pytest.raises(aa.SolverError, match="suboptimal"):
        lp.mnl_lp_scipy(inst, np.array([1.0, 1.0, 0.2]), aa.MNL())


def test_payment_checks_are_scale_free_and_raise() -> None:
    for scale in (1e-9, 1.0, 1e9):
        cap = np.array([0.5, 0.5]) * scale
        np.testing.assert_array_equal(
            clip_roundoff(np.array([-1e-13, 0.5 + 1e-13]) * scale, cap, cap), [0.0, 0.5 * scale])
        with pytest.raises(aa.SolverError, match="outside"):
            clip_roundoff(np.array([-1e-6, 0.1]) * scale, cap, cap)
        with pytest.raises(aa.SolverError, match="outside"):
            clip_roundoff(np.array([0.1, 0.5 + 1e-6]) * scale, cap, cap)


def test_best_matching_is_a_max_weight_k_matching() -> None:
    from itertools import permutations

    rng = np.random.default_rng(3)
    for _ in range(60):
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        g = rng.normal(size=(n, m))
        k = int(rng.integers(1, m + 1))
        r, c = lp.best_matching(g, k)
        assert len(set(r.tolist())) == r.size == len(set(c.tolist())) <= k
        best = 0.0
        for s in range(1, min(n, m, k) + 1):
            for ads in permutations(range(n), s):
                for pos in permutations(range(m), s):
                    best = max(best, float(np.maximum(g[list(ads), list(pos)], 0).sum()))
        assert g[r, c].sum() == pytest.approx(best, abs=1e-12)
