"""Exact cascade allocation by dynamic programming over subsets of positions.

When every advertiser continues after a skip (``continue_after_skip == 1``) the
reading key of the exchange argument is ``c_i p_ij / (1 - q_ij) = c_i / (1 - gc_i)``
(as ``1 - q_ij = p_ij (1 - gc_i)``): it does not depend on the position, so one
order of the *advertisers* is optimal for every allocation (Kempe & Mahdian 2008;
Aggarwal, Feldman, Muthukrishnan & Pal 2008 use the same fact for the classic
position auction). Processing the advertisers in that order, from the last one
read back to the first, the best value of the ads ``k, k+1, ...`` placed exactly
on the position set ``T`` is

    H_k(T) = max( H_{k+1}(T),  max_{j in T} a_kj + q_kj H_{k+1}(T - {j}) ),

with ``H_n(empty) = 0`` and ``H_n(T) = -inf`` otherwise (the update is monotone
in ``H_{k+1}`` because ``q >= 0``). The answer is the best ``H_0(T)`` with
``|T| <= K``. Time ``O(n m 2^m)`` (the inner maximum is one numpy operation over
all ``T`` containing ``j``), memory ``O(n 2^m)`` bytes for the choices.

It is exact for ``continue_after_skip == 1`` with ``order="optimized"``, and for
``continue_after_click == continue_after_skip == 1`` in either mode (no
externalities: the order is irrelevant). With ``order="fixed"`` and
``gs == 1 > gc`` the reading order is the position order, which the advertiser
order need not match, so the DP does not apply; it does not either when ``gs < 1``
(the key then depends on the position). ``supports`` says so, and the default
solver falls back to the MILP.

For more than ``MAX_DP_POSITIONS`` positions (or more than ``MAX_DP_TABLE``
advertiser-subset entries) the table would not fit in memory; the solver then
delegates to the exact MILP (the allocation's ``solver`` field
says ``"milp"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ...instance import Instance
from ..registry import register_solver
from .common import as_cascade, cascade_tables, dominance_prune, finalize

if TYPE_CHECKING:
    from ...allocation import Allocation
    from ...models.base import UserModel
    from ...models.cascade import Cascade

__all__ = ["cascade_subset_dp", "subset_dp_applies"]

#: Largest number of positions handled by the table (2^20 states).
MAX_DP_POSITIONS = 20
#: Largest choice table (advertisers x 2^m entries, one byte each).
MAX_DP_TABLE = 200_000_000


def subset_dp_applies(model: UserModel) -> bool:
    """Whether the subset DP is exact for ``model`` (see the module docstring)."""
    from ...models.cascade import Cascade

    if not isinstance(model, Cascade):
        return False
    return model.order_irrelevant or (
        model.is_classic_key and model.order == "optimized"
    )


@register_solver(
    "cascade", "subset_dp", exact=True, priority=20, supports=subset_dp_applies,
    description="DP over subsets of positions, O(n m 2^m); continue_after_skip == 1",
)
def cascade_subset_dp(
    instance: Instance, coef: NDArray[np.float64], model: UserModel
) -> Allocation:
    """Optimal cascade allocation by the subset-of-positions DP.

    Parameters
    ----------
    instance : Instance
    coef : ndarray of shape (n_advertisers,)
        Objective coefficients (bids or virtual values; any sign).
    model : Cascade
        With ``continue_after_skip == 1`` and ``order="optimized"``, or with
        ``continue_after_click == continue_after_skip == 1``.

    Returns
    -------
    Allocation

    Raises
    ------
    ValueError
        If the model is outside the settings where the DP is exact.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    >>> alloc = cascade_subset_dp(inst, np.array([1.0, 1.0]), aa.Cascade())
    >>> alloc.assignment.tolist(), alloc.order.tolist(), round(alloc.value, 6)
    ([0, 1], [0, 1], 0.7)
    """
    cm = as_cascade(model, "subset_dp")
    if not subset_dp_applies(cm):
        raise ValueError(
            "`model` must have continue_after_skip == 1 and order='optimized' (or "
            "no externalities) for solver 'subset_dp'; got " + repr(cm)
        )
    n, m = instance.shape
    if m > MAX_DP_POSITIONS or n * (1 << m) > MAX_DP_TABLE:
        from .milp import cascade_milp

        return cascade_milp(instance, coef, cm)
    return _subset_dp(instance, coef, cm, "subset_dp")


def _subset_dp(
    instance: Instance, coef: NDArray[np.float64], cm: Cascade, solver: str
) -> Allocation:
    t = cascade_tables(instance, coef, cm)
    keep = dominance_prune(t, instance.slots)
    n, m = instance.shape
    ads = np.flatnonzero(keep.any(axis=1))
    gc, _ = cm.continuation_params(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        ad_key = np.where(gc < 1.0, np.where(coef > 0, coef, 0.0) / (1.0 - gc), np.inf)
    ads = ads[np.lexsort((ads, -ad_key[ads]))]  # reading order of the advertisers
    size = 1 << m
    masks = np.arange(size, dtype=np.int64)
    popcount = np.zeros(size, dtype=np.int64)
    for j in range(m):
        popcount += (masks >> j) & 1
    # only sets of at most K positions matter
    small = popcount <= instance.slots
    with_j = [masks[small & ((masks >> j) & 1 == 1)] for j in range(m)]
    h = np.full(size, -np.inf)
    h[0] = 0.0
    choice = np.full((ads.size, size), -1, dtype=np.int8)
    for k in range(ads.size - 1, -1, -1):
        i = ads[k]
        new = h.copy()
        for j in np.flatnonzero(keep[i]).tolist():
            idx = with_j[j]
            with np.errstate(invalid="ignore"):  # 0 * -inf: never stored
                cand = t.value[i, j] + t.cont[i, j] * h[idx ^ (1 << j)]
            better = cand > new[idx]
            new[idx[better]] = cand[better]
            choice[k, idx[better]] = j
        h = new
    h = np.where(small, h, -np.inf)
    best = int(np.argmax(h))  # first maximum: the smallest mask
    assignment = np.full(n, -1, dtype=np.int64)
    if h[best] > 0.0:
        mask = int(best)
        for k in range(ads.size):
            j = int(choice[k, mask])
            if j >= 0:
                assignment[ads[k]] = j
                mask = mask ^ (1 << j)
    return finalize(instance, coef, cm, assignment, solver)
