"""Exact cascade allocation for every parameter setting: DP with decremental state-space relaxation.

The candidate pairs are listed once in stage order (:mod:`.pairs`): by the
reading key ``c_i p_ij / (1 - q_ij)`` under ``order="optimized"``, by position
under ``order="fixed"``. An allocation is a subsequence of the list with at most
``K`` pairs, distinct advertisers and distinct positions, worth
``sum_s a_s prod_{u<s} q_u``. Read from the end of the list back, the best value
of the remaining list depends only on which *resources* (positions,
advertisers) earlier pairs used,

    F_t(R) = max( F_{t+1}(R),  a_t + q_t F_{t+1}(R + r_t) )    if r_t not in R,

exact because ``q >= 0`` (a larger continuation value never hurts). Tracking
every advertiser would make the state space exponential in ``n``; the solver
tracks only some resources and relaxes the others:

* positions: a subset mask when ``order="optimized"`` and ``m <=
  MASK_POSITIONS`` (``sum_{k<=K} C(m, k)`` states); exactly, by runs, when
  ``order="fixed"`` (the list is sorted by position, at most one pair per
  position run); else only a count of pairs ``k <= K``;
* advertisers: exactly when their pairs are consecutive in the list (at most
  one pair per run: the classic cascade ``continue_after_skip == 1``, whose key
  ``c_i / (1 - gc_i)`` depends on the advertiser only, and the case without
  externalities, listed by advertiser); otherwise relaxed.

The relaxed optimum is an upper bound on the true one. If it is feasible it is
optimal; if not, the advertisers (and positions) it uses twice join the tracked
set ``H`` -- one bit each in the state -- and the DP is solved again. This is
*decremental state-space relaxation* (Righini & Salani 2008, for elementary
shortest paths, whose "visit each customer once" is our "show each advertiser
once"). Each round adds at least one resource, so it ends, with a proven
optimum; in practice ``|H|`` stays small because only the strongest advertisers
want several positions. Per round: ``O(N S 2^|H|)`` for ``N`` kept pairs and
``S`` base states.

The first round (``H`` empty) is vectorised over a whole batch of problems (the
solver's batch kernel, :mod:`aigc_auction.solvers.batch`); problems whose
relaxed optimum is infeasible continue one by one. Ties: a pair is taken only
if it beats skipping it strictly, and the DP prefers the later pair of a run
only when strictly better, so the result is a deterministic function of
``(ctr, coef, K, model)``; the reading order and the removal of ads read with
probability 0 follow :func:`~aigc_auction.solvers.cascade.common.finalize`.

Limits: when the state space of a round would exceed ``MAX_STATES`` (or its
trace ``MAX_TRACE`` bytes) the solver raises :class:`~aigc_auction.SolverError`
with the bound and the best feasible value found, and names the truthful
approximation to use instead (``"restricted_dp"``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...exceptions import SolverError
from ...instance import Instance
from ...models.cascade import reading_order_key
from ..batch import BatchData, BatchKernel, Pairs, pairs_to_assignment, register_batch_kernel
from ..registry import register_solver
from .common import as_cascade, finalize
from .pairs import PairLists, pair_lists

if TYPE_CHECKING:
    from ...allocation import Allocation
    from ...models.base import UserModel

__all__ = [
    "CASCADE_DSSR_KERNEL",
    "cascade_dssr",
    "cascade_kernel_pair_ctr",
    "list_row",
    "prepare_batch",
    "relax_rounds",
    "solve_dssr",
]

#: Largest ``m`` whose positions are tracked as a subset mask (optimized order).
MASK_POSITIONS = 16
#: Largest state space of one round (base states times ``2^|H|``).
MAX_STATES = 1 << 22
#: Largest trace of one round, in ``pairs x states`` (stored as bits: a quarter of
#: this in bytes at most).
MAX_TRACE = 1 << 31
#: Largest ``pairs x rows x states`` flags of the vectorised first round at once.
BATCH_TRACE = 1 << 26
#: Largest ``rows x pairs x states`` table for which the first round runs by layers
#: (few vectorised calls, best for small batches); larger ones run pair by pair
#: (one vectorised call per pair, cheaper per cell). Both give the same result.
LAYERED_CELLS = 40_000
#: Largest ``pairs x 2^h x K`` for which a later round without position subsets runs
#: by layers (vectorised) instead of pair by pair (same result).
LAYERED_ROUND_CELLS = 1 << 22


@dataclass(frozen=True)
class _Base:
    """The tracked base states: position subsets (mask mode) or pair counts."""

    n_base: int
    src: NDArray[np.int64]  # (m, n_src): states that may take a pair at position j
    dst: NDArray[np.int64]  # (m, n_src): the state after taking it
    inv: NDArray[np.int64]  # (m, n_base): index into src[j], -1 if not there
    mask: bool
    orj: NDArray[np.int64]  # (m, n_base): the state after taking a pair at j, -1 if not


def _with_orj(src: NDArray[np.int64], dst: NDArray[np.int64], inv: NDArray[np.int64],
              mask: bool) -> _Base:
    orj = np.full(inv.shape, -1, dtype=np.int64)
    for j in range(inv.shape[0]):
        orj[j, src[j]] = dst[j]
    return _Base(int(inv.shape[1]), src, dst, inv, mask, orj)


@lru_cache(maxsize=64)
def _base(m: int, k: int, mask: bool) -> _Base:
    if not mask:
        src = np.broadcast_to(np.arange(k), (m, k)).copy()
        inv = np.broadcast_to(np.concatenate((np.arange(k), [-1])), (m, k + 1)).copy()
        return _with_orj(src, src + 1, inv, False)
    all_masks = np.arange(1 << m, dtype=np.int64)
    pop = np.zeros(1 << m, dtype=np.int64)
    for j in range(m):
        pop += (all_masks >> j) & 1
    masks = all_masks[pop <= k]
    index = np.full(1 << m, -1, dtype=np.int64)
    index[masks] = np.arange(masks.size)
    small = masks[pop[masks] < k]
    src = np.stack([index[small[(small >> j) & 1 == 0]] for j in range(m)])
    dst = np.stack([index[small[(small >> j) & 1 == 0] | (1 << j)] for j in range(m)])
    inv = np.full((m, masks.size), -1, dtype=np.int64)
    for j in range(m):
        inv[j, src[j]] = np.arange(src.shape[1])
    return _with_orj(src, dst, inv, True)


def _mask_mode(order: str, m: int, irrelevant: bool) -> bool:
    return (order == "optimized" or irrelevant) and m <= MASK_POSITIONS


# -- round one: H empty, vectorised over the batch -------------------------------------
def _first_round(lists: PairLists, base: _Base, slots: int
                 ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Relaxed optimum of every row: chosen list indices (B, K) and its value (B,).

    Two evaluation orders of the same recursion with the same tie rule (a run is
    taken only if strictly better than what follows it; within a run the last
    of its best pairs): by layers of "picks left" (a few vectorised calls,
    :func:`_layered_rows`) when the table is small, pair by pair otherwise.
    """
    bsz, width = lists.ads.shape
    chosen = np.full((bsz, slots), -1, dtype=np.int64)
    value = np.zeros(bsz)
    if width == 0:
        return chosen, value
    n_src = base.src.shape[1]
    if bsz * width * base.n_base <= LAYERED_CELLS:
        step, func = bsz, _layered_rows
    else:
        step = max(1, BATCH_TRACE // max(1, width * n_src))
        func = _first_round_rows
    for lo in range(0, bsz, step):
        rows = slice(lo, min(bsz, lo + step))
        chosen[rows], value[rows] = func(lists, rows, base, slots)
    return chosen, value


def _layered_rows(lists: PairLists, rows: slice, base: _Base, slots: int
                  ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The first round by layers: ``G_l[r, x]`` = best value of the runs from ``r``
    on with at most ``l`` more pairs, base state ``x``; one vectorised pass per layer."""
    ads, pos = lists.ads[rows], lists.pos[rows]
    val, cont, start = lists.value[rows], lists.cont[rows], lists.run_start[rows]
    bsz, width = ads.shape
    valid = ads >= 0
    rid = np.cumsum(start, axis=1) - 1
    n_runs = int(start.sum(axis=1).max())
    flags = start.copy()
    flags[:, 0] = True
    flags[:, 1:] |= valid[:, :-1] & ~valid[:, 1:]  # the padding is a segment of its own
    seg = np.flatnonzero(flags.ravel())
    seg_ok = valid.ravel()[seg]
    seg_row, seg_run = seg[seg_ok] // width, rid.ravel()[seg][seg_ok]
    seg_of = np.cumsum(flags.ravel()) - 1
    orj = base.orj
    x_next = orj[np.maximum(pos, 0)]  # (B, N, n_base)
    allowed = (x_next >= 0) & valid[:, :, None]
    # flat index of G[b, run(t) + 1, x_next] in a (B, runs + 1, n_base) table
    row_of = np.arange(bsz)[:, None, None] * (n_runs + 1)
    flat = ((row_of + np.where(valid, rid + 1, 0)[:, :, None]) * base.n_base
            + np.maximum(x_next, 0))
    t_index = np.broadcast_to(np.arange(width)[None, :, None], x_next.shape).reshape(
        bsz * width, base.n_base)
    g_prev = np.zeros((bsz, n_runs + 1, base.n_base))
    takes, args = [], []
    for _ in range(slots):
        term = g_prev.take(flat) * cont[:, :, None]
        term += val[:, :, None]
        term = np.where(allowed, term, -np.inf).reshape(bsz * width, base.n_base)
        best_seg = np.maximum.reduceat(term, seg, axis=0)
        last = np.where(term == best_seg[seg_of], t_index, -1)
        arg_seg = np.maximum.reduceat(last, seg, axis=0)
        best = np.full((bsz, n_runs, base.n_base), -np.inf)
        arg = np.full((bsz, n_runs, base.n_base), -1, dtype=np.int64)
        best[seg_row, seg_run] = best_seg[seg_ok]
        arg[seg_row, seg_run] = arg_seg[seg_ok]
        g = np.zeros((bsz, n_runs + 1, base.n_base))
        g[:, :n_runs] = np.maximum(np.maximum.accumulate(best[:, ::-1], axis=1)[:, ::-1], 0.0)
        takes.append(best > g[:, 1:])
        args.append(arg)
        g_prev = g
    chosen = np.full((bsz, slots), -1, dtype=np.int64)
    ar = np.arange(bsz)
    r = np.zeros(bsz, dtype=np.int64)
    x = np.zeros(bsz, dtype=np.int64)
    live = np.ones(bsz, dtype=bool)
    later = np.arange(n_runs)[None, :]
    for step_ in range(slots):
        level = slots - 1 - step_  # layer with step_ pairs taken so far
        ok = takes[level][ar, :, x] & (later >= r[:, None]) & live[:, None]
        live = np.asarray(ok.any(axis=1))
        rr = np.argmax(ok, axis=1)
        t = args[level][ar, rr, x]
        chosen[live, step_] = t[live]
        x = np.where(live, orj[np.maximum(pos[ar, np.maximum(t, 0)], 0), x], x)
        r = np.where(live, rr + 1, r)
    return chosen, g_prev[:, 0, 0]


def _first_round_rows(lists: PairLists, rows: slice, base: _Base, slots: int
                      ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    ads, pos = lists.ads[rows], lists.pos[rows]
    val, cont, start = lists.value[rows], lists.cont[rows], lists.run_start[rows]
    bsz, width = ads.shape
    br = np.arange(bsz)[:, None]
    new = np.zeros((bsz, base.n_base))
    old = new.copy()
    took = np.zeros((width, bsz, base.src.shape[1]), dtype=bool)
    jj = np.maximum(pos, 0)
    for t in range(width - 1, -1, -1):
        # pair t ends its run: `new` is the table of the list after the run
        if t + 1 < width:
            ends = start[:, t + 1] | (ads[:, t + 1] < 0)
            old[ends] = new[ends]
        src, dst = base.src[jj[:, t]], base.dst[jj[:, t]]
        cand = val[:, t, None] + cont[:, t, None] * old[br, dst]
        cur = new[br, src]
        better = (cand > cur) & (ads[:, t] >= 0)[:, None]
        new[br, src] = np.where(better, cand, cur)
        took[t] = better
    chosen = np.full((bsz, slots), -1, dtype=np.int64)
    state = np.zeros(bsz, dtype=np.int64)
    count = np.zeros(bsz, dtype=np.int64)
    decided = np.zeros(bsz, dtype=bool)
    ar = np.arange(bsz)
    for t in range(width):
        decided &= ~start[:, t]
        s = base.inv[jj[:, t], state]
        take = (ads[:, t] >= 0) & ~decided & (s >= 0)
        take[take] = took[t, ar[take], s[take]]
        chosen[ar[take], count[take]] = t
        state[take] = base.dst[jj[take, t], s[take]]
        count += take
        decided |= take
    return chosen, new[:, 0]


# -- later rounds: one problem, tracked resources H ------------------------------------
def _round(row: dict[str, NDArray[Any]], base: _Base, slots: int,
           bits: NDArray[np.int64], *, trace_pairs: bool = True
           ) -> tuple[list[int], float]:
    """Relaxed optimum of one problem with resources tracked by ``bits`` (per pair,
    a bitmask over ``h`` tracked resources); returns list indices and value
    (no indices with ``trace_pairs=False``, which keeps no trace: value only).

    The table has one axis for the base state and one axis of length 2 per
    tracked resource, so taking a pair that uses tracked resources reads and
    writes strided views (``0`` on their axes before, ``1`` after).
    """
    h = int(bits.max()).bit_length() if bits.size else 0
    width = row["ads"].size
    new = np.zeros((base.n_base,) + (2,) * h)
    old = new.copy()
    views: dict[int, tuple[tuple[Any, ...], tuple[Any, ...], tuple[int, ...]]] = {}
    # "pair t beat the rest of its run" flags, bit-packed (8 per byte)
    trace: list[tuple[NDArray[np.uint8], tuple[int, ...]]] = [
        (np.empty(0, dtype=np.uint8), ())] * width
    start = row["run_start"]
    pos, val, cont = row["pos"], row["value"], row["cont"]
    counting = not base.mask
    for t in range(width - 1, -1, -1):
        if t + 1 >= width or start[t + 1]:
            old = new.copy()
        b = int(bits[t])
        if b not in views:
            axes = tuple(1 + h - 1 - k for k in range(h) if (b >> k) & 1)
            views[b] = (
                tuple(0 if ax in axes else slice(None) for ax in range(1, h + 1)),
                tuple(1 if ax in axes else slice(None) for ax in range(1, h + 1)),
                axes,
            )
        clear, setv, _ = views[b]
        if counting:  # k -> k + 1 for every k < K: plain slices, views throughout
            src_idx: tuple[Any, ...] = (slice(0, slots), *clear)
            dst_idx: tuple[Any, ...] = (slice(1, slots + 1), *setv)
        else:
            j = int(pos[t])
            src_idx, dst_idx = (base.src[j], *clear), (base.dst[j], *setv)
        cand = old[dst_idx] * cont[t]
        cand += val[t]
        cur = new[src_idx]
        better = cand > cur
        if counting:
            np.copyto(cur, cand, where=better)  # cur is a view of `new`
        else:
            new[src_idx] = np.where(better, cand, cur)
        if trace_pairs:
            trace[t] = (np.packbits(better, axis=None), better.shape)
    if not trace_pairs:
        return [], float(new[(0,) + (0,) * h])
    chosen: list[int] = []
    state, u = 0, [0] * h  # u[ax - 1]: bit of tracked resource on axis ax
    decided = False
    for t in range(width):
        if start[t]:
            decided = False
        if decided:
            continue
        axes = views[int(bits[t])][2]
        s = int(base.inv[int(pos[t]), state])
        if s < 0 or any(u[ax - 1] for ax in axes):
            continue
        rest = tuple(u[ax - 1] for ax in range(1, h + 1) if ax not in axes)
        packed, shape = trace[t]
        flat = int(np.ravel_multi_index((s, *rest), shape))
        if (int(packed[flat >> 3]) >> (7 - (flat & 7))) & 1:
            chosen.append(t)
            state = int(base.dst[int(pos[t]), s])
            for ax in axes:
                u[ax - 1] = 1
            decided = True
    return chosen, float(new[(0,) + (0,) * h])


def _layered_round(row: dict[str, NDArray[Any]], slots: int, bits: NDArray[np.int64]
                   ) -> tuple[list[int], float]:
    """:func:`_round` without position subsets (count base), by layers of "pairs left".

    ``G_l[r, U]``: best value of the runs from ``r`` on with at most ``l`` more
    pairs, tracked resources ``U`` used; one vectorised pass per layer over every
    pair and every ``U``. Same recursion and tie rule as the pair-by-pair
    :func:`_round`, so the same result; cheaper when ``pairs x 2^h`` is small.
    """
    width = row["ads"].size
    if width == 0:
        return [], 0.0
    h = int(bits.max()).bit_length()
    size = 1 << h
    start = row["run_start"]
    rid = np.cumsum(start) - 1
    n_runs = int(rid[-1]) + 1
    seg = np.flatnonzero(start)
    u = np.arange(size, dtype=np.int64)[None, :]
    ok = (u & bits[:, None]) == 0
    flat = (rid + 1)[:, None] * size + (u | bits[:, None])
    t_index = np.broadcast_to(np.arange(width)[:, None], ok.shape)
    val, cont = row["value"][:, None], row["cont"][:, None]
    g = np.zeros((n_runs + 1, size))
    takes, args = [], []
    for _ in range(slots):
        term = g.take(flat) * cont
        term += val
        term = np.where(ok, term, -np.inf)
        best = np.maximum.reduceat(term, seg, axis=0)
        args.append(np.maximum.reduceat(np.where(term == best[rid], t_index, -1), seg, axis=0))
        nxt = np.zeros((n_runs + 1, size))
        nxt[:n_runs] = np.maximum(np.maximum.accumulate(best[::-1], axis=0)[::-1], 0.0)
        takes.append(best > nxt[1:])
        g = nxt
    chosen: list[int] = []
    r, used = 0, 0
    for step in range(slots):
        level = slots - 1 - step
        later = np.flatnonzero(takes[level][r:, used])
        if later.size == 0:
            break
        rr = r + int(later[0])
        t = int(args[level][rr, used])
        chosen.append(t)
        used |= int(bits[t])
        r = rr + 1
    return chosen, float(g[0, 0])


def _repeats(row: dict[str, NDArray[Any]], chosen: list[int]) -> tuple[set[int], set[int]]:
    ads = row["ads"][chosen].tolist()
    pos = row["pos"][chosen].tolist()
    return ({a for a in ads if ads.count(a) > 1}, {p for p in pos if pos.count(p) > 1})


def _repair(row: dict[str, NDArray[Any]], chosen: list[int]) -> float:
    """Value of the relaxed sequence with repeated advertisers/positions dropped."""
    seen_a: set[int] = set()
    seen_p: set[int] = set()
    value, reach = 0.0, 1.0
    for t in chosen:
        a, p = int(row["ads"][t]), int(row["pos"][t])
        if a in seen_a or p in seen_p:
            continue
        seen_a.add(a)
        seen_p.add(p)
        value += reach * float(row["value"][t])
        reach *= float(row["cont"][t])
    return value


def relax_rounds(row: dict[str, NDArray[Any]], base: _Base, slots: int, chosen: list[int],
                 bound: float, *, max_states: int, deadline: float | None = None,
                 value_only_last: bool = True
                 ) -> tuple[list[int] | None, float, list[int], list[int]]:
    """Rounds with growing tracked sets, from the first round's ``chosen`` / ``bound``.

    Returns ``(chosen, bound, tracked advertisers, tracked positions)``: ``chosen``
    is the optimal sequence (list indices) once a relaxed optimum is feasible, or
    ``None`` when the next round would exceed ``max_states`` states or
    ``deadline`` (``time.perf_counter()``) has passed; ``bound`` is the smallest
    relaxed value seen (an upper bound on the optimum). A round too large to keep
    its trace (``MAX_TRACE``) is still solved for its value if ``value_only_last``
    (a last, tighter bound), then the rounds stop.
    """
    h_ads: list[int] = []
    h_pos: list[int] = []
    best = bound
    while True:
        rep_a, rep_p = _repeats(row, chosen)
        if not rep_a and not rep_p:
            return chosen, best, h_ads, h_pos
        h = len(h_ads) + len(h_pos) + len(rep_a) + len(rep_p)
        states = base.n_base << h
        if states > max_states or (deadline is not None and time.perf_counter() > deadline):
            return None, best, h_ads, h_pos
        h_ads += sorted(rep_a)
        h_pos += sorted(rep_p)
        ad_bit = np.zeros(int(row["ads"].max()) + 1, dtype=np.int64)
        ad_bit[h_ads] = np.left_shift(1, np.arange(len(h_ads)))
        pos_bit = np.zeros(int(row["pos"].max()) + 1, dtype=np.int64)
        pos_bit[h_pos] = np.left_shift(1, len(h_ads) + np.arange(len(h_pos)))
        bits = ad_bit[row["ads"]] | pos_bit[row["pos"]]
        if states * row["ads"].size > MAX_TRACE:  # too big to trace: a last bound
            if value_only_last:
                _, value = _round(row, base, slots, bits, trace_pairs=False)
                best = min(best, value)
            return None, best, h_ads, h_pos
        if not base.mask and row["ads"].size * (1 << h) * slots <= LAYERED_ROUND_CELLS:
            chosen, value = _layered_round(row, slots, bits)
        else:
            chosen, value = _round(row, base, slots, bits)
        best = min(best, value)


def _continue(row: dict[str, NDArray[Any]], base: _Base, slots: int, chosen: list[int],
              bound: float) -> list[int]:
    """Rounds until the relaxed optimum is feasible (or a clear SolverError)."""
    done, best, h_ads, h_pos = relax_rounds(row, base, slots, chosen, bound,
                                            max_states=MAX_STATES, value_only_last=False)
    if done is None:
        h = len(h_ads) + len(h_pos)
        raise SolverError(
            "solver 'dssr' needs too many states for this instance "
            f"(more than {MAX_STATES} after tracking {h} resources: advertisers "
            f"{h_ads}, positions {h_pos}); best upper bound {best:.12g}, best feasible "
            f"value found {_repair(row, chosen):.12g}. Use solver='restricted_dp' "
            "(maximal-in-range, truthful) or solver='milp'."
        )
    return done


def solve_dssr(
    ctr: NDArray[np.float64],
    cont: NDArray[np.float64],
    coef: NDArray[np.float64],
    slots: int,
    *,
    order: str,
    irrelevant: bool = False,
    position_masks: bool | None = None,
) -> Pairs:
    """Optimal cascade allocations of a batch of problems.

    Parameters
    ----------
    ctr, cont : ndarray of shape (n, m) or (B, n, m)
        Standalone CTRs and continuation probabilities ``q`` (shared or per row).
    coef : ndarray of shape (B, n)
    slots : int
    order : {"optimized", "fixed"}
    irrelevant : bool, default False
        ``q == 1`` everywhere (no externalities).
    position_masks : bool, optional
        Track positions as subsets from the start (``None``: when the order is
        optimized and ``m <= MASK_POSITIONS``); ``False`` tracks only the ones an
        optimum uses twice (cheaper when few positions are contested).

    Returns
    -------
    ads, pos : ndarray of int, shape (B, slots)
        Each row's shown pairs in reading order, ``-1`` in unused slots.

    Raises
    ------
    SolverError
        If a problem needs more than ``MAX_STATES`` states (see module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.5, 0.2], [0.4, 0.4]])
    >>> q = 0.3 * p + 0.9 * (1 - p)
    >>> ads, pos = solve_dssr(p, q, np.array([[1.0, 1.0]]), 2, order="optimized")
    >>> ads.tolist(), pos.tolist()
    ([[0, 1]], [[0, 1]])
    """
    coef = np.asarray(coef, dtype=np.float64)
    m = ctr.shape[-1]
    lists = pair_lists(ctr, cont, coef, slots, order=order, irrelevant=irrelevant)
    masks = _mask_mode(order, m, irrelevant) if position_masks is None else position_masks
    base = _base(m, slots, masks and (order == "optimized" or irrelevant))
    chosen, bound = _first_round(lists, base, slots)
    if lists.ads.shape[1] == 0:  # nothing is a candidate anywhere
        empty = np.full(chosen.shape, -1, dtype=np.int64)
        return empty, empty.copy()
    rr = np.arange(chosen.shape[0])[:, None]
    got = chosen >= 0
    out_ads = np.where(got, lists.ads[rr, np.maximum(chosen, 0)], -1)
    out_pos = np.where(got, lists.pos[rr, np.maximum(chosen, 0)], -1)
    for r in np.flatnonzero(_has_repeats(out_ads) | _has_repeats(out_pos)).tolist():
        row = list_row(lists, r)
        picked = _continue(row, base, slots, chosen[r][got[r]].tolist(), float(bound[r]))
        out_ads[r], out_pos[r] = -1, -1
        out_ads[r, : len(picked)] = row["ads"][picked]
        out_pos[r, : len(picked)] = row["pos"][picked]
    return _reading_order(ctr, cont, coef, out_ads, out_pos, order)


def _has_repeats(x: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Rows of ``x`` with a repeated non-negative entry."""
    s = np.sort(x, axis=1)
    return np.asarray(((s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)).any(axis=1))


