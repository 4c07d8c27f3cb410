"""Batched exact VCG and Myerson outcomes over any registered batch kernel.

One code path serves a single auction (``Mechanism.run``) and a batch
(:func:`aigc_auction.batch.run_batch`, sweeps): every allocation problem an
auction needs is stacked with those of the other auctions into one call of the
solver's :class:`~aigc_auction.solvers.batch.BatchKernel`, so a batch of ``B``
auctions costs a few kernel calls, not ``B`` Python loops, and a batch of one
gives bit-for-bit the outcome of ``run``. Written once against the kernel
interface, the rules below serve every (model, solver) that registers a kernel.

* VCG: the main allocation, then the problems "bid ``i`` set to 0" of every shown
  ``i``, warm-started with the main allocation minus ``i`` (still feasible, in
  the same reading order).
* Myerson: the envelope of each shown advertiser's objective as a function of its
  own coefficient (:func:`aigc_auction.payments.envelope_breakpoints`) is searched
  for all advertisers of all auctions at once, level by level
  (:func:`aigc_auction.steps.envelope_kinks`, the search GSP's own-bid steps use
  too): each level solves every pending interval's intersection in one call,
  warm-started with the better of the interval's two end allocations. An
  allocation is a line in the own coefficient because its reading order is part
  of it (an *augmented* allocation). The kinks are mapped to bids by the ironed virtual value's
  generalised inverse (:meth:`~aigc_auction.VirtualValue.thresholds`); on a flat
  (ironed) stretch of ``phibar`` the rule's own choice at exactly the flat's level
  decides, by the one tie rule :func:`aigc_auction.payments.kink_jumps` that
  :class:`~aigc_auction.Myerson`'s per-auction path uses too.

Both need an affine-maximising solver (exact or maximal-in-range).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..payments import clip_roundoff, kink_jumps
from ..solvers.batch import BatchData, BatchKernel, Pairs, pairs_to_assignment
from ..steps import allocation_lines, envelope_kinks
from ..virtual_values import VirtualValue

__all__ = [
    "BatchOutcome",
    "batch_allocate",
    "myerson_arrays",
    "vcg_arrays",
    "virtual_value_matrix",
]


class BatchOutcome(NamedTuple):
    """Outcomes of a batch of auctions as arrays (one row per auction).

    Attributes
    ----------
    assignment : ndarray of int, shape (B, n)
        Position of each advertiser, ``-1`` when not shown.
    order : ndarray of int, shape (B, K)
        Shown positions in reading order, ``-1`` in unused slots.
    ctr : ndarray of shape (B, n)
    payments : ndarray of shape (B, n)
    """

    assignment: NDArray[np.int64]
    order: NDArray[np.int64]
    ctr: NDArray[np.float64]
    payments: NDArray[np.float64]


def _ctr_matrix(n: int, ads: NDArray[np.int64], pi: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros((ads.shape[0], n))
    r, s = np.nonzero(ads >= 0)
    out[r, ads[r, s]] = pi[r, s]
    return out


def _value(coef: NDArray[np.float64], ads: NDArray[np.int64], pi: NDArray[np.float64]
           ) -> NDArray[np.float64]:
    valid = ads >= 0
    c = np.where(valid, np.take_along_axis(coef, np.where(valid, ads, 0), axis=1), 0.0)
    return np.asarray((np.where(pi > 0, c, 0.0) * pi).sum(axis=1), dtype=np.float64)


def _without(ads: NDArray[np.int64], pos: NDArray[np.int64], who: NDArray[np.int64]) -> Pairs:
    """The pairs with advertiser ``who[r]`` removed from row ``r`` (a feasible hint)."""
    drop = ads == who[:, None]
    return np.where(drop, -1, ads), np.where(drop, -1, pos)


def batch_allocate(
    kernel: BatchKernel, data: BatchData, slots: int, coef: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Allocations of a batch as ``(assignment (B, n), order (B, K), ctr (B, n))``."""
    n = coef.shape[1]
    ads, pos = kernel.solve(data, coef, slots)
    pi = _ctr_matrix(n, ads, kernel.pair_ctr(data, ads, pos))
    return pairs_to_assignment(n, ads, pos), _order(ads, pos), pi


def _order(ads: NDArray[np.int64], pos: NDArray[np.int64]) -> NDArray[np.int64]:
    """Shown positions in reading order, packed left, ``-1`` after them."""
    valid = ads >= 0
    packed = np.argsort(~valid, axis=1, kind="stable")
    return np.where(np.take_along_axis(valid, packed, axis=1),
                    np.take_along_axis(pos, packed, axis=1), -1)


def vcg_arrays(
    kernel: BatchKernel, data: BatchData, slots: int, bids: NDArray[np.float64]
) -> BatchOutcome:
    """VCG (Clarke pivot) outcomes of a batch of auctions.

    Parameters
    ----------
    kernel : BatchKernel
    data : BatchData
        From ``kernel.prepare`` (one matrix per row, or shared).
    slots : int
    bids : ndarray of shape (B, n)
        Validated bids.

    Returns
    -------
    BatchOutcome
    """
    bsz, n = bids.shape
    ads, pos = kernel.solve(data, bids, slots)
    pi_pairs = kernel.pair_ctr(data, ads, pos)
    pi = _ctr_matrix(n, ads, pi_pairs)
    welfare = (bids * pi).sum(axis=1)
    pay = np.zeros((bsz, n))
    rb, ri = np.nonzero(pi > 0)
    if rb.size:
        coef = bids[rb].copy()
        coef[np.arange(rb.size), ri] = 0.0
        sub = data.take(rb)
        a2, p2 = kernel.solve(sub, coef, slots, hint=_without(ads[rb], pos[rb], ri))
        w_minus = _value(coef, a2, kernel.pair_ctr(sub, a2, p2))
        own = bids[rb, ri] * pi[rb, ri]
        pay[rb, ri] = clip_roundoff(w_minus - (welfare[rb] - own), own, welfare[rb])
    return BatchOutcome(pairs_to_assignment(n, ads, pos), _order(ads, pos), pi, pay)


