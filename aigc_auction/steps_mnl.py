"""Own-bid step functions of every advertiser of one MNL auction, by enumeration.

:func:`aigc_auction.steps.batch_steps` re-solves the allocation problem at every
envelope intersection; under MNL with few positions this module instead
enumerates, once per auction, the few allocations that can be optimal for *some*
own bid of *some* advertiser, and reads every advertiser's envelope off that
table (line arithmetic only, no solver call). Same result, a fraction of the
work per round of a repeated auction.

Why a small table suffices (MNL objective ``R(A) = sum b w / (1 + sum w)``):

* **A lower bound on every optimum.** Any advertiser ``k`` alone at its best
  position achieves ``b_k w / (1 + w)``; the best such value over all ads but
  the single best one, ``lam_lb``, is below the optimum of every problem met
  here (the auction, the auction without any one advertiser, and any own bid of
  any advertiser). An ad is shown only if its bid exceeds the optimal ratio
  (Dinkelbach: its edge weight ``(b_k - lam) w`` must be positive), so ads with
  ``b_k <= lam_lb`` are never shown.
* **Dominated pairs.** At the optimal ratio ``lam`` the optimal allocation is a
  maximum-weight matching with weights ``(b_k - lam) w_kj``. Pair ``(k', j)``
  dominates ``(k, j)`` for every ``lam`` in ``[lam_lb, b_k]`` iff ``b_k' >= b_k``
  and ``(b_k' - lam_lb) w_k'j >= (b_k - lam_lb) w_kj`` (both sides are linear in
  ``lam``). A pair with ``K + 1`` dominators is never needed: an allocation
  using it uses at most ``K - 1`` other ads and excludes at most one advertiser,
  so a dominator is free to take its place without lowering the weight (the
  column-list argument of :mod:`aigc_auction.solvers.mnl.enumeration`).

Every allocation of at most ``K`` kept pairs is enumerated for the auction (its
optimum, and the optimum without each shown advertiser); :func:`mnl_optimum`
solves one problem the same way, with ``K`` dominators and the ratio of a known
feasible allocation as the lower bound; for advertiser ``i``
the lines ``z -> (z w_ij + N) / (1 + w_ij + D)`` of "``i`` at position ``j``
plus at most ``K - 1`` kept pairs of the others" and the constant "optimum
without ``i``" form its envelope, searched as in Eisner & Severance (1976) but
over the table. Applies when the per-column lists are short (``MAX_LIST``);
callers fall back to :func:`~aigc_auction.steps.batch_steps` otherwise.
"""

from __future__ import annotations

from functools import cache
from itertools import combinations, product

import numpy as np
from numpy.typing import NDArray

from .steps import ABOVE_RTOL, StepTable

__all__ = ["MAX_LIST", "mnl_optimum", "mnl_round_steps"]

#: Longest kept list per position for which the table is used.
MAX_LIST = 10
#: Largest table (allocations) built; beyond it the caller falls back.
MAX_TABLE = 12_000


