"""Exact MNL allocation through the assortment LP (Charnes–Cooper transform).

Maximising ``sum_i c_i pi_i(x)`` over matchings with at most ``K`` edges is the
fractional program ``max sum c_i w_ij x_ij / (1 + sum w_ij x_ij)``. With
``y0 = 1 / (1 + sum w x)`` and ``y = x * y0`` it becomes the LP

    max  sum c_i w_ij y_ij
    s.t. y0 + sum w_ij y_ij = 1
         sum_j y_ij <= y0  (each i),   sum_i y_ij <= y0  (each j)
         sum_ij y_ij <= K y0,          y >= 0,

whose constraint structure is totally unimodular, so an optimal vertex gives an
integral matching ``x = y / y0`` (Davis, Gallego & Topaloglu 2013). Only the
candidate pairs (positive coefficient and CTR) become variables. The matching is
recovered, checked to be integral and feasible, and its objective recomputed from
the model; anything else raises :class:`~aigc_auction.SolverError`.

Backends: SciPy's HiGHS dual simplex (``"lp_highs"``), and PuLP with its bundled
CBC (``"pulp_cbc"``) or HiGHS (``"pulp_highs"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from ..._optional import require
from ...allocation import Allocation
from ...exceptions import SolverError
from ...instance import Instance
from ..common import candidate_mask, matching_from_pairs, pulp_solver
from ..registry import register_solver

if TYPE_CHECKING:
    from ...models.base import UserModel

__all__ = ["mnl_lp_pulp", "mnl_lp_scipy"]

INTEGRALITY_ATOL = 1e-6


def _pairs(
    instance: Instance, coef: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    rows, cols = np.nonzero(candidate_mask(instance, coef))
    return rows.astype(np.int64), cols.astype(np.int64)


def _recover(
    instance: Instance,
    coef: NDArray[np.float64],
    model: UserModel,
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    y0: float,
    y: NDArray[np.float64],
    solver: str,
) -> Allocation:
    if not np.isfinite(y0) or y0 <= 0:
        raise SolverError(f"solver {solver!r} returned y0 = {y0!r}; expected y0 > 0")
    x = np.asarray(y, dtype=np.float64) / y0
    if np.any(np.abs(x - np.round(x)) > INTEGRALITY_ATOL) or np.any(np.round(x) > 1):
        worst = float(np.max(np.abs(x - np.round(x))))
        raise SolverError(
            f"solver {solver!r} returned a fractional LP solution "
            f"(max distance to an integer {worst:.3g}); the vertex is not integral"
        )
    used = np.round(x) == 1
    a = matching_from_pairs(instance, rows[used], cols[used], solver)
    return Allocation(a, np.sort(a[a >= 0]), model.objective(instance, coef, a), solver)


def _empty(instance: Instance, solver: str) -> Allocation:
    a = np.full(instance.n_advertisers, -1, dtype=np.int64)
    return Allocation(a, np.empty(0, dtype=np.int64), 0.0, solver)


@register_solver(
    "mnl", "lp_highs", exact=True, priority=10,
    description="assortment LP, SciPy linprog with HiGHS dual simplex",
)
def mnl_lp_scipy(instance: Instance, coef: NDArray[np.float64], model: UserModel) -> Allocation:
    """Optimal MNL allocation via ``scipy.optimize.linprog(method="highs-ds")``.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.2, 0.5], [0.3, 0.3]], slots=2)
    >>> mnl_lp_scipy(inst, np.array([1.0, 1.0, 0.2]), aa.MNL()).assignment.tolist()
    [0, 1, -1]
    """
    rows, cols = _pairs(instance, coef)
    if rows.size == 0:
        return _empty(instance, "lp_highs")
    n, m = instance.shape
    e = rows.size
    w = instance.odds[rows, cols]
    # variable vector: [y0, y_e for each candidate pair e]
    obj = np.concatenate(([0.0], -(coef[rows] * w)))
    idx = np.arange(e)
    # advertiser rows, position rows, cardinality row:  sum y - (bound) * y0 <= 0
    a_y = sp.vstack(
        [
            sp.csr_matrix((np.ones(e), (rows, idx)), shape=(n, e)),
            sp.csr_matrix((np.ones(e), (cols, idx)), shape=(m, e)),
            sp.csr_matrix(np.ones((1, e))),
        ]
    )
    y0_col = -np.concatenate((np.ones(n + m), [float(instance.slots)]))
    a_ub = sp.hstack([sp.csr_matrix(y0_col[:, None]), a_y]).tocsr()
    a_eq = sp.csr_matrix(np.concatenate(([1.0], w))[None, :])
    res = linprog(
        obj, A_ub=a_ub, b_ub=np.zeros(n + m + 1), A_eq=a_eq, b_eq=[1.0],
        bounds=(0, None), method="highs-ds",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status != 0:
        raise SolverError(f"solver 'lp_highs' failed: {res.message}")
    return _recover(instance, coef, model, rows, cols, float(res.x[0]), res.x[1:], "lp_highs")


def _pulp_solve(
    instance: Instance, coef: NDArray[np.float64], model: UserModel, backend: str
) -> Allocation:
    require("pulp", purpose="the PuLP assortment-LP solvers (pulp_cbc, pulp_highs)")
    import pulp

    name = f"pulp_{backend}"
    rows, cols = _pairs(instance, coef)
    if rows.size == 0:
        return _empty(instance, name)
    w = instance.odds[rows, cols]
    prob = pulp.LpProblem("mnl_assortment", pulp.LpMaximize)
    y0 = prob.add_variable("y0", lowBound=0)
    y = [prob.add_variable(f"y_{i}_{j}", lowBound=0) for i, j in zip(rows, cols, strict=True)]
    prob += pulp.lpSum(float(coef[i] * wij) * v for i, wij, v in zip(rows, w, y, strict=True))
    prob += y0 + pulp.lpSum(float(wij) * v for wij, v in zip(w, y, strict=True)) == 1
    by_row: dict[int, list[pulp.LpVariable]] = {}
    by_col: dict[int, list[pulp.LpVariable]] = {}
    for i, j, v in zip(rows.tolist(), cols.tolist(), y, strict=True):
        by_row.setdefault(i, []).append(v)
        by_col.setdefault(j, []).append(v)
    for vs in by_row.values():
        prob += pulp.lpSum(vs) <= y0
    for vs in by_col.values():
        prob += pulp.lpSum(vs) <= y0
    prob += pulp.lpSum(y) <= instance.slots * y0
    status = prob.solve(pulp_solver(backend))
    if pulp.LpStatus[status] != "Optimal":
        raise SolverError(f"solver {name!r} failed with status {pulp.LpStatus[status]}")
    yv = np.array([v.value() or 0.0 for v in y])
    return _recover(instance, coef, model, rows, cols, float(y0.value() or 0.0), yv, name)


@register_solver(
    "mnl", "pulp_cbc", exact=True, priority=0,
    description="assortment LP written in PuLP, solved by the bundled CBC",
)
def mnl_lp_pulp(instance: Instance, coef: NDArray[np.float64], model: UserModel) -> Allocation:
    """Optimal MNL allocation via the assortment LP in PuLP solved by CBC.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.2, 0.5], [0.3, 0.3]], slots=2)
    >>> mnl_lp_pulp(inst, np.array([1.0, 1.0, 0.2]), aa.MNL()).assignment.tolist()
    [0, 1, -1]
    """
    return _pulp_solve(instance, coef, model, "cbc")


@register_solver(
    "mnl", "pulp_highs", exact=True, priority=1,
    description="assortment LP written in PuLP, solved by HiGHS (highspy)",
)
def mnl_lp_pulp_highs(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Optimal MNL allocation via the assortment LP in PuLP solved by HiGHS."""
    return _pulp_solve(instance, coef, model, "highs")
