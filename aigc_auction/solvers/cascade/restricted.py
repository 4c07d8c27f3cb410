"""Maximal-in-range cascade allocation: exact optimisation over a bid-independent range.

A *maximal-in-range* (MIR) rule fixes a range of allocations without looking at
the bids and returns the best allocation in it (Nisan & Ronen 2007; Dobzinski &
Nisan 2007). Maximising ``sum c_i pi_i`` exactly over a bid-independent range is
an affine maximiser: every advertiser's CTR is non-decreasing in its own
coefficient, VCG with Clarke pivots computed inside the range is truthful, and
Myerson's envelope payments apply.

The range is a union of sub-ranges, chosen from ``(ctr, K, order mode)`` only,
each solved exactly by :func:`~aigc_auction.solvers.cascade.dssr.solve_dssr`:

* with ``m <= RANGE_POSITIONS`` positions, or under ``order="fixed"`` (whose
  exact solver tracks positions by runs and scales with ``m``): every
  allocation -- the rule is exact;
* otherwise (``order="optimized"``, many positions):

  1. every allocation, in any reading order, that shows each advertiser only at
     one of its ``PAIRS_PER_ADVERTISER`` best positions by CTR (ties by index);
  2. if ``K <= OPTIMIZED_RANGE_SLOTS``: every allocation, in any reading order,
     that uses only the ``RANGE_POSITIONS`` positions with the best score (the
     mean of the ``K`` largest ``p[i, j]`` of the column, ties by index);
  3. every allocation over all positions read in **text order** (increasing
     position index);
  4. every allocation over all positions read by **decreasing score**.

  The rule returns the best of the sub-ranges' optima (ties: the earlier
  sub-range). Sub-range 1 keeps the optimized reading order and few pairs per
  advertiser (so few conflicts for the exact DP): it is near-optimal when
  advertisers prefer different positions. Sub-ranges 3 and 4 fix the reading
  order, which turns positions into runs of the list, so they stay fast at
  ``m = 50`` and cover markets where every advertiser prefers the same
  positions (separable CTRs). The measured ratios to certified upper bounds are
  in ``docs/cascade.md``.

The chosen allocation keeps its sub-range's reading order (re-sorting it by the
reading key would leave the range and break monotonicity).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ...allocation import Allocation
from ...instance import Instance
from ..batch import BatchData, BatchKernel, Pairs, pairs_to_assignment, register_batch_kernel
from ..registry import register_solver
from .common import as_cascade
from .dssr import cascade_kernel_pair_ctr, prepare_batch, solve_dssr

if TYPE_CHECKING:
    from ...models.base import UserModel

__all__ = ["CASCADE_RESTRICTED_KERNEL", "cascade_restricted", "range_positions",
           "sub_ranges"]

#: Positions of the optimized-order sub-range (and the size below which the rule is exact).
RANGE_POSITIONS = 12
#: Largest ``K`` for which the optimized-order sub-range is part of the union.
OPTIMIZED_RANGE_SLOTS = 5
#: Best positions (by CTR) per advertiser in the first sub-range.
PAIRS_PER_ADVERTISER = 3


def _scores(ctr: NDArray[np.float64], slots: int) -> NDArray[np.float64]:
    """Mean of the ``K`` largest CTRs of each column, shape (..., m)."""
    k = min(slots, ctr.shape[-2])
    return np.asarray(-np.sort(-ctr, axis=-2)[..., :k, :].mean(axis=-2), dtype=np.float64)


def range_positions(instance: Instance) -> NDArray[np.int64]:
    """The positions of the optimized-order sub-range, increasing (from ``ctr`` and ``K``).

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.1, 0.5, 0.2]], slots=1)
    >>> range_positions(inst).tolist()
    [0, 1, 2]
    """
    return _top_positions(instance.ctr, instance.slots)


def _top_positions(ctr: NDArray[np.float64], slots: int) -> NDArray[np.int64]:
    m = ctr.shape[-1]
    size = min(m, max(slots, RANGE_POSITIONS))
    if size == m:
        return np.broadcast_to(np.arange(m, dtype=np.int64), (*ctr.shape[:-2], m)).copy()
    score = _scores(ctr, slots)
    idx = np.broadcast_to(np.arange(m), score.shape)
    best = np.lexsort((idx, -score), axis=-1)[..., :size]
    return np.sort(best, axis=-1).astype(np.int64)


def _by_score(ctr: NDArray[np.float64], slots: int) -> NDArray[np.int64]:
    score = _scores(ctr, slots)
    idx = np.broadcast_to(np.arange(ctr.shape[-1]), score.shape)
    return np.lexsort((idx, -score), axis=-1).astype(np.int64)


def _own_best(ctr: NDArray[np.float64], r: int) -> NDArray[np.bool_]:
    """Pairs among each advertiser's ``r`` best positions by CTR (ties by index)."""
    rank = np.argsort(np.argsort(-ctr, axis=-1, kind="stable"), axis=-1, kind="stable")
    return np.asarray(rank < r)


