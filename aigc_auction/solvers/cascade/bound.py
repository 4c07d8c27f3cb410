"""An upper bound on the cascade optimum: drop the distinct-position constraint.

Every cascade allocation is a subsequence of the candidate pairs listed once in
reading order (:class:`~aigc_auction.solvers.cascade.common.PairPool`; see
``docs/cascade.md``), with at most ``K`` pairs, distinct advertisers and distinct
positions. Keep only "at most ``K`` pairs" and "at most one pair of every *run*":
a maximal block of consecutive pairs of the list that share the advertiser
(``order="optimized"``: with ``continue_after_skip == 1`` the reading key depends
on the advertiser only, so each advertiser's pairs form one run) or share the
position (``order="fixed"``: the list is sorted by position). Both kept
constraints are implied by the real ones, so the relaxed optimum is an upper
bound on the true optimum. It is computed exactly by the dynamic program over the
runs, read from the last back to the first,

    V_g[k] = max( V_{g+1}[k],  max_{t in run g} a_t + q_t V_{g+1}[k - 1] ),

``V[k]`` the best value of the remaining list with at most ``k`` pairs (exact
because ``q >= 0``), in ``O(N K)`` for ``N`` candidate pairs. The pairs are first
pruned by :func:`~aigc_auction.solvers.cascade.common.dominance_prune`, which
keeps some optimal allocation, so the bound stays valid.

When the relaxed optimum happens to be a matching it *is* an optimal allocation:
the bound is then attained and certifies optimality. The benchmarks use this
to certify approximation ratios at sizes no exact solver reaches (n = 1000,
m = 50): ``value / bound`` is a lower bound on ``value / optimum``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ...allocation import Allocation
from ...instance import Instance
from .common import PairPool, as_cascade, cascade_tables, dominance_prune, finalize

if TYPE_CHECKING:
    from ...models.base import UserModel

__all__ = ["CascadeBound", "cascade_upper_bound"]


@dataclass(frozen=True)
class CascadeBound:
    """Result of :func:`cascade_upper_bound`.

    Attributes
    ----------
    value : float
        An upper bound on ``max sum_i coef_i ctr_i`` over feasible allocations.
    allocation : Allocation or None
        The relaxed optimum when it is a feasible allocation (then ``value`` is
        the optimum and this allocation attains it), else ``None``.
    """

    value: float
    allocation: Allocation | None

    @property
    def attained(self) -> bool:
        """Whether the bound is attained (a certificate of optimality)."""
        return self.allocation is not None


def _runs(keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """Start index of every maximal run of equal consecutive ``keys`` (plus the end)."""
    if keys.size == 0:
        return np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return np.concatenate((starts, [keys.size])).astype(np.int64)


def cascade_upper_bound(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> CascadeBound:
    """Upper bound on the cascade objective by the run relaxation (module docstring).

    Parameters
    ----------
    instance : Instance
    coef : ndarray of shape (n_advertisers,)
        Objective coefficients (bids or virtual values).
    model : Cascade
        Any parameters, either order mode (the bound is tightest for
        ``continue_after_skip == 1`` with the optimized order).

    Returns
    -------
    CascadeBound

    Examples
    --------
    Two ads that both prefer position 0: the relaxation puts both there, so the
    bound (0.75) exceeds the optimum and is not attained.

    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.1], [0.5, 0.1]])
    >>> b = cascade_upper_bound(inst, np.array([1.0, 1.0]), aa.Cascade())
    >>> round(b.value, 6), b.attained
    (0.75, False)
    >>> b = cascade_upper_bound(inst.with_slots(1), np.array([1.0, 1.0]), aa.Cascade())
    >>> round(b.value, 6), b.attained
    (0.5, True)
    """
    casc = as_cascade(model, "upper_bound")
    k_max = instance.slots
    tables = cascade_tables(instance, np.asarray(coef, dtype=float), casc)
    pool = PairPool.build(tables, dominance_prune(tables, k_max))
    runs = _runs(pool.cols if casc.order == "fixed" else pool.rows)
    n_runs = runs.size - 1
    choice = np.full((n_runs, k_max + 1), -1, dtype=np.int64)
    best = np.zeros(k_max + 1)
    for g in range(n_runs - 1, -1, -1):
        lo, hi = runs[g], runs[g + 1]
        # take[t, k]: value of taking pair lo + t with budget k (k >= 1)
        take = pool.value[lo:hi, None] + pool.cont[lo:hi, None] * best[None, :-1]
        t_best = np.argmax(take, axis=0)
        v_take = take[t_best, np.arange(k_max)]
        better = v_take > best[1:]
        choice[g, 1:] = np.where(better, lo + t_best, -1)
        best = np.concatenate(([0.0], np.where(better, v_take, best[1:])))
    picked = []
    k = k_max
    for g in range(n_runs):
        t = choice[g, k]
        if t >= 0:
            picked.append(int(t))
            k -= 1
    rows, cols = pool.rows[picked], pool.cols[picked]
    if len(set(rows.tolist())) == rows.size and len(set(cols.tolist())) == cols.size:
        a = np.full(instance.n_advertisers, -1, dtype=np.int64)
        a[rows] = cols
        alloc = finalize(instance, np.asarray(coef, dtype=float), casc, a, "upper_bound")
        return CascadeBound(float(best[k_max]), alloc)
    return CascadeBound(float(best[k_max]), None)
