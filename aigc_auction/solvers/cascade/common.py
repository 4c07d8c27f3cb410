"""Helpers shared by the cascade allocation solvers.

Notation (``docs/cascade.md``): for a candidate pair ``(i, j)`` the *value*
``a[i, j] = c_i p[i, j]`` and the *continuation* ``q[i, j]``. A reading sequence
``t_1, t_2, ...`` of pairs is worth ``sum_s a_{t_s} prod_{u < s} q_{t_u}``.

Under ``order="optimized"`` the best sequence of a set of pairs sorts them by the
key ``a / (1 - q)`` (:func:`~aigc_auction.models.cascade.optimal_reading_order`),
so the whole problem is a choice of a *subsequence* of the candidate pairs listed
once in key order (:func:`stage_order`); under ``order="fixed"`` the same holds
with the pairs listed by position. Every exact and approximate solver here works
on that list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ...allocation import Allocation
from ...exceptions import SolverError
from ...instance import Instance
from ...models.cascade import Cascade, reading_order_key
from ..common import candidate_mask

if TYPE_CHECKING:
    from ...models.base import UserModel

__all__ = [
    "CascadeTables",
    "as_cascade",
    "cascade_tables",
    "dominance_prune",
    "finalize",
    "sequence_value",
    "stage_order",
]


@dataclass(frozen=True)
class CascadeTables:
    """Per-pair data of one solve.

    Attributes
    ----------
    value : ndarray of shape (n, m)
        ``a = c p`` on candidate pairs, 0 elsewhere.
    cont : ndarray of shape (n, m)
        ``q``.
    cand : ndarray of bool, shape (n, m)
        Candidate pairs (``c_i > 0`` and ``p[i, j] > 0``).
    key : ndarray of shape (n, m)
        Reading key ``a / (1 - q)`` (``optimized``) or ``-j`` (``fixed``), so that
        a sequence is read by decreasing key, ties by increasing position.
    """

    value: NDArray[np.float64]
    cont: NDArray[np.float64]
    cand: NDArray[np.bool_]
    key: NDArray[np.float64]


def as_cascade(model: UserModel, solver: str) -> Cascade:
    """``model`` checked to be a :class:`~aigc_auction.Cascade`."""
    if not isinstance(model, Cascade):
        raise TypeError(
            f"`model` must be an aigc_auction.Cascade for solver {solver!r}; "
            f"got {type(model).__name__}"
        )
    return model


def cascade_tables(
    instance: Instance, coef: NDArray[np.float64], model: Cascade
) -> CascadeTables:
    """Values, continuations, candidate mask and reading keys of every pair."""
    cand = candidate_mask(instance, coef)
    c = np.where(coef > 0, coef, 0.0)
    value = np.where(cand, c[:, None] * instance.ctr, 0.0)
    cont = model.continuation(instance)
    if model.order == "fixed":
        key = np.broadcast_to(-np.arange(instance.n_positions, dtype=float), value.shape)
    else:
        key = reading_order_key(value, cont)
    return CascadeTables(value, cont, cand, np.asarray(key, dtype=np.float64))


def stage_order(
    tables: CascadeTables, rows: NDArray[np.int64], cols: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Indices sorting the pairs ``(rows, cols)`` into reading order.

    Decreasing key, ties by position then advertiser, so that any subsequence of
    the sorted list that is a matching is read in the solver's reading order.
    """
    return np.lexsort((rows, cols, -tables.key[rows, cols]))


def dominance_prune(tables: CascadeTables, slots: int) -> NDArray[np.bool_]:
    """Candidate pairs that can appear in some optimal allocation.

    Ad ``k`` *dominates* ad ``i`` at position ``j`` when ``a[k, j] >= a[i, j]``
    and ``q[k, j] >= q[i, j]``, with at least one strict or, on a full tie,
    ``k < i`` (a strict partial order). A pair dominated by ``slots`` or more
    candidates is dropped.

    Returns
    -------
    ndarray of bool, shape (n, m)
        The kept candidate pairs.

    Notes
    -----
    If an optimal allocation shows ``i`` at ``j`` and ``i`` has ``K = slots``
    dominators there, at most ``K - 1`` of them are shown elsewhere, so one, ``k``,
    is free. Putting ``k`` at ``j`` in ``i``'s reading place raises (weakly) the
    term there and the reach of every later ad, whose terms are non-negative, so
    the value does not drop (and re-sorting the order only helps). Repeating
    climbs the partial order and stops at a kept pair: some optimal allocation
    uses kept pairs only. With ``q == 1`` (no externalities) this is the rule "the
    ad at a position is among the ``K`` largest ``c_i p_ij`` of its column".
    """
    n, m = tables.value.shape
    keep = tables.cand.copy()
    if n <= slots:
        return keep
    for j in range(m):
        ads = np.flatnonzero(tables.cand[:, j])
        if ads.size <= slots:
            continue
        a, q = tables.value[ads, j], tables.cont[ads, j]
        # every dominator of an ad comes before it in this order, and a
        # predecessor dominates it iff its continuation is at least as large
        srt = np.lexsort((ads, -q, -a))
        keep[ads[srt[_dominated(q[srt], slots)]], j] = False
    return keep


