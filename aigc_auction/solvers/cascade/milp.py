"""Exact cascade allocation by a mixed-integer linear program (PuLP: HiGHS or CBC).

Every parameter setting and both order modes. The candidate pairs that survive
:func:`~aigc_auction.solvers.cascade.common.dominance_prune` are listed once in
reading order (:func:`~aigc_auction.solvers.cascade.common.stage_order`): by the
key ``c_i p_ij / (1 - q_ij)`` under ``order="optimized"`` — any set of pairs is
best read in that order (the exchange argument,
:func:`~aigc_auction.models.cascade.optimal_reading_order`) — and by position
under ``order="fixed"``. An allocation is then a subsequence of that list, and
the user's *reach* flows along it (a reach-flow linearisation of the products
``prod q``, in the spirit of the network-flow formulations of cascade
assortment, e.g. Aggarwal et al. 2008):

    max  sum_t a_t y_t
    s.t. y_0 + z_0 = 1,   y_t + z_t = z_{t-1} + q_{t-1} y_{t-1}   (t >= 1)
         y_t <= x_t,      z_t <= 1 - x_t
         sum_{t: ad i} x_t <= 1,   sum_{t: position j} x_t <= 1,   sum_t x_t <= K
         x_t in {0, 1},   y, z >= 0

``y_t`` is the probability that the user reads pair ``t`` (0 unless shown) and
``z_t`` the probability that they reach stage ``t`` and pass it because the pair
is not shown; ``z_t <= 1 - x_t`` is a big-M constraint with ``M = 1`` (a
probability). For binary ``x`` the flow is exactly the cascade's reach, so the
optimum is the optimal allocation. Sizes: ``3 N`` variables (``N <= n m``
candidate pairs), ``N + n + m + 1`` constraints.

Scale. The coefficients are first scaled exactly by a power of two (largest in
``[0.5, 1)``) and the objective divided by its largest term, so the MIP is the
same at every bid scale (bids of ``5e-324`` or ``1e9``) and the solvers'
absolute tolerances act as relative ones; integrality, feasibility and gap
tolerances are tightened to ``1e-9`` / ``1e-10``.

Verification against the original problem. The matching is read from ``x``,
checked (integral, a matching, at most ``K`` ads, candidate pairs only) and its
value recomputed from the model with the caller's coefficients. That value must
also equal the MIP's own optimum (to ``VERIFY_RTOL``): a MIP solution that earns
part of its objective from a pair whose ``x`` is fractional within the
integrality tolerance (reach flowing through ``y_t <= x_t`` with ``x_t`` tiny)
is caught there, and raises :class:`~aigc_auction.SolverError` rather than
returning the rounded, possibly suboptimal allocation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..._optional import require
from ...exceptions import SolverError
from ...instance import Instance
from ..common import pulp_solver
from ..registry import register_solver
from .common import (
    as_cascade,
    cascade_tables,
    dominance_prune,
    finalize,
    stage_order,
)

if TYPE_CHECKING:
    from ...allocation import Allocation
    from ...models.base import UserModel

__all__ = ["cascade_milp", "cascade_milp_cbc"]

#: Optimality gaps handed to the MIP backends.
MIP_GAP = 1e-10
INTEGRALITY_ATOL = 1e-6
#: The recovered allocation's value must match the MIP optimum to this (relative);
#: CBC's solution file carries 8 significant digits, hence its looser check.
VERIFY_RTOL = {"highs": 1e-9, "cbc": 1e-7}
#: Backend options: feasibility and integrality tolerances well below VERIFY_RTOL;
#: CBC's cutoff increment (by default large enough to stop at solutions 1e-6 worse
#: than the optimum on normalised objectives) set to 1e-12.
BACKEND_OPTIONS: dict[str, dict[str, Any]] = {
    "highs": {"mip_feasibility_tolerance": 1e-10, "primal_feasibility_tolerance": 1e-10,
              "dual_feasibility_tolerance": 1e-10},
    "cbc": {"options": ["integerT 1e-10", "primalT 1e-10", "dualT 1e-10", "increment 1e-12"]},
}


def _normalised(coef: NDArray[np.float64]) -> NDArray[np.float64]:
    """``coef`` times the power of two putting its largest positive entry in ``[0.5, 1)``."""
    pos = coef[coef > 0]
    if pos.size == 0:
        return coef
    _, exp = np.frexp(np.max(pos))
    with np.errstate(invalid="ignore"):
        return np.asarray(np.ldexp(coef, -int(exp)), dtype=np.float64)


def _solve(
    instance: Instance, coef: NDArray[np.float64], model: UserModel, backend: str
) -> Allocation:
    require("pulp", purpose="the cascade MILP solvers (milp, milp_cbc)")
    import pulp

    name = "milp" if backend == "highs" else "milp_cbc"
    cm = as_cascade(model, name)
    chat = _normalised(np.asarray(coef, dtype=np.float64))
    tab = cascade_tables(instance, chat, cm)
    keep = dominance_prune(tab, instance.slots)
    rows, cols = np.nonzero(keep)
    n = instance.n_advertisers
    if rows.size == 0:
        return finalize(instance, coef, cm, np.full(n, -1, dtype=np.int64), name)
    srt = stage_order(tab, rows, cols)
    rows, cols = rows[srt], cols[srt]
    a = tab.value[rows, cols]
    q = tab.cont[rows, cols]
    big = float(a.max())
    prob = pulp.LpProblem("cascade_allocation", pulp.LpMaximize)
    stages = range(rows.size)
    x = [prob.add_variable(f"x_{t}", 0, 1, cat="Binary") for t in stages]
    y = [prob.add_variable(f"y_{t}", 0) for t in stages]
    z = [prob.add_variable(f"z_{t}", 0) for t in stages]
    # scaled objective (max coefficient 1) keeps the solver's tolerances relative
    prob += pulp.lpSum(float(a[t] / big) * y[t] for t in stages)
    prob += y[0] + z[0] == 1
    for t in stages:
        if t:
            prob += y[t] + z[t] == z[t - 1] + float(q[t - 1]) * y[t - 1]
        prob += y[t] <= x[t]
        prob += z[t] <= 1 - x[t]
    for group in (rows, cols):
        for g in np.unique(group):
            members = np.flatnonzero(group == g)
            if members.size > 1:
                prob += pulp.lpSum(x[t] for t in members) <= 1
    if rows.size > instance.slots:
        prob += pulp.lpSum(x) <= instance.slots
    status = prob.solve(pulp_solver(backend, gapRel=MIP_GAP, gapAbs=MIP_GAP,
                                    **BACKEND_OPTIONS[backend]))
    if pulp.LpStatus[status] != "Optimal":
        raise SolverError(f"solver {name!r} failed with status {pulp.LpStatus[status]}")
    xv = np.array([v.value() or 0.0 for v in x])
    if np.any(np.abs(xv - np.round(xv)) > INTEGRALITY_ATOL):
        raise SolverError(f"solver {name!r} returned a fractional assignment")
    used = np.round(xv) == 1
    assignment = np.full(n, -1, dtype=np.int64)
    if len(set(rows[used].tolist())) != used.sum():
        raise SolverError(f"solver {name!r} showed an advertiser twice")
    assignment[rows[used]] = cols[used]
    alloc = finalize(instance, coef, cm, assignment, name)
    mip_value = float(pulp.value(prob.objective) or 0.0) * big
    exact = cm.objective(instance, chat, alloc.assignment, alloc.order)
    rtol = VERIFY_RTOL[backend]
    if not abs(mip_value - exact) <= rtol * max(abs(mip_value), abs(exact), 1e-300):
        raise SolverError(
            f"solver {name!r}: the recovered allocation is worth {exact:.17g} (normalised) "
            f"but the MIP reports {mip_value:.17g}; its solution is not integral enough "
            "to be trusted"
        )
    return alloc


@register_solver(
    "cascade", "milp", exact=True, priority=10,
    description="reach-flow MILP in PuLP solved by HiGHS; any parameters, both orders",
)
def cascade_milp(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Optimal cascade allocation via the reach-flow MILP, PuLP + HiGHS.

    Parameters
    ----------
    instance : Instance
    coef : ndarray of shape (n_advertisers,)
        Objective coefficients (bids or virtual values; any sign).
    model : Cascade

    Returns
    -------
    Allocation

    Raises
    ------
    SolverError
        If the backend does not report an optimal integral solution.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    >>> model = aa.Cascade(continue_after_click=0.3, continue_after_skip=0.9)
    >>> alloc = cascade_milp(inst, np.array([1.0, 1.0]), model)
    >>> alloc.assignment.tolist(), alloc.order.tolist(), round(alloc.value, 6)
    ([0, 1], [0, 1], 0.74)
    """
    return _solve(instance, coef, model, "highs")


@register_solver(
    "cascade", "milp_cbc", exact=True, priority=0,
    description="reach-flow MILP in PuLP solved by the bundled CBC",
)
def cascade_milp_cbc(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Optimal cascade allocation via the reach-flow MILP, PuLP + CBC.

    Same formulation as :func:`cascade_milp`, another backend (a cross-check).
    """
    return _solve(instance, coef, model, "cbc")
