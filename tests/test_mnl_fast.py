"""The parametric MNL solver and the batched mechanisms against the references.

Differential layer: the Dinkelbach solver (both matching kernels) against brute
force, the HiGHS LP and PuLP/CBC on hundreds of seeded random instances; the batched
VCG/Myerson path against the generic per-advertiser path; ``run_batch`` against a
loop of ``run``.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import aigc_auction as aa
from aigc_auction.solvers.mnl.enumeration import enum_match, n_candidates
from aigc_auction.solvers.mnl.parametric import (
    _lsa_match,
    pairs_to_assignment,
    solve_parametric,
)

MODEL = aa.MNL()
BRUTE = aa.get_solver(MODEL, "brute_force").func
HIGHS = aa.get_solver(MODEL, "lp_highs").func
CBC = aa.get_solver(MODEL, "pulp_cbc").func
FAST = aa.get_solver(MODEL, "parametric").func
U01 = stats.uniform(0, 1)


def small_case(seed: int) -> tuple[aa.Instance, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    p = rng.uniform(0, 0.9, size=(n, m))
    p[rng.random((n, m)) < 0.1] = 0.0
    coef = rng.uniform(-0.3, 1.0, size=n)
    if seed % 7 == 0:  # tie-heavy: duplicated rows and coefficients
        p[-1], coef[-1] = p[0], coef[0]
    return aa.Instance(ctr=p, slots=int(rng.integers(1, m + 1))), coef


def mid_case(seed: int) -> tuple[aa.Instance, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(5, 60)), int(rng.integers(2, 13))
    p = rng.uniform(0, 0.6, size=(n, m)) * rng.uniform(0.2, 1, size=(n, 1))
    coef = rng.uniform(0, 1, size=n)
    return aa.Instance(ctr=p, slots=int(rng.integers(1, m + 1))), coef


def solve_kernel(inst: aa.Instance, coef: np.ndarray, kernel: str) -> tuple[np.ndarray, float]:
    ads, pos, val = solve_parametric(inst.odds, coef[None], inst.slots, kernel=kernel)
    return pairs_to_assignment(inst.n_advertisers, ads, pos)[0], float(val[0])


def second_best_gap(inst: aa.Instance, coef: np.ndarray, best: np.ndarray) -> float:
    """Optimum minus the best value of any other allocation (small instances)."""
    w = inst.odds
    n, m = inst.shape
    top, runner = -np.inf, -np.inf
    cands = [i for i in range(n) if coef[i] > 0]
    for k in range(0, min(inst.slots, len(cands), m) + 1):
        for ads in permutations(cands, k):
            if list(ads) != sorted(ads):
                continue
            for pos in permutations(range(m), k):
                ww = w[list(ads), list(pos)]
                if k and np.any(ww == 0):
                    continue
                val = float(coef[list(ads)] @ ww / (1 + ww.sum())) if k else 0.0
                a = np.full(n, -1)
                a[list(ads)] = list(pos)
                if np.array_equal(a, best):
                    top = val
                else:
                    runner = max(runner, val)
    return top - runner


@pytest.mark.parametrize("kernel", ["enum", "lsa"])
def test_parametric_equals_brute_force_on_300_instances(kernel: str) -> None:
    agreed = 0
    for seed in range(300):
        inst, coef = small_case(seed)
        ref = BRUTE(inst, coef, MODEL)
        a, val = solve_kernel(inst, coef, kernel)
        assert aa.is_feasible(inst, a), seed
        assert val == pytest.approx(ref.value, rel=1e-12, abs=1e-15), seed
        assert MODEL.objective(inst, coef, a) == pytest.approx(val, rel=1e-12, abs=1e-15)
        assert np.all(a[coef <= 0] == -1), seed  # the engine's tie rule
        assert np.all(inst.ctr[a >= 0, a[a >= 0]] > 0), seed
        if second_best_gap(inst, coef, ref.assignment) > 1e-9:
            assert np.array_equal(a, ref.assignment), seed
            agreed += 1
    assert agreed > 150


def test_parametric_equals_highs_lp_on_200_mid_instances() -> None:
    same = 0
    for seed in range(200):
        inst, coef = mid_case(seed)
        got, ref = FAST(inst, coef, MODEL), HIGHS(inst, coef, MODEL)
        assert got.value == pytest.approx(ref.value, rel=1e-9), seed
        assert got.value >= ref.value * (1 - 1e-12), seed  # never worse than the LP
        if got.same_as(ref):
            same += 1
        else:  # a different allocation must be a tie
            assert MODEL.objective(inst, coef, ref.assignment) == pytest.approx(
                got.value, rel=1e-9
            )
    assert same >= 195


def test_parametric_equals_pulp_cbc() -> None:
    for seed in range(500, 515):
        inst, coef = mid_case(seed)
        got, ref = FAST(inst, coef, MODEL), CBC(inst, coef, MODEL)
        assert got.value == pytest.approx(ref.value, rel=1e-9), seed
        assert got.same_as(ref), seed


def test_kernels_agree_on_mid_instances() -> None:
    for seed in range(100):
        rng = np.random.default_rng(seed)
        n, m = int(rng.integers(3, 40)), int(rng.integers(1, 6))
        inst = aa.Instance(ctr=rng.uniform(0, 0.8, (n, m)), slots=int(rng.integers(1, m + 1)))
        coef = rng.uniform(0, 1, n)
        a1, v1 = solve_kernel(inst, coef, "enum")
        a2, v2 = solve_kernel(inst, coef, "lsa")
        assert v1 == pytest.approx(v2, rel=1e-12), seed
        assert np.array_equal(a1, a2), seed


def test_matching_kernels_are_maximum_weight_matchings() -> None:
    """The column-list lemma: enumeration equals brute-force matchings of <= K edges."""
    rng = np.random.default_rng(3)
    for _ in range(40):
        n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        k = int(rng.integers(1, m + 1))
        v = rng.normal(size=(n, m))
        best = 0.0
        for s in range(1, min(n, m, k) + 1):
            for rows in permutations(range(n), s):
                for cols in permutations(range(m), s):
                    ww = v[list(rows), list(cols)]
                    if np.all(ww > 0):
                        best = max(best, float(ww.sum()))
        ads, pos = enum_match(v[None], k)
        used = ads[0] >= 0
        assert v[ads[0][used], pos[0][used]].sum() == pytest.approx(best)
        la, lp = _lsa_match(v, k)
        assert v[la[la >= 0], lp[lp >= 0]].sum() == pytest.approx(best)


def test_candidate_count() -> None:
    assert n_candidates(5, 3) == 316
    assert n_candidates(1, 1) == 2


def test_warm_start_does_not_change_the_optimum() -> None:
    for seed in range(60):
        inst, coef = mid_case(seed)
        ads, pos, val = solve_parametric(inst.odds, coef[None], inst.slots)
        rng = np.random.default_rng(seed)
        drop = rng.random(ads.shape) < 0.5  # a feasible sub-allocation as the hint
        hint = (np.where(drop, -1, ads), np.where(drop, -1, pos))
        *_, v2 = solve_parametric(inst.odds, coef[None], inst.slots, hint=hint)
        assert v2[0] == pytest.approx(val[0], rel=1e-12)


def test_ads_not_above_the_optimal_ratio_are_never_shown() -> None:
    # ad 1 alone is worth 0.5 * 1 = 0.5; ad 0 has coefficient exactly 0.5 = lambda*
    inst = aa.Instance(ctr=[[0.5, 0.0], [0.0, 0.5]], slots=2)
    alloc = FAST(inst, np.array([0.5, 1.0]), MODEL)
    assert alloc.assignment.tolist() == [-1, 1]
    assert alloc.value == pytest.approx(0.5)


def test_solver_is_deterministic_and_rejects_unknown_kernel() -> None:
    for seed in range(0, 140, 7):
        inst, coef = small_case(seed)
        assert FAST(inst, coef, MODEL).same_as(FAST(inst, coef, MODEL))
    with pytest.raises(ValueError, match="`kernel`"):
        solve_parametric(np.ones((2, 2)), np.ones((1, 2)), 1, kernel="simplex")


def test_parametric_is_the_default() -> None:
    assert aa.get_solver(MODEL).name == "parametric"
    assert aa.available_solvers(MODEL)[0] == "parametric"


@given(
    st.integers(1, 5), st.integers(1, 4), st.integers(0, 2**31 - 1),
)
def test_property_optimal_on_small_instances(n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, m + 1))
    p = np.round(rng.uniform(0, 0.95, (n, m)), int(rng.integers(1, 4)))  # ties
    coef = np.round(rng.uniform(-1, 2, n), 1)
    inst = aa.Instance(ctr=p, slots=k)
    got, ref = FAST(inst, coef, MODEL), BRUTE(inst, coef, MODEL)
    assert got.value == pytest.approx(ref.value, rel=1e-12, abs=1e-15)
    assert np.all(got.assignment[coef <= 0] == -1)


# -- mechanisms: batched path against the generic one ---------------------------


class GenericVCG(aa.VCG):
    def fast_arrays(self, *args: object) -> None:
        return None


class GenericMyerson(aa.Myerson):
    def fast_arrays(self, *args: object) -> None:
        return None


def market(seed: int) -> tuple[aa.Instance, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 9)), int(rng.integers(1, 7))
    inst = aa.Instance(ctr=rng.uniform(0, 0.9, size=(n, m)), slots=int(rng.integers(1, m + 1)))
    bids = rng.uniform(0, 1, size=n)
    bids[rng.random(n) < 0.1] = 0.0
    return inst, bids


IRREGULAR = stats.rv_histogram((np.array([1.0, 0.05, 1.0]), np.array([0.0, 1.0, 2.0, 3.0])))


@pytest.mark.parametrize(
    ("fast", "generic"),
    [
        (aa.VCG(), GenericVCG()),
        (aa.Myerson(prior=U01), GenericMyerson(prior=U01)),
        (aa.Myerson(prior=stats.expon(scale=0.5)), GenericMyerson(prior=stats.expon(scale=0.5))),
    ],
    ids=["vcg", "myerson-uniform", "myerson-expon"],
)
def test_batched_mechanism_equals_generic_path(fast: aa.Mechanism, generic: aa.Mechanism) -> None:
    for seed in range(80):
        inst, b = market(seed)
        o1, o2 = fast.run(inst, b), generic.run(inst, b)
        assert np.array_equal(o1.assignment, o2.assignment), seed
        np.testing.assert_allclose(o1.ctr, o2.ctr, rtol=0, atol=1e-15)
        np.testing.assert_allclose(o1.payments, o2.payments, rtol=1e-9, atol=1e-12)


def test_batched_myerson_per_advertiser_priors_equals_generic() -> None:
    priors = [U01, stats.expon(scale=0.5), stats.uniform(0.2, 1.0), U01]
    for seed in range(40):
        rng = np.random.default_rng(seed)
        inst = aa.Instance(ctr=rng.uniform(0, 0.8, (4, 3)), slots=int(rng.integers(1, 4)))
        b = rng.uniform(0, 1.2, 4)
        o1 = aa.Myerson(prior=priors).run(inst, b)
        o2 = GenericMyerson(prior=priors).run(inst, b)
        assert np.array_equal(o1.assignment, o2.assignment), seed
        np.testing.assert_allclose(o1.payments, o2.payments, rtol=1e-9, atol=1e-12)


def test_batched_myerson_with_ironing_equals_generic() -> None:
    """Bids on the ironed flat tie in virtual value: the tie rule decides alike."""
    lo, hi, _ = aa.VirtualValue(IRREGULAR).ironed[0]
    fast, generic = aa.Myerson(prior=IRREGULAR), GenericMyerson(prior=IRREGULAR)
    for seed in range(12):
        rng = np.random.default_rng(seed)
        inst = aa.Instance(ctr=rng.uniform(0, 0.8, (3, 2)), slots=int(rng.integers(1, 3)))
        b = rng.uniform(0, 3, 3)
        b[: seed % 3] = rng.uniform(lo, hi, seed % 3)  # some on the flat
        o1, o2 = fast.run(inst, b), generic.run(inst, b)
        assert np.array_equal(o1.assignment, o2.assignment), seed
        np.testing.assert_allclose(o1.payments, o2.payments, rtol=1e-9, atol=1e-12)


def test_payments_method_uses_the_same_path() -> None:
    inst, b = market(11)
    for mech in (aa.VCG(), aa.Myerson(prior=U01)):
        out = mech.run(inst, b)
        np.testing.assert_array_equal(mech.payments(inst, b), out.payments)
        alloc = mech.allocate(inst, b)
        np.testing.assert_array_equal(mech.payments(inst, b, alloc), out.payments)


# -- run_batch -------------------------------------------------------------------


@pytest.mark.parametrize(
    "mech", [aa.VCG(), aa.Myerson(prior=U01)], ids=["vcg", "myerson"]
)
def test_run_batch_is_identical_to_a_loop(mech: aa.Mechanism) -> None:
    rng = np.random.default_rng(0)
    inst = aa.Instance(ctr=rng.uniform(0, 0.5, (12, 5)), slots=3)
    bids = rng.uniform(0, 1, (60, 12))
    bids[::7, 3] = 0.0
    outs = aa.run_batch(mech, inst, bids)
    for o, b in zip(outs, bids, strict=True):
        ref = mech.run(inst, b)
        np.testing.assert_array_equal(o.assignment, ref.assignment)
        np.testing.assert_array_equal(o.order, ref.order)
        np.testing.assert_array_equal(o.ctr, ref.ctr)
        np.testing.assert_array_equal(o.payments, ref.payments)
        assert (o.mechanism, o.model, o.solver) == (ref.mechanism, ref.model, ref.solver)


def test_run_batch_many_instances_and_fallback() -> None:
    rng = np.random.default_rng(1)
    insts = [
        aa.Instance(ctr=rng.uniform(0, 0.5, (6, int(rng.integers(2, 5)))), slots=2)
        for _ in range(10)
    ]
    bids = rng.uniform(0, 1, (10, 6))
    for mech in (aa.VCG(), aa.Myerson(prior=U01), aa.VCG(solver="lp_highs")):
        res = aa.run_batch_arrays(mech, insts, bids)
        for k, (inst, b) in enumerate(zip(insts, bids, strict=True)):
            ref = mech.run(inst, b)
            np.testing.assert_array_equal(res.assignment[k], ref.assignment)
            np.testing.assert_allclose(res.payments[k], ref.payments, rtol=0, atol=0)
        np.testing.assert_allclose(res.revenue, res.payments.sum(axis=1))
        assert res.welfare.shape == (10,)


def test_run_batch_bad_input() -> None:
    inst = aa.Instance(ctr=[[0.5], [0.5]])
    with pytest.raises(TypeError, match="`mechanism`"):
        aa.run_batch("vcg", inst, [[1.0, 1.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`bids`"):
        aa.run_batch(aa.VCG(), inst, [[1.0, -1.0]])
    with pytest.raises(ValueError, match="`bids`"):
        aa.run_batch(aa.VCG(), inst, np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="`instances`"):
        aa.run_batch(aa.VCG(), [inst], np.ones((2, 2)))
    with pytest.raises(TypeError, match="`instances`"):
        aa.run_batch(aa.VCG(), 3, np.ones((2, 2)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`bids` must have shape"):
        aa.run_batch(aa.VCG(), inst, np.ones((2, 3)))
