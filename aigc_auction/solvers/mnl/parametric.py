"""Fast exact MNL allocation: Dinkelbach's parametric search on the ratio.

The MNL objective of a matching ``S`` is the ratio
``R(S) = N(S) / (1 + D(S))`` with ``N = sum c_i w_ij`` and ``D = sum w_ij`` over its
pairs. Dinkelbach's method (Dinkelbach 1967; for MNL assortments see Rusmevichientong,
Shen & Shmoys 2010) finds ``lambda* = max_S R(S)`` as the root of
``F(lambda) = max_S sum_{(i,j) in S} (c_i - lambda) w_ij - lambda``:

    lambda_0 = 0 (or the ratio of a known feasible allocation),
    S_k      = a maximum-weight matching with at most K edges, weights
               (c_i - lambda_k) w_ij, positive edges only,
    lambda_{k+1} = R(S_k),

stopping when ``R(S_k)`` no longer exceeds ``lambda_k``. ``lambda`` increases
strictly until then and there are finitely many matchings, so the search ends,
in practice after 2--5 matchings (superlinear convergence). No LP solver is used.

Each step is solved by one of two exact kernels, chosen from ``(m, K)`` only, so a
given instance always gets the same kernel whatever the batch it is solved in:

* ``"enum"`` (small ``m`` and ``K``; see :mod:`.enumeration`): vectorised over a batch
  of problems, it enumerates the matchings whose ads are in their column's top
  ``s`` list (``s`` the matching size).
* ``"lsa"``: :func:`scipy.optimize.linear_sum_assignment` on the candidate matrix,
  with ``m - K`` blocker rows that must take a position and ``r - K`` shared dummy
  columns for the ads left out, so that at most ``K`` pairs are real.

Both prune each position's column to its top ``K`` advertisers first: in a
matching with at most ``K`` edges an ad outside the top ``K`` of its column can be
swapped for an unmatched top-``K`` ad without losing weight. Nothing of size
``n * m * K`` is ever built; the largest array is the ``n x m`` weight matrix
(the ``"lsa"`` kernel's assignment matrices stay below ``4 n m`` entries plus a
constant, so a 5 x 200,000 or a 200,000 x 5 instance runs in a few megabytes).

Tie-breaking (deterministic, a function of ``(ctr, coef, slots)`` only)
------------------------------------------------------------------------
* The engine rule (:func:`~aigc_auction.solvers.common.candidate_mask`): an ad with
  ``coef <= 0`` or at a position where its CTR is 0 is never shown.
* Only edges of positive weight at the final ``lambda`` are used, so an ad whose
  coefficient does not exceed the optimal ratio ``lambda*`` (it adds nothing) is
  never shown: of two optimal allocations one of which contains the other, the
  smaller is chosen (as brute force does).
* Remaining ties between maximum-weight matchings: the ``"enum"`` kernel takes the
  first in its order (fewer ads first, then positions in lexicographic order, then
  lower advertiser indices within a column's list); the ``"lsa"`` kernel takes
  SciPy's answer on the index-ordered candidate matrix.

The result is optimal to floating-point round-off: the search stops only when no
matching improves the ratio in floating point, and the allocation returned is
the matching found at the final ``lambda`` unless it is worse than the incumbent
by more than ``1e-12`` relative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from ...allocation import Allocation
from ...exceptions import SolverError
from ...instance import Instance
from ..batch import BatchData, BatchKernel, Pairs, pairs_to_assignment, register_batch_kernel
from ..registry import register_solver
from .enumeration import enum_kernel_ok, enum_match

if TYPE_CHECKING:
    from ...models.base import UserModel

__all__ = [
    "MNL_PARAMETRIC_KERNEL",
    "mnl_parametric",
    "pairs_ctr",
    "pairs_to_assignment",
    "pairs_value",
    "solve_parametric",
]

#: Give up (SolverError) after this many Dinkelbach steps; real runs need < 10.
MAX_ITER = 200
#: The matching found at the final ratio replaces the incumbent unless it is
#: worse by more than this (relative).
ACCEPT_RTOL = 1e-12


def _check_odds(odds: NDArray[np.float64]) -> None:
    if not np.all(np.isfinite(odds)):
        raise ValueError(
            "`ctr` must have entries in [0, 1) under the MNL model: the weight "
            "p / (1 - p) is infinite at p = 1"
        )


def pairs_value(
    odds: NDArray[np.float64],
    coef: NDArray[np.float64],
    ads: NDArray[np.int64],
    pos: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Objective and click probabilities of allocations given as pairs.

    Parameters
    ----------
    odds : ndarray of shape (n, m) or (B, n, m)
        MNL weights (shared by all rows, or one matrix per row).
    coef : ndarray of shape (B, n)
    ads, pos : ndarray of int, shape (B, K)
        The shown ``(advertiser, position)`` pairs, ``-1`` in unused slots.

    Returns
    -------
    value : ndarray of shape (B,)
        ``sum_i coef_i pi_i``.
    pi : ndarray of shape (B, K)
        Click probability of each pair (0 in unused slots).
    """
    pi = pairs_ctr(odds, ads, pos)
    valid = ads >= 0
    c = np.where(valid, np.take_along_axis(coef, np.where(valid, ads, 0), axis=1), 0.0)
    return (c * pi).sum(axis=1), pi