def virtual_value_matrix(
    vvs: Sequence[VirtualValue], bids: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``phibar_i(b_i)`` for a (B, n) bid matrix, one call per distinct prior."""
    coef = np.empty_like(bids)
    for vv, cols in _groups(vvs):
        coef[:, cols] = vv(bids[:, cols])
    return coef


def _groups(vvs: Sequence[VirtualValue]) -> list[tuple[VirtualValue, NDArray[np.int64]]]:
    seen: dict[int, tuple[VirtualValue, list[int]]] = {}
    for i, vv in enumerate(vvs):
        seen.setdefault(id(vv), (vv, []))[1].append(i)
    return [(vv, np.array(cols, dtype=np.int64)) for vv, cols in seen.values()]


def myerson_arrays(
    kernel: BatchKernel,
    data: BatchData,
    slots: int,
    bids: NDArray[np.float64],
    vvs: Sequence[VirtualValue],
) -> BatchOutcome:
    """Myerson outcomes (exact threshold payments) of a batch of auctions.

    Parameters
    ----------
    kernel : BatchKernel
    data : BatchData
    slots : int
    bids : ndarray of shape (B, n)
    vvs : sequence of VirtualValue, length n
        Each advertiser's (ironed) virtual value.

    Returns
    -------
    BatchOutcome
    """
    bsz, n = bids.shape
    coef = virtual_value_matrix(vvs, bids)
    ads, pos = kernel.solve(data, coef, slots)
    pi = _ctr_matrix(n, ads, kernel.pair_ctr(data, ads, pos))
    pay = np.zeros((bsz, n))
    result = BatchOutcome(pairs_to_assignment(n, ads, pos), _order(ads, pos), pi, pay)
    tb, ti = np.nonzero(pi > 0)
    if tb.size == 0:
        return result
    ntask = tb.size
    tdata = data.take(tb)
    tcoef = coef[tb]
    cmax = coef[tb, ti]
    r_s, _ = allocation_lines(kernel, tdata, tcoef, ti, ads[tb], pos[tb])
    # left end: own coefficient 0 (never shown)
    c0 = tcoef.copy()
    c0[np.arange(ntask), ti] = 0.0
    low = kernel.solve(tdata, c0, slots, hint=_without(ads[tb], pos[tb], ti))
    kt, kc, (ka, kp) = envelope_kinks(kernel, tdata, slots, tcoef, ti, np.zeros(ntask), cmax,
                                      low, (ads[tb], pos[tb]))
    ks = (allocation_lines(kernel, tdata.take(kt), tcoef[kt], ti[kt], ka, kp)[0]
          if kt.size else np.empty(0))
    # last step: the allocation chosen at the own coefficient decides a tie there
    order = np.lexsort((ks, kc, kt))
    kt, kc, ks = kt[order], kc[order], ks[order]
    last = np.full(ntask, -1)
    if kt.size:
        last[kt] = np.arange(kt.size)  # later (larger c) entries overwrite
    need = (last < 0) | (ks[np.maximum(last, 0)] != r_s)
    kt = np.concatenate((kt, np.flatnonzero(need)))
    kc = np.concatenate((kc, cmax[need]))
    ks = np.concatenate((ks, r_s[need]))
    n_app = int(need.sum())
    appended = np.arange(kt.size) >= kt.size - n_app
    order = np.lexsort((ks, kc, appended, kt))
    kt, kc, ks = kt[order], kc[order], ks[order]
    # coefficient kinks -> bid-space jumps, ties on flats of phibar decided by the
    # rule at exactly the flat's level (payments.kink_jumps, shared with Myerson)
    fin = np.where(np.isfinite(tcoef), np.abs(tcoef), 0.0).max(axis=1)

    def tie_slope(kinks: NDArray[np.int64], levels: NDArray[np.float64]) -> NDArray[np.float64]:
        rows = kt[kinks]
        cc = tcoef[rows].copy()
        cc[np.arange(rows.size), ti[rows]] = levels
        sub = tdata.take(rows)
        ta, tp = kernel.solve(sub, cc, slots)
        own, _ = allocation_lines(kernel, sub, cc, ti[rows], ta, tp)
        return own

    jt, jz, jd = kink_jumps(kt, kc, ks, ti[kt], vvs, fin[kt], tie_slope)
    total = np.zeros(ntask)
    groups, sums = _sequential_sums(jt, jz * jd)
    total[groups] = sums
    cap = bids[tb, ti] * pi[tb, ti]
    pay[tb, ti] = clip_roundoff(total, cap, cap)
    return result


def _sequential_sums(
    group: NDArray[np.int64], values: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Left-to-right sums of ``values`` per (sorted) group, as in a Python loop."""
    start = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    length = np.diff(np.concatenate((start, [group.size])))
    acc = np.zeros(start.size)
    for k in range(int(length.max()) if length.size else 0):
        has = length > k
        acc[has] = acc[has] + values[start[has] + k]
    return group[start], acc
