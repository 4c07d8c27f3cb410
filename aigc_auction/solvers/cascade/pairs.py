"""Candidate pairs of a batch of cascade problems, listed once in reading order.

The structure every cascade solver here uses (``docs/cascade.md``): with values
``a[i, j] = c_i p[i, j]`` and continuations ``q[i, j]``, any set of shown pairs
is best read by decreasing key ``a / (1 - q)`` under ``order="optimized"`` (the
exchange argument of :func:`~aigc_auction.models.cascade.optimal_reading_order`)
and by position under ``order="fixed"``. Listing the candidate pairs once in
that *stage order* turns an allocation into a subsequence of the list. When
``q == 1`` everywhere the order is irrelevant and the list is sorted by
advertiser instead, so that each advertiser's pairs are consecutive.

:func:`pair_lists` builds these lists for a whole batch of problems with numpy
(one row per problem), after the dominance pruning of
:func:`~aigc_auction.solvers.cascade.common.dominance_prune` (same rule, same
result), and marks *runs*: maximal blocks of consecutive pairs sharing the
advertiser (``order="optimized"``) or the position (``order="fixed"``). At most
one pair of a run can be in a feasible allocation, which the dynamic programs
enforce exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...models.cascade import reading_order_key
from .common import _dominated

__all__ = ["PairLists", "pair_lists", "pair_values", "prune_batch"]

#: Pairs per problem (``n * m``) above which dominance pruning pays for itself;
#: smaller problems are listed whole (a function of the shape only, so a problem
#: gets the same list whatever batch it is solved in).
PRUNE_ABOVE = 128


@dataclass(frozen=True)
class PairLists:
    """Each row: one problem's kept candidate pairs in stage order, ``-1`` padded.

    Attributes
    ----------
    ads, pos : ndarray of int, shape (B, N)
        Advertiser and position of each pair (``-1`` after the row's pairs).
    value, cont : ndarray of shape (B, N)
        ``a = c p`` and ``q`` of each pair (0 in the padding).
    run_start : ndarray of bool, shape (B, N)
        Whether a pair starts a new run (``runs_by`` changes).
    runs_by : {"advertiser", "position"}
    """

    ads: NDArray[np.int64]
    pos: NDArray[np.int64]
    value: NDArray[np.float64]
    cont: NDArray[np.float64]
    run_start: NDArray[np.bool_]
    runs_by: str

    @property
    def count(self) -> NDArray[np.int64]:
        """Number of pairs of each row."""
        return np.asarray((self.ads >= 0).sum(axis=1), dtype=np.int64)


def pair_values(
    ctr: NDArray[np.float64], coef: NDArray[np.float64]
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Candidate mask and values ``c p`` of a batch, each of shape (B, n, m).

    ``ctr`` is ``(n, m)`` (shared) or ``(B, n, m)``; the engine's tie rule makes
    ``(i, j)`` a candidate iff ``coef[i] > 0`` and ``ctr[i, j] > 0``.
    """
    c = np.where(coef > 0, coef, 0.0)
    cand = (coef[:, :, None] > 0) & (ctr > 0)
    return cand, np.where(cand, c[:, :, None] * ctr, 0.0)


def prune_batch(
    value: NDArray[np.float64], cont: NDArray[np.float64], cand: NDArray[np.bool_],
    slots: int,
) -> NDArray[np.bool_]:
    """Batched :func:`~aigc_auction.solvers.cascade.common.dominance_prune` (same rule).

    All arrays of shape (B, n, m); returns the kept candidate pairs.
    """
    n = value.shape[1]
    if n <= slots:
        return cand.copy()
    a = np.moveaxis(np.where(cand, value, -np.inf), 1, 2)  # (B, m, n)
    q = np.moveaxis(np.broadcast_to(cont, value.shape), 1, 2)
    idx = np.broadcast_to(np.arange(n), a.shape)
    srt = np.lexsort((idx, -q, -a), axis=-1)
    dom_sorted = _dominated(np.take_along_axis(q, srt, axis=-1), slots)
    dom = np.empty_like(dom_sorted)
    np.put_along_axis(dom, srt, dom_sorted, axis=-1)
    return cand & ~np.moveaxis(dom, 2, 1)


def pair_lists(
    ctr: NDArray[np.float64],
    cont: NDArray[np.float64],
    coef: NDArray[np.float64],
    slots: int,
    *,
    order: str,
    irrelevant: bool = False,
) -> PairLists:
    """Stage-ordered, pruned candidate pairs of a batch of problems.

    Parameters
    ----------
    ctr, cont : ndarray of shape (n, m) or (B, n, m)
        Standalone CTRs and continuations ``q`` (shared or one per problem).
    coef : ndarray of shape (B, n)
        Objective coefficients of each problem.
    slots : int
    order : {"optimized", "fixed"}
    irrelevant : bool, default False
        ``q == 1`` everywhere (no externalities): sort by advertiser.

    Returns
    -------
    PairLists
    """
    bsz, n = coef.shape
    m = ctr.shape[-1]
    cand, value = pair_values(ctr, coef)
    q = np.broadcast_to(cont, value.shape)
    keep = prune_batch(value, q, cand, slots) if n * m > PRUNE_ABOVE else cand
    ads = np.broadcast_to(np.repeat(np.arange(n), m), (bsz, n * m))
    pos = np.broadcast_to(np.tile(np.arange(m), n), (bsz, n * m))
    flat_keep = keep.reshape(bsz, n * m)
    if irrelevant:
        srt = np.lexsort((pos, ads, ~flat_keep), axis=-1)
        runs_by = "advertiser"
    elif order == "fixed":
        srt = np.lexsort((ads, pos, ~flat_keep), axis=-1)
        runs_by = "position"
    else:
        # equal keys: advertiser first, so that an advertiser's pairs stay one run
        # (any order of pairs with equal keys reads to the same value)
        key = reading_order_key(value, q).reshape(bsz, n * m)
        srt = np.lexsort((pos, ads, -key, ~flat_keep), axis=-1)
        runs_by = "advertiser"
    width = int(flat_keep.sum(axis=1).max()) if bsz else 0
    srt = srt[:, :width]
    valid = np.take_along_axis(flat_keep, srt, axis=1)
    r_ads = np.where(valid, np.take_along_axis(ads, srt, axis=1), -1)
    r_pos = np.where(valid, np.take_along_axis(pos, srt, axis=1), -1)
    r_val = np.where(valid, np.take_along_axis(value.reshape(bsz, -1), srt, axis=1), 0.0)
    r_q = np.where(valid, np.take_along_axis(q.reshape(bsz, -1), srt, axis=1), 0.0)
    attr = r_ads if runs_by == "advertiser" else r_pos
    start = valid.copy()
    start[:, 1:] &= attr[:, 1:] != attr[:, :-1]
    return PairLists(r_ads, r_pos, r_val, r_q, start, runs_by)
