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
optimum, and the optimum without each shown advertiser): the rows of fewer than
``K`` pairs one by one, those of exactly ``K`` pairs as a matrix "row of ``K - 1``
pairs plus one pair in a later column" (each such row once, no invalid
combinations built; ratios summed in the table's order so every value is the
one the plain table gives, and ties still go to the first row in table order);
:func:`mnl_optimum` solves one problem the same way, with ``K - 1`` dominators
and the ratio of a known feasible allocation as the lower bound; for advertiser ``i``
the lines ``z -> (z w_ij + N) / (1 + w_ij + D)`` of "``i`` at position ``j``
plus at most ``K - 1`` kept pairs of the others" and the constant "optimum
without ``i``" form its envelope, searched as in Eisner & Severance (1976) but
over the table. Applies when the per-column lists are short (``MAX_LIST``);
callers fall back to :func:`~aigc_auction.steps.batch_steps` otherwise.
"""

from __future__ import annotations

from functools import cache
from itertools import combinations
from math import comb
from typing import cast

import numpy as np
from numpy.typing import NDArray

from . import steps_mnl_numba
from .steps import ABOVE_RTOL, StepTable

__all__ = ["ENGINES", "MAX_LIST", "mnl_optima", "mnl_optimum", "mnl_round_steps"]

#: The engines of :func:`mnl_round_steps`.
ENGINES = ("auto", "numba", "numpy")

#: Longest kept list per position for which the table is used.
MAX_LIST = 10
#: Largest table (allocations) built; beyond it the caller falls back.
MAX_TABLE = 12_000
#: Row sums of fewer terms are added left to right (as ``ndarray.sum`` does).
_SEQUENTIAL = 8


@cache
def _level(m: int, s: int, c: int) -> NDArray[np.int64]:
    """The rows of exactly ``s`` pairs of the table, in its order, shape ``(s, R)``.

    A row is ``s`` distinct columns in increasing order (``itertools.combinations``
    order) and a rank ``< c`` in each column's list (``itertools.product`` order,
    the last column's rank fastest); entry ``[u, r]`` is the flat list index
    ``col * c + rank`` of the row's ``u``-th pair. The table is the rows of all
    sizes ``0, 1, ..., s_max`` in this order, fewer pairs first.
    """
    combos = np.array(list(combinations(range(m), s)), dtype=np.int64).reshape(-1, s)
    ranks = np.indices((c,) * s).reshape(s, -1).T.astype(np.int64)  # product order
    flat = (np.repeat(combos, ranks.shape[0], axis=0) * c
            + np.tile(ranks, (combos.shape[0], 1)))
    out = np.ascontiguousarray(flat.T)
    out.setflags(write=False)
    return out


def _size(m: int, s_max: int, c: int) -> int:
    return 1 + sum(comb(m, s) * c**s for s in range(1, s_max + 1))


def _rowsum(x: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    """Row sums of ``x`` padded with zero columns to ``width``, added exactly as
    ``ndarray.sum(axis=1)`` adds a C-contiguous ``(R, width)`` array."""
    if width < _SEQUENTIAL:  # left to right; trailing zeros change nothing
        out = x[:, 0].copy() if x.shape[1] else np.zeros(x.shape[0])
        for u in range(1, x.shape[1]):
            out += x[:, u]
        return out
    pad = np.zeros((x.shape[0], width))
    pad[:, : x.shape[1]] = x
    return np.asarray(pad.sum(axis=1))


def _lists(w: NDArray[np.float64], b: NDArray[np.float64], k: int, lam_lb: float
           ) -> NDArray[np.int64]:
    """Kept advertisers per position, shape (m, c), ``-1`` padded, each list by
    decreasing ``(b - lam_lb) w`` (lower index first among equals).

    An ad with ``b <= lam_lb`` is dropped, and a pair with more than ``k``
    dominators over ``[lam_lb, b]``.
    """
    m = w.shape[1]
    cand = np.flatnonzero(b > lam_lb)  # only these can be kept or dominate
    if cand.size == 0:
        return np.full((m, 1), -1, dtype=np.int64)
    wc, bc = w[cand], b[cand]
    e = (bc[:, None] - lam_lb) * wc  # (r, m)
    ok = wc > 0
    r = cand.size
    # dominators of (k, j): b_k' >= b_k and e_k'j >= e_kj, ties broken by index
    b_ge = (bc[:, None] >= bc[None, :])[:, :, None]  # [k', k]
    first = ((bc[:, None] > bc[None, :]) | (np.arange(r)[:, None] < np.arange(r)[None, :]))
    e_k, e_o = e[:, None, :], e[None, :, :]
    dom = b_ge & (e_k >= e_o) & (first[:, :, None] | (e_k > e_o)) & ok[:, None, :]
    keep = ok & (dom.sum(axis=0) <= k)  # (r, m): at most K dominators (k' = k never counts)
    c = max(int(keep.sum(axis=0).max()), 1)
    order = np.argsort(np.where(keep, -e, np.inf).T, axis=1, kind="stable")[:, :c]  # (m, c)
    cols = np.arange(m)[:, None]
    return np.where(keep[order, cols], cand[order], -1)


@cache
def _columns(m: int, c: int) -> NDArray[np.int64]:
    """Column of each flat list entry ``col * c + rank``, and ``-1`` for padding."""
    out = np.append(np.repeat(np.arange(m), c), -1)
    out.setflags(write=False)
    return out


class _Plan:
    """What every table of ``m`` positions, ``K`` slots and lists ``c`` long shares
    (built once): its candidate rows of fewer than ``K`` pairs, in table order.

    Flat index ``col * c + rank`` is a list entry; ``m * c + u`` pads slot ``u``
    of a row with fewer pairs (each slot its own pad, so pads never look alike).

    Attributes
    ----------
    flat : ndarray of int, shape (W, R)
        The entries of every candidate row, ``W = max(K - 1, 1)``, row 0 empty.
    col : ndarray of int, shape (m * c + W,)
        Column of each flat index (``-1`` for pads).
    last : ndarray of int, shape (R,)
        Each row's last column (``-1``: empty).
    uses, before : ndarray, shape (m + 1, R) and (m, R)
        Whether a row holds a pair in column ``j`` (``j = m``: a pad), and how
        many of its pairs lie left of ``j``.
    base : ndarray of bool, shape (R,)
        Rows of ``K - 1`` pairs ending before the last column: the rows of ``K``
        pairs are these plus one entry of ``ext`` to their right.
    ext, ext_col : ndarray of int
        The entries that extend a row (all if ``K = 1``, else those right of
        column 0) and their columns.
    """

    def __init__(self, m: int, k: int, c: int) -> None:
        width = max(k - 1, 1)
        mc = m * c
        blocks = [np.arange(mc, mc + width)[:, None]]  # the empty row
        for size in range(1, k):
            level = _level(m, size, c)
            pads = np.repeat(np.arange(mc + size, mc + width)[:, None], level.shape[1], axis=1)
            blocks.append(np.concatenate((level, pads)))
        self.flat = np.concatenate(blocks, axis=1)
        self.col = np.concatenate((np.repeat(np.arange(m), c), np.full(width, -1)))
        cols = self.col[self.flat]
        rows = self.flat.shape[1]
        self.last = cols.max(axis=0)
        self.uses = np.zeros((m + 1, rows), dtype=bool)
        self.uses[np.where(cols >= 0, cols, m), np.arange(rows)] = True
        self.before = np.cumsum(self.uses[:m], axis=0) - self.uses[:m]
        sizes = np.repeat(np.arange(len(blocks)), [x.shape[1] for x in blocks])
        self.base = (sizes == k - 1) & (self.last < m - 1)
        self.ext = np.arange(mc) if k == 1 else np.arange(c, mc)
        self.ext_col = self.col[self.ext]
        for x in (self.flat, self.col, self.last, self.uses, self.before, self.base, self.ext,
                  self.ext_col):
            x.setflags(write=False)


@cache
def _plan(m: int, k: int, c: int) -> _Plan:
    return _Plan(m, k, c)


def _entry_sums(vals: NDArray[np.float64], rows: NDArray[np.int64], width: int
                ) -> NDArray[np.float64]:
    """``sum_u vals[rows[u]]`` per row (``rows`` of shape (W, R)), added exactly as
    ``ndarray.sum(axis=1)`` adds the rows' terms padded with zeros to ``width``."""
    if width < _SEQUENTIAL:  # left to right; the zero padding changes nothing
        out = vals[rows[0]]
        for u in range(1, rows.shape[0]):
            out += vals[rows[u]]
        return out
    pad = np.zeros((rows.shape[1], width))
    pad[:, : rows.shape[0]] = vals[rows].T
    return np.asarray(pad.sum(axis=1))


