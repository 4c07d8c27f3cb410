"""Numerical extremes of the MNL engine: p close to 1, bids over 15 decades, ties.

Documented tolerance: objective values and payments agree with the references to
``1e-9`` relative to the auction's scale (``max(bid * ctr)``); allocations are
identical whenever the optimum is unique. ``ctr == 1`` (an infinite MNL weight)
is refused with a ValueError naming ``ctr``.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import stats

import aigc_auction as aa
from aigc_auction.solvers.mnl.parametric import solve_parametric

MODEL = aa.MNL()
BRUTE = aa.get_solver(MODEL, "brute_force").func
FAST = aa.get_solver(MODEL, "parametric").func


def clarke(inst: aa.Instance, bids: np.ndarray, out: aa.Outcome) -> np.ndarray:
    """VCG payments by definition, with brute-force optima."""
    w_star = BRUTE(inst, bids, MODEL).value
    pay = np.zeros(inst.n_advertisers)
    for i in np.flatnonzero(out.ctr > 0):
        b = bids.copy()
        b[i] = 0.0
        pay[i] = BRUTE(inst, b, MODEL).value - (w_star - bids[i] * out.ctr[i])
    return pay


def near_one_case(seed: int) -> aa.Instance:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 6)), int(rng.integers(1, 4))
    p = rng.uniform(0, 0.9, (n, m))
    gaps = 10.0 ** -rng.integers(3, 13, size=(n, m))  # weights 1e3 .. 1e12
    near = rng.random((n, m)) < 0.5
    near[0, 0] = True
    p[near] = 1.0 - gaps[near]
    return aa.Instance(ctr=p, slots=int(rng.integers(1, m + 1)))


def test_weights_up_to_1e12_match_brute_force() -> None:
    for seed in range(80):
        inst = near_one_case(seed)
        assert inst.odds.max() >= 1e2
        coef = np.random.default_rng(seed).uniform(0, 1, inst.n_advertisers)
        got, ref = FAST(inst, coef, MODEL), BRUTE(inst, coef, MODEL)
        assert got.value == pytest.approx(ref.value, rel=1e-9), seed


def test_vcg_with_weights_near_one_equals_clarke() -> None:
    for seed in range(40):
        inst = near_one_case(seed)
        b = np.random.default_rng(seed + 1).uniform(0, 1, inst.n_advertisers)
        out = aa.VCG().run(inst, b)
        scale = float(np.max(b * out.ctr)) or 1.0
        np.testing.assert_allclose(out.payments, clarke(inst, b, out), rtol=0, atol=1e-9 * scale)
        assert aa.is_individually_rational(out)


def test_ctr_equal_to_one_is_a_clear_error() -> None:
    inst = aa.Instance(ctr=[[1.0, 0.2], [0.3, 0.4]])
    with pytest.raises(ValueError, match="`ctr` must have entries in \\[0, 1\\)"):
        aa.VCG().run(inst, [1.0, 1.0])
    with pytest.raises(ValueError, match="`ctr`"):
        aa.run_batch(aa.VCG(), inst, [[1.0, 1.0]])
    with pytest.raises(ValueError, match="`ctr`"):
        solve_parametric(inst.odds, np.ones((1, 2)), 2)


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1e3, 1e9])
def test_bid_scale_invariance(scale: float) -> None:
    prior = stats.uniform(0, 1)
    for seed in range(15):
        rng = np.random.default_rng(seed)
        inst = aa.Instance(ctr=rng.uniform(0, 0.7, (6, 4)), slots=int(rng.integers(1, 5)))
        b = rng.uniform(0, 1, 6)
        base = aa.VCG().run(inst, b)
        big = aa.VCG().run(inst, b * scale)
        assert np.array_equal(base.assignment, big.assignment), seed
        np.testing.assert_allclose(big.payments, base.payments * scale, rtol=1e-9, atol=0)
        # Myerson with a prior scaled alike gives the scaled outcome
        m1 = aa.Myerson(prior=prior).run(inst, b)
        m2 = aa.Myerson(prior=stats.uniform(0, scale)).run(inst, b * scale)
        assert np.array_equal(m1.assignment, m2.assignment), seed
        np.testing.assert_allclose(m2.payments, m1.payments * scale, rtol=1e-9, atol=0)


def test_bids_spanning_fifteen_decades_equal_clarke() -> None:
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(2, 6))
        inst = aa.Instance(ctr=rng.uniform(0, 0.8, (n, 3)), slots=int(rng.integers(1, 4)))
        b = 10.0 ** rng.uniform(-6, 9, n)
        out = aa.VCG().run(inst, b)
        assert out.welfare == pytest.approx(BRUTE(inst, b, MODEL).value, rel=1e-12)
        ref = clarke(inst, b, out)
        # each payment to 1e-9 of the largest term it is computed from
        np.testing.assert_allclose(out.payments, ref, rtol=1e-9, atol=1e-12 * out.welfare)
        assert aa.is_individually_rational(out)


def test_tiny_market_is_priced_as_finely_as_a_unit_one() -> None:
    """Values ~1e-12 (bids 1e-6, ctr 1e-6) are not lost in an absolute tolerance."""
    rng = np.random.default_rng(4)
    p = rng.uniform(0, 1e-6, (5, 3))
    b = rng.uniform(0.5, 1.0, 5) * 1e-6
    inst = aa.Instance(ctr=p, slots=2)
    out = aa.VCG().run(inst, b)
    ref = aa.VCG().run(aa.Instance(ctr=p * 1e5, slots=2), b * 1e6)  # same ranking
    assert out.welfare == pytest.approx(BRUTE(inst, b, MODEL).value, rel=1e-12)
    np.testing.assert_allclose(out.payments, clarke(inst, b, out), rtol=1e-9, atol=0)
    assert out.shown.size == ref.shown.size


def test_many_exact_ties_are_deterministic_and_exact() -> None:
    inst = aa.Instance(ctr=np.full((7, 3), 0.3), slots=2)
    b = np.full(7, 0.5)
    vcg = aa.VCG()
    out = vcg.run(inst, b)
    assert out.shown.size == 2
    assert out.welfare == pytest.approx(BRUTE(inst, b, MODEL).value, rel=1e-12)
    np.testing.assert_allclose(out.payments, clarke(inst, b, out), atol=1e-12)
    # identical bidders: the winners pay their whole value (the losers bid the same)
    np.testing.assert_allclose(out.payments[out.ctr > 0], (b * out.ctr)[out.ctr > 0])
    again = aa.run_batch(vcg, inst, np.tile(b, (5, 1)))
    assert all(np.array_equal(o.assignment, out.assignment) for o in again)


def test_ties_keep_myerson_truthful() -> None:
    inst = aa.Instance(ctr=np.tile([0.3, 0.2, 0.2], (4, 1)), slots=2)
    v = np.array([0.8, 0.8, 0.6, 0.6])
    mech = aa.Myerson(prior=stats.uniform(0, 1))
    out = mech.run(inst, v)
    assert aa.is_individually_rational(out)
    assert aa.max_misreport_gain(mech, inst, v).gain <= 1e-9


def test_large_market_never_builds_an_nmk_matrix() -> None:
    """n = 10,000, m = 50, K = 10: peak memory far below one n*m*K float array."""
    n, m, k = 10_000, 50, 10
    rng = np.random.default_rng(0)
    inst = aa.Instance(ctr=rng.uniform(0, 0.2, (n, m)), slots=k)
    coef = rng.uniform(0, 1, n)
    _ = inst.odds  # the instance's own n x m weight matrix is not the solver's
    tracemalloc.start()
    try:
        alloc = FAST(inst, coef, MODEL)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert aa.is_feasible(inst, alloc.assignment)
    assert (alloc.assignment >= 0).sum() <= k
    assert peak < n * m * k * 8 / 4