def pairs_ctr(
    odds: NDArray[np.float64], ads: NDArray[np.int64], pos: NDArray[np.int64]
) -> NDArray[np.float64]:
    """MNL click probability of every listed pair, shape (B, K) (0 in unused slots)."""
    valid = ads >= 0
    a = np.where(valid, ads, 0)
    p = np.where(valid, pos, 0)
    batch = () if odds.ndim == 2 else (np.arange(odds.shape[0])[:, None],)
    w = odds[(*batch, a, p)]  # odds shared, or one weight matrix per row
    w = np.where(valid, w, 0.0)
    return np.asarray(w / (1.0 + w.sum(axis=1))[:, None], dtype=np.float64)


def _canonical(ads: NDArray[np.int64], pos: NDArray[np.int64]) -> tuple[
    NDArray[np.int64], NDArray[np.int64]
]:
    """Sort each row's pairs by advertiser, unused slots last."""
    key = np.where(ads >= 0, ads, np.iinfo(np.int64).max)
    order = np.argsort(key, axis=1, kind="stable")
    return (
        np.take_along_axis(ads, order, axis=1),
        np.take_along_axis(pos, order, axis=1),
    )


def _lsa_match(
    v: NDArray[np.float64], k: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Maximum-weight matching with at most ``k`` positive edges of ``v`` (n x m)."""
    rows = np.flatnonzero((v > 0).any(axis=1))
    return _lsa_rows(v[rows], rows, k)


def _lsa_row(
    odds: NDArray[np.float64], c: NDArray[np.float64], lam: float, k: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The matching step of one problem, touching only ads with ``c_i > lambda``."""
    rows = np.flatnonzero(c > lam)
    v = odds[rows]  # a copy: scaled in place
    v *= (c[rows] - lam)[:, None]
    if rows.size > k:  # top-k advertisers of every column suffice
        kth = np.partition(v, rows.size - k, axis=0)[rows.size - k]
        keep = np.flatnonzero(((v >= kth) & (v > 0)).any(axis=1))
        if keep.size > v.shape[1] * k:  # ties at the k-th value: select exactly
            top = np.argpartition(-v[keep], k - 1, axis=0)[:k]
            keep = keep[np.unique(top)]
        rows, v = rows[keep], v[keep]
    return _lsa_rows(v, rows, k)


def _lsa_rows(
    sub: NDArray[np.float64], rows: NDArray[np.int64], k: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Maximum-weight matching with at most ``k`` positive edges of ``sub`` (r x m).

    Both sides are pruned first: the top ``k`` advertisers of every column, then
    the top ``k`` positions of every remaining advertiser (an ad matched outside
    its own top ``k`` can move to a free one of them without losing weight). The
    "at most ``k``" constraint uses the square ``(r + m - k)`` matrix of blocker
    rows and dummy columns while it is small next to ``r x m``; otherwise a
    rectangular form of size at most ``2 r m`` (see :func:`_lsa_lean`), so memory
    stays proportional to the input.
    """
    ads = np.full(k, -1, dtype=np.int64)
    pos = np.full(k, -1, dtype=np.int64)
    if rows.size == 0:
        return ads, pos
    if rows.size > k:  # top-k advertisers of every column suffice
        top = np.argpartition(-sub, k - 1, axis=0)[:k]
        keep = np.unique(top)
        rows, sub = rows[keep], sub[keep]
    cols = np.arange(sub.shape[1])
    if sub.shape[1] > k * rows.size:  # top-k positions of every advertiser suffice
        top = np.argpartition(-sub, k - 1, axis=1)[:, :k]
        cols = np.unique(top)
        sub = sub[:, cols]
    r, m = sub.shape
    gain = np.where(sub > 0, sub, 0.0)
    if r > k and k < m:
        size = r + m - k
        if size * size <= 4 * r * m + 4096:
            # blockers (m - k rows) must occupy positions; ads left out use dummies
            cost = np.zeros((size, size))
            cost[:r, :m] = -gain
            cost[r:, m:] = np.inf
            ri, ci = linear_sum_assignment(cost)
        else:
            ri, ci = _lsa_lean(gain, k)
    else:
        ri, ci = linear_sum_assignment(-gain)
    use = (ri < r) & (ci < m)
    ri, ci = ri[use], ci[use]
    pos_edge = gain[ri, ci] > 0
    ri, ci = ri[pos_edge], ci[pos_edge]
    ads[: ri.size] = rows[ri]
    pos[: ri.size] = cols[ci]
    return ads, pos


def _lsa_lean(gain: NDArray[np.float64], k: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Exactly ``k`` pairs of maximum total gain (``k < r``, ``k < m``), in memory
    ``O(r m)``: rectangular assignment with every real edge costing ``M - gain``
    (``M = 2 max gain``), so that a zero-cost filler is always preferred.

    * ``r >= m``: rows are the ``r`` ads plus ``m - k`` zero-cost blocker rows,
      columns the ``m`` positions; every position is filled, the blockers take
      ``m - k`` of them, the ads exactly ``k``.
    * ``r < m``: rows are the ads, columns the positions plus ``r - k`` zero-cost
      "not shown" columns; every ad is placed, exactly ``k`` at real positions.

    With exactly ``k`` real pairs the cost is ``k M - gain``, so the assignment
    maximises the gain; pairs of zero gain are dropped by the caller. Returned
    indices outside ``r x m`` (blockers, dummies) are dropped there too.
    """
    r, m = gain.shape
    shift = 2.0 * float(gain.max())
    if shift <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if r >= m:
        cost = np.zeros((r + m - k, m))
        cost[:r] = shift - gain
    else:
        cost = np.zeros((r, m + r - k))
        cost[:, :m] = shift - gain
    ri, ci = linear_sum_assignment(cost)
    return ri.astype(np.int64), ci.astype(np.int64)


def _weights(
    odds: NDArray[np.float64], coef: NDArray[np.float64], lam: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``(c_i - lambda) w_ij`` where positive, else ``-inf``; shape (B, n, m)."""
    d = coef - lam[:, None]
    ok = d > 0
    with np.errstate(invalid="ignore", over="ignore"):
        v = np.where(ok, d, 0.0)[:, :, None] * odds
    v[~(v > 0)] = -np.inf
    return v


def solve_parametric(
    odds: NDArray[np.float64],
    coef: NDArray[np.float64],
    slots: int,
    *,
    hint: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
    kernel: str = "auto",
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Optimal MNL allocations of a batch of problems by Dinkelbach's method.

    Parameters
    ----------
    odds : ndarray of shape (n, m) or (B, n, m)
        MNL weights ``p / (1 - p)``, shared by every row or one matrix per row.
    coef : ndarray of shape (B, n)
        Objective coefficients of each problem (any sign; ``-inf`` allowed).
    slots : int
        ``K``: at most this many pairs per allocation.
    hint : (ads, pos) of int arrays of shape (B, K), optional
        A feasible allocation per row (``-1`` in unused slots) whose ratio starts
        the search (a warm start; it never changes the optimum found).
    kernel : {"auto", "enum", "lsa"}
        Matching kernel; ``"auto"`` picks from ``(m, K)`` only.

    Returns
    -------
    ads, pos : ndarray of int, shape (B, K)
        Each row's pairs sorted by advertiser, ``-1`` in unused slots.
    value : ndarray of shape (B,)
        The objective ``sum_i coef_i pi_i`` of each allocation.

    Raises
    ------
    ValueError
        If a weight is infinite (``ctr == 1``) or ``kernel`` is unknown.
    SolverError
        If the search does not converge (it always does in exact arithmetic).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[1.0, 0.25], [0.25, 1.0], [0.4, 0.4]])
    >>> ads, pos, val = solve_parametric(w, np.array([[1.0, 1.0, 0.2]]), 2)
    >>> ads.tolist(), pos.tolist(), round(float(val[0]), 6)
    ([[0, 1]], [[0, 1]], 0.666667)
    """
    coef = np.asarray(coef, dtype=np.float64)
    b = coef.shape[0]
    m = odds.shape[-1]
    k = int(slots)
    _check_odds(odds)
    if kernel == "auto":
        kernel = "enum" if enum_kernel_ok(m, k) else "lsa"
    if kernel not in ("enum", "lsa"):
        raise ValueError(f"`kernel` must be 'auto', 'enum' or 'lsa'; got {kernel!r}")
    best_ads = np.full((b, k), -1, dtype=np.int64)
    best_pos = np.full((b, k), -1, dtype=np.int64)
    best_val = np.zeros(b)
    if hint is not None:
        h_ads, h_pos = (np.asarray(x, dtype=np.int64) for x in hint)
        h_val, _ = pairs_value(odds, coef, h_ads, h_pos)
        good = h_val > 0
        best_ads[good], best_pos[good] = h_ads[good], h_pos[good]
        best_val[good] = h_val[good]
    lam = best_val.copy()
    active = np.arange(b)
    shared = odds.ndim == 2
    for _ in range(MAX_ITER):
        if active.size == 0:
            break
        od = odds if shared else odds[active]
        if kernel == "enum":
            v = _weights(od if not shared else od[None], coef[active], lam[active])
            ads, pos = enum_match(v, k)
        else:
            ads = np.empty((active.size, k), dtype=np.int64)
            pos = np.empty((active.size, k), dtype=np.int64)
            for r, row in enumerate(active):
                ads[r], pos[r] = _lsa_row(od if shared else od[r], coef[row], lam[row], k)
        val, _ = pairs_value(od, coef[active], ads, pos)
        prev = best_val[active]
        accept = val >= prev - ACCEPT_RTOL * np.abs(prev)
        rows = active[accept]
        best_ads[rows], best_pos[rows] = ads[accept], pos[accept]
        best_val[rows] = val[accept]
        improve = val > lam[active]
        lam[active[improve]] = val[improve]
        active = active[improve]
    else:
        raise SolverError(
            f"solver 'parametric' did not converge in {MAX_ITER} Dinkelbach steps"
        )
    ads, pos = _canonical(best_ads, best_pos)
    return ads, pos, best_val


@register_solver(
    "mnl", "parametric", exact=True, priority=100,
    description="Dinkelbach search on the ratio, matchings by enumeration or "
    "linear_sum_assignment (no LP solver)",
)
def mnl_parametric(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Optimal MNL allocation by Dinkelbach's parametric search (the default solver).

    Parameters
    ----------
    instance : Instance
    coef : ndarray of shape (n_advertisers,)
        Objective coefficients (bids or virtual values; any sign).
    model : MNL

    Returns
    -------
    Allocation
        Ties are broken as described in the module docstring.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.2, 0.5], [0.3, 0.3]], slots=2)
    >>> mnl_parametric(inst, np.array([1.0, 1.0, 0.2]), aa.MNL()).assignment.tolist()
    [0, 1, -1]
    """
    c = np.asarray(coef, dtype=np.float64)
    ads, pos, _ = solve_parametric(instance.odds, c[None, :], instance.slots)
    a = pairs_to_assignment(instance.n_advertisers, ads, pos)[0]
    value = model.objective(instance, c, a)
    return Allocation(a, np.sort(a[a >= 0]), value, "parametric")


# -- the batched kernel (aigc_auction.solvers.batch) ---------------------------------
def _prepare(model: UserModel, ctr: NDArray[np.float64]) -> BatchData:
    with np.errstate(divide="ignore"):
        odds = ctr / (1.0 - ctr)  # as Instance.odds, bit for bit
    return BatchData({"odds": odds}, shared=ctr.ndim == 2)


def _by_position(ads: NDArray[np.int64], pos: NDArray[np.int64]) -> Pairs:
    """Each row's pairs sorted by position, unused slots last (the MNL reading order)."""
    key = np.where(pos >= 0, pos, np.iinfo(np.int64).max)
    order = np.argsort(key, axis=1, kind="stable")
    return np.take_along_axis(ads, order, axis=1), np.take_along_axis(pos, order, axis=1)


def _solve_batch(
    data: BatchData, coef: NDArray[np.float64], slots: int, *, hint: Pairs | None = None
) -> Pairs:
    ads, pos, _ = solve_parametric(data["odds"], coef, slots, hint=hint)
    return _by_position(ads, pos)


def _pair_ctr(data: BatchData, ads: NDArray[np.int64], pos: NDArray[np.int64]
              ) -> NDArray[np.float64]:
    return pairs_ctr(data["odds"], ads, pos)


#: Batched kernel of the ``"parametric"`` solver: Dinkelbach over a whole batch.
MNL_PARAMETRIC_KERNEL = register_batch_kernel(
    "mnl", "parametric", BatchKernel(_prepare, _solve_batch, _pair_ctr)
)
