"""VCG: welfare-maximising allocation with Clarke pivot payments."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..allocation import Allocation
from ..instance import Instance
from ..models import UserModel
from ..payments import clip_roundoff
from ..solvers.batch import BatchData, BatchKernel
from .base import Mechanism
from .batched import BatchOutcome, vcg_arrays

__all__ = ["VCG"]


class VCG(Mechanism):
    """Vickrey–Clarke–Groves: maximise reported welfare, charge the externality.

    The allocation maximises ``sum_i b_i * ctr_i``; advertiser ``i`` pays the
    Clarke pivot ``t_i = W*_{-i} - (W* - b_i ctr_i)``, where ``W*`` is the optimal
    welfare and ``W*_{-i}`` the optimal welfare without ``i``. Only shown
    advertisers trigger a re-solve (the others pay 0).

    Parameters
    ----------
    model : UserModel or str, default "mnl"
    solver : str, optional
        Must be exact or maximal-in-range: VCG on top of a plain approximation is
        not truthful, so such solvers are refused (use :class:`Myerson`, whose
        threshold payments make any monotone rule truthful).

    Examples
    --------
    Two advertisers, one position, standalone CTR 0.5 each: a second-price auction
    in clicks.

    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5], [0.5]])
    >>> out = aa.VCG(aa.MNL()).run(inst, [0.9, 0.4])
    >>> out.assignment.tolist(), out.payments.tolist(), out.price_per_click.tolist()
    ([0, -1], [0.2, 0.0], [0.4, 0.0])
    """

    name: ClassVar[str] = "vcg"

    def __init__(self, model: UserModel | str = "mnl", *, solver: str | None = None) -> None:
        super().__init__(model, solver=solver)
        spec = self.solver_spec
        if not spec.affine_maximizer:
            hint = (
                "or aigc_auction.Myerson, whose threshold payments make this monotone "
                "rule truthful" if spec.monotone else
                "it is not monotone in own bids either, so no payment rule makes it "
                "truthful; it is an allocation heuristic only"
            )
            raise ValueError(
                f"`solver` {spec.name!r} is an approximation that is not "
                "maximal-in-range: VCG payments on top of it are not truthful. Use an "
                f"exact or maximal-in-range solver ({hint})."
            )

    def coefficients(self, instance: Instance, bids: NDArray[np.float64]) -> NDArray[np.float64]:
        """The bids themselves: VCG maximises reported welfare."""
        return np.asarray(bids, dtype=float)

    def _payments_for(
        self, instance: Instance, b: NDArray[np.float64], alloc: Allocation,
        pi: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Clarke pivot payments ``W*_{-i} - (W* - b_i ctr_i)``."""
        welfare = float(np.dot(b, pi))
        pay = np.zeros(instance.n_advertisers)
        for i in np.flatnonzero(pi > 0).tolist():
            bi = b.copy()
            bi[i] = 0.0  # a zero bid is never shown: the optimum without i
            w_minus = self._solve(instance, bi).value
            t = w_minus - (welfare - b[i] * pi[i])
            pay[i] = float(clip_roundoff(t, b[i] * pi[i], welfare))
        return pay

    def batch_outcomes(
        self, kernel: BatchKernel, data: BatchData, slots: int, bids: NDArray[np.float64]
    ) -> BatchOutcome:
        """Batched Clarke payments over the solver's batch kernel."""
        return vcg_arrays(kernel, data, slots, bids)