class _Table:
    """The table of one list set: every row of fewer than ``K`` pairs, and every
    row of ``K`` pairs as (row of ``K - 1`` pairs) + (one entry to its right).

    Attributes
    ----------
    ad : ndarray of int, shape (m * c + W,)
        Ad of each flat index (``-1``: empty list entry; pads ``n + u``).
    low : ndarray of int, shape (W, R)
        Flat entries of the valid rows of fewer than ``K`` pairs, in table order.
    low_ads : ndarray of int, shape (W, R)
    rows : ndarray of int, shape (R,)
        Their indices in the plan.
    sub_num, sub_den : ndarray of shape (R,)
        ``N = sum b w`` and ``D = sum w`` of each, summed as the table of at most
        ``K - 1`` pairs does; ``ratio`` is ``N / (1 + D)`` summed as the table of
        ``K`` pairs does.
    base : ndarray of int
        Positions (in ``low``) of the rows of ``K - 1`` pairs that extend.
    top_ratio : ndarray of shape (len(base), len(plan.ext))
        Ratio of row ``base[s]`` plus entry ``plan.ext[q]``: every row of ``K``
        pairs once, ``-inf`` where that is not a row (a column not to the right
        of the row's, an empty entry or an ad already in it).
    q1, r1 : ndarray
        Each base row's first best extension and its ratio.
    """

    def __init__(self, lists: NDArray[np.int64], k: int, w: NDArray[np.float64],
                 b: NDArray[np.float64]) -> None:
        m, c = lists.shape
        n = w.shape[0]
        plan = _plan(m, k, c)
        width = plan.flat.shape[0]
        mc = m * c
        entries = lists.ravel()
        ad = np.concatenate((entries, n + np.arange(width)))
        a0 = np.maximum(entries, 0)
        pw = np.zeros(mc + width)
        pw[:mc] = np.where(entries >= 0, w[a0, plan.col[:mc]], 0.0)
        px = np.zeros(mc + width)
        px[:mc] = b[a0] * pw[:mc]
        # the valid rows of fewer than K pairs: entries present, ads distinct
        ads = ad[plan.flat]
        valid = ads.min(axis=0) >= 0
        for u in range(width):
            for v in range(u + 1, width):
                valid &= ads[u] != ads[v]
        rows = valid.nonzero()[0]
        low = plan.flat[:, rows]
        self.plan, self.k, self.c, self.ad, self.px, self.pw = plan, k, c, ad, px, pw
        self.rows, self.low, self.low_ads = rows, low, ads[:, rows]
        num, den = _entry_sums(px, low, k), _entry_sums(pw, low, k)
        if k >= _SEQUENTIAL:  # the lines' sums, K - 1 wide
            self.sub_num, self.sub_den = _entry_sums(px, low, k - 1), _entry_sums(pw, low, k - 1)
        else:
            self.sub_num, self.sub_den = num, den
        self.ratio = num / (1.0 + den)
        # rows of K pairs: a row of K - 1 pairs and one entry right of it
        base = plan.base[rows].nonzero()[0]
        ext = plan.ext
        e_ad = ad[ext]
        fits = (plan.ext_col > plan.last[rows[base]][:, None]) & (e_ad >= 0)
        b_ads = self.low_ads[:, base]
        for u in range(k - 1):
            fits &= e_ad != b_ads[u][:, None]
        if k < _SEQUENTIAL:
            t_num = num[base][:, None] + px[ext]
            t_den = den[base][:, None] + pw[ext]
        else:  # pairwise sums: add the K entries as the table does
            both = np.concatenate((np.repeat(low[: k - 1, base], ext.size, axis=1),
                                   np.tile(ext, base.size)[None, :]))
            t_num = _entry_sums(px, both, k).reshape(base.size, ext.size)
            t_den = _entry_sums(pw, both, k).reshape(base.size, ext.size)
        t_den += 1.0
        self.base = base
        self.top_ratio = np.where(fits, t_num / t_den, -np.inf)
        # each row's best extension (the first among equals)
        self.q1 = self.top_ratio.argmax(axis=1)
        self.r1 = self.top_ratio[np.arange(base.size), self.q1]

    def value(self) -> float:
        """The best ratio of the table."""
        return max(float(self.ratio.max()), float(self.r1.max(initial=-np.inf)))

    def best(self) -> tuple[float, NDArray[np.int64]]:
        """The best ratio of the table and the flat entries of its first best row."""
        i = int(self.ratio.argmax())
        value = float(self.ratio[i])
        row = self.low[:, i]
        row = row[row < self.ad.size - self.low.shape[0]]  # not the pads
        top = float(self.r1.max(initial=-np.inf))
        if top > value:  # a tie goes to the earlier row (fewer pairs)
            s = (self.r1 == top).nonzero()[0]
            if s.size == 1 and np.count_nonzero(self.top_ratio[s[0]] == top) == 1:
                q = self.q1[s]
            else:  # several best rows: the first in table order (columns, then ranks)
                s, q = np.nonzero(self.top_ratio == top)
            rows = np.concatenate((self.low[: self.k - 1, self.base[s]],
                                   self.plan.ext[q][None, :])).T
            if rows.shape[0] > 1:
                cols = self.plan.col[rows]
                ranks = rows - cols * self.c
                rows = rows[np.lexsort((*ranks.T[::-1], *cols.T[::-1]))]
            value, row = top, rows[0]
        return value, row

    def best_without(self, excl: NDArray[np.int64], has_ad: NDArray[np.bool_]
                     ) -> NDArray[np.float64]:
        """The best ratio of the rows without ad ``excl[p]``, for each ``p``
        (``has_ad[a, r]``: row ``r`` of ``low`` holds ad ``a``)."""
        hx = has_ad[excl]
        out = np.where(hx, -np.inf, self.ratio).max(axis=1)
        if self.base.size:
            # a row's best extension, or its best by another ad where that is excluded
            e_ad = self.ad[self.plan.ext]
            a1 = e_ad[self.q1]
            clash = (a1[:, None] == excl).any(axis=1).nonzero()[0]
            r2 = np.full(a1.size, -np.inf)
            if clash.size:
                r2[clash] = np.where(e_ad != a1[clash][:, None], self.top_ratio[clash],
                                     -np.inf).max(axis=1)
            best = np.where(a1 == excl[:, None], r2, self.r1)
            best[hx[:, self.base]] = -np.inf
            out = np.maximum(out, best.max(axis=1))
        return np.asarray(out)


