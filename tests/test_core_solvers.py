"""Differential tests: every MNL allocation backend against brute force."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.solvers.common import TIE_RTOL

LP_SOLVERS = ["lp_highs", "pulp_cbc", "pulp_highs"]


def random_case(seed: int) -> tuple[aa.Instance, np.ndarray]:
    """Seeded instance with n <= 5, m <= 4, every K, and mixed-sign coefficients."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6))
    m = int(rng.integers(1, 5))
    k = 1 + seed % m
    p = rng.uniform(0.0, 0.95, size=(n, m))
    p[rng.random((n, m)) < 0.1] = 0.0  # some impossible pairs
    coef = rng.normal(0.5, 1.0, size=n)
    coef[rng.random(n) < 0.15] = 0.0  # zero coefficients
    if seed % 7 == 0:  # exact ties
        coef[:] = np.round(coef, 1)
        p[:] = np.round(p, 1)
    return aa.Instance(ctr=p, slots=k), coef


def independent_optimum(inst: aa.Instance, coef: np.ndarray) -> float:
    """Optimum by enumerating injective maps of advertiser subsets (no library code)."""
    n, m = inst.shape
    w = inst.ctr / (1 - inst.ctr)
    best = 0.0
    for k in range(1, min(inst.slots, n, m) + 1):
        for ads in permutations(range(n), k):
            for pos in permutations(range(m), k):
                ww = w[list(ads), list(pos)]
                best = max(best, float(coef[list(ads)] @ ww / (1 + ww.sum())))
    return best


def second_best_gap(inst: aa.Instance, coef: np.ndarray, best: aa.Allocation) -> float:
    """How much worse the best *other* allocation is (inf if none): uniqueness check."""
    n, m = inst.shape
    w = inst.odds
    gap = np.inf
    ok = aa.solvers.common.candidate_mask(inst, coef)
    for k in range(0, min(inst.slots, n, m) + 1):
        for ads in permutations(range(n), k):
            if list(ads) != sorted(ads):
                continue
            for pos in permutations(range(m), k):
                if not all(ok[a, p] for a, p in zip(ads, pos, strict=True)):
                    continue
                a = np.full(n, -1)
                a[list(ads)] = pos
                if np.array_equal(a, best.assignment):
                    continue
                ww = w[list(ads), list(pos)]
                val = float(coef[list(ads)] @ ww / (1 + ww.sum())) if k else 0.0
                gap = min(gap, best.value - val)
    return gap


@pytest.mark.parametrize("solver", LP_SOLVERS)
def test_lp_equals_brute_force_on_300_instances(solver: str) -> None:
    model = aa.MNL()
    lp = aa.get_solver(model, solver).func
    bf = aa.get_solver(model, "brute_force").func
    agreed_allocations = 0
    for seed in range(300):
        inst, coef = random_case(seed)
        a_lp, a_bf = lp(inst, coef, model), bf(inst, coef, model)
        assert aa.is_feasible(inst, a_lp.assignment, a_lp.order)
        assert a_lp.value == pytest.approx(a_bf.value, rel=1e-9, abs=1e-12), seed
        # zero / negative coefficients are never shown (the tie-breaking rule)
        assert np.all(a_lp.assignment[coef <= 0] == -1), seed
        if second_best_gap(inst, coef, a_bf) > 1e-9:
            assert np.array_equal(a_lp.assignment, a_bf.assignment), seed
            agreed_allocations += 1
    assert agreed_allocations > 150  # most random instances have a unique optimum


def test_brute_force_matches_independent_enumeration() -> None:
    model = aa.MNL()
    for seed in range(120):
        inst, coef = random_case(seed)
        got = aa.get_solver(model, "brute_force").func(inst, coef, model)
        assert got.value == pytest.approx(independent_optimum(inst, coef), rel=1e-12, abs=1e-15)


def test_every_registered_mnl_solver_is_exact_on_random_instances() -> None:
    """Conformance over the registry: any exact solver added later is checked too."""
    model = aa.MNL()
    exact = [s for s in aa.available_solvers(model) if aa.get_solver(model, s).exact]
    bf = aa.get_solver(model, "brute_force").func
    for name in exact:
        func = aa.get_solver(model, name).func
        for seed in range(1000, 1040):
            inst, coef = random_case(seed)
            assert func(inst, coef, model).value == pytest.approx(
                bf(inst, coef, model).value, rel=1e-9, abs=1e-12
            ), (name, seed)


@pytest.mark.parametrize("solver", ["brute_force", *LP_SOLVERS])
def test_solvers_are_deterministic(solver: str) -> None:
    model = aa.MNL()
    func = aa.get_solver(model, solver).func
    for seed in range(0, 140, 7):  # the tie-heavy cases
        inst, coef = random_case(seed)
        a, b = func(inst, coef, model), func(inst, coef, model)
        assert a.same_as(b)


def test_all_nonpositive_coefficients_show_nothing() -> None:
    inst = aa.Instance(ctr=[[0.4, 0.3], [0.2, 0.6]])
    for name in aa.available_solvers("mnl"):
        alloc = aa.get_solver("mnl", name).func(inst, np.array([0.0, -1.0]), aa.MNL())
        assert alloc.assignment.tolist() == [-1, -1]
        assert alloc.value == 0.0
        assert alloc.order.size == 0


def test_tie_tolerance_is_tight() -> None:
    assert TIE_RTOL <= 1e-12
