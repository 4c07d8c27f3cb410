"""Greedy cascade allocation by marginal value (a fast heuristic).

Starting from the empty allocation, repeatedly add the candidate pair (free
advertiser, free position) whose insertion raises the objective most, until
``K`` ads are shown or no insertion helps. The current ads are always kept in
the model's reading order (key order under ``order="optimized"``, which is
optimal for the set by the exchange argument; position order under
``order="fixed"``), so the gain of inserting ``(a, q)`` before the ``t``-th ad is
``R_t (a - (1 - q) V_t)`` with ``R_t`` the reach and ``V_t`` the value of the
suffix (:func:`~aigc_auction.solvers.cascade.common.insertion_gains`): one
vectorised pass over the ``N`` candidate pairs per step, ``O(K N)`` in all after
the ``O(n m)`` dominance pruning.

This is the greedy algorithm for matching-constrained selection (Fisher,
Nemhauser & Wolsey 1978). The cascade objective is not submodular in general,
so no approximation factor is claimed; its measured ratio is in
``docs/cascade.md``. It is **not** monotone in an advertiser's own bid (a higher
bid can make the ad enter earlier, after which later insertions read ahead of
it), so mechanisms refuse it: use it as an allocation benchmark, or
``restricted_dp`` / an exact solver inside mechanisms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ...instance import Instance
from ..common import nonnegligible_gain
from ..registry import register_solver
from .common import (
    PairPool,
    as_cascade,
    cascade_tables,
    dominance_prune,
    finalize,
    insertion_gains,
    sequence_value,
)

if TYPE_CHECKING:
    from ...allocation import Allocation
    from ...models.base import UserModel

__all__ = ["cascade_greedy", "greedy_sequence"]


def greedy_sequence(pool: PairPool, slots: int, n: int, m: int) -> NDArray[np.int64]:
    """Indices into ``pool`` of the greedy sequence (increasing = reading order)."""
    chosen = np.empty(0, dtype=np.int64)
    used_ad = np.zeros(n, dtype=bool)
    used_pos = np.zeros(m, dtype=bool)
    current = 0.0
    for _ in range(slots):
        free = ~used_ad[pool.rows] & ~used_pos[pool.cols]
        if not free.any():
            break
        gain = insertion_gains(pool, chosen, free)
        e = int(np.argmax(gain))
        if not nonnegligible_gain(current + float(gain[e]), current):
            break
        chosen = np.sort(np.append(chosen, e))
        used_ad[pool.rows[e]] = True
        used_pos[pool.cols[e]] = True
        current = sequence_value(pool.value[chosen], pool.cont[chosen])
    return chosen


@register_solver(
    "cascade", "greedy", exact=False, affine_maximizer=False, monotone=False,
    priority=-10,
    description="greedy by marginal value, O(K n m); heuristic, not monotone",
)
def cascade_greedy(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Cascade allocation by greedy marginal-value insertion.

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

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    >>> alloc = cascade_greedy(inst, np.array([1.0, 1.0]), aa.Cascade())
    >>> alloc.assignment.tolist(), round(alloc.value, 6)
    ([0, 1], 0.7)
    """
    cm = as_cascade(model, "greedy")
    tables = cascade_tables(instance, coef, cm)
    pool = PairPool.build(tables, dominance_prune(tables, instance.slots))
    n, m = instance.shape
    chosen = greedy_sequence(pool, instance.slots, n, m)
    assignment = np.full(n, -1, dtype=np.int64)
    assignment[pool.rows[chosen]] = pool.cols[chosen]
    return finalize(instance, coef, cm, assignment, "greedy")