def _dominated(q: NDArray[np.float64], slots: int) -> NDArray[np.bool_]:
    """``out[..., t]``: at least ``slots`` of ``q[..., :t]`` are ``>= q[..., t]``.

    Works along the last axis (leading axes are independent problems). Blocks of
    the sequence are compared with the ``slots`` largest values of the prefix
    before the block (enough to decide "at least ``slots``") and with the earlier
    entries of the block itself.
    """
    out = np.zeros(q.shape, dtype=bool)
    top = np.empty((*q.shape[:-1], 0))
    block = 128
    for s in range(0, q.shape[-1], block):
        b = q[..., s : s + block]
        from_prefix = (top[..., None, :] >= b[..., :, None]).sum(axis=-1)
        inner = np.tril(b[..., None, :] >= b[..., :, None], k=-1).sum(axis=-1)
        out[..., s : s + block] = from_prefix + inner >= slots
        top = np.sort(np.concatenate((top, b), axis=-1), axis=-1)[..., -slots:]
    return out


def sequence_value(value: NDArray[np.float64], cont: NDArray[np.float64]) -> float:
    """``sum_s value[s] prod_{u < s} cont[u]`` of a reading sequence."""
    if value.size == 0:
        return 0.0
    reach = np.cumprod(np.concatenate(([1.0], cont[:-1])))
    return float(np.dot(value, reach))


def finalize(
    instance: Instance,
    coef: NDArray[np.float64],
    model: Cascade,
    assignment: NDArray[np.int64],
    solver: str,
) -> Allocation:
    """Order, clean up and evaluate an assignment found by a solver.

    The reading order is :meth:`Cascade.reading_order` for ``coef``; shown ads
    whose click probability is 0 (they sit behind an ad the user never reads on
    from, ``q = 0``) are removed, which changes no click probability, so the
    tie-breaking rule "never show an ad that cannot add to the objective" holds.
    The value is recomputed from the model.
    """
    a = np.asarray(assignment, dtype=np.int64).copy()
    shown = a[a >= 0]
    if len(np.unique(shown)) != shown.size or shown.size > instance.slots:
        raise SolverError(f"solver {solver!r} returned an infeasible assignment")
    cand = candidate_mask(instance, coef)
    rows = np.flatnonzero(a >= 0)
    if not np.all(cand[rows, a[rows]]):
        raise SolverError(f"solver {solver!r} showed a non-candidate pair")
    order = model.reading_order(instance, a, coef)
    pi = model.ctr(instance, a, order)
    dead = np.flatnonzero((a >= 0) & (pi <= 0))
    if dead.size:
        a[dead] = -1
        order = order[np.isin(order, a[a >= 0])]
    return Allocation(a, order, model.objective(instance, coef, a, order), solver)


@dataclass(frozen=True)
class PairPool:
    """Candidate pairs listed once in reading order, for the heuristics.

    Attributes
    ----------
    rows, cols : ndarray of int, shape (N,)
        Advertiser and position of each pair, in reading (stage) order.
    value, cont : ndarray of shape (N,)
        ``a`` and ``q`` of each pair.
    """

    rows: NDArray[np.int64]
    cols: NDArray[np.int64]
    value: NDArray[np.float64]
    cont: NDArray[np.float64]

    @classmethod
    def build(cls, tables: CascadeTables, keep: NDArray[np.bool_]) -> PairPool:
        rows, cols = np.nonzero(keep)
        srt = stage_order(tables, rows, cols)
        rows, cols = rows[srt].astype(np.int64), cols[srt].astype(np.int64)
        return cls(rows, cols, tables.value[rows, cols], tables.cont[rows, cols])


def reach_and_suffix(
    value: NDArray[np.float64], cont: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Prefix reach ``R`` and suffix values ``V`` of a sequence (both length L + 1).

    ``R[t] = prod_{u < t} cont[u]``; ``V[t] = value[t] + cont[t] V[t + 1]``,
    ``V[L] = 0``: the value of the sequence from ``t`` on, read from reach 1.
    Inserting a pair ``(a, q)`` before element ``t`` changes the value by
    ``R[t] (a - (1 - q) V[t])``.
    """
    L = value.size
    reach = np.cumprod(np.concatenate(([1.0], cont))).astype(np.float64)
    suffix = np.zeros(L + 1)
    for t in range(L - 1, -1, -1):
        suffix[t] = value[t] + cont[t] * suffix[t + 1]
    return reach, suffix


def insertion_gains(
    pool: PairPool,
    chosen: NDArray[np.int64],
    free: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """Value change of inserting each pool pair into the sequence ``chosen``.

    Parameters
    ----------
    pool : PairPool
    chosen : ndarray of int, shape (L,)
        Indices into ``pool`` of the current sequence, increasing (reading order).
    free : ndarray of bool, shape (N,)
        Pairs allowed to enter; the others get ``-inf``.
    """
    reach, suffix = reach_and_suffix(pool.value[chosen], pool.cont[chosen])
    at = np.searchsorted(chosen, np.arange(pool.rows.size))
    gain = reach[at] * (pool.value - (1.0 - pool.cont) * suffix[at])
    return np.where(free, gain, -np.inf)
