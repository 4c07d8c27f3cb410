"""Local search for cascade allocation, started from the greedy solution.

Best-improvement local search (Aarts & Lenstra 1997) over the neighbourhood

* **add** a pair (free advertiser, free position) when fewer than ``K`` ads show;
* **drop** a shown ad;
* **replace** a shown ad by any pair that is feasible once it leaves (another
  advertiser at the same or another free position, or the same advertiser moved);
* **swap** the positions of two shown ads,

each scored exactly with the prefix-reach / suffix-value identity of
:func:`~aigc_auction.solvers.cascade.common.insertion_gains` (one vectorised pass
over the ``N`` candidate pairs per shown ad), keeping the model's reading order.
It moves while some neighbour is better by more than the tie tolerance, at most
``MAX_ROUNDS`` rounds of ``O(K N + K^2)`` work each. The result is a local
optimum of this neighbourhood, at least as good as greedy; no worst-case factor
is proven (measured ratios in ``docs/cascade.md``). Like greedy it is **not**
monotone in own bids, so mechanisms refuse it.
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
from .greedy import greedy_sequence

if TYPE_CHECKING:
    from ...allocation import Allocation
    from ...models.base import UserModel

__all__ = ["cascade_local_search", "improve_sequence"]

#: Largest number of improving moves.
MAX_ROUNDS = 200


def improve_sequence(
    pool: PairPool, chosen: NDArray[np.int64], slots: int, n: int, m: int
) -> NDArray[np.int64]:
    """Best-improvement local search from ``chosen`` (indices into ``pool``)."""
    pairs = zip(pool.rows.tolist(), pool.cols.tolist(), strict=True)
    index = {(r, c): e for e, (r, c) in enumerate(pairs)}

    def value(seq: NDArray[np.int64]) -> float:
        return sequence_value(pool.value[seq], pool.cont[seq])

    chosen = np.sort(np.asarray(chosen, dtype=np.int64))
    if pool.rows.size == 0:
        return chosen
    current = value(chosen)
    for _ in range(MAX_ROUNDS):
        best, best_seq = current, chosen
        used_ad = np.zeros(n, dtype=bool)
        used_pos = np.zeros(m, dtype=bool)
        used_ad[pool.rows[chosen]] = True
        used_pos[pool.cols[chosen]] = True
        if chosen.size < slots:  # add
            gain = insertion_gains(pool, chosen, ~used_ad[pool.rows] & ~used_pos[pool.cols])
            e = int(np.argmax(gain))
            if current + gain[e] > best:
                best, best_seq = current + float(gain[e]), np.sort(np.append(chosen, e))
        for t in range(chosen.size):  # drop / replace
            rest = np.delete(chosen, t)
            base = value(rest)
            if base > best:
                best, best_seq = base, rest
            free = ~used_ad[pool.rows] & ~used_pos[pool.cols]
            free |= (pool.rows == pool.rows[chosen[t]]) & ~used_pos[pool.cols]
            free |= (pool.cols == pool.cols[chosen[t]]) & ~used_ad[pool.rows]
            free[chosen[t]] = False
            gain = insertion_gains(pool, rest, free)
            e = int(np.argmax(gain))
            if base + gain[e] > best:
                best, best_seq = base + float(gain[e]), np.sort(np.append(rest, e))
        for t in range(chosen.size):  # swap positions
            for u in range(t + 1, chosen.size):
                et, eu = int(chosen[t]), int(chosen[u])
                a = index.get((int(pool.rows[et]), int(pool.cols[eu])))
                b = index.get((int(pool.rows[eu]), int(pool.cols[et])))
                if a is None or b is None:
                    continue
                seq = np.sort(np.append(np.delete(chosen, [t, u]), [a, b]))
                v = value(seq)
                if v > best:
                    best, best_seq = v, seq
        if not nonnegligible_gain(best, current):
            break
        chosen, current = best_seq, value(best_seq)
    return chosen


@register_solver(
    "cascade", "local_search", exact=False, affine_maximizer=False, monotone=False,
    priority=-5,
    description="greedy + best-improvement add/drop/replace/swap; heuristic",
)
def cascade_local_search(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Cascade allocation by local search from the greedy solution.

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
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]], slots=1)
    >>> cascade_local_search(inst, np.array([1.0, 1.0]), aa.Cascade()).assignment.tolist()
    [0, -1]
    """
    cm = as_cascade(model, "local_search")
    tables = cascade_tables(instance, coef, cm)
    pool = PairPool.build(tables, dominance_prune(tables, instance.slots))
    n, m = instance.shape
    chosen = greedy_sequence(pool, instance.slots, n, m)
    chosen = improve_sequence(pool, chosen, instance.slots, n, m)
    assignment = np.full(n, -1, dtype=np.int64)
    assignment[pool.rows[chosen]] = pool.cols[chosen]
    return finalize(instance, coef, cm, assignment, "local_search")
