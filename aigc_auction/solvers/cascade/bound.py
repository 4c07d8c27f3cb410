"""Upper bounds on the cascade optimum that certify approximation ratios.

The exact solver :mod:`.dssr` solves a sequence of relaxations: the candidate
pairs listed once in reading order, a DP that enforces the constraints it
tracks -- position subsets (``order="optimized"``, ``m <= 16``), position runs
(``order="fixed"``), advertiser runs (advertisers whose pairs are consecutive)
-- and relaxes the others, then tracks every advertiser or position its optimum
uses twice and solves again. Every relaxation contains every feasible
allocation, so **every round's optimum is an upper bound** on the true one, and
the bounds decrease round by round until one is attained by a feasible
allocation (then it is the optimum).

:func:`cascade_upper_bound` runs those rounds as an *anytime* bound: it stops
when the optimum is proven, or when the next round would exceed ``max_states``
states or ``time_limit`` seconds, and returns the smallest bound reached. The
first round alone is the classic run relaxation (at most ``K`` pairs, at most one
pair per run), computed in ``O(N K)``; later rounds multiply the state space by
two per tracked resource. The benchmarks use it to certify approximation ratios
at sizes where exact solving is slow (n = 1000, m = 50): ``value / bound`` is a
lower bound on ``value / optimum``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..._validation import check_int
from ...allocation import Allocation
from ...instance import Instance
from .common import as_cascade, finalize
from .dssr import _base, _first_round, _mask_mode, list_row, relax_rounds
from .pairs import pair_lists

if TYPE_CHECKING:
    from ...models.base import UserModel

__all__ = ["CascadeBound", "cascade_upper_bound"]

#: Default state budget of the rounds after the first.
DEFAULT_MAX_STATES = 1 << 20


@dataclass(frozen=True)
class CascadeBound:
    """Result of :func:`cascade_upper_bound`.

    Attributes
    ----------
    value : float
        An upper bound on ``max sum_i coef_i ctr_i`` over feasible allocations.
    allocation : Allocation or None
        An optimal allocation when the bound is attained (then ``value`` is the
        optimum), else ``None``.
    tracked : int
        Resources (advertisers, positions) the last round tracked exactly.
    """

    value: float
    allocation: Allocation | None
    tracked: int = 0

    @property
    def attained(self) -> bool:
        """Whether the bound is attained (a certificate of optimality)."""
        return self.allocation is not None


def cascade_upper_bound(
    instance: Instance,
    coef: NDArray[np.float64],
    model: UserModel,
    *,
    max_states: int = DEFAULT_MAX_STATES,
    time_limit: float | None = None,
) -> CascadeBound:
    """Anytime upper bound on the cascade objective (module docstring).

    Parameters
    ----------
    instance : Instance
    coef : ndarray of shape (n_advertisers,)
        Objective coefficients (bids or virtual values).
    model : Cascade
        Any parameters, either order mode.
    max_states : int, default 2**20
        Largest state space of a round; ``1`` keeps the first round only.
    time_limit : float, optional
        Seconds after which no new round starts.

    Returns
    -------
    CascadeBound

    Examples
    --------
    Two ads that prefer position 0, users who go on after a click half the time:
    the first round shows ad 0 twice (bound 0.858); the next round tracks ad 0 and
    proves the optimum 0.8464.

    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.8, 0.1], [0.8, 0.1]])
    >>> model = aa.Cascade(continue_after_click=0.5, continue_after_skip=0.9)
    >>> b = cascade_upper_bound(inst, np.array([1.0, 0.8]), model, max_states=1)
    >>> round(b.value, 6), b.attained
    (0.858, False)
    >>> b = cascade_upper_bound(inst, np.array([1.0, 0.8]), model)
    >>> round(b.value, 6), b.attained, b.tracked
    (0.8464, True, 1)
    """
    cm = as_cascade(model, "upper_bound")
    budget = check_int(max_states, "max_states", low=1)
    if time_limit is not None and not (isinstance(time_limit, int | float)
                                       and time_limit >= 0):
        raise ValueError(f"`time_limit` must be a non-negative number; got {time_limit!r}")
    deadline = None if time_limit is None else time.perf_counter() + float(time_limit)
    c = np.asarray(coef, dtype=np.float64)
    slots = instance.slots
    lists = pair_lists(instance.ctr, cm.continuation(instance), c[None, :], slots,
                       order=cm.order, irrelevant=cm.order_irrelevant)
    base = _base(instance.n_positions, slots,
                 _mask_mode(cm.order, instance.n_positions, cm.order_irrelevant))
    chosen, first = _first_round(lists, base, slots)
    row = list_row(lists, 0)
    picked = chosen[0][chosen[0] >= 0].tolist()
    done, value, h_ads, h_pos = relax_rounds(row, base, slots, picked, float(first[0]),
                                             max_states=budget, deadline=deadline)
    tracked = len(h_ads) + len(h_pos)
    if done is None:
        return CascadeBound(value, None, tracked)
    a = np.full(instance.n_advertisers, -1, dtype=np.int64)
    a[row["ads"][done]] = row["pos"][done]
    alloc = finalize(instance, c, cm, a, "upper_bound")
    return CascadeBound(max(value, alloc.value), alloc, tracked)
