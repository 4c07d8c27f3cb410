"""VCG and Myerson under the cascade model: textbook numbers, Clarke, IC/IR, monotonicity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import aigc_auction as aa
from aigc_auction.solvers.cascade.brute_force import cascade_brute_force
from aigc_auction.solvers.cascade.greedy import cascade_greedy
from aigc_auction.solvers.cascade.local_search import cascade_local_search

UNIFORM = stats.uniform(0, 1)


def expected_revenue_two_uniform(mech: aa.Mechanism, grid: int = 8) -> float:
    """``E[revenue]`` for two i.i.d. U[0, 1] values, exactly for piecewise-linear revenue.

    Each cell of a ``grid x grid`` mesh (with 1/2 on a grid line) is cut along
    its diagonal ``v1 - v2 = const``; the revenue of a single-item VCG or Myerson
    auction is linear on every such triangle (its kinks and jumps lie on
    ``v1 = v2`` and ``v = 1/2``), and the centroid rule integrates a linear
    function exactly. The centroids are interior points, so no tie is ever hit.
    """
    inst = aa.Instance(ctr=[[1.0], [1.0]])
    h = 1.0 / grid
    total = 0.0
    for a in range(grid):
        for b in range(grid):
            x0, y0 = a * h, b * h
            for cx, cy in ((x0 + 2 * h / 3, y0 + h / 3), (x0 + h / 3, y0 + 2 * h / 3)):
                total += mech.run(inst, [cx, cy]).revenue * h * h / 2
    return total


def test_single_item_textbook_revenues() -> None:
    vcg = expected_revenue_two_uniform(aa.VCG(aa.Cascade()))
    myerson = expected_revenue_two_uniform(aa.Myerson(aa.Cascade(), prior=UNIFORM))
    assert vcg == pytest.approx(1 / 3, abs=1e-12)
    assert myerson == pytest.approx(5 / 12, abs=1e-12)


def drop(model: aa.Cascade, i: int) -> aa.Cascade:
    """The model without advertiser ``i`` (per-advertiser parameters lose entry ``i``)."""
    params = model.get_params()
    for key in ("continue_after_click", "continue_after_skip"):
        if isinstance(params[key], np.ndarray):
            params[key] = np.delete(params[key], i)
    return aa.Cascade(**params)


@pytest.mark.parametrize("order", ["optimized", "fixed"])
def test_vcg_payments_are_clarke_payments_by_definition(order: str) -> None:
    rng = np.random.default_rng(20)
    for k in range(24):
        n, m = int(rng.integers(2, 5)), int(rng.integers(1, 4))
        inst = aa.Instance(ctr=rng.uniform(0, 1, (n, m)), slots=int(rng.integers(1, m + 1)))
        if k % 3 == 0:
            model = aa.Cascade(order=order)  # type: ignore[arg-type]
        else:
            model = aa.Cascade(
                continue_after_click=rng.uniform(0, 1, n),
                continue_after_skip=rng.uniform(0, 1, n) if k % 3 == 2 else 1.0,
                order=order,  # type: ignore[arg-type]
            )
        bids = rng.uniform(0, 1, n)
        out = aa.VCG(model).run(inst, bids)
        best = cascade_brute_force(inst, bids, model).value
        assert out.welfare == pytest.approx(best, rel=1e-12, abs=1e-12)
        for i in range(n):
            if out.ctr[i] == 0:
                assert out.payments[i] == 0
                continue
            rest = aa.Instance(ctr=np.delete(inst.ctr, i, axis=0), slots=inst.slots)
            w_minus = cascade_brute_force(rest, np.delete(bids, i), drop(model, i)).value
            clarke = w_minus - (best - bids[i] * out.ctr[i])
            assert out.payments[i] == pytest.approx(clarke, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("order", ["optimized", "fixed"])
def test_separable_no_externality_vcg_closed_form(order: str) -> None:
    """``gc = gs = 1``, ``p = alpha beta``: the classic position auction's VCG prices."""
    rng = np.random.default_rng(21)
    model = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0, order=order)  # type: ignore[arg-type]
    for _ in range(10):
        n, m = 6, 4
        slots = int(rng.integers(1, m + 1))
        alpha = rng.uniform(0.2, 1.0, n)
        beta = np.sort(rng.uniform(0.1, 0.9, m))[::-1]
        inst = aa.Instance.from_separable(alpha, beta, slots=slots)
        bids = rng.uniform(0, 1, n)
        out = aa.VCG(model).run(inst, bids)
        score = alpha * bids
        ranked = np.argsort(-score, kind="stable")
        s = np.r_[score[ranked], 0.0]  # s[l] = l-th largest alpha * b (0-based)
        beta_ext = np.r_[beta[:slots], 0.0]
        for k in range(slots):
            i = ranked[k]
            closed = sum((beta_ext[r] - beta_ext[r + 1]) * s[r + 1] for r in range(k, slots))
            assert out.assignment[i] == k
            assert out.payments[i] == pytest.approx(closed, rel=1e-9, abs=1e-12)
        assert np.all(out.payments[ranked[slots:]] == 0)


