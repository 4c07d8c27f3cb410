"""One advertiser's outcome as an exact step function of its own bid.

For an allocation rule that maximises ``sum_k b_k ctr_k`` (VCG, GSP, first price
with an exact or maximal-in-range solver), fix the other bids and let advertiser
``i`` bid ``z``. The optimal objective is the upper envelope of one line per
(augmented) allocation ``A``, ``z ctr_i(A) + sum_{k != i} b_k ctr_k(A)``, so
``i``'s click probability, position and reading rank are step functions of
``z`` whose kinks are the envelope's (Eisner & Severance 1976: intersect two
lines, re-solve there, recurse; a few solves, no grid). Every payment rule of
the three formats is a function of those steps, and so is the utility of every
bid a learning bidder might consider:

* GSP charges per click the left end of the step the bid falls on;
* first price charges the bid;
* VCG (Myerson) charges ``sum_k z_k (ctr_k - ctr_{k-1})`` over the kinks below.

:func:`batch_steps` searches the envelopes of many (auction, advertiser) tasks at
once, level by level, with one call of the solver's batched kernel
(:class:`~aigc_auction.solvers.batch.BatchKernel`) per level; solvers without a
kernel are looped. :func:`own_bid_steps` is the one-task front end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_bids, check_int
from .allocation import shown_in_order
from .instance import Instance
from .solvers.batch import BatchData, BatchKernel, Pairs

if TYPE_CHECKING:
    from .mechanisms import Mechanism

__all__ = [
    "BidSteps",
    "StepTable",
    "allocation_lines",
    "batch_steps",
    "envelope_kinks",
    "own_bid_steps",
    "pairs_of",
    "step_kernel",
    "step_rule",
]

#: Relative tolerance of "strictly above the envelope" (as in ``payments``).
ABOVE_RTOL = 1e-12

Rule = Literal["gsp", "first_price", "vcg"]


def step_rule(mechanism: Mechanism) -> Rule | None:
    """The payment rule of ``mechanism`` as a function of its step function, or ``None``.

    ``"gsp"``, ``"first_price"`` or ``"vcg"`` for those classes (not for
    subclasses that override their coefficients or payments) with an
    affine-maximising solver; ``None`` for anything else (e.g. Myerson).
    """
    from .mechanisms import GSP, VCG, FirstPrice  # mechanisms import this module

    for cls, rule in ((GSP, "gsp"), (FirstPrice, "first_price"), (VCG, "vcg")):
        if (
            isinstance(mechanism, cls)
            and type(mechanism)._keeps_rule_of(cls)
            and mechanism.solver_spec.affine_maximizer
        ):
            return rule  # type: ignore[return-value]
    return None


# -- a kernel for any solver --------------------------------------------------------
def _loop_kernel(mechanism: Mechanism) -> BatchKernel:
    """A :class:`BatchKernel` that loops the mechanism's per-problem solver."""
    model = mechanism.model

    def prepare(_model: Any, ctr: NDArray[np.float64]) -> BatchData:
        return BatchData({"ctr": ctr}, shared=ctr.ndim == 2)

    def instance(data: BatchData, r: int, slots: int) -> Instance:
        return Instance(ctr=data.row("ctr", r), slots=slots)

    def solve(data: BatchData, coef: NDArray[np.float64], slots: int, *,
              hint: Pairs | None = None) -> Pairs:
        bsz = coef.shape[0]
        ads = np.full((bsz, slots), -1, dtype=np.int64)
        pos = np.full((bsz, slots), -1, dtype=np.int64)
        for r in range(bsz):
            alloc = mechanism.solver_spec.func(instance(data, r, slots), coef[r], model)
            who = shown_in_order(alloc.assignment, alloc.order)
            ads[r, : who.size] = who
            pos[r, : who.size] = alloc.order
        return ads, pos

    def pair_ctr(data: BatchData, ads: NDArray[np.int64], pos: NDArray[np.int64]
                 ) -> NDArray[np.float64]:
        out = np.zeros(ads.shape)
        for r in range(ads.shape[0]):
            valid = ads[r] >= 0
            ctr = data.row("ctr", r)
            a = np.full(ctr.shape[0], -1, dtype=np.int64)
            a[ads[r, valid]] = pos[r, valid]
            inst = Instance(ctr=ctr, slots=max(int(valid.sum()), 1))
            pi = model.ctr(inst, a, pos[r, valid])
            out[r, valid] = pi[ads[r, valid]]
        return out

    return BatchKernel(prepare, solve, pair_ctr)


