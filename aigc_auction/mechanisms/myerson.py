"""Myerson's revenue-optimal mechanism: maximise ironed virtual welfare."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..allocation import Allocation
from ..instance import Instance
from ..models import UserModel
from ..payments import clip_roundoff, kink_jumps
from ..solvers.batch import BatchData, BatchKernel
from ..virtual_values import VirtualValue, check_prior
from .base import Mechanism
from .batched import BatchOutcome, myerson_arrays, virtual_value_matrix

__all__ = ["Myerson"]


class Myerson(Mechanism):
    r"""Revenue-optimal auction (Myerson 1981) for independent private values.

    The allocation maximises ``sum_i phibar_i(b_i) * ctr_i`` where ``phibar_i`` is
    the ironed virtual value of advertiser ``i``'s prior; advertisers with
    non-positive virtual value are never shown. Payments are Myerson's
    ``t_i = b_i ctr_i(b) - integral_0^{b_i} ctr_i(z, b_{-i}) dz``, computed
    exactly from the jumps of the step function ``ctr_i(z)``.

    Parameters
    ----------
    model : UserModel or str, default "mnl"
    prior : frozen scipy.stats distribution or sequence of them
        One prior shared by all advertisers (i.i.d.) or one per advertiser.
    solver : str, optional
        Allocation solver; exact ones price through the envelope of the
        objective (few solves), monotone approximations through a black-box
        search of their CTR curve. Non-monotone solvers are refused.

    Notes
    -----
    The jumps in coefficient space are found with
    :func:`aigc_auction.payments.envelope_breakpoints` and mapped to bids with
    the generalised inverse of ``phibar`` (:meth:`VirtualValue.threshold`).

    Examples
    --------
    Two bidders, one position with CTR 0.5, values U[0, 1]: the reserve is 1/2.

    >>> from scipy import stats
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5], [0.5]])
    >>> mech = aa.Myerson(aa.MNL(), prior=stats.uniform(0, 1))
    >>> out = mech.run(inst, [0.8, 0.3])
    >>> out.assignment.tolist(), out.price_per_click.tolist()
    ([0, -1], [0.5, 0.0])
    """

    name: ClassVar[str] = "myerson"

    def __init__(
        self,
        model: UserModel | str = "mnl",
        *,
        prior: Any,
        solver: str | None = None,
    ) -> None:
        super().__init__(model, solver=solver)
        if not self.solver_spec.monotone:
            raise ValueError(
                f"`solver` {self.solver_spec.name!r} is not monotone in own bids: no "
                "payment rule makes it truthful"
            )
        if isinstance(prior, Sequence) and not isinstance(prior, str):
            if len(prior) == 0:
                raise ValueError("`prior` must be a distribution or a non-empty list of them")
            self.prior: Any = [check_prior(p, f"prior[{k}]") for k, p in enumerate(prior)]
            self._vv = [VirtualValue(p) for p in self.prior]
        else:
            self.prior = check_prior(prior)
            self._vv = [VirtualValue(self.prior)]

    def get_params(self) -> dict[str, Any]:
        return {"model": self.model, "prior": self.prior, "solver": self.solver}

    def virtual_values(self, n: int) -> list[VirtualValue]:
        """The ``n`` advertisers' virtual-value functions."""
        if len(self._vv) == 1 and not isinstance(self.prior, list):
            return self._vv * n
        if len(self._vv) != n:
            raise ValueError(
                "`prior` must be one distribution or a list of one per advertiser "
                f"({n}); got a list of {len(self._vv)}"
            )
        return self._vv

    def coefficients(self, instance: Instance, bids: NDArray[np.float64]) -> NDArray[np.float64]:
        """Ironed virtual values ``phibar_i(b_i)`` (``-inf`` below the support)."""
        vv = self.virtual_values(instance.n_advertisers)
        return virtual_value_matrix(vv, np.asarray(bids, dtype=np.float64)[None, :])[0]

    def check_input(self, instance: Instance, bids: ArrayLike) -> NDArray[np.float64]:
        b = super().check_input(instance, bids)
        self.virtual_values(instance.n_advertisers)  # validates the prior list length
        return b

    def _payments_for(
        self, instance: Instance, b: NDArray[np.float64], alloc: Allocation,
        pi: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Exact Myerson payments (threshold bids times CTR jumps)."""
        coef = self.coefficients(instance, b)
        vv = self.virtual_values(instance.n_advertisers)
        pay = np.zeros(instance.n_advertisers)
        fin = coef[np.isfinite(coef)]
        scale = float(np.max(np.abs(fin))) if fin.size else 0.0
        for i in np.flatnonzero(pi > 0).tolist():
            if self.solver_spec.affine_maximizer:
                t = self._threshold_payment(instance, coef, i, alloc, vv, scale)
            else:
                t = self.black_box_payment(instance, b, i, lower=vv[i].reserve())
            pay[i] = float(clip_roundoff(t, b[i] * pi[i], b[i] * pi[i]))
        return pay

    def batch_outcomes(
        self, kernel: BatchKernel, data: BatchData, slots: int, bids: NDArray[np.float64]
    ) -> BatchOutcome:
        """Batched threshold payments over the solver's batch kernel."""
        return myerson_arrays(kernel, data, slots, bids, self.virtual_values(bids.shape[1]))

    def _threshold_payment(
        self,
        instance: Instance,
        coef: NDArray[np.float64],
        i: int,
        alloc: Allocation,
        vvs: list[VirtualValue],
        scale: float,
    ) -> float:
        """Myerson payment of ``i``: envelope kinks mapped to bids by the tie rule.

        The kinks of ``i``'s CTR in its own coefficient
        (:meth:`~aigc_auction.Mechanism.threshold_jumps`) become jumps in bid space
        through :func:`aigc_auction.payments.kink_jumps`; on a flat of ``phibar``
        the rule's own choice at exactly the flat's level decides the jump.
        """
        kinks = self.threshold_jumps(instance, coef, i, alloc)
        level = np.array([c for c, _ in kinks], dtype=np.float64)
        slope = np.array([s for _, s in kinks], dtype=np.float64)

        def tie_slope(_: NDArray[np.int64], levels: NDArray[np.float64]) -> NDArray[np.float64]:
            out = np.empty(levels.size)
            for k, c in enumerate(levels.tolist()):
                cc = coef.copy()
                cc[i] = c
                a = self._solve(instance, cc)
                out[k] = self.model.ctr(instance, a.assignment, a.order)[i]
            return out

        k = level.size
        _, z, d = kink_jumps(np.zeros(k, dtype=np.int64), level, slope,
                             np.full(k, i, dtype=np.int64), vvs, np.full(k, scale), tie_slope)
        return float(np.sum(z * d))