MYERSON_CASES = [
    (aa.Cascade(), None),
    (aa.Cascade(), "restricted_dp"),
    (aa.Cascade(continue_after_click=0.4, continue_after_skip=0.8), "brute_force"),
    (aa.Cascade(continue_after_click=0.4, continue_after_skip=0.8, order="fixed"), "brute_force"),
    (aa.Cascade(continue_after_click=0.5, continue_after_skip=0.9), None),  # the MILP
]


@pytest.mark.parametrize(("model", "solver"), MYERSON_CASES)
def test_myerson_is_ic_and_ir_on_a_bid_grid(model: aa.Cascade, solver: str | None) -> None:
    rng = np.random.default_rng(22)
    mech = aa.Myerson(model, prior=stats.expon(scale=0.5), solver=solver)
    size = (3, 2) if mech.solver_spec.name.startswith("milp") else (4, 3)
    inst = aa.Instance(ctr=rng.uniform(0.1, 0.9, size), slots=2)
    values = rng.uniform(0.2, 1.5, size[0])
    grid = np.linspace(0.0, 2.0, 21 if size[0] == 3 else 41)
    res = aa.max_misreport_gain(mech, inst, values, grid=grid)
    assert res.gain <= 1e-9, res
    assert aa.is_individually_rational(mech.run(inst, values), values, atol=1e-9)


CLASSIC = aa.Cascade()
GENERAL = aa.Cascade(continue_after_click=0.3, continue_after_skip=0.9, order="fixed")
CONFORMANCE = [
    (model, name, kind)
    for model in (CLASSIC, GENERAL)
    for name in aa.available_solvers(model)
    for kind in ("vcg", "myerson")
]


@pytest.mark.parametrize(("model", "name", "kind"), CONFORMANCE)
def test_conformance_of_every_accepted_cascade_solver(
    model: aa.Cascade, name: str, kind: str
) -> None:
    try:
        if kind == "vcg":
            mech: aa.Mechanism = aa.VCG(model, solver=name)
        else:
            mech = aa.Myerson(model, prior=UNIFORM, solver=name)
    except ValueError:
        assert name in ("greedy", "local_search")
        return
    assert name not in ("greedy", "local_search")
    milp = name.startswith("milp") or (name == "restricted_dp" and model is GENERAL)
    if milp:  # a few ms per MIP: a smaller check
        aa.check_mechanism(mech, n_instances=1, n_advertisers=2, n_positions=2, rng=1)
    else:
        aa.check_mechanism(mech, n_instances=1, rng=1)


@pytest.mark.parametrize("name", ["greedy", "local_search"])
def test_mechanisms_refuse_non_monotone_approximations(name: str) -> None:
    with pytest.raises(ValueError, match="not maximal-in-range"):
        aa.VCG(aa.Cascade(), solver=name)
    with pytest.raises(ValueError, match="not monotone"):
        aa.Myerson(aa.Cascade(), prior=UNIFORM, solver=name)


