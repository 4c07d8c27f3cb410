"""Brute-force MNL allocation: the reference for small instances.

Enumerates every matching with at most ``K`` edges among the candidate pairs
(:func:`~aigc_auction.solvers.common.candidate_mask`) and keeps the best. The
enumeration visits allocations with fewer ads first and, for one size, in
lexicographic order of ``(advertiser, position)`` pairs; a later allocation
replaces the incumbent only if it is better by more than the tie tolerance.
Cost grows like ``sum_k C(n, k) m! / (m - k)!``: use it for ``n, m <= 7``.
"""

from __future__ import annotations

from itertools import combinations, permutations
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ...allocation import Allocation
from ...instance import Instance
from ..common import candidate_mask, nonnegligible_gain
from ..registry import register_solver

if TYPE_CHECKING:
    from ...models.base import UserModel

__all__ = ["mnl_brute_force"]

MAX_BRUTE_FORCE_ALLOCATIONS = 2_000_000


@register_solver(
    "mnl", "brute_force", exact=True, priority=-100,
    description="enumerate every matching (reference; small instances only)",
)
def mnl_brute_force(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Optimal MNL allocation by enumeration.

    Parameters
    ----------
    instance : Instance
    coef : ndarray of shape (n_advertisers,)
        Objective coefficients (bids or virtual values; any sign).
    model : MNL

    Returns
    -------
    Allocation

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.2, 0.5]], slots=2)
    >>> alloc = mnl_brute_force(inst, np.array([1.0, 0.1]), aa.MNL())
    >>> alloc.assignment.tolist(), round(alloc.value, 6)
    ([0, -1], 0.5)
    """
    w = instance.odds
    ok = candidate_mask(instance, coef)
    n, m = instance.shape
    ads = [i for i in range(n) if ok[i].any()]
    best_val = 0.0
    best_rows: tuple[int, ...] = ()
    best_cols: tuple[int, ...] = ()
    count = 0
    for k in range(1, min(instance.slots, len(ads), m) + 1):
        for rows in combinations(ads, k):
            for cols in permutations(range(m), k):
                count += 1
                if count > MAX_BRUTE_FORCE_ALLOCATIONS:
                    raise ValueError(
                        "`instance` is too large for brute force "
                        f"(more than {MAX_BRUTE_FORCE_ALLOCATIONS} allocations)"
                    )
                if not all(ok[r, c] for r, c in zip(rows, cols, strict=True)):
                    continue
                ww = w[list(rows), list(cols)]
                val = float(np.dot(coef[list(rows)], ww) / (1.0 + ww.sum()))
                if nonnegligible_gain(val, best_val):
                    best_val, best_rows, best_cols = val, rows, cols
    a = np.full(n, -1, dtype=np.int64)
    a[list(best_rows)] = list(best_cols)
    return Allocation(a, np.sort(a[a >= 0]), model.objective(instance, coef, a), "brute_force")
