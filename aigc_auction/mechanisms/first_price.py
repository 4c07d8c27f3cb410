"""First price on a CTR matrix: the welfare-maximising allocation, pay your bid."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..allocation import Allocation
from ..instance import Instance
from ..models import UserModel
from ..solvers.batch import BatchData, BatchKernel
from .base import Mechanism
from .batched import BatchOutcome, batch_allocate
from .gsp import check_welfare_solver

__all__ = ["FirstPrice"]


class FirstPrice(Mechanism):
    """First price (pay your bid) per click, with the VCG allocation.

    The allocation maximises reported welfare ``sum_i b_i ctr_i`` (the same rule
    and solvers as :class:`~aigc_auction.VCG`); a shown advertiser pays its bid
    per click, ``t_i = b_i ctr_i``. Not truthful: bidding the value always
    leaves zero utility, so bidders shade.

    Parameters
    ----------
    model : UserModel or str, default "mnl"
    solver : str, optional
        An exact or maximal-in-range solver (as for VCG).

    Notes
    -----
    With two bidders whose values are i.i.d. U[0, 1] and one slot, the symmetric
    Bayes-Nash equilibrium bids ``v / 2`` and the expected revenue is ``1/3``,
    that of the second-price auction (revenue equivalence; Vickrey 1961, Myerson
    1981); :mod:`aigc_auction.equilibrium` reproduces it.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5], [0.5]])
    >>> out = aa.FirstPrice(aa.MNL()).run(inst, [0.9, 0.4])
    >>> out.assignment.tolist(), out.price_per_click.tolist(), out.payments.tolist()
    ([0, -1], [0.9, 0.0], [0.45, 0.0])
    """

    name: ClassVar[str] = "first_price"

    def __init__(self, model: UserModel | str = "mnl", *, solver: str | None = None) -> None:
        super().__init__(model, solver=solver)
        check_welfare_solver(self, "first price")

    def coefficients(self, instance: Instance, bids: NDArray[np.float64]) -> NDArray[np.float64]:
        """The bids themselves: first price allocates like VCG."""
        return np.asarray(bids, dtype=float)

    def _payments_for(
        self, instance: Instance, b: NDArray[np.float64], alloc: Allocation,
        pi: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Expected payments ``b_i * ctr_i``."""
        return np.asarray(b * pi, dtype=float)

    def batch_outcomes(
        self, kernel: BatchKernel, data: BatchData, slots: int, bids: NDArray[np.float64]
    ) -> BatchOutcome:
        """First-price outcomes of a batch: one batched allocation, bid times CTR."""
        a, o, pi = batch_allocate(kernel, data, slots, bids)
        return BatchOutcome(a, o, pi, bids * pi)
