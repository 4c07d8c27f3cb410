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
candidate pairs (positive coefficient and CTR) become variables.

Scale. LP solvers compare reduced costs and residuals with *absolute* tolerances,
so the coefficients are first scaled by a power of two (exactly, without
rounding) to put the largest candidate coefficient in ``[0.5, 1)``: the LP solved
for bids of ``1e-9`` or ``1e9`` is bit for bit the one solved for bids of 1, and
the optimal matching does not change under a positive scaling.

Verification against the original problem. The matching is recovered from
``y / y0``, checked to be integral and a feasible matching, and its objective
recomputed from the model with the caller's coefficients. Its optimality is then
certified exactly, independently of the LP: a matching with ratio ``lambda`` is
optimal if and only if no matching has ``sum (c_i - lambda) w_ij > lambda``
(Dinkelbach's condition), which one maximum-weight matching with at most ``K``
edges decides (:func:`scipy.optimize.linear_sum_assignment`). A violation beyond
``CERTIFY_RTOL`` (relative) -- an LP stopped early, a vertex rounded wrongly --
is a failure; a wrong allocation is never returned.

Conditioning. CTRs close to 1 make the odds (and ``1 / y0``) large, tiny CTRs
make them small, and a vertex read back with absolute tolerances then looks
fractional or suboptimal. The backends run with tolerances of ``1e-10`` and
without their own scaling (which did more harm than good on this matrix: HiGHS's
``simplex_scale_strategy = 0``, CBC's ``scaling off``), and a failed verification
is retried once with the pair variables scaled to click probabilities
(``u = w y``, see :func:`_build`) before :class:`~aigc_auction.SolverError` is
raised. Checked against brute force at bid scales ``1e-9 .. 1e9`` (also mixed
within one market) and CTRs from ``1e-9`` to ``1 - 1e-6``.

Backends: SciPy's HiGHS dual simplex (``"lp_highs"``), and PuLP with its bundled
CBC (``"pulp_cbc"``) or HiGHS (``"pulp_highs"``).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import OptimizeWarning, linear_sum_assignment, linprog

from ..._optional import require
from ...allocation import Allocation
from ...exceptions import SolverError
from ...instance import Instance
from ..common import candidate_mask, matching_from_pairs, pulp_solver
from ..registry import register_solver

if TYPE_CHECKING:
    from ...models.base import UserModel

__all__ = ["best_matching", "mnl_lp_pulp", "mnl_lp_pulp_highs", "mnl_lp_scipy"]

#: ``y / y0`` within this of 0 or 1 is rounded; the certificate then checks the
#: rounded matching's optimality exactly, so the rounding cannot pass a wrong answer.
INTEGRALITY_ATOL = 1e-4
#: A matching whose ratio another matching beats by more than this (relative) is
#: not accepted as optimal.
CERTIFY_RTOL = 1e-10


def _pairs(
    instance: Instance, coef: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    rows, cols = np.nonzero(candidate_mask(instance, coef))
    return rows.astype(np.int64), cols.astype(np.int64)


def _normalised(coef: NDArray[np.float64], rows: NDArray[np.int64]) -> NDArray[np.float64]:
    """``coef`` times the power of two putting its largest candidate in ``[0.5, 1)``."""
    _, exp = np.frexp(np.max(coef[rows]))
    with np.errstate(invalid="ignore"):
        return np.asarray(np.ldexp(coef, -int(exp)), dtype=np.float64)


def best_matching(gain: NDArray[np.float64], k: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """A maximum-weight matching with at most ``k`` edges, positive gains only.

    Parameters
    ----------
    gain : ndarray of shape (n, m)
    k : int

    Returns
    -------
    rows, cols : ndarray of int
        The matched pairs (each with a positive gain).

    Notes
    -----
    :func:`scipy.optimize.linear_sum_assignment` on the gains, with ``m - k``
    blocker rows that must take a position (so at most ``k`` positions remain for
    the advertisers) and ``n - k`` free dummy columns for the advertisers left out.

    Examples
    --------
    >>> best_matching(np.array([[3.0, 2.0], [2.0, 0.5]]), 1)
    (array([0]), array([0]))
    >>> best_matching(np.array([[3.0, 2.0], [2.0, 0.5]]), 2)
    (array([0, 1]), array([1, 0]))
    """
    g = np.where(gain > 0, gain, 0.0)
    keep = np.flatnonzero(np.any(g > 0, axis=1))
    g = g[keep]
    n, m = g.shape
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if n > k and k < m:
        big = 1.0 + 2.0 * float(g.sum())
        cost = np.zeros((n + m - k, n + m - k))
        cost[:n, :m] = -g
        cost[n:, m:] = big  # blockers take real positions
        r, c = linear_sum_assignment(cost)
    else:
        r, c = linear_sum_assignment(-g)
    real = (r < n) & (c < m)
    r, c = r[real], c[real]
    pos = g[r, c] > 0
    return keep[r[pos]].astype(np.int64), c[pos].astype(np.int64)


def _ratio(instance: Instance, chat: NDArray[np.float64], rows: NDArray[np.int64],
           cols: NDArray[np.int64]) -> float:
    w = instance.odds[rows, cols]
    return float(np.dot(chat[rows], w) / (1.0 + w.sum())) if rows.size else 0.0


def _certify(instance: Instance, chat: NDArray[np.float64], rows: NDArray[np.int64],
             cols: NDArray[np.int64], assignment: NDArray[np.int64], solver: str) -> None:
    """Raise unless ``assignment`` is optimal, checked exactly by Dinkelbach steps.

    From the matching's ratio ``lambda``, a maximum-weight matching on the gains
    ``(c_i - lambda) w_ij`` (candidate pairs) has a larger ratio if and only if
    ``lambda`` is not optimal (Dinkelbach 1967); steps repeat until no larger ratio
    appears, and the ratio reached must not exceed the LP's by ``CERTIFY_RTOL``.
    """
    shown = np.flatnonzero(assignment >= 0)
    lam0 = lam = _ratio(instance, chat, shown, assignment[shown])
    for _ in range(100):
        gain = np.zeros(instance.shape)
        gain[rows, cols] = (chat[rows] - lam) * instance.odds[rows, cols]
        r, c = best_matching(gain, instance.slots)
        new = _ratio(instance, chat, r, c)
        if not new > lam:
            break
        lam = new
    if lam > lam0 + CERTIFY_RTOL * lam:
        raise SolverError(
            f"solver {solver!r} returned a suboptimal allocation (normalised objective "
            f"{lam0:.17g}; a matching reaches {lam:.17g}): the LP did not reach its optimum"
        )


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
    if not np.all(np.isfinite(x)) or np.any(np.abs(x - np.round(x)) > INTEGRALITY_ATOL) or (
            np.any(np.round(x) > 1)):
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


class _LP(NamedTuple):
    """The assortment LP in matrix form: ``max obj @ z`` s.t. ``a_ub z <= 0``,
    ``a_eq z = 1``, ``z >= 0``, with ``z = [y0, u]`` and ``y = u / col_scale``."""

    obj: NDArray[np.float64]
    a_ub: sp.csr_matrix
    a_eq: NDArray[np.float64]
    col_scale: NDArray[np.float64]


def _build(instance: Instance, chat: NDArray[np.float64], rows: NDArray[np.int64],
           cols: NDArray[np.int64], variables: str) -> _LP:
    """The LP with pair variables ``u = y`` (``"share"``) or ``u = w y`` (``"click"``).

    The two are the same LP with columns scaled differently: ``y`` stays well
    scaled when the odds are small, ``w y`` (the pair's click probability, in
    ``[0, 1]``) when they are large (CTRs close to 1). Their vertices are the same.
    """
    n, m = instance.shape
    e = rows.size
    w = instance.odds[rows, cols]
    s = np.ones(e) if variables == "share" else w.copy()
    idx = np.arange(e)
    inv = 1.0 / s
    # advertiser rows, position rows, cardinality row:  sum y - (bound) * y0 <= 0
    a_y = sp.vstack([
        sp.csr_matrix((inv, (rows, idx)), shape=(n, e)),
        sp.csr_matrix((inv, (cols, idx)), shape=(m, e)),
        sp.csr_matrix(inv[None, :]),
    ])
    y0_col = -np.concatenate((np.ones(n + m), [float(instance.slots)]))
    a_ub = sp.hstack([sp.csr_matrix(y0_col[:, None]), a_y]).tocsr()
    obj = np.concatenate(([0.0], chat[rows] * w * inv))
    a_eq = np.concatenate(([1.0], w * inv))
    return _LP(obj, a_ub, a_eq, s)


def _solve_highs(lp: _LP) -> tuple[float, NDArray[np.float64]]:
    with warnings.catch_warnings():
        # linprog forwards HiGHS options it does not know by name, with a warning
        warnings.filterwarnings("ignore", "Unrecognized options", OptimizeWarning)
        res = linprog(
            -lp.obj, A_ub=lp.a_ub, b_ub=np.zeros(lp.a_ub.shape[0]), A_eq=lp.a_eq[None, :],
            b_eq=[1.0], bounds=(0, None), method="highs-ds", options=HIGHS_OPTIONS,
        )
    if res.status != 0:
        raise SolverError(f"solver 'lp_highs' failed: {res.message}")
    return float(res.x[0]), res.x[1:] / lp.col_scale


def _solve_pulp(lp: _LP, backend: str) -> tuple[float, NDArray[np.float64]]:
    import pulp

    name = f"pulp_{backend}"
    prob = pulp.LpProblem("mnl_assortment", pulp.LpMaximize)
    z = [prob.add_variable(f"z{k}", lowBound=0) for k in range(lp.obj.size)]
    prob += pulp.lpSum(float(c) * v for c, v in zip(lp.obj, z, strict=True) if c != 0)
    prob += pulp.lpSum(float(c) * v for c, v in zip(lp.a_eq, z, strict=True)) == 1
    a = lp.a_ub
    for r in range(a.shape[0]):
        lo, hi = a.indptr[r], a.indptr[r + 1]
        prob += pulp.lpSum(
            float(c) * z[j] for c, j in zip(a.data[lo:hi], a.indices[lo:hi], strict=True)
        ) <= 0
    status = prob.solve(pulp_solver(backend, **PULP_OPTIONS[backend]))
    if pulp.LpStatus[status] != "Optimal":
        raise SolverError(f"solver {name!r} failed with status {pulp.LpStatus[status]}")
    zv = np.array([v.value() or 0.0 for v in z])
    return float(zv[0]), zv[1:] / lp.col_scale


#: Backend options: tight absolute tolerances (the objective is normalised, so
#: they are relative), and CBC without its own scaling, which on CTRs close to 1
#: returned fractional vertices far more often than without.
HIGHS_OPTIONS: dict[str, Any] = {
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
    "simplex_scale_strategy": 0,
}
PULP_OPTIONS: dict[str, dict[str, Any]] = {
    "highs": HIGHS_OPTIONS,
    "cbc": {"options": ["primalT 1e-10", "dualT 1e-10", "scaling off"]},
}


def _solve(instance: Instance, coef: NDArray[np.float64], model: UserModel,
           backend: str) -> Allocation:
    """Normalise, solve, recover, certify; a second column scaling if that fails."""
    name = "lp_highs" if backend == "scipy" else f"pulp_{backend}"
    rows, cols = _pairs(instance, coef)
    if rows.size == 0:
        return _empty(instance, name)
    chat = _normalised(coef, rows)
    errors: list[SolverError] = []
    for variables in ("share", "click"):
        lp = _build(instance, chat, rows, cols, variables)
        try:
            y0, y = _solve_highs(lp) if backend == "scipy" else _solve_pulp(lp, backend)
            alloc = _recover(instance, coef, model, rows, cols, y0, y, name)
            _certify(instance, chat, rows, cols, alloc.assignment, name)
            return alloc
        except SolverError as err:
            errors.append(err)
    raise SolverError(f"{errors[0]} (also with click-probability variables: {errors[1]})")


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
    return _solve(instance, coef, model, "scipy")


def _pulp_solve(
    instance: Instance, coef: NDArray[np.float64], model: UserModel, backend: str
) -> Allocation:
    require("pulp", purpose="the PuLP assortment-LP solvers (pulp_cbc, pulp_highs)")
    return _solve(instance, coef, model, backend)


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