def list_row(lists: PairLists, r: int) -> dict[str, NDArray[Any]]:
    """Row ``r`` of ``lists`` as the per-problem arrays of the later rounds (no padding)."""
    k = int(lists.count[r])
    return {"ads": lists.ads[r, :k], "pos": lists.pos[r, :k], "value": lists.value[r, :k],
            "cont": lists.cont[r, :k], "run_start": lists.run_start[r, :k]}


def _gather(mat: NDArray[np.float64], ads: NDArray[np.int64], pos: NDArray[np.int64]
            ) -> NDArray[np.float64]:
    """``mat[ads, pos]`` row by row (0 where ``ads < 0``); ``mat`` (n, m) or (B, n, m)."""
    a, p = np.maximum(ads, 0), np.maximum(pos, 0)
    got = mat[a, p] if mat.ndim == 2 else mat[np.arange(ads.shape[0])[:, None], a, p]
    return np.where(ads >= 0, got, 0.0)


def _reading_order(ctr: NDArray[np.float64], cont: NDArray[np.float64],
                   coef: NDArray[np.float64], ads: NDArray[np.int64],
                   pos: NDArray[np.int64], order: str) -> Pairs:
    """Sort each row's pairs into the model's reading order and drop ads read with
    probability 0 (as :func:`~aigc_auction.solvers.cascade.common.finalize`)."""
    valid = ads >= 0
    q = _gather(cont, ads, pos)
    if order == "fixed":
        primary = np.zeros(ads.shape)
    else:
        c = np.where(valid, np.take_along_axis(coef, np.maximum(ads, 0), axis=1), 0.0)
        primary = -reading_order_key(c * _gather(ctr, ads, pos), q)
    srt = np.lexsort((pos, np.where(valid, primary, np.inf), ~valid), axis=-1)
    ads = np.take_along_axis(ads, srt, axis=1)
    pos = np.take_along_axis(pos, srt, axis=1)
    q = np.take_along_axis(q, srt, axis=1)
    valid = ads >= 0
    reach = np.cumprod(np.concatenate((np.ones((ads.shape[0], 1)), q[:, :-1]), axis=1),
                       axis=1)
    live = valid & (_gather(ctr, ads, pos) * reach > 0)
    return np.where(live, ads, -1), np.where(live, pos, -1)


