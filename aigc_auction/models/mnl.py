"""The multinomial-logit (MNL) user model."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..allocation import check_allocation
from ..instance import Instance
from .base import UserModel

__all__ = ["MNL"]


class MNL(UserModel):
    r"""Multinomial-logit users: order does not matter, shown ads share the clicks.

    With weights ``w[i, j] = p[i, j] / (1 - p[i, j])`` and ``S`` the shown pairs,

    .. math:: \pi_i = \frac{w_{i j_i}}{1 + \sum_{(k, l) \in S} w_{k l}},

    so an ad shown alone at ``j`` is clicked with probability ``p[i, j]``; the 1 is
    the option of clicking nothing.

    Notes
    -----
    The weight is infinite at ``p = 1``, so instances with an entry equal to 1 are
    rejected (:meth:`check_instance`). See ``docs/model.md``.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.2, 0.5]])
    >>> aa.MNL().ctr(inst, [0, 1])  # weights 1 and 1: each 1 / (1 + 2)
    array([0.33333333, 0.33333333])
    >>> aa.MNL().ctr(inst, [0, -1])  # alone: its standalone CTR
    array([0.5, 0. ])
    """

    name: ClassVar[str] = "mnl"
    order_sensitive: ClassVar[bool] = False

    def check_instance(self, instance: Instance) -> None:
        """Reject instances with an entry equal to 1 (infinite MNL weight)."""
        if not isinstance(instance, Instance):
            raise TypeError(
                f"`instance` must be an aigc_auction.Instance; got {type(instance).__name__}"
            )
        if instance.ctr.max() >= 1.0:
            i, j = np.unravel_index(int(np.argmax(instance.ctr)), instance.shape)
            raise ValueError(
                "`ctr` must have entries in [0, 1) under the MNL model: the weight "
                f"p / (1 - p) is infinite at p = 1; got ctr[{i}, {j}] = 1.0"
            )

    def ctr(
        self, instance: Instance, assignment: ArrayLike, order: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Click probability of every advertiser; ``order`` is validated but unused.

        Parameters
        ----------
        instance : Instance
        assignment : array_like of int, shape (n_advertisers,)
            Position of each advertiser, ``-1`` when not shown.
        order : array_like of int, optional
            Shown positions in reading order (irrelevant under MNL).

        Returns
        -------
        ndarray of shape (n_advertisers,)
        """
        self.check_instance(instance)
        a, _ = check_allocation(instance, assignment, order)
        return mnl_ctr(instance.odds, a)

    def weights(self, instance: Instance) -> NDArray[np.float64]:
        """The MNL weights ``p / (1 - p)`` of ``instance`` (read-only)."""
        self.check_instance(instance)
        return instance.odds


def mnl_ctr(odds: NDArray[np.float64], assignment: NDArray[np.int64]) -> NDArray[np.float64]:
    """MNL click probabilities from the weight matrix and a validated assignment."""
    shown = np.flatnonzero(assignment >= 0)
    out = np.zeros(odds.shape[0])
    if shown.size:
        w = odds[shown, assignment[shown]]
        out[shown] = w / (1.0 + w.sum())
    return out