def sub_ranges(ctr: NDArray[np.float64], slots: int, order: str
               ) -> list[tuple[str, NDArray[np.int64], NDArray[np.bool_] | None]]:
    """The sub-ranges ``(reading order mode, columns, allowed pairs)`` of the rule.

    ``columns`` (shape (L,), or (B, L) for one CTR matrix per row) lists the
    positions of the sub-problem; under ``"fixed"`` they are read in that order.
    ``allowed`` (shape of ``ctr``, or ``None`` for all pairs) restricts the pairs.

    Examples
    --------
    >>> import numpy as np
    >>> ctr = np.tile(np.linspace(0.1, 0.5, 14), (3, 1))
    >>> for mode, cols, allowed in sub_ranges(ctr, 2, "optimized"):
    ...     print(mode, cols[:3].tolist(), None if allowed is None else int(allowed.sum()))
    optimized [0, 1, 2] 9
    optimized [2, 3, 4] None
    fixed [0, 1, 2] None
    fixed [13, 12, 11] None
    """
    m = ctr.shape[-1]
    every = np.broadcast_to(np.arange(m, dtype=np.int64), (*ctr.shape[:-2], m)).copy()
    if m <= RANGE_POSITIONS or order == "fixed":
        return [(order, every, None)]
    out: list[tuple[str, NDArray[np.int64], NDArray[np.bool_] | None]] = [
        ("optimized", every, _own_best(ctr, PAIRS_PER_ADVERTISER))]
    if slots <= OPTIMIZED_RANGE_SLOTS:
        out.append(("optimized", _top_positions(ctr, slots), None))
    out.append(("fixed", every, None))
    out.append(("fixed", _by_score(ctr, slots), None))
    return out


def _columns(mat: NDArray[np.float64], cols: NDArray[np.int64]) -> NDArray[np.float64]:
    if cols.ndim == 1:
        return mat[..., cols]
    return np.take_along_axis(mat, cols[:, None, :], axis=-1)


def _solve(data: BatchData, coef: NDArray[np.float64], slots: int, *,
           hint: Pairs | None = None) -> Pairs:
    ctr, cont = data["ctr"], data["cont"]
    bsz = coef.shape[0]
    best_ads = np.full((bsz, slots), -1, dtype=np.int64)
    best_pos = np.full((bsz, slots), -1, dtype=np.int64)
    best_val = np.zeros(bsz)
    rows = np.arange(bsz)[:, None]
    for mode, cols, allowed in sub_ranges(ctr, slots, data.params["order"]):
        k = min(slots, cols.shape[-1])
        sub_ctr = _columns(ctr if allowed is None else np.where(allowed, ctr, 0.0), cols)
        # few pairs per advertiser (sub-range 1): positions are rarely contested, so
        # track only those an optimum uses twice instead of every subset
        ads, sub = solve_dssr(sub_ctr, _columns(cont, cols), coef, k, order=mode,
                              irrelevant=data.params["irrelevant"],
                              position_masks=False if allowed is not None else None)
        full = cols[np.maximum(sub, 0)] if cols.ndim == 1 else cols[rows, np.maximum(sub, 0)]
        pos = np.where(ads >= 0, full, -1)
        pi = cascade_kernel_pair_ctr(data, ads, pos)
        c = np.where(ads >= 0, np.take_along_axis(coef, np.maximum(ads, 0), axis=1), 0.0)
        val = (c * pi).sum(axis=1)
        better = val > best_val
        best_ads[better, :k], best_pos[better, :k] = ads[better], pos[better]
        best_ads[better, k:], best_pos[better, k:] = -1, -1
        best_val[better] = val[better]
    return best_ads, best_pos


#: Batched kernel of ``"restricted_dp"``: every sub-range solved for the whole batch.
CASCADE_RESTRICTED_KERNEL = register_batch_kernel(
    "cascade", "restricted_dp", BatchKernel(prepare_batch, _solve, cascade_kernel_pair_ctr)
)


@register_solver(
    "cascade", "restricted_dp", exact=False, affine_maximizer=True, monotone=True,
    priority=-1,
    description="maximal-in-range over a union of bid-independent sub-ranges (3 best "
    "positions per advertiser; 12 best positions; text / score reading order); truthful",
)
def cascade_restricted(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Best allocation in the rule's range (module docstring).

    Parameters
    ----------
    instance : Instance
    coef : ndarray of shape (n_advertisers,)
        Objective coefficients (bids or virtual values; any sign).
    model : Cascade
        Any parameters, either order mode.

    Returns
    -------
    Allocation
        Read in its sub-range's order.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    >>> cascade_restricted(inst, np.array([1.0, 1.0]), aa.Cascade()).assignment.tolist()
    [0, 1]
    """
    cm = as_cascade(model, "restricted_dp")
    c = np.asarray(coef, dtype=np.float64)
    data = prepare_batch(cm, instance.ctr)
    ads, pos = _solve(data, c[None, :], instance.slots)
    a = pairs_to_assignment(instance.n_advertisers, ads, pos)[0]
    order = pos[0][pos[0] >= 0]
    return Allocation(a, order, cm.objective(instance, c, a, order), "restricted_dp")