def ctr_curve(solve, inst, coef, model, i, grid):  # type: ignore[no-untyped-def]
    out = []
    for z in grid:
        c = coef.copy()
        c[i] = z
        alloc = solve(inst, c, model)
        out.append(model.ctr(inst, alloc.assignment, alloc.order)[i])
    return np.array(out)


@pytest.mark.parametrize("solve", [cascade_greedy, cascade_local_search])
def test_greedy_and_local_search_are_not_monotone(solve) -> None:  # type: ignore[no-untyped-def]
    """Why they are flagged ``monotone=False``: a seeded counterexample exists."""
    rng = np.random.default_rng(23)
    grid = np.linspace(0.0, 2.0, 41)
    for _ in range(300):
        n, m = int(rng.integers(2, 7)), int(rng.integers(2, 5))
        inst = aa.Instance(ctr=rng.uniform(0, 1, (n, m)), slots=int(rng.integers(1, m + 1)))
        model = aa.Cascade(
            continue_after_click=rng.uniform(0, 1, n), continue_after_skip=rng.uniform(0, 1, n)
        )
        coef = rng.uniform(0, 1, n)
        curve = ctr_curve(solve, inst, coef, model, int(rng.integers(n)), grid)
        if np.any(np.diff(curve) < -1e-9):
            return
    pytest.fail("no monotonicity violation found")  # pragma: no cover


cases = st.tuples(
    st.integers(2, 5), st.integers(1, 4), st.integers(0, 2**32 - 1), st.sampled_from(
        ["classic", "classic_gc", "general_fixed", "no_externality"]
    )
)


@settings(max_examples=40)
@given(cases)
def test_restricted_dp_and_exact_rules_are_monotone(case: tuple[int, int, int, str]) -> None:
    """The maximal-in-range approximation (and the exact rule) never lower own CTR."""
    n, m, seed, family = case
    rng = np.random.default_rng(seed)
    inst = aa.Instance(ctr=rng.uniform(0, 1, (n, m)), slots=int(rng.integers(1, m + 1)))
    if family == "classic":
        model = aa.Cascade()
    elif family == "classic_gc":
        model = aa.Cascade(continue_after_click=rng.uniform(0, 1, n))
    elif family == "general_fixed":
        model = aa.Cascade(
            continue_after_click=rng.uniform(0, 1, n),
            continue_after_skip=rng.uniform(0, 1, n),
            order="fixed",
        )
    else:
        model = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)
    coef = rng.uniform(0, 1, n)
    i = int(rng.integers(n))
    grid = np.linspace(0.0, 2.0, 21)
    names = ["restricted_dp"] if family == "general_fixed" else ["restricted_dp", "subset_dp"]
    if family == "general_fixed":
        names.append("brute_force")
    for name in names:
        curve = ctr_curve(aa.get_solver(model, name).func, inst, coef, model, i, grid)
        assert np.all(np.diff(curve) >= -1e-12), (name, curve)


def test_restricted_dp_monotone_when_the_range_is_smaller_than_all_positions() -> None:
    rng = np.random.default_rng(24)
    inst = aa.Instance(ctr=rng.uniform(0, 0.5, (8, 16)), slots=3)
    model = aa.Cascade(continue_after_click=rng.uniform(0, 0.5, 8))
    spec = aa.get_solver(model, "restricted_dp")
    grid = np.linspace(0.0, 3.0, 31)
    for i in range(8):
        curve = ctr_curve(spec.func, inst, rng.uniform(0, 1, 8), model, i, grid)
        assert np.all(np.diff(curve) >= -1e-12)
    mech = aa.VCG(model, solver="restricted_dp")
    values = rng.uniform(0.2, 1.0, 8)
    assert aa.max_misreport_gain(mech, inst, values, grid=np.linspace(0, 2, 11)).gain <= 1e-9
