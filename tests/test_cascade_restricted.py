"""The maximal-in-range cascade rule ``restricted_dp`` (truthful approximation).

It is exact when the range is everything (few positions, or fixed order); beyond
that its value is the best optimum among its bid-independent sub-ranges, each
checked here by brute force; it is monotone and VCG / Myerson on top of it are
truthful; its batched kernel equals the per-problem function.
"""

from __future__ import annotations

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.solvers.cascade.restricted import (
    OPTIMIZED_RANGE_SLOTS,
    RANGE_POSITIONS,
    sub_ranges,
)

BRUTE = aa.get_solver("cascade", "brute_force").func
MIR = aa.get_solver("cascade", "restricted_dp").func
M = RANGE_POSITIONS + 2  # more positions than the optimized sub-range


def general(n: int, rng: np.random.Generator, order: str = "optimized") -> aa.Cascade:
    return aa.Cascade(continue_after_click=rng.uniform(0, 1, n),
                      continue_after_skip=rng.uniform(0.4, 1, n), order=order)  # type: ignore[arg-type]


def test_exact_when_the_range_is_everything() -> None:
    rng = np.random.default_rng(0)
    for seed in range(60):
        n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        inst = aa.Instance(ctr=rng.uniform(0, 0.9, (n, m)), slots=int(rng.integers(1, m + 1)))
        coef = rng.uniform(-0.2, 1, n)
        model = general(n, rng, "fixed" if seed % 2 else "optimized")
        assert MIR(inst, coef, model).value == pytest.approx(
            BRUTE(inst, coef, model).value, rel=1e-12, abs=1e-15)


def sub_range_optimum(inst: aa.Instance, coef: np.ndarray, model: aa.Cascade) -> float:
    """The best brute-force optimum over the rule's sub-ranges, built independently."""
    best = 0.0
    for mode, cols, allowed in sub_ranges(inst.ctr, inst.slots, model.order):
        ctr = inst.ctr if allowed is None else np.where(allowed, inst.ctr, 0.0)
        sub = aa.Instance(ctr=ctr[:, cols], slots=min(inst.slots, cols.size))
        m = aa.Cascade(continue_after_click=model.continue_after_click,
                       continue_after_skip=model.continue_after_skip, order=mode)  # type: ignore[arg-type]
        best = max(best, BRUTE(sub, coef, m).value)
    return best


@pytest.mark.parametrize("slots", [2, 3])
def test_value_is_the_best_sub_range_optimum(slots: int) -> None:
    rng = np.random.default_rng(slots)
    for _ in range(4):
        n = 4
        inst = aa.Instance(ctr=rng.uniform(0, 0.7, (n, M)), slots=slots)
        coef = rng.uniform(0, 1, n)
        model = general(n, rng)
        got = MIR(inst, coef, model)
        assert got.value == pytest.approx(sub_range_optimum(inst, coef, model), rel=1e-12)
        assert aa.is_feasible(inst, got.assignment, got.order)
        assert got.value <= BRUTE(inst, coef, model).value + 1e-12


def test_sub_ranges_depend_on_ctr_k_and_order_only() -> None:
    rng = np.random.default_rng(3)
    ctr = rng.uniform(0, 1, (5, M))
    kinds = [mode for mode, _, _ in sub_ranges(ctr, 3, "optimized")]
    assert kinds == ["optimized", "optimized", "fixed", "fixed"]
    kinds = [mode for mode, _, _ in sub_ranges(ctr, OPTIMIZED_RANGE_SLOTS + 1, "optimized")]
    assert kinds == ["optimized", "fixed", "fixed"]
    assert [mode for mode, _, _ in sub_ranges(ctr, 3, "fixed")] == ["fixed"]
    one = sub_ranges(ctr, 3, "optimized")
    batch = sub_ranges(np.stack([ctr, ctr]), 3, "optimized")
    for (_, a, x), (_, b, y) in zip(one, batch, strict=True):
        assert np.array_equal(b[1], a)
        assert (x is None and y is None) or np.array_equal(y[1], x)


def own_ctr_curve(inst: aa.Instance, coef: np.ndarray, model: aa.Cascade, i: int,
                  grid: np.ndarray) -> np.ndarray:
    out = []
    for z in grid:
        c = coef.copy()
        c[i] = z
        a = MIR(inst, c, model)
        out.append(model.ctr(inst, a.assignment, a.order)[i])
    return np.array(out)


def test_monotone_and_truthful_with_many_positions() -> None:
    rng = np.random.default_rng(4)
    inst = aa.Instance(ctr=rng.uniform(0, 0.6, (5, M)), slots=3)
    model = general(5, rng)
    coef = rng.uniform(0, 1, 5)
    grid = np.linspace(0.0, 2.0, 21)
    for i in range(5):
        assert np.all(np.diff(own_ctr_curve(inst, coef, model, i, grid)) >= -1e-12)
    values = rng.uniform(0.2, 1.0, 5)
    for mech in (aa.VCG(model, solver="restricted_dp"),
                 aa.Myerson(model, prior=aa.generators.value_prior("uniform"),
                            solver="restricted_dp")):
        res = aa.max_misreport_gain(mech, inst, values, grid=np.linspace(0, 1.5, 7))
        assert res.gain <= 1e-9, res
        assert aa.is_individually_rational(mech.run(inst, values), values, atol=1e-9)


def test_batch_kernel_equals_the_solver() -> None:
    rng = np.random.default_rng(5)
    kernel = aa.get_solver("cascade", "restricted_dp").batch
    assert kernel is not None
    model = general(6, rng)
    ctr = rng.uniform(0, 0.6, (8, 6, M))
    coef = rng.uniform(0, 1, (8, 6))
    ads, pos = kernel.solve(kernel.prepare(model, ctr), coef, 3)
    for r in range(8):
        one = MIR(aa.Instance(ctr=ctr[r], slots=3), coef[r], model)
        shown = ads[r] >= 0
        assert np.array_equal(pos[r, shown], one.order)
        assert np.array_equal(np.sort(ads[r, shown]), np.flatnonzero(one.assignment >= 0))