@register_solver(
    "cascade", "dssr", exact=True, priority=30,
    description="DP over pairs in reading order with decremental state-space "
    "relaxation; exact for every parameter setting and order mode",
)
def cascade_dssr(instance: Instance, coef: NDArray[np.float64], model: UserModel
                 ) -> Allocation:
    """Optimal cascade allocation by the relaxation DP (module docstring).

    Parameters
    ----------
    instance : Instance
    coef : ndarray of shape (n_advertisers,)
        Objective coefficients (bids or virtual values; any sign).
    model : Cascade
        Any parameters (scalars or per-advertiser arrays), either order mode.

    Returns
    -------
    Allocation

    Raises
    ------
    SolverError
        If the instance needs more states than ``MAX_STATES`` allows; the message
        gives the bound reached and names the approximation to use.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    >>> model = aa.Cascade(continue_after_click=0.3, continue_after_skip=0.9)
    >>> alloc = cascade_dssr(inst, np.array([1.0, 1.0]), model)
    >>> alloc.assignment.tolist(), alloc.order.tolist(), round(alloc.value, 6)
    ([0, 1], [0, 1], 0.74)
    """
    cm = as_cascade(model, "dssr")
    c = np.asarray(coef, dtype=np.float64)
    ads, pos = solve_dssr(instance.ctr, cm.continuation(instance), c[None, :],
                          instance.slots, order=cm.order, irrelevant=cm.order_irrelevant)
    a = pairs_to_assignment(instance.n_advertisers, ads, pos)[0]
    return finalize(instance, c, cm, a, "dssr")