def step_kernel(mechanism: Mechanism) -> BatchKernel:
    """The batched kernel of the mechanism's solver, or a loop over its solver."""
    if not mechanism.solver_spec.affine_maximizer:
        raise ValueError(
            f"`mechanism` must use an exact or maximal-in-range solver to have exact "
            f"own-bid steps; {mechanism.solver_spec.name!r} is neither"
        )
    kernel = mechanism.solver_spec.batch
    return kernel if kernel is not None else _loop_kernel(mechanism)


# -- the batched envelope search ------------------------------------------------------
def allocation_lines(kernel: BatchKernel, data: BatchData, coef: NDArray[np.float64],
                     who: NDArray[np.int64], ads: NDArray[np.int64], pos: NDArray[np.int64]
                     ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Slope (own CTR) and intercept (the others' objective) of each row's allocation.

    Row ``r``'s allocation ``(ads[r], pos[r])`` is the line ``c ctr_who + B`` in
    advertiser ``who[r]``'s own coefficient ``c``, the others at ``coef[r]``.
    """
    pi = kernel.pair_ctr(data, ads, pos)
    own = ads == who[:, None]
    slope = np.where(own, pi, 0.0).sum(axis=1)
    shown = (ads >= 0) & ~own & (pi > 0)
    # unused slots and own pairs read coefficient 0: a -inf coefficient (a bid below
    # its prior's support) never meets a zero CTR
    c = np.where(shown, np.take_along_axis(coef, np.where(ads >= 0, ads, 0), axis=1), 0.0)
    return slope, (c * np.where(shown, pi, 0.0)).sum(axis=1)


def _slot(ads: NDArray[np.int64], pos: NDArray[np.int64], who: NDArray[np.int64]
          ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Position and reading rank of ``who[r]`` in row ``r`` (``-1`` when not shown)."""
    own = ads == who[:, None]
    shown = own.any(axis=1)
    col = np.argmax(own, axis=1)
    rows = np.arange(ads.shape[0])
    before = np.cumsum(ads >= 0, axis=1) - 1
    return (np.where(shown, pos[rows, col], -1).astype(np.int64),
            np.where(shown, before[rows, col], -1).astype(np.int64))


def envelope_kinks(
    kernel: BatchKernel, data: BatchData, slots: int, coef: NDArray[np.float64],
    who: NDArray[np.int64], c_lo: NDArray[np.float64], c_hi: NDArray[np.float64],
    lo_pairs: Pairs, hi_pairs: Pairs,
) -> tuple[NDArray[np.int64], NDArray[np.float64], Pairs]:
    """Kinks of each task's envelope on ``[c_lo, c_hi]`` between two known end lines.

    Returns ``(task, c, (ads, pos))``: from ``c`` on, the allocation ``(ads, pos)``
    is optimal (up to the next kink of the same task). Unsorted.
    """
    k_task: list[NDArray[np.int64]] = []
    k_c: list[NDArray[np.float64]] = []
    k_a: list[NDArray[np.int64]] = []
    k_p: list[NDArray[np.int64]] = []
    task = np.arange(who.size)
    ls, li = allocation_lines(kernel, data, coef, who, *lo_pairs)
    hs, hi_ = allocation_lines(kernel, data, coef, who, *hi_pairs)
    lo: tuple[NDArray[Any], ...] = (ls, li, lo_pairs[0], lo_pairs[1])
    hi: tuple[NDArray[Any], ...] = (hs, hi_, hi_pairs[0], hi_pairs[1])
    while task.size:
        keep = hi[0] > lo[0]
        task = task[keep]
        lo = tuple(x[keep] for x in lo)
        hi = tuple(x[keep] for x in hi)
        if task.size == 0:
            break
        c = (lo[1] - hi[1]) / (hi[0] - lo[0])
        c = np.minimum(np.maximum(c, c_lo[task]), c_hi[task])
        cc = coef[task].copy()
        cc[np.arange(task.size), who[task]] = c
        lo_v, hi_v = lo[0] * c + lo[1], hi[0] * c + hi[1]
        use_lo = (lo_v > hi_v)[:, None]
        hint = (np.where(use_lo, lo[2], hi[2]), np.where(use_lo, lo[3], hi[3]))
        sub = data.take(task)
        ma, mp = kernel.solve(sub, cc, slots, hint=hint)
        m_s, m_i = allocation_lines(kernel, sub, coef[task], who[task], ma, mp)
        mid_v = m_s * c + m_i
        ref = np.maximum(lo_v, hi_v)
        above = mid_v > ref + ABOVE_RTOL * np.maximum(np.abs(mid_v), np.abs(ref))
        new_tag = ~(np.all(ma == lo[2], axis=1) & np.all(mp == lo[3], axis=1)) & ~(
            np.all(ma == hi[2], axis=1) & np.all(mp == hi[3], axis=1))
        split = above & (lo[0] < m_s) & (m_s < hi[0]) & new_tag
        done = ~split
        k_task.append(task[done])
        k_c.append(c[done])
        k_a.append(hi[2][done])
        k_p.append(hi[3][done])
        mid = (m_s[split], m_i[split], ma[split], mp[split])
        task = np.concatenate((task[split], task[split]))
        lo, hi = (
            tuple(np.concatenate((a[split], b)) for a, b in zip(lo, mid, strict=True)),
            tuple(np.concatenate((b, a[split])) for a, b in zip(hi, mid, strict=True)),
        )
    if not k_task:
        empty = np.empty((0, slots), dtype=np.int64)
        return np.empty(0, dtype=np.int64), np.empty(0), (empty, empty.copy())
    return (np.concatenate(k_task), np.concatenate(k_c),
            (np.concatenate(k_a), np.concatenate(k_p)))


def pairs_of(assignment: NDArray[np.int64], order: NDArray[np.int64]) -> Pairs:
    """Shown ``(ads, pos)`` pairs in reading order from assignments and ``-1``-padded orders.

    Parameters
    ----------
    assignment : ndarray of int, shape (B, n)
    order : ndarray of int, shape (B, K)
        Shown positions in reading order, ``-1`` in unused slots.

    Examples
    --------
    >>> import numpy as np
    >>> ads, pos = pairs_of(np.array([[1, -1, 0]]), np.array([[1, 0, -1]]))
    >>> ads.tolist(), pos.tolist()
    ([[0, 2, -1]], [[1, 0, -1]])
    """
    bsz = assignment.shape[0]
    m = int(max(assignment.max(initial=-1), order.max(initial=-1))) + 1
    inv = np.full((bsz, m + 1), -1, dtype=np.int64)
    r, i = np.nonzero(assignment >= 0)
    inv[r, assignment[r, i]] = i
    ads = np.take_along_axis(inv, np.where(order >= 0, order, m), axis=1)
    return ads, np.where(ads >= 0, order, -1).astype(np.int64)


@dataclass(frozen=True, eq=False)
class StepTable:
    """The own-bid step functions of ``T`` tasks, as flat arrays.

    Step ``s`` of task ``task[s]`` covers own bids from ``start[s]`` up to the
    next step's start (steps of a task are contiguous and sorted); its allocation
    gives the advertiser click probability ``ctr[s]``, ``position[s]`` and reading
    ``rank[s]`` (``-1`` when not shown). The first step of every task starts at
    0 with the allocation for a zero bid (not shown). ``offsets[t]`` is the first
    step of task ``t`` (``offsets[T]`` the total), ``current[t]`` the step of the
    task's actual bid (the allocation the solver chose there).
    """

    task: NDArray[np.int64]
    start: NDArray[np.float64]
    ctr: NDArray[np.float64]
    position: NDArray[np.int64]
    rank: NDArray[np.int64]
    offsets: NDArray[np.int64]
    current: NDArray[np.int64]

    @cached_property
    def _kinks(self) -> NDArray[np.float64]:
        """Each task's kinks (the starts of its steps but the first), ``inf`` padded:
        shape (T, W), W the most kinks of a task."""
        per = self.offsets[1:] - self.offsets[:-1]
        mat = np.full((per.size, max(int(per.max(initial=1)) - 1, 0)), np.inf)
        after = np.ones(self.start.size, dtype=bool)
        after[self.offsets[:-1][per > 0]] = False
        at = np.flatnonzero(after)
        mat[self.task[at], at - self.offsets[self.task[at]] - 1] = self.start[at]
        return mat

    def locate(self, tasks: NDArray[np.int64], z: NDArray[np.float64]) -> NDArray[np.int64]:
        """Step index of bid ``z[k]`` in task ``tasks[k]``; a bid at a kink gets the
        higher step, a bid ``<= 0`` the first (not shown)."""
        tasks = np.asarray(tasks, dtype=np.int64)
        z = np.asarray(z, dtype=np.float64)
        lo = self.offsets[tasks]
        kinks = self._kinks
        if kinks.shape[1] == 0:
            return lo
        # steps are sorted: the step of z is the first plus the kinks at or below z
        return np.where(z > 0, lo + (kinks[tasks] <= z[:, None]).sum(axis=1), lo)

    def locate_exact(
        self, kernel: BatchKernel, data: BatchData | Callable[[], BatchData], slots: int,
        bids: NDArray[np.float64], who: NDArray[np.int64], tasks: NDArray[np.int64],
        z: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        """:meth:`locate`, with bids at a kink (to ``1e-12`` relative) decided by the solver.

        At a kink two allocations tie; which one the mechanism picks is the
        solver's tie rule, so those bids are re-solved (one batched call) and get
        the step whose click probability the solver's allocation has.
        ``data`` (or a function making it, called only if a bid is at a kink),
        ``bids`` and ``who`` are those the table was built from.
        """
        tasks = np.asarray(tasks, dtype=np.int64)
        z = np.asarray(z, dtype=np.float64)
        idx = self.locate(tasks, z)
        kinks = self._kinks
        if kinks.shape[1] == 0:
            return idx
        # a bid within tol of any kink of its task is within tol of its own step's
        # start or of the next step's (steps are sorted)
        tol = 1e-12 * np.abs(z)
        near = np.flatnonzero((np.abs(kinks[tasks] - z[:, None]) <= tol[:, None]).any(axis=1)
                              & (z > 0))
        if near.size:
            idx = idx.copy()
            idx[near] = self._at_kinks(kernel, data, slots, bids, who, tasks[near], z[near],
                                       idx[near], tol[near])
        return idx

    def locate_exact_grid(
        self, kernel: BatchKernel, data: BatchData | Callable[[], BatchData], slots: int,
        bids: NDArray[np.float64], z: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        """:meth:`locate_exact` of the bids ``z[t, g]`` of every task ``t`` (task
        ``t`` varies advertiser ``t``: ``who = arange(T)``), shape (T, G)."""
        lo = self.offsets[:-1][:, None]
        kinks = self._kinks[:, None, :]
        if kinks.shape[2] == 0:
            return np.broadcast_to(lo, z.shape).copy()
        zz = z[:, :, None]
        idx = np.where(z > 0, lo + (kinks <= zz).sum(axis=2), lo)
        tol = 1e-12 * np.abs(z)
        t, g = ((np.abs(kinks - zz) <= tol[:, :, None]).any(axis=2) & (z > 0)).nonzero()
        if t.size:
            who = np.arange(self.offsets.size - 1)
            idx[t, g] = self._at_kinks(kernel, data, slots, bids, who, t, z[t, g], idx[t, g],
                                       tol[t, g])
        return idx

    def _at_kinks(
        self, kernel: BatchKernel, data: BatchData | Callable[[], BatchData], slots: int,
        bids: NDArray[np.float64], who: NDArray[np.int64], t: NDArray[np.int64],
        zn: NDArray[np.float64], at: NDArray[np.int64], tol: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        """The steps of bids ``zn`` (tasks ``t``, located at ``at``) within ``tol`` of
        a kink, from the solver's allocation there."""
        at_left = (at > self.offsets[t]) & (np.abs(zn - self.start[at]) <= tol)
        cc = bids[t].copy()
        cc[np.arange(t.size), who[t]] = zn
        full = data() if callable(data) else data
        ads, pos = kernel.solve(full.take(t), cc, slots)
        slope, _ = allocation_lines(kernel, full.take(t), cc, who[t], ads, pos)
        low = np.where(at_left, at - 1, at)
        high = low + 1
        return np.asarray(np.where(
            np.abs(slope - self.ctr[high]) <= np.abs(slope - self.ctr[low]), high, low))

    def payment(self, rule: Rule, steps: NDArray[np.int64], z: NDArray[np.float64]
                ) -> NDArray[np.float64]:
        """Expected payment at own bid ``z`` on step ``steps`` under ``rule``."""
        ctr = self.ctr[steps]
        if rule == "gsp":
            return np.minimum(self.start[steps], z) * ctr
        if rule == "first_price":
            return z * ctr
        # vcg: sum over the task's kinks up to this step of start * (ctr jump)
        prev = np.concatenate(([0.0], self.ctr[:-1]))
        prev[self.offsets[:-1]] = 0.0
        contrib = self.start * (self.ctr - prev)
        csum = np.cumsum(contrib)
        base = np.concatenate(([0.0], csum))[self.offsets[self.task[steps]]]
        return np.minimum(csum[steps] - base, z * ctr)


def batch_steps(
    kernel: BatchKernel,
    data: BatchData,
    slots: int,
    bids: NDArray[np.float64],
    who: NDArray[np.int64],
    upper: NDArray[np.float64],
    *,
    chosen: Pairs | None = None,
    ratio_screen: bool = False,
) -> StepTable:
    """Own-bid step functions of ``T`` tasks on ``[0, max(upper, bid)]``.

    Parameters
    ----------
    kernel : BatchKernel
    data : BatchData
        One row per task (or shared).
    slots : int
    bids : ndarray of shape (T, n)
        The bids of each task's auction (validated, non-negative).
    who : ndarray of int, shape (T,)
        The advertiser whose own bid varies.
    upper : ndarray of shape (T,)
        Right end of the bid range searched (at least the actual bid is covered).
    chosen : (ads, pos), optional
        The allocation at ``bids`` of each task, if already solved.
    ratio_screen : bool, default False
        The objective is an MNL ratio (pass ``True`` only under MNL): an
        advertiser not shown at its bid, with ``upper`` below the optimal value,
        is never shown on the range and needs no search.

    Returns
    -------
    StepTable
    """
    t = who.size
    rows = np.arange(t)
    own = bids[rows, who]
    top = np.maximum(np.asarray(upper, dtype=np.float64), own)
    if chosen is None:
        chosen = kernel.solve(data, bids, slots)
    drop = chosen[0] == who[:, None]
    shown = drop.any(axis=1)
    # not shown at its bid: the chosen allocation is also optimal for a zero bid
    sh = np.flatnonzero(shown)
    up_mask = top > own
    if ratio_screen:
        # MNL: an ad is shown only if its coefficient exceeds the optimal ratio, which
        # only grows with its bid; below the ratio at the bid it is never shown
        pi = kernel.pair_ctr(data, *chosen)
        coef = np.take_along_axis(bids, np.where(chosen[0] >= 0, chosen[0], 0), axis=1)
        ratio = np.where(chosen[0] >= 0, coef * pi, 0.0).sum(axis=1)
        up_mask &= shown | (top >= ratio)
    up = np.flatnonzero(up_mask)
    c0 = bids[sh].copy()
    c0[np.arange(sh.size), who[sh]] = 0.0
    ct = bids[up].copy()
    ct[np.arange(up.size), who[up]] = top[up]
    left = (chosen[0].copy(), chosen[1].copy())
    right = (chosen[0].copy(), chosen[1].copy())
    if sh.size + up.size:
        # one kernel call: own coefficient 0 (where shown) and at the top (where needed)
        hint_a = np.concatenate((np.where(drop[sh], -1, chosen[0][sh]), chosen[0][up]))
        hint_p = np.concatenate((np.where(drop[sh], -1, chosen[1][sh]), chosen[1][up]))
        ends = kernel.solve(data.take(np.concatenate((sh, up))), np.concatenate((c0, ct)),
                            slots, hint=(hint_a, hint_p))
        left[0][sh], left[1][sh] = ends[0][: sh.size], ends[1][: sh.size]
        right[0][up], right[1][up] = ends[0][sh.size:], ends[1][sh.size:]
    zeros = np.zeros(t)
    # below the bid and above it, searched together: the chosen allocation is the
    # step at the bid
    both = np.concatenate((rows, rows))
    kt, kc, kp = envelope_kinks(
        kernel, data.take(both), slots, bids[both], who[both],
        np.concatenate((zeros, own)), np.concatenate((own, top)),
        (np.concatenate((left[0], chosen[0])), np.concatenate((left[1], chosen[1]))),
        (np.concatenate((chosen[0], right[0])), np.concatenate((chosen[1], right[1]))),
    )
    low = kt < t
    t1, c1, p1 = kt[low], kc[low], (kp[0][low], kp[1][low])
    t2, c2, p2 = kt[~low] - t, kc[~low], (kp[0][~low], kp[1][~low])
    tasks = np.concatenate((rows, t1, rows, t2))
    cs = np.concatenate((zeros, c1, own, c2))
    ads = np.concatenate((left[0], p1[0], chosen[0], p2[0]))
    pos = np.concatenate((left[1], p1[1], chosen[1], p2[1]))
    part = np.concatenate((np.zeros(t), np.ones(t1.size), np.full(t, 2), np.full(t2.size, 3)))
    order = np.lexsort((part, cs, tasks))
    tasks, cs, ads, pos, part = tasks[order], cs[order], ads[order], pos[order], part[order]
    slope, _ = allocation_lines(kernel, data.take(tasks), bids[tasks], who[tasks], ads, pos)
    # merge consecutive entries of a task with the same allocation; an entry whose
    # start equals the next one's is empty and dropped (its successor wins), except
    # the chosen allocation at the bid
    same_task_next = np.concatenate((tasks[1:] == tasks[:-1], [False]))
    nxt_c = np.concatenate((cs[1:], [np.inf]))
    empty = same_task_next & (nxt_c <= cs) & (part != 2) & (part != 0)
    keep = ~empty
    tasks, cs, ads, pos, slope, part = (x[keep] for x in (tasks, cs, ads, pos, slope, part))
    same_prev = np.concatenate(([False], tasks[1:] == tasks[:-1]))
    dup = same_prev & np.concatenate(([False], np.all(ads[1:] == ads[:-1], axis=1)
                                      & np.all(pos[1:] == pos[:-1], axis=1)))
    dup &= part != 2
    # a duplicate of the chosen allocation right after it belongs to the same step
    keep = ~dup
    tasks, cs, ads, pos, slope, part = (x[keep] for x in (tasks, cs, ads, pos, slope, part))
    # the chosen entry may now duplicate its predecessor: fold it into that step
    same_prev = np.concatenate(([False], tasks[1:] == tasks[:-1]))
    fold = (part == 2) & same_prev & np.concatenate(
        ([False], np.all(ads[1:] == ads[:-1], axis=1) & np.all(pos[1:] == pos[:-1], axis=1)))
    cur_idx = np.flatnonzero(part == 2)
    keep = ~fold
    new_index = np.cumsum(keep) - 1
    current = new_index[cur_idx]
    tasks, cs, ads, pos, slope = (x[keep] for x in (tasks, cs, ads, pos, slope))
    position, rank = _slot(ads, pos, who[tasks])
    offsets = np.searchsorted(tasks, np.arange(t + 1)).astype(np.int64)
    slope = np.where(position >= 0, slope, 0.0)
    return StepTable(tasks, cs, slope, position, rank, offsets, current.astype(np.int64))


@dataclass(frozen=True, eq=False)
class BidSteps:
    """Advertiser ``i``'s outcome as a step function of its own bid, others fixed.

    Attributes
    ----------
    start : ndarray of shape (S,)
        Left end of each step (``start[0] == 0``); step ``s`` covers bids from
        ``start[s]`` up to ``start[s + 1]``.
    ctr : ndarray of shape (S,)
        Click probability on each step (non-decreasing; 0 on the first).
    position, rank : ndarray of int, shape (S,)
        Position and reading rank on each step (``-1`` when not shown).
    current : int
        The step of the actual bid.
    upper : float
        The right end of the bid range searched.
    """

    start: NDArray[np.float64]
    ctr: NDArray[np.float64]
    position: NDArray[np.int64]
    rank: NDArray[np.int64]
    current: int
    upper: float

    def step(self, z: ArrayLike) -> NDArray[np.int64]:
        """Step index of each bid (a bid at a kink gets the higher step; ``<= 0``: 0)."""
        zz = np.asarray(z, dtype=np.float64)
        idx = np.searchsorted(self.start, zz, side="right") - 1
        return np.asarray(np.where(zz > 0, np.maximum(idx, 0), 0), dtype=np.int64)

    def ctr_at(self, z: ArrayLike) -> NDArray[np.float64]:
        """Click probability at own bid ``z``."""
        return np.asarray(self.ctr[self.step(z)], dtype=np.float64)

    def payment_at(self, z: ArrayLike, rule: Rule) -> NDArray[np.float64]:
        """Expected payment at own bid ``z`` under ``"gsp"``, ``"first_price"`` or ``"vcg"``."""
        zz = np.asarray(z, dtype=np.float64)
        k = self.step(zz)
        ctr = self.ctr[k]
        if rule == "gsp":
            return np.asarray(np.minimum(self.start[k], zz) * ctr, dtype=np.float64)
        if rule == "first_price":
            return np.asarray(zz * ctr, dtype=np.float64)
        if rule == "vcg":
            jumps = np.cumsum(self.start * np.diff(self.ctr, prepend=0.0))
            return np.asarray(np.minimum(jumps[k], zz * ctr), dtype=np.float64)
        raise ValueError(f"`rule` must be 'gsp', 'first_price' or 'vcg'; got {rule!r}")

    def utility_at(self, z: ArrayLike, value: float, rule: Rule) -> NDArray[np.float64]:
        """``value * ctr(z) - payment(z)``: the utility of bidding ``z``."""
        return np.asarray(value * self.ctr_at(z) - self.payment_at(z, rule), dtype=np.float64)


def own_bid_steps(
    mechanism: Mechanism,
    instance: Instance,
    bids: ArrayLike,
    advertiser: int,
    *,
    upper: float | None = None,
) -> BidSteps:
    """Exact step function of one advertiser's outcome in its own bid.

    Parameters
    ----------
    mechanism : Mechanism
        Allocating by reported welfare (:class:`~aigc_auction.VCG`,
        :class:`~aigc_auction.GSP`, :class:`~aigc_auction.FirstPrice`) with an
        exact or maximal-in-range solver.
    instance : Instance
    bids : array_like of shape (n_advertisers,)
        Everybody's bids (the advertiser's own entry is its actual bid).
    advertiser : int
    upper : float, optional
        Search own bids up to this (default: twice the largest bid, at least the
        advertiser's bid).

    Returns
    -------
    BidSteps

    Examples
    --------
    Two ads, one position, CTR 0.5: the ad bidding 0.9 keeps the slot down to
    the other bid 0.4, where its click probability drops to 0.

    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5], [0.5]])
    >>> st = aa.own_bid_steps(aa.GSP("mnl"), inst, [0.9, 0.4], 0, upper=1.0)
    >>> st.start.tolist(), st.ctr.tolist(), st.position.tolist(), st.current
    ([0.0, 0.4], [0.0, 0.5], [-1, 0], 1)
    >>> st.utility_at([0.3, 0.5, 0.9], 0.9, "gsp").round(6).tolist()
    [0.0, 0.25, 0.25]
    >>> st.utility_at([0.3, 0.5, 0.9], 0.9, "first_price").round(6).tolist()
    [0.0, 0.2, 0.0]
    """
    from .mechanisms import Mechanism
    from .models import MNL

    if not isinstance(mechanism, Mechanism):
        raise TypeError(
            f"`mechanism` must be an aigc_auction.Mechanism; got {type(mechanism).__name__}"
        )
    if step_rule(mechanism) is None:
        raise ValueError(
            "`mechanism` must allocate by reported welfare (VCG, GSP, FirstPrice) with an "
            f"exact or maximal-in-range solver; got {mechanism!r}"
        )
    b = mechanism.check_input(instance, bids)
    i = check_int(advertiser, "advertiser", low=0, high=instance.n_advertisers - 1)
    top = 2.0 * float(b.max()) if upper is None else float(
        check_bids([upper], 1, "upper")[0])
    kernel = step_kernel(mechanism)
    data = kernel.prepare(mechanism.model, instance.ctr)
    tab = batch_steps(kernel, data, instance.slots, b[None, :], np.array([i]),
                      np.array([top]), ratio_screen=isinstance(mechanism.model, MNL))
    return BidSteps(tab.start, tab.ctr, tab.position, tab.rank, int(tab.current[0]),
                    max(top, float(b[i])))
