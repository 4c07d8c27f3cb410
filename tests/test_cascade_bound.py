"""The run-relaxation upper bound of the cascade optimum (used to certify ratios)."""

from __future__ import annotations

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.solvers.cascade.bound import cascade_upper_bound
from aigc_auction.solvers.cascade.brute_force import cascade_brute_force
from aigc_auction.solvers.cascade.subset_dp import cascade_subset_dp

from .test_cascade_solvers import FAMILIES, random_case, random_model


@pytest.mark.parametrize("order", ["optimized", "fixed"])
@pytest.mark.parametrize("family", FAMILIES)
def test_bound_is_an_upper_bound_and_exact_when_attained(family: str, order: str) -> None:
    rng = np.random.default_rng([FAMILIES.index(family), order == "fixed"])
    attained = 0
    for _ in range(40):
        inst, coef = random_case(rng)
        model = random_model(rng, family, inst.n_advertisers, order)
        opt = cascade_brute_force(inst, coef, model).value
        bound = cascade_upper_bound(inst, coef, model)
        assert bound.value >= opt - 1e-12 * max(1.0, abs(opt))
        if bound.attained:
            attained += 1
            assert bound.allocation is not None
            assert aa.is_feasible(inst, bound.allocation.assignment, bound.allocation.order)
            assert bound.allocation.value == pytest.approx(opt, rel=1e-12, abs=1e-15)
            assert bound.value == pytest.approx(opt, rel=1e-12, abs=1e-15)
    assert attained > 0


def test_bound_is_often_tight_on_large_classic_instances() -> None:
    """Many ads per position: the relaxed optimum is usually a matching already."""
    rng = np.random.default_rng(7)
    for _ in range(3):
        inst = aa.Instance(ctr=rng.uniform(0, 0.3, (300, 10)), slots=5)
        coef = rng.uniform(0, 1, 300)
        exact = cascade_subset_dp(inst, coef, aa.Cascade()).value
        bound = cascade_upper_bound(inst, coef, aa.Cascade())
        assert exact <= bound.value + 1e-12
        assert exact / bound.value > 0.99
        if bound.attained:
            assert bound.value == pytest.approx(exact, rel=1e-12)