# -- the batched kernel ----------------------------------------------------------------
def prepare_batch(model: UserModel, ctr: NDArray[np.float64]) -> BatchData:
    """Batch data of cascade kernels: CTRs, continuations, order mode."""
    cm = as_cascade(model, "dssr")
    gc, gs = cm.continuation_params(ctr.shape[-2])
    q = np.clip(ctr * gc[:, None] + (1.0 - ctr) * gs[:, None], 0.0, 1.0)
    return BatchData({"ctr": ctr, "cont": q}, shared=ctr.ndim == 2,
                     params={"order": cm.order, "irrelevant": cm.order_irrelevant})


def _solve(data: BatchData, coef: NDArray[np.float64], slots: int, *,
           hint: Pairs | None = None) -> Pairs:
    return solve_dssr(data["ctr"], data["cont"], coef, slots, order=data.params["order"],
                      irrelevant=data.params["irrelevant"])


def cascade_kernel_pair_ctr(data: BatchData, ads: NDArray[np.int64], pos: NDArray[np.int64]
                            ) -> NDArray[np.float64]:
    """Cascade click probability of listed pairs read in the listed order."""
    q = _gather(data["cont"], ads, pos)
    reach = np.cumprod(np.concatenate((np.ones((ads.shape[0], 1)), q[:, :-1]), axis=1),
                       axis=1)
    return np.where(ads >= 0, _gather(data["ctr"], ads, pos) * reach, 0.0)


#: Batched kernel of the ``"dssr"`` solver (first round vectorised over the batch).
CASCADE_DSSR_KERNEL = register_batch_kernel(
    "cascade", "dssr", BatchKernel(prepare_batch, _solve, cascade_kernel_pair_ctr)
)