def mnl_round_steps(
    odds: NDArray[np.float64], bids: NDArray[np.float64], slots: int,
    upper: NDArray[np.float64], *, engine: str = "auto",
) -> tuple[StepTable, NDArray[np.int64], float] | None:
    """Every advertiser's own-bid steps in one MNL auction, or ``None`` (too large).

    ``engine``: ``"numpy"`` runs the array code below; ``"numba"`` the same
    computation compiled (:mod:`aigc_auction.steps_mnl_numba`, bit for bit the
    same result, several times faster; needs Numba, the ``fast`` extra);
    ``"auto"`` (default) the compiled one when Numba is installed.

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
    if engine not in ENGINES:
        raise ValueError(f"`engine` must be one of {', '.join(map(repr, ENGINES))}; "
                         f"got {engine!r}")
    if engine != "numpy":
        if engine == "numba":
            steps_mnl_numba.require_numba()
        found = steps_mnl_numba.mnl_round_steps(odds, bids, slots, upper)
        if found is not NotImplemented:
            return cast("tuple[StepTable, NDArray[np.int64], float] | None", found)
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
    table = _Table(lists, k, w, b)
    value, row = table.best()
    assign = np.full(n, -1, dtype=np.int64)
    assign[table.ad[row]] = table.plan.col[row]
    lam0 = np.full(n, value)
    shown = (assign >= 0).nonzero()[0]
    n_sub = table.rows.size
    has_ad = np.zeros((n + table.low.shape[0], n_sub), dtype=bool)  # each row's ads (n+: pads)
    has_ad[table.low_ads, np.arange(n_sub)] = True
    if shown.size:  # the optimum without each shown ad
        lam0[shown] = table.best_without(shown, has_ad)
    # tasks that can be shown somewhere on their range: shown now, or able to beat
    # the optimum without them (an ad is shown only above the optimal ratio)
    live = np.flatnonzero((assign >= 0) | (top > lam0))
    t = live.size
    # lines of "i at j plus others' pairs": the rows of at most K - 1 pairs
    s_num, s_den = table.sub_num, table.sub_den
    wl, top_l, lam_l = w[live], top[live], lam0[live]
    # a line can only beat "not shown" at the top of the range, top w + N >
    # lam0 (1 + w + D), if N - lam0 D > lam0 (1 + w) - top w; the slack is far
    # above the round-off of either side, and the exact test follows
    tol = 1e-9 * (float(b.max()) + float(top.max())) * (1.0 + (k + 1) * float(w.max()))
    gain = s_num[None, :] - lam_l[:, None] * s_den[None, :]  # (t, S)
    need = lam_l[:, None] * (1.0 + wl) - top_l[:, None] * wl  # (t, m)
    gain[has_ad[live]] = -np.inf  # rows holding the task's own ad
    need[wl <= 0] = np.inf  # positions the task cannot take
    need -= tol
    cand = (gain[:, None, :] > need[:, :, None]) & ~table.plan.uses[:m, table.rows]
    ct, cj, cs = np.nonzero(cand)  # in (task, position, row) order
    denom = 1.0 + wl[ct, cj] + s_den[cs]
    c_slope = wl[ct, cj] / denom
    c_icpt = s_num[cs] / denom
    # lines increase in z: one below "not shown" at the top of the range never wins
    alive = c_slope * top_l[ct] + c_icpt > lam_l[ct]
    ct, cj, cs, c_slope, c_icpt = ct[alive], cj[alive], cs[alive], c_slope[alive], c_icpt[alive]
    width = max(int(np.bincount(ct, minlength=t).max(initial=0)), 1)
    slot = np.arange(ct.size) - np.searchsorted(ct, ct) + 1
    # the constant line "not shown" first, then the surviving lines, padded
    line = np.full((t, width + 1), ct.size)
    line[ct, slot] = np.arange(ct.size)
    slope = np.append(c_slope, 0.0)[line]
    icpt = np.append(c_icpt, -np.inf)[line]
    icpt[:, 0] = lam_l
    # Eisner-Severance over the table, all live tasks at once: a segment is a
    # task and its lines lo < hi (by slope), the first from "not shown" to the
    # best line at the top of the range; the one above their crossing splits it
    hi = np.argmax(slope * top_l[:, None] + icpt, axis=1)
    s_hi = slope[np.arange(t), hi]
    task = np.flatnonzero(s_hi > 0.0)
    hi, s_hi = hi[task], s_hi[task]
    lo = np.zeros(task.size, dtype=np.int64)
    s_lo, i_lo, i_hi = np.zeros(task.size), lam_l[task], icpt[task, hi]
    k_task: list[NDArray[np.int64]] = []
    k_c: list[NDArray[np.float64]] = []
    k_line: list[NDArray[np.int64]] = []
    while task.size:
        cc = np.clip((i_lo - i_hi) / (s_hi - s_lo), 0.0, top_l[task])
        vals = slope[task] * cc[:, None] + icpt[task]
        mid = np.argmax(vals, axis=1)
        mv = vals[np.arange(task.size), mid]
        ref = np.maximum(s_lo * cc + i_lo, s_hi * cc + i_hi)
        s_mid = slope[task, mid]
        split = ((mv > ref + ABOVE_RTOL * np.maximum(np.abs(mv), np.abs(ref)))
                 & (s_lo < s_mid) & (s_mid < s_hi))
        if not split.any():
            k_task.append(task)
            k_c.append(cc)
            k_line.append(hi)
            break
        done = ~split
        k_task.append(task[done])
        k_c.append(cc[done])
        k_line.append(hi[done])
        sp = np.flatnonzero(split)
        i_mid = icpt[task[sp], mid[sp]]
        task = np.concatenate((task[sp], task[sp]))
        lo, hi = np.concatenate((lo[sp], mid[sp])), np.concatenate((mid[sp], hi[sp]))
        s_lo, s_hi = np.concatenate((s_lo[sp], s_mid[sp])), np.concatenate((s_mid[sp], s_hi[sp]))
        i_lo, i_hi = np.concatenate((i_lo[sp], i_mid)), np.concatenate((i_mid, i_hi[sp]))
    # assemble: every advertiser's first step (not shown) at 0, then its kinks in
    # order of their bids (kinks at one bid in the order found)
    kl_live = np.concatenate(k_task) if k_task else np.empty(0, np.int64)
    kc = np.concatenate(k_c) if k_c else np.empty(0)
    kl = np.concatenate(k_line) if k_line else np.empty(0, np.int64)
    kt = live[kl_live]
    order = np.lexsort((kc, kt))
    kt, kc, kl_live, kl = kt[order], kc[order], kl_live[order], kl[order]
    per = np.bincount(kt, minlength=n) + 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(per, out=offsets[1:])
    size = int(offsets[-1])
    s_task = np.repeat(np.arange(n), per)
    s_start, s_ctr = np.zeros(size), np.zeros(size)
    s_pos, s_rank = np.full(size, -1, dtype=np.int64), np.full(size, -1, dtype=np.int64)
    at = np.arange(kt.size) + kt + 1  # each kink's step (one first step per task)
    s_start[at], s_ctr[at] = kc, slope[kl_live, kl]
    kline = line[kl_live, kl]
    s_pos[at] = cj[kline]
    s_rank[at] = table.plan.before[cj[kline], table.rows[cs[kline]]]

    # the step of each advertiser's bid: its kinks at or below the bid (none at 0)
    below = (kc <= b[kt]) & (b[kt] > 0)
    current = offsets[:-1] + np.bincount(kt[below], minlength=n)
    tab = StepTable(s_task, s_start, s_ctr, s_pos, s_rank, offsets, current)
    return tab, assign, value


def _lower_bound(w: NDArray[np.float64], b: NDArray[np.float64], best_alone: float,
                 assignment: NDArray[np.int64] | None) -> float:
    """A value strictly below the optimum: the best single pair or the ratio of
    ``assignment``, whichever is larger, one float lower."""
    lam_lb = max(best_alone, 0.0)
    if assignment is not None:
        shown = np.flatnonzero(assignment >= 0)
        ww = w[shown, assignment[shown]]
        lam_lb = max(lam_lb, float(np.dot(b[shown], ww) / (1.0 + ww.sum())))
    # an ad is shown only if its bid exceeds the optimum: stay strictly below it
    return float(np.nextafter(lam_lb, -np.inf)) if lam_lb > 0 else 0.0


def _best(w: NDArray[np.float64], b: NDArray[np.float64], k: int,
          assignment: NDArray[np.int64] | None) -> float | None:
    """Optimal value of one MNL problem by enumeration, or ``None``."""
    m = w.shape[1]
    alone = (b[:, None] * w / (1.0 + w)).max(axis=1)
    lam_lb = _lower_bound(w, b, float(alone.max()), assignment)
    lists = _lists(w, b, k - 1, lam_lb)
    c = lists.shape[1]
    if c > MAX_LIST or _size(m, k, c) > MAX_TABLE:
        return None
    return _Table(lists, k, w, b).value()


def mnl_optimum(odds: NDArray[np.float64], coef: NDArray[np.float64], slots: int,
                *, assignment: NDArray[np.int64] | None = None) -> float | None:
    """The optimal MNL objective ``max_A R(A)`` by the same enumeration, or ``None``.

    ``assignment``: any feasible allocation, whose ratio (a lower bound on the
    optimum) tightens the pruning. Only this one problem is solved, so a pair
    needs ``K`` dominators to be dropped.
    """
    found = _best(np.asarray(odds, dtype=np.float64), np.asarray(coef, dtype=np.float64),
                  int(slots), assignment)
    return found


def mnl_optima(odds: NDArray[np.float64], coef: NDArray[np.float64], slots: int,
               assignments: NDArray[np.int64]) -> NDArray[np.float64]:
    """:func:`mnl_optimum` of many problems at once (``NaN`` where it gives ``None``).

    Parameters
    ----------
    odds : ndarray of shape (T, n, m)
    coef : ndarray of shape (T, n)
    slots : int
    assignments : ndarray of int, shape (T, n)
        A feasible allocation of each problem (its ratio tightens the pruning).

    Returns
    -------
    ndarray of shape (T,)
        Bit for bit the values :func:`mnl_optimum` returns one by one: the same
        lists (their dominance tests vectorised over problems) and the same
        table rows, rows a problem does not have masked instead of dropped.
    """
    w = np.asarray(odds, dtype=np.float64)
    b = np.asarray(coef, dtype=np.float64)
    t, n, m = w.shape
    k = int(slots)
    out = np.full(t, np.nan)
    if t == 0:
        return out
    if k >= _SEQUENTIAL:  # sums in pairwise order: one by one
        for r in range(t):
            found = _best(w[r], b[r], k, assignments[r])
            out[r] = np.nan if found is None else found
        return out
    # problems per chunk: the dominance tests hold T * n * n * m booleans
    step = max(1, 2_000_000 // (n * n * m))
    for lo in range(0, t, step):
        part = slice(lo, min(lo + step, t))
        out[part] = _optima_chunk(w[part], b[part], k, assignments[part])
    return out


def _optima_chunk(w: NDArray[np.float64], b: NDArray[np.float64], k: int,
                  assignments: NDArray[np.int64]) -> NDArray[np.float64]:
    t, _, m = w.shape
    out = np.full(t, np.nan)
    alone = (b[:, :, None] * w / (1.0 + w)).max(axis=2).max(axis=1)
    lam_lb = np.array([_lower_bound(w[r], b[r], float(alone[r]), assignments[r])
                       for r in range(t)])
    lists, c_of = _lists_many(w, b, k - 1, lam_lb)
    for c in np.unique(c_of).tolist():
        size = _size(m, k, c)
        if c > MAX_LIST or size > MAX_TABLE:
            continue  # None: the caller solves these
        rows = np.flatnonzero(c_of == c)
        for part in np.array_split(rows, -(-rows.size * size // 400_000)):
            out[part] = _values_many(lists[part, :, :c], k, w[part], b[part],
                                     lam_lb[part])
    return out


def _lists_many(w: NDArray[np.float64], b: NDArray[np.float64], k: int,
                lam_lb: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """:func:`_lists` of each problem, ``-1`` padded to the longest, and each one's ``c``.

    As there, only the ads above the bound are compared (each problem's, in index
    order, padded to the most any problem has).
    """
    t = w.shape[0]
    above = b > lam_lb[:, None]  # (T, n)
    r = max(int(above.sum(axis=1).max()), 1)
    idx = np.argsort(~above, axis=1, kind="stable")[:, :r]  # their indices first, in order
    rows = np.arange(t)[:, None]
    cand = above[rows, idx]  # (T, r): real or padding
    wc, bc = w[rows, idx], b[rows, idx]
    e = (bc - lam_lb[:, None])[:, :, None] * wc  # (T, r, m)
    ok = cand[:, :, None] & (wc > 0)
    b_ge = (bc[:, :, None] >= bc[:, None, :])[..., None]  # [t, k', k]
    first = ((bc[:, :, None] > bc[:, None, :])
             | (np.arange(r)[:, None] < np.arange(r)[None, :])[None])[..., None]
    e_k, e_o = e[:, :, None, :], e[:, None, :, :]
    dom = b_ge & (e_k >= e_o) & (first | (e_k > e_o)) & ok[:, :, None, :]
    keep = ok & (dom.sum(axis=1) <= k)  # (T, r, m)
    c_of = np.maximum(keep.sum(axis=1).max(axis=1), 1)
    c = int(c_of.max())
    order = np.argsort(np.where(keep, -e, np.inf).transpose(0, 2, 1), axis=2,
                       kind="stable")[:, :, :c]  # (T, m, c)
    kept = np.take_along_axis(keep.transpose(0, 2, 1), order, axis=2)
    return np.where(kept, idx[rows[:, :, None], order], -1), c_of


def _values_many(lists: NDArray[np.int64], k: int, w: NDArray[np.float64],
                 b: NDArray[np.float64], lam_lb: NDArray[np.float64]) -> NDArray[np.float64]:
    """:meth:`_Table.value` of each problem (lists ``(T, m, c)``, ``K < 8``).

    The same rows and sums, rows a problem lacks masked; of the rows of ``K``
    pairs only those that can reach ``lam``, the larger of ``lam_lb`` and the
    best smaller row (a value at most the optimum): a row ``S + q`` reaching it
    has ``h(S) + e(q) >= lam`` with ``h = N - lam D`` and ``e = (b - lam) w``, so
    ``S`` is kept only if ``h(S)`` plus the largest ``e`` to its right gets there.
    """
    t, m, c = lists.shape
    ad = np.concatenate((lists.reshape(t, m * c), np.full((t, 1), -1)), axis=1)
    col = _columns(m, c)
    a0 = np.maximum(ad, 0)
    rows = np.arange(t)[:, None]
    pw = np.where(ad >= 0, w[rows, a0, np.maximum(col, 0)[None, :]], 0.0)
    px = b[rows, a0] * pw
    best = np.zeros(t)  # the empty row
    # the rows of 1 .. K - 1 pairs; those of K - 1 pairs ending before the last
    # column are the bases of the rows of K pairs (the empty row if K = 1)
    b_num, b_den = np.zeros((t, 1)), np.zeros((t, 1))
    b_ok = np.ones((t, 1), dtype=bool)
    b_flat = np.zeros((0, 1), dtype=np.int64)
    last = np.full(1, -1)
    for size in range(1, k):
        flat = _level(m, size, c)  # (s, R)
        a = ad[:, flat]  # (T, s, R)
        valid: NDArray[np.bool_] = np.asarray((a >= 0).all(axis=1))
        for u in range(size):
            for v in range(u + 1, size):
                valid &= a[:, u] != a[:, v]
        num, den = px[:, flat[0]], pw[:, flat[0]]
        for u in range(1, size):
            num = num + px[:, flat[u]]
            den = den + pw[:, flat[u]]
        best = np.maximum(best, np.where(valid, num / (1.0 + den), -np.inf).max(axis=1))
        if size == k - 1:
            sel = col[flat[size - 1]] < m - 1
            b_num, b_den, b_ok = num[:, sel], den[:, sel], valid[:, sel]
            b_flat, last = flat[:, sel], col[flat[size - 1]][sel]
    lam = np.maximum(lam_lb, best)
    tol = 1e-9 * b.max(axis=1) * (1.0 + k * w.max(axis=(1, 2)))
    e = np.where(ad >= 0, px - lam[:, None] * pw, -np.inf)  # (T, mc + 1)
    # the largest e from column j on, j = 0 .. m
    suffix = np.full((t, m + 1), -np.inf)
    suffix[:, :m] = np.maximum.accumulate(e[:, : m * c].reshape(t, m, c).max(axis=2)[:, ::-1],
                                          axis=1)[:, ::-1]
    h = b_num - lam[:, None] * b_den
    r_i, s_i = np.nonzero(b_ok & (h + suffix[:, last + 1] >= (lam - tol)[:, None]))
    if r_i.size == 0:
        return best
    first = 0 if k == 1 else c  # column 0 extends nothing
    q_ad = ad[r_i, first: m * c]  # (R', Q): the entries of each kept row's problem
    fits = (col[first: m * c][None, :] > last[s_i][:, None]) & (q_ad >= 0)
    for u in range(k - 1):
        fits &= q_ad != ad[r_i, b_flat[u, s_i]][:, None]
    t_num = b_num[r_i, s_i][:, None] + px[r_i, first: m * c]
    t_den = b_den[r_i, s_i][:, None] + pw[r_i, first: m * c]
    t_den += 1.0
    top = np.divide(t_num, t_den, out=np.full(fits.shape, -np.inf), where=fits).max(axis=1)
    starts = np.flatnonzero(np.concatenate(([True], r_i[1:] != r_i[:-1])))
    got = np.maximum.reduceat(top, starts)
    best[r_i[starts]] = np.maximum(best[r_i[starts]], got)
    return best