@cache
def _table(m: int, s_max: int, c: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """All (column, rank) choices of at most ``s_max`` distinct columns, ranks < c.

    Returns ``col`` and ``rank`` of shape (C, s_max), ``-1`` padded; row 0 is
    the empty allocation.
    """
    cols: list[list[int]] = [[-1] * s_max]
    ranks: list[list[int]] = [[-1] * s_max]
    for s in range(1, s_max + 1):
        for cs in combinations(range(m), s):
            for rs in product(range(c), repeat=s):
                cols.append(list(cs) + [-1] * (s_max - s))
                ranks.append(list(rs) + [-1] * (s_max - s))
    col = np.array(cols, dtype=np.int64).reshape(-1, s_max)
    rank = np.array(ranks, dtype=np.int64).reshape(-1, s_max)
    col.setflags(write=False)
    rank.setflags(write=False)
    return col, rank


def _size(m: int, s_max: int, c: int) -> int:
    from math import comb

    return 1 + sum(comb(m, s) * c**s for s in range(1, s_max + 1))


def _lists(w: NDArray[np.float64], b: NDArray[np.float64], k: int, lam_lb: float
           ) -> NDArray[np.int64]:
    """Kept advertisers per position, shape (m, c), ``-1`` padded.

    An ad with ``b <= lam_lb`` is dropped, and a pair with more than ``k``
    dominators over ``[lam_lb, b]``.
    """
    n = w.shape[0]
    e = (b[:, None] - lam_lb) * w  # (n, m)
    ok = (b > lam_lb)[:, None] & (w > 0)
    # dominators of (k, j): b_k' >= b_k and e_k'j >= e_kj, ties broken by index
    bb_ge = b[:, None] >= b[None, :]  # [k', k]
    e_ge = e[:, None, :] >= e[None, :, :]  # [k', k, j]
    strict = (b[:, None] > b[None, :])[:, :, None] | (e[:, None, :] > e[None, :, :])
    idx_lt = (np.arange(n)[:, None] < np.arange(n)[None, :])[:, :, None]
    dom = bb_ge[:, :, None] & e_ge & (strict | idx_lt) & ok[:, None, :]
    dom[np.arange(n), np.arange(n), :] = False
    keep = ok & (dom.sum(axis=0) <= k)  # (n, m): fewer than K + 1 dominators
    c = max(int(keep.sum(axis=0).max()), 1)
    order = np.argsort(-np.where(keep, e, -np.inf), axis=0, kind="stable")[:c]  # (c, m)
    lists = np.where(np.take_along_axis(keep, order, axis=0), order, -1)
    return np.ascontiguousarray(lists.T)


def _enumerate(lists: NDArray[np.int64], s_max: int, w: NDArray[np.float64],
               b: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                                NDArray[np.float64], NDArray[np.float64]]:
    """Valid allocations of at most ``s_max`` kept pairs: ads, cols, N, D."""
    m, c = lists.shape
    col, rank = _table(m, s_max, c)
    slot = col >= 0
    ads = np.where(slot, lists[np.maximum(col, 0), np.maximum(rank, 0)], -1)
    valid = ~np.any(slot & (ads < 0), axis=1)
    for s in range(s_max):
        for t in range(s + 1, s_max):
            valid &= ~((ads[:, s] >= 0) & (ads[:, s] == ads[:, t]))
    ads, cols = ads[valid], col[valid]
    used = ads >= 0
    ww = np.where(used, w[np.maximum(ads, 0), np.maximum(cols, 0)], 0.0)
    num = (np.where(used, b[np.maximum(ads, 0)], 0.0) * ww).sum(axis=1)
    return ads, cols, num, ww.sum(axis=1)


def mnl_round_steps(
    odds: NDArray[np.float64], bids: NDArray[np.float64], slots: int,
    upper: NDArray[np.float64],
) -> tuple[StepTable, NDArray[np.int64], float] | None:
    """Every advertiser's own-bid steps in one MNL auction, or ``None`` (too large).

    Parameters
    ----------
    odds : ndarray of shape (n, m)
        MNL weights ``p / (1 - p)`` (finite).
    bids : ndarray of shape (n,)
    slots : int
    upper : ndarray of shape (n,)
        Right end of each advertiser's bid range (at least its bid is covered).

    Returns
    -------
    (StepTable, assignment, value) or None
        Task ``i`` of the table is advertiser ``i``; ``assignment`` (shape (n,))
        is the optimal allocation at ``bids`` and ``value`` its objective.
    """
    w = np.asarray(odds, dtype=np.float64)
    b = np.asarray(bids, dtype=np.float64)
    n, m = w.shape
    k = int(slots)
    top = np.maximum(np.asarray(upper, dtype=np.float64), b)
    # one table for the auction and the auction without each advertiser: pairs
    # kept above a ratio every such optimum exceeds (the best single pair of any
    # ad but the best one) unless K + 1 others dominate them
    alone = (b[:, None] * w / (1.0 + w)).max(axis=1)
    lam_lb = max(float(np.sort(alone)[-2]) if n > 1 else 0.0, 0.0)
    lam_lb = float(np.nextafter(lam_lb, -np.inf)) if lam_lb > 0 else 0.0
    lists = _lists(w, b, k, lam_lb)
    c = lists.shape[1]
    if c > MAX_LIST or _size(m, k, c) > MAX_TABLE:
        return None
    ads, cols, num, den = _enumerate(lists, k, w, b)
    ratio = num / (1.0 + den)
    best = int(np.argmax(ratio))
    value = float(ratio[best])
    assign = np.full(n, -1, dtype=np.int64)
    used = ads[best] >= 0
    assign[ads[best][used]] = cols[best][used]
    lam0 = np.full(n, value)
    for i in np.flatnonzero(assign >= 0).tolist():
        lam0[i] = float(np.where((ads == i).any(axis=1), -np.inf, ratio).max())
    # tasks that can be shown somewhere on their range: shown now, or able to beat
    # the optimum without them (an ad is shown only above the optimal ratio)
    live = np.flatnonzero((assign >= 0) | (top > lam0))
    # lines of "i at j plus others' pairs": others' allocations of <= K - 1 pairs
    s_ads, s_cols, s_num, s_den = _enumerate(lists, k - 1, w, b) if k > 1 else (
        np.full((1, 1), -1), np.full((1, 1), -1), np.zeros(1), np.zeros(1))
    n_sub = s_num.size
    t = live.size
    wl = w[live]  # (t, m)
    uses_col = (s_cols[None, :, :] == np.arange(m)[:, None, None]).any(axis=2)  # (m, S)
    has_ad = (s_ads[None, :, :] == live[:, None, None]).any(axis=2)  # (t, S)
    ok = (~uses_col[None, :, :]) & (~has_ad[:, None, :]) & (wl[:, :, None] > 0)
    denom = 1.0 + wl[:, :, None] + s_den[None, None, :]
    slope = np.where(ok, wl[:, :, None] / denom, 0.0).reshape(t, m * n_sub)
    icpt = np.where(ok, s_num[None, None, :] / denom, -np.inf).reshape(t, m * n_sub)
    line_pos = np.repeat(np.arange(m), n_sub)
    before = (np.where(s_cols >= 0, s_cols, m)[None, :, :]
              < np.arange(m)[:, None, None]).sum(axis=2).reshape(-1)  # (m * S,)
    # lines increase in z: one below "not shown" at the top of the range never wins
    top_l = top[live]
    alive = slope * top_l[:, None] + icpt > lam0[live][:, None]
    width = max(int(alive.sum(axis=1).max(initial=0)), 1)
    pick = np.argsort(~alive, axis=1, kind="stable")[:, :width]  # surviving lines first
    got = np.take_along_axis(alive, pick, axis=1)
    slope = np.where(got, np.take_along_axis(slope, pick, axis=1), 0.0)
    icpt = np.where(got, np.take_along_axis(icpt, pick, axis=1), -np.inf)
    # the constant line "not shown" first
    slope = np.concatenate((np.zeros((t, 1)), slope), axis=1)
    icpt = np.concatenate((lam0[live][:, None], icpt), axis=1)
    line_pos = np.concatenate((np.full((t, 1), -1), line_pos[pick]), axis=1)
    line_rank = np.concatenate((np.full((t, 1), -1), before[pick]), axis=1)
    # Eisner-Severance over the table, all live tasks at once
    rows = np.arange(t)
    hi_idx = np.argmax(slope * top_l[:, None] + icpt, axis=1)
    k_task: list[NDArray[np.int64]] = []
    k_c: list[NDArray[np.float64]] = []
    k_line: list[NDArray[np.int64]] = []
    task, lo, hi = rows, np.zeros(t, dtype=np.int64), hi_idx
    while task.size:
        s_lo, s_hi = slope[task, lo], slope[task, hi]
        keep = s_hi > s_lo
        task, lo, hi, s_lo, s_hi = task[keep], lo[keep], hi[keep], s_lo[keep], s_hi[keep]
        if task.size == 0:
            break
        i_lo, i_hi = icpt[task, lo], icpt[task, hi]
        cc = np.clip((i_lo - i_hi) / (s_hi - s_lo), 0.0, top_l[task])
        vals = slope[task] * cc[:, None] + icpt[task]
        mid = np.argmax(vals, axis=1)
        mv = vals[np.arange(task.size), mid]
        ref = np.maximum(s_lo * cc + i_lo, s_hi * cc + i_hi)
        s_mid = slope[task, mid]
        split = ((mv > ref + ABOVE_RTOL * np.maximum(np.abs(mv), np.abs(ref)))
                 & (s_lo < s_mid) & (s_mid < s_hi))
        done = ~split
        k_task.append(task[done])
        k_c.append(cc[done])
        k_line.append(hi[done])
        task = np.concatenate((task[split], task[split]))
        lo, hi = (np.concatenate((lo[split], mid[split])),
                  np.concatenate((mid[split], hi[split])))
    kt = np.concatenate([live[x] for x in k_task]) if k_task else np.empty(0, np.int64)
    kc = np.concatenate(k_c) if k_c else np.empty(0)
    kl_live = np.concatenate(k_task) if k_task else np.empty(0, np.int64)
    kl = np.concatenate(k_line) if k_line else np.empty(0, np.int64)
    # assemble: every advertiser's first step (not shown) at 0, then its kinks
    tasks = np.concatenate((np.arange(n), kt))
    start = np.concatenate((np.zeros(n), kc))
    ctr = np.concatenate((np.zeros(n), slope[kl_live, kl]))
    pos = np.concatenate((np.full(n, -1), line_pos[kl_live, kl]))
    rnk = np.concatenate((np.full(n, -1), line_rank[kl_live, kl]))
    first = np.concatenate((np.zeros(n, dtype=bool), np.ones(kt.size, dtype=bool)))
    order = np.lexsort((first, start, tasks))
    s_task = tasks[order].astype(np.int64)
    s_pos, s_rank = pos[order].astype(np.int64), rnk[order].astype(np.int64)
    s_start, s_ctr = start[order], ctr[order]
    offsets = np.searchsorted(s_task, np.arange(n + 1)).astype(np.int64)
    tab = StepTable(s_task, s_start, s_ctr, s_pos, s_rank, offsets, np.zeros(n, dtype=np.int64))
    current = tab.locate(np.arange(n), b)
    tab = StepTable(s_task, s_start, s_ctr, s_pos, s_rank, offsets, current)
    return tab, assign, value


def _best(w: NDArray[np.float64], b: NDArray[np.float64], k: int,
          assignment: NDArray[np.int64] | None) -> tuple[float, NDArray[np.int64]] | None:
    """Optimal value and assignment of one MNL problem by enumeration, or ``None``."""
    n, m = w.shape
    alone = (b[:, None] * w / (1.0 + w)).max(axis=1)
    lam_lb = max(float(alone.max()), 0.0)
    if assignment is not None:
        shown = np.flatnonzero(assignment >= 0)
        ww = w[shown, assignment[shown]]
        lam_lb = max(lam_lb, float(np.dot(b[shown], ww) / (1.0 + ww.sum())))
    # an ad is shown only if its bid exceeds the optimum: stay strictly below it
    lam_lb = float(np.nextafter(lam_lb, -np.inf)) if lam_lb > 0 else 0.0
    lists = _lists(w, b, k - 1, lam_lb)
    c = lists.shape[1]
    if c > MAX_LIST or _size(m, k, c) > MAX_TABLE:
        return None
    ads, cols, num, den = _enumerate(lists, k, w, b)
    ratio = num / (1.0 + den)
    best = int(np.argmax(ratio))
    assign = np.full(n, -1, dtype=np.int64)
    used = ads[best] >= 0
    assign[ads[best][used]] = cols[best][used]
    return float(ratio[best]), assign


def mnl_optimum(odds: NDArray[np.float64], coef: NDArray[np.float64], slots: int,
                *, assignment: NDArray[np.int64] | None = None) -> float | None:
    """The optimal MNL objective ``max_A R(A)`` by the same enumeration, or ``None``.

    ``assignment``: any feasible allocation, whose ratio (a lower bound on the
    optimum) tightens the pruning. Only this one problem is solved, so a pair
    needs ``K`` dominators to be dropped.
    """
    found = _best(np.asarray(odds, dtype=np.float64), np.asarray(coef, dtype=np.float64),
                  int(slots), assignment)
    return None if found is None else found[0]
