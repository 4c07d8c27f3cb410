"""Brute-force cascade allocation: the reference for small instances.

Enumerates every *augmented allocation* — an ordered sequence of distinct
advertisers, each at its own position, at most ``K`` long — and keeps the best
value ``sum_s c_{i_s} p_{i_s j_s} prod_{u < s} q_{i_u j_u}``. Under
``order="optimized"`` all reading orders are enumerated (the exchange argument of
:func:`~aigc_auction.models.cascade.optimal_reading_order` is *not* used, so the
other solvers can be checked against it); under ``order="fixed"`` the positions
of a sequence are increasing. Only candidate pairs
(:func:`~aigc_auction.solvers.common.candidate_mask`) are used.

Sequences with fewer ads are visited first and, within one length, ordered
advertiser tuples in lexicographic order; position tuples are scored together
with numpy. A later sequence replaces the incumbent only if it is better by more
than the tie tolerance. Cost ``sum_k n!/(n-k)! m!/(m-k)!``: use for ``n, m <= 6``.
"""

from __future__ import annotations

from itertools import combinations, permutations
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ...instance import Instance
from ..common import nonnegligible_gain
from ..registry import register_solver
from .common import as_cascade, cascade_tables, finalize

if TYPE_CHECKING:
    from ...allocation import Allocation
    from ...models.base import UserModel

__all__ = ["cascade_brute_force"]

MAX_BRUTE_FORCE_SEQUENCES = 2_000_000


@register_solver(
    "cascade", "brute_force", exact=True, priority=-100,
    description="enumerate every matching and reading order (reference; tiny instances)",
)
def cascade_brute_force(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Optimal cascade allocation by enumeration of sequences.

    Parameters
    ----------
    instance : Instance
    coef : ndarray of shape (n_advertisers,)
        Objective coefficients (bids or virtual values; any sign).
    model : Cascade

    Returns
    -------
    Allocation

    Raises
    ------
    ValueError
        If more than ``MAX_BRUTE_FORCE_SEQUENCES`` sequences would be scored.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    >>> alloc = cascade_brute_force(inst, np.array([1.0, 1.0]), aa.Cascade())
    >>> alloc.assignment.tolist(), alloc.order.tolist(), round(alloc.value, 6)
    ([0, 1], [0, 1], 0.7)
    """
    cm = as_cascade(model, "brute_force")
    t = cascade_tables(instance, coef, cm)
    n, m = instance.shape
    ads = [i for i in range(n) if t.cand[i].any()]
    val = np.where(t.cand, t.value, -np.inf)
    best_val = 0.0
    best: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    count = 0
    for k in range(1, min(instance.slots, len(ads), m) + 1):
        if cm.order == "fixed":
            pos = np.array(list(combinations(range(m), k)), dtype=np.int64)
        else:
            pos = np.array(list(permutations(range(m), k)), dtype=np.int64)
        for seq in permutations(ads, k):
            count += len(pos)
            if count > MAX_BRUTE_FORCE_SEQUENCES:
                raise ValueError(
                    "`instance` is too large for brute force (more than "
                    f"{MAX_BRUTE_FORCE_SEQUENCES} sequences); use solver='milp'"
                )
            rows = np.array(seq, dtype=np.int64)
            a = val[rows[None, :], pos]  # (n_tuples, k)
            q = t.cont[rows[None, :], pos]
            reach = np.cumprod(np.hstack((np.ones((len(pos), 1)), q[:, :-1])), axis=1)
            with np.errstate(invalid="ignore"):
                total = np.sum(a * reach, axis=1)
            total = np.where(np.isnan(total), -np.inf, total)
            b = int(np.argmax(total))
            if nonnegligible_gain(float(total[b]), best_val):
                best_val, best = float(total[b]), (seq, tuple(pos[b].tolist()))
    assignment = np.full(n, -1, dtype=np.int64)
    assignment[list(best[0])] = list(best[1])
    return finalize(instance, coef, cm, assignment, "brute_force")
