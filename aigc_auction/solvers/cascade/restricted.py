"""Maximal-in-range cascade allocation: exact optimisation over a fixed set of positions.

A *maximal-in-range* (MIR) rule fixes a range of allocations without looking at
the bids and returns the best allocation in it (Nisan & Ronen 2007; Dobzinski &
Nisan 2007). Here the range is "every allocation that uses only the ``L``
positions ``P`` chosen from the CTR matrix alone": each position ``j`` is scored
by the mean of the ``K`` largest ``p[i, j]`` of its column (ties by index) and the
``L = min(m, max(K, RANGE_POSITIONS))`` best are kept. Inside the range the
allocation is solved exactly — by the subset DP (``O(n L 2^L)``) when it applies
(``continue_after_skip == 1``, or no externalities), by the MILP otherwise.

Because it maximises ``sum c_i pi_i`` exactly over a bid-independent range it is
an affine maximiser: every advertiser's CTR is non-decreasing in its own
coefficient, VCG with Clarke pivots computed inside the range is truthful, and
Myerson's envelope payments apply. Its value is at least the optimum of the
allocations on ``P`` — it loses only what the best allocation gains from the
other ``m - L`` positions (the measured ratios are in ``docs/cascade.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ...instance import Instance
from ..registry import register_solver
from .common import as_cascade, finalize
from .dssr import cascade_dssr

if TYPE_CHECKING:
    from ...allocation import Allocation
    from ...models.base import UserModel

__all__ = ["cascade_restricted", "range_positions"]

#: Positions kept in the range (at least ``K``).
RANGE_POSITIONS = 12


def range_positions(instance: Instance) -> NDArray[np.int64]:
    """The positions of the range, increasing; they depend on ``ctr`` and ``K`` only.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.1, 0.5, 0.2]], slots=1)
    >>> range_positions(inst).tolist()
    [0, 1, 2]
    """
    n, m = instance.shape
    size = min(m, max(instance.slots, RANGE_POSITIONS))
    if size == m:
        return np.arange(m, dtype=np.int64)
    k = min(instance.slots, n)
    top = -np.sort(-instance.ctr, axis=0)[:k]
    score = top.mean(axis=0)
    best = np.lexsort((np.arange(m), -score))[:size]
    return np.sort(best).astype(np.int64)


@register_solver(
    "cascade", "restricted_dp", exact=False, affine_maximizer=True, monotone=True,
    priority=-1,
    description="maximal-in-range: exact over the best 12 positions by CTR; truthful",
)
def cascade_restricted(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Best allocation among those using the positions :func:`range_positions`.

    Parameters
    ----------
    instance : Instance
    coef : ndarray of shape (n_advertisers,)
        Objective coefficients (bids or virtual values; any sign).
    model : Cascade
        Any parameters, either order mode (the DP inside the range when it
        applies, the MILP otherwise).

    Returns
    -------
    Allocation

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    >>> cascade_restricted(inst, np.array([1.0, 1.0]), aa.Cascade()).assignment.tolist()
    [0, 1]
    """
    cm = as_cascade(model, "restricted_dp")
    pos = range_positions(instance)
    sub = Instance(ctr=instance.ctr[:, pos], slots=min(instance.slots, pos.size))
    inner = cascade_dssr(sub, coef, cm)
    a = np.where(inner.assignment >= 0, pos[np.maximum(inner.assignment, 0)], -1)
    return finalize(instance, coef, cm, a.astype(np.int64), "restricted_dp")
