"""Generalized second price (GSP) on a CTR matrix: pay the bid that keeps your slot."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..allocation import Allocation
from ..instance import Instance
from ..models import UserModel
from ..payments import clip_roundoff
from ..solvers.batch import BatchData, BatchKernel
from .base import Mechanism, _is_batched
from .batched import BatchOutcome, batch_allocate

__all__ = ["GSP", "check_welfare_solver"]


def check_welfare_solver(mech: Mechanism, fmt: str) -> None:
    """Refuse solvers that do not maximise ``sum b_i ctr_i`` over a fixed range.

    GSP and first price allocate like VCG; their prices (and the step functions
    that learning bidders are fed) come from the upper envelope of the objective
    in one advertiser's bid, which needs an exact or maximal-in-range solver.
    """
    spec = mech.solver_spec
    if not spec.affine_maximizer:
        raise ValueError(
            f"`solver` {spec.name!r} is an approximation that is not maximal-in-range: "
            f"{fmt} allocates like VCG (the welfare-maximising allocation for the bids) "
            "and needs an exact or maximal-in-range solver"
        )


class GSP(Mechanism):
    r"""Generalized second price: each shown ad pays the bid that keeps its slot.

    The allocation maximises reported welfare ``sum_i b_i ctr_i`` (the same rule
    and solvers as :class:`~aigc_auction.VCG`). A shown advertiser ``i`` pays per
    click the smallest own bid at which it keeps its *slot* -- its position, its
    reading rank and its click probability -- the others' bids fixed:

    .. math:: \text{price}_i = \inf\{z \le b_i : \text{the chosen allocation stays
              optimal for every own bid in } [z, b_i]\},

    the left end of the step of ``ctr_i(z)`` that ``i`` sits on, so
    ``t_i = price_i * ctr_i``. Not truthful.

    Parameters
    ----------
    model : UserModel or str, default "mnl"
    solver : str, optional
        An exact or maximal-in-range solver (as for VCG); approximations are
        refused.

    Notes
    -----
    *Exact prices.* As a function of its own bid ``z`` the optimal objective is
    the upper envelope of one line per allocation, ``z ctr_i(A) + sum_{k != i}
    b_k ctr_k(A)``; its slope is ``i``'s click probability, which strictly
    increases at every kink. The price is the last kink at or below ``b_i``
    (:meth:`~aigc_auction.Mechanism.threshold_jumps`, Eisner & Severance's
    envelope search: a few solves, no grid). At a tie at ``b_i`` itself the
    allocation the solver chose decides which step ``i`` is on.

    *Position, rank and click probability.* Along the envelope, ``i``'s click
    probability changes at every kink, so between two kinks ``i`` keeps its
    position and reading rank too; a change of position or rank *without* a
    change of click probability only happens between tied allocations (same
    objective line), and ``i`` is then charged as if the tie went its way: the
    price does not depend on how the solver breaks ties. The converse matters:
    under MNL another ad can join or leave the allocation while ``i`` keeps its
    position and rank, which changes ``i``'s click probability; charging the
    lowest bid that keeps only the position and rank would then undercut VCG.
    With the slot defined as above ``t_i = price_i * ctr_i(b) >= sum_k z_k
    (ctr_k - ctr_{k-1})``, the VCG (Myerson) payment, because every jump
    ``z_k`` of the step function is at most ``price_i``: **GSP payments are at
    least VCG payments.**

    *Classic GSP.* With no externalities (``Cascade(continue_after_click=1,
    continue_after_skip=1)``) and separable CTRs ``p = alpha_i beta_j``
    (decreasing ``beta``), ads are ranked by ``alpha_i b_i`` and the ad ranked
    ``k`` keeps its slot down to the bid where its score meets the next one:
    it pays ``s_{k+1} / alpha_k`` per click (``s`` the sorted scores, 0 past
    the last ad), the rule of Edelman, Ostrovsky & Schwarz (2007) and Varian
    (2007).

    Examples
    --------
    Two positions with CTRs 0.4 and 0.2, equal qualities, no externalities: the
    top ad pays the second bid, the second ad the third bid.

    >>> import aigc_auction as aa
    >>> inst = aa.Instance.from_separable([1.0, 1.0, 1.0], [0.4, 0.2])
    >>> model = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)
    >>> out = aa.GSP(model).run(inst, [3.0, 2.0, 1.0])
    >>> out.assignment.tolist(), out.price_per_click.round(12).tolist()
    ([0, 1, -1], [2.0, 1.0, 0.0])
    >>> aa.VCG(model).run(inst, [3.0, 2.0, 1.0]).price_per_click.round(12).tolist()
    [1.5, 1.0, 0.0]
    """

    name: ClassVar[str] = "gsp"

    def __init__(self, model: UserModel | str = "mnl", *, solver: str | None = None) -> None:
        super().__init__(model, solver=solver)
        check_welfare_solver(self, "GSP")

    def coefficients(self, instance: Instance, bids: NDArray[np.float64]) -> NDArray[np.float64]:
        """The bids themselves: GSP allocates like VCG."""
        return np.asarray(bids, dtype=float)

    def prices(
        self, instance: Instance, bids: ArrayLike, allocation: Allocation | None = None
    ) -> NDArray[np.float64]:
        """Price per click of every advertiser (0 when not shown).

        Parameters
        ----------
        instance : Instance
        bids : array_like of shape (n_advertisers,)
        allocation : Allocation, optional
            The allocation at ``bids`` (default: solved).

        Returns
        -------
        ndarray of shape (n_advertisers,)
            The left end of the step of ``ctr_i(z)`` that each shown ad sits on.
        """
        b = self.check_input(instance, bids)
        kernel = self._batch_kernel()
        if kernel is not None:
            data = kernel.prepare(self.model, instance.ctr)
            a, o, pi, price = _gsp_arrays(kernel, data, instance.slots, b[None, :])
            if _is_batched(allocation, a[0], o[0]):
                return price[0]
        alloc = allocation if allocation is not None else self._solve(instance, b)
        pi = self.model.ctr(instance, alloc.assignment, alloc.order)
        price = np.zeros(instance.n_advertisers)
        for i in np.flatnonzero(pi > 0).tolist():
            jumps = self.threshold_jumps(instance, b, i, alloc)
            price[i] = min(max(jumps[-1][0], 0.0), float(b[i]))
        return price

    def _payments_for(
        self, instance: Instance, b: NDArray[np.float64], alloc: Allocation,
        pi: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Expected payments ``price_i * ctr_i`` (see :meth:`prices`)."""
        pay = self.prices(instance, b, alloc) * pi
        return np.asarray(clip_roundoff(pay, b * pi, float(np.dot(b, pi))), dtype=float)

    def batch_outcomes(
        self, kernel: BatchKernel, data: BatchData, slots: int, bids: NDArray[np.float64]
    ) -> BatchOutcome:
        """GSP outcomes of a batch: every shown ad's envelope searched at once."""
        a, o, pi, price = _gsp_arrays(kernel, data, slots, bids)
        pay = price * pi
        welfare = (bids * pi).sum(axis=1, keepdims=True)
        return BatchOutcome(a, o, pi, np.asarray(clip_roundoff(pay, bids * pi, welfare)))


def _gsp_arrays(
    kernel: BatchKernel, data: BatchData, slots: int, bids: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Assignment, order, CTR and GSP price per click of a batch of auctions."""
    from ..steps import batch_steps, pairs_of  # steps imports the mechanisms

    a, o, pi = batch_allocate(kernel, data, slots, bids)
    price = np.zeros_like(pi)
    rb, ri = np.nonzero(pi > 0)
    if rb.size:
        ads, pos = pairs_of(a[rb], o[rb])
        tab = batch_steps(kernel, data.take(rb), slots, bids[rb], ri, bids[rb, ri],
                          chosen=(ads, pos))
        price[rb, ri] = np.clip(tab.start[tab.current], 0.0, bids[rb, ri])
    return a, o, pi, price
