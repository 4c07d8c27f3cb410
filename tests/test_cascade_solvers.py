"""Cascade allocation solvers: exact ones against brute force, approximations' contracts."""

from __future__ import annotations

import os

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.solvers.cascade.brute_force import cascade_brute_force
from aigc_auction.solvers.cascade.common import cascade_tables, dominance_prune
from aigc_auction.solvers.cascade.greedy import cascade_greedy
from aigc_auction.solvers.cascade.local_search import cascade_local_search
from aigc_auction.solvers.cascade.milp import cascade_milp, cascade_milp_cbc
from aigc_auction.solvers.cascade.restricted import cascade_restricted
from aigc_auction.solvers.cascade.subset_dp import cascade_subset_dp, subset_dp_applies

FAMILIES = ("classic", "classic_gc", "markovian", "general")
APPROX = {
    "greedy": cascade_greedy,
    "local_search": cascade_local_search,
    "restricted_dp": cascade_restricted,
}


def random_model(rng: np.random.Generator, family: str, n: int, order: str) -> aa.Cascade:
    """The three parameter families of the issue (classic also with per-ad ``gc``)."""
    if family == "classic":
        return aa.Cascade(order=order)  # type: ignore[arg-type]
    if family == "classic_gc":
        return aa.Cascade(continue_after_click=rng.uniform(0, 1, n), order=order)  # type: ignore[arg-type]
    if family == "markovian":
        g = rng.uniform(0, 1, n)
        return aa.Cascade(continue_after_click=g, continue_after_skip=g, order=order)  # type: ignore[arg-type]
    return aa.Cascade(
        continue_after_click=rng.uniform(0, 1, n),
        continue_after_skip=rng.uniform(0, 1, n),
        order=order,  # type: ignore[arg-type]
    )


def random_case(
    rng: np.random.Generator, max_n: int = 5, max_m: int = 4
) -> tuple[aa.Instance, np.ndarray]:
    n, m = int(rng.integers(1, max_n + 1)), int(rng.integers(1, max_m + 1))
    p = rng.uniform(0, 1, (n, m))
    p[rng.random((n, m)) < 0.15] = 0.0
    p[rng.random((n, m)) < 0.05] = 1.0
    coef = rng.uniform(-0.3, 1.0, n)
    coef[rng.random(n) < 0.1] = 0.0
    return aa.Instance(ctr=p, slots=int(rng.integers(1, m + 1))), coef


#: Seeded cases per (family, order): 300 (2,400 in all), the HiGHS MILP on every
#: one (about 7 ms a solve at these sizes), CBC (a subprocess per solve) on every
#: sixth; ``AIGC_REFERENCE_CASES=300 pytest tests/test_cascade_solvers.py -k
#: brute_force`` runs CBC on every case too (about 40 s).
N_CASES = int(os.environ.get("AIGC_REFERENCE_CASES", "300"))
FULL_CBC = os.environ.get("AIGC_REFERENCE_CASES") is not None


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


@pytest.mark.parametrize("order", ["optimized", "fixed"])
@pytest.mark.parametrize("family", FAMILIES)
def test_exact_solvers_equal_brute_force(family: str, order: str) -> None:
    """``N_CASES`` seeded instances per (family, order), n <= 5, m <= 4."""
    rng = np.random.default_rng([FAMILIES.index(family), order == "fixed"])
    checked_dp = 0
    for k in range(N_CASES):
        inst, coef = random_case(rng)
        model = random_model(rng, family, inst.n_advertisers, order)
        ref = cascade_brute_force(inst, coef, model)
        assert close(cascade_milp(inst, coef, model).value, ref.value)
        if k % 6 == 0 or FULL_CBC:
            assert close(cascade_milp_cbc(inst, coef, model).value, ref.value)
        if subset_dp_applies(model):
            checked_dp += 1
            assert close(cascade_subset_dp(inst, coef, model).value, ref.value)
        # the default exact solver too
        alloc = aa.get_solver(model).func(inst, coef, model)
        assert close(alloc.value, ref.value)
    assert checked_dp == (N_CASES if family.startswith("classic") and order == "optimized"
                          else 0)


def test_subset_dp_is_exact_without_externalities_in_both_modes() -> None:
    rng = np.random.default_rng(7)
    for order in ("optimized", "fixed"):
        model = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0, order=order)  # type: ignore[arg-type]
        assert subset_dp_applies(model)
        for _ in range(20):
            inst, coef = random_case(rng)
            alloc = cascade_subset_dp(inst, coef, model)
            assert close(alloc.value, cascade_brute_force(inst, coef, model).value)
            assert np.all(np.diff(alloc.order) > 0) or order == "optimized"


