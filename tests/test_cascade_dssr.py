"""The exact general-cascade solver (DP with decremental state-space relaxation).

Differential layer: brute force on 300 seeded instances per parameter family and
order mode; the batched kernel against the per-problem function row by row; the
MILP on mid-size instances; limits raise a clear SolverError.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.solvers.cascade import dssr
from aigc_auction.solvers.cascade.common import cascade_tables, dominance_prune
from aigc_auction.solvers.cascade.pairs import pair_lists, prune_batch
from aigc_auction.solvers.cascade.subset_dp import subset_dp_applies

BRUTE = aa.get_solver("cascade", "brute_force").func
DSSR = aa.get_solver("cascade", "dssr").func
SUBSET = aa.get_solver("cascade", "subset_dp").func
MILP = aa.get_solver("cascade", "milp").func
FAMILIES = ("classic", "markov", "general", "arrays", "no_externalities")


def family_model(family: str, n: int, order: str, rng: np.random.Generator) -> aa.Cascade:
    if family == "classic":
        kw = {"continue_after_click": 0.0, "continue_after_skip": 1.0}
    elif family == "markov":
        g = float(rng.uniform(0, 1))
        kw = {"continue_after_click": g, "continue_after_skip": g}
    elif family == "general":
        kw = {"continue_after_click": float(rng.uniform(0, 1)),
              "continue_after_skip": float(rng.uniform(0, 1))}
    elif family == "arrays":
        kw = {"continue_after_click": rng.uniform(0, 1, n),
              "continue_after_skip": rng.uniform(0, 1, n)}
    else:
        kw = {"continue_after_click": 1.0, "continue_after_skip": 1.0}
    return aa.Cascade(order=order, **kw)  # type: ignore[arg-type]


def small_case(seed: int, family: str, order: str
               ) -> tuple[aa.Instance, np.ndarray, aa.Cascade]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    p = rng.uniform(0, 0.9, (n, m))
    p[rng.random((n, m)) < 0.1] = 0.0
    if seed % 5 == 0:
        p = np.round(p, 1)  # ties and ones
    coef = rng.uniform(-0.3, 1.0, n)
    if seed % 7 == 0:  # a duplicated advertiser: ties between allocations
        p[-1], coef[-1] = p[0], coef[0]
    model = family_model(family, n, order, rng)
    return aa.Instance(ctr=p, slots=int(rng.integers(1, m + 1))), coef, model


@pytest.mark.parametrize("order", ["optimized", "fixed"])
@pytest.mark.parametrize("family", FAMILIES)
def test_equals_brute_force(family: str, order: str) -> None:
    for seed in range(300):
        inst, coef, model = small_case(seed, family, order)
        got, ref = DSSR(inst, coef, model), BRUTE(inst, coef, model)
        assert got.value == pytest.approx(ref.value, rel=1e-12, abs=1e-15), seed
        assert aa.is_feasible(inst, got.assignment, got.order)
        assert np.all(got.assignment[coef <= 0] == -1)
        assert got.value == pytest.approx(model.objective(inst, coef, got.assignment,
                                                          got.order), rel=1e-14)
        if subset_dp_applies(model):  # the classic special case's own DP, too
            assert SUBSET(inst, coef, model).value == pytest.approx(ref.value, rel=1e-12,
                                                                     abs=1e-15)


@pytest.mark.parametrize("order", ["optimized", "fixed"])
def test_batch_kernel_equals_solver_row_by_row(order: str) -> None:
    rng = np.random.default_rng(5)
    kernel = aa.get_solver("cascade", "dssr").batch
    assert kernel is not None
    for trial in range(12):
        n, m, k = int(rng.integers(2, 9)), int(rng.integers(1, 6)), 0
        k = int(rng.integers(1, m + 1))
        model = family_model(FAMILIES[trial % len(FAMILIES)], n, order, rng)
        shared = trial % 2 == 0
        ctr = rng.uniform(0, 0.8, (n, m) if shared else (20, n, m))
        coef = rng.uniform(-0.2, 1.0, (20, n))
        data = kernel.prepare(model, ctr)
        ads, pos = kernel.solve(data, coef, k)
        pi = kernel.pair_ctr(data, ads, pos)
        for r in range(20):
            inst = aa.Instance(ctr=ctr if shared else ctr[r], slots=k)
            one = DSSR(inst, coef[r], model)
            shown = ads[r] >= 0
            a = np.full(n, -1)
            a[ads[r, shown]] = pos[r, shown]
            assert np.array_equal(a, one.assignment)
            assert np.array_equal(pos[r, shown], one.order)
            want = model.ctr(inst, one.assignment, one.order)
            assert np.allclose(pi[r, shown], want[ads[r, shown]], rtol=1e-15, atol=0)


def test_batched_pruning_equals_single() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        n, m, k = int(rng.integers(1, 30)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
        k = min(k, m)
        inst = aa.Instance(ctr=np.round(rng.uniform(0, 0.6, (n, m)), 1), slots=k)
        coef = np.round(rng.uniform(-0.2, 1, n), 1)
        model = aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8)
        t = cascade_tables(inst, coef, model)
        want = dominance_prune(t, k)
        got = prune_batch(t.value[None], t.cont[None], t.cand[None], k)[0]
        assert np.array_equal(got, want)


@pytest.mark.parametrize("order", ["optimized", "fixed"])
def test_equals_milp_mid_size(order: str) -> None:
    rng = np.random.default_rng(11)
    for _ in range(2):
        inst = aa.Instance(ctr=rng.uniform(0, 0.5, (9, 4)), slots=3)
        coef = rng.uniform(0, 1, 9)
        model = aa.Cascade(continue_after_click=0.2, continue_after_skip=0.7, order=order)
        assert DSSR(inst, coef, model).value == pytest.approx(
            MILP(inst, coef, model).value, rel=1e-8)


def test_large_positions_use_counts_and_stay_exact() -> None:
    # m > MASK_POSITIONS: positions become tracked resources only when repeated
    rng = np.random.default_rng(3)
    m = dssr.MASK_POSITIONS + 2
    for _ in range(3):
        inst = aa.Instance(ctr=rng.uniform(0, 0.4, (4, m)) ** 2, slots=3)
        coef = rng.uniform(0, 1, 4)
        for model in (aa.Cascade(), aa.Cascade(continue_after_click=0.2,
                                               continue_after_skip=0.7)):
            got = DSSR(inst, coef, model)
            ref = BRUTE(inst, coef, model)
            assert got.value == pytest.approx(ref.value, rel=1e-12)
        assert aa.is_feasible(inst, got.assignment, got.order)


def test_state_limit_raises_with_bound_and_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dssr, "MAX_STATES", 8)
    inst = aa.Instance(ctr=np.tile([0.5, 0.45, 0.4], (4, 1)), slots=3)
    model = aa.Cascade(continue_after_click=0.2, continue_after_skip=0.7)
    with pytest.raises(aa.SolverError, match=r"restricted_dp.*") as err:
        DSSR(inst, np.array([1.0, 0.9, 0.8, 0.7]), model)
    assert "upper bound" in str(err.value)


def test_is_the_default_for_every_setting() -> None:
    for model in (aa.Cascade(), aa.Cascade(order="fixed"),
                  aa.Cascade(continue_after_skip=0.7),
                  aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)):
        assert aa.get_solver(model).name == "dssr"


def test_bids_below_the_prior_support_raise_no_warning() -> None:
    from scipy import stats

    rng = np.random.default_rng(9)
    inst = aa.Instance(ctr=rng.uniform(0, 0.5, (6, 14)), slots=3)
    bids = np.array([0.2, 0.7, 1.2, 0.1, 0.9, 1.4])  # two below the support [0.5, 1.5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for solver in (None, "restricted_dp"):
            for model in (aa.Cascade(), aa.Cascade(continue_after_skip=0.7)):
                mech = aa.Myerson(model, prior=stats.uniform(0.5, 1), solver=solver)
                out = mech.run(inst, bids)
                assert np.all(out.assignment[bids < 0.5] == -1)


def test_both_evaluation_orders_of_a_round_agree() -> None:
    """Layers and pair-by-pair: same recursion, same tie rule, same result (ties on)."""
    for seed in range(200):
        rng = np.random.default_rng(seed)
        n, m = int(rng.integers(1, 12)), int(rng.integers(1, 7))
        k, rows = int(rng.integers(1, m + 1)), int(rng.integers(1, 6))
        ctr = np.round(rng.uniform(0, 0.9, (rows, n, m)), int(rng.integers(1, 3)))
        coef = np.round(rng.uniform(-0.2, 1, (rows, n)), 1)
        gc, gs = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
        cont = np.clip(ctr * gc[:, None] + (1 - ctr) * gs[:, None], 0, 1)
        order = "fixed" if seed % 2 else "optimized"
        lists = pair_lists(ctr, cont, coef, k, order=order)
        if lists.ads.shape[1] == 0:
            continue
        base = dssr._base(m, k, dssr._mask_mode(order, m, False))
        one = dssr._first_round_rows(lists, slice(0, rows), base, k)
        two = dssr._layered_rows(lists, slice(0, rows), base, k)
        assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
        # later rounds without position subsets, with tracked resources
        row = dssr.list_row(lists, 0)
        h = int(rng.integers(0, 5))
        bits = rng.integers(0, 1 << h, row["ads"].size) if h else np.zeros(
            row["ads"].size, dtype=np.int64)
        count_base = dssr._base(m, k, False)
        assert dssr._round(row, count_base, k, bits) == dssr._layered_round(row, k, bits)