def test_solver_selection_follows_the_parameters() -> None:
    # the relaxation DP is exact everywhere and the default; subset_dp only where it applies
    g = [0.3, 0.6]
    for model in (aa.Cascade(), aa.Cascade(continue_after_click=[0.2, 0.5]),
                  aa.Cascade(order="fixed"), aa.Cascade(continue_after_skip=0.9),
                  aa.Cascade(continue_after_click=g, continue_after_skip=g)):
        assert aa.get_solver(model).name == "dssr"
    assert "subset_dp" in aa.available_solvers(aa.Cascade())
    assert "subset_dp" not in aa.available_solvers(aa.Cascade(order="fixed"))
    with pytest.raises(ValueError, match="`solver` must be one of"):
        aa.VCG(aa.Cascade(order="fixed"), solver="subset_dp")
    with pytest.raises(ValueError, match=r"continue_after_skip == 1"):
        cascade_subset_dp(aa.Instance(ctr=[[0.5]]), np.ones(1), aa.Cascade(order="fixed"))
    with pytest.raises(TypeError, match=r"`model` must be an aigc_auction\.Cascade"):
        cascade_milp(aa.Instance(ctr=[[0.5]]), np.ones(1), aa.MNL())
    for name in ("greedy", "local_search"):
        spec = aa.get_solver(aa.Cascade(), name)
        assert not (spec.exact or spec.monotone or spec.affine_maximizer)
    spec = aa.get_solver(aa.Cascade(), "restricted_dp")
    assert spec.affine_maximizer and spec.monotone and not spec.exact


def test_subset_dp_delegates_to_the_milp_beyond_its_table() -> None:
    rng = np.random.default_rng(8)
    inst = aa.Instance(ctr=rng.uniform(0, 0.5, (3, 21)), slots=2)
    coef = np.array([1.0, 0.5, 0.8])
    alloc = cascade_subset_dp(inst, coef, aa.Cascade())
    assert alloc.solver == "milp"
    assert close(alloc.value, cascade_milp(inst, coef, aa.Cascade()).value)


@pytest.mark.parametrize("name", ["brute_force", "subset_dp", "milp", *APPROX])
def test_tie_breaking_rule(name: str) -> None:
    """No ad with coef <= 0, at a CTR-0 position, or with click probability 0 is shown."""
    model = aa.Cascade(continue_after_click=0.0, continue_after_skip=1.0)
    # ad 0 has p = 1 at position 0 and gc = 0: nobody reads on after clicking it
    inst = aa.Instance(ctr=[[1.0, 0.0, 0.0], [0.5, 0.0, 0.4], [0.5, 0.6, 0.0], [0.9, 0.9, 0.9]])
    coef = np.array([5.0, 1.0, 0.8, 0.0])
    alloc = aa.get_solver(model, name).func(inst, coef, model)
    pi = model.ctr(inst, alloc.assignment, alloc.order)
    shown = alloc.assignment >= 0
    assert np.all(pi[shown] > 0)
    assert alloc.assignment[3] == -1
    assert alloc.assignment.tolist() == [0, -1, -1, -1]
    assert close(alloc.value, 5.0)
    empty = aa.get_solver(model, name).func(inst, np.array([0.0, -1.0, 0.0, -np.inf]), model)
    assert empty.assignment.tolist() == [-1, -1, -1, -1] and empty.value == 0.0


@pytest.mark.parametrize("name", list(APPROX))
def test_approximations_are_feasible_and_never_beat_the_optimum(name: str) -> None:
    rng = np.random.default_rng(9)
    solve = APPROX[name]
    for k in range(60):
        inst, coef = random_case(rng, max_n=6, max_m=4)
        order = ("optimized", "fixed")[k % 2]
        model = random_model(rng, FAMILIES[k % 4], inst.n_advertisers, order)
        alloc = solve(inst, coef, model)
        assert aa.is_feasible(inst, alloc.assignment, alloc.order)
        assert alloc.order.tolist() == model.reading_order(inst, alloc.assignment, coef).tolist()
        assert close(alloc.value, model.objective(inst, coef, alloc.assignment, alloc.order))
        best = cascade_brute_force(inst, coef, model).value
        assert alloc.value <= best + 1e-12
        assert alloc.value >= 0.0
        if best > 0:
            assert alloc.value > 0  # never worse than the best single ad by more than all


def test_approximations_on_a_large_instance() -> None:
    rng = np.random.default_rng(10)
    inst = aa.Instance(ctr=rng.uniform(0, 0.3, (300, 30)), slots=8)
    coef = rng.uniform(0, 1, 300)
    for family in ("classic", "general"):
        model = random_model(rng, family, 300, "optimized")
        values = {}
        for name, solve in APPROX.items():
            alloc = solve(inst, coef, model)
            assert aa.is_feasible(inst, alloc.assignment, alloc.order)
            assert len(alloc.order) == 8
            values[name] = alloc.value
        assert values["local_search"] >= values["greedy"] - 1e-12


def test_dominance_pruning_keeps_top_k_without_externalities() -> None:
    rng = np.random.default_rng(12)
    inst = aa.Instance(ctr=rng.uniform(0.01, 1, (30, 6)), slots=3)
    coef = rng.uniform(0.1, 1, 30)
    free = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)
    keep = dominance_prune(cascade_tables(inst, coef, free), 3)
    top3 = np.argsort(-(coef[:, None] * inst.ctr), axis=0)[:3]
    for j in range(6):
        assert set(np.flatnonzero(keep[:, j]).tolist()) == set(top3[:, j].tolist())
