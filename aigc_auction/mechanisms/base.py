"""The :class:`Mechanism` interface shared by VCG and Myerson."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_bids
from ..allocation import Allocation
from ..instance import Instance
from ..models import UserModel, get_model
from ..outcome import Outcome
from ..payments import Line, envelope_breakpoints, monotone_payment
from ..solvers import SolverSpec, get_solver
from ..solvers.batch import BatchData, BatchKernel
from .batched import BatchOutcome

__all__ = ["Mechanism"]


def _is_batched(allocation: Allocation | None, assignment: NDArray[np.int64],
                order: NDArray[np.int64]) -> bool:
    """Whether a caller's ``allocation`` (``None``: none given) is the one a
    batched rule found (``order`` padded with ``-1``)."""
    return allocation is None or (
        np.array_equal(allocation.assignment, assignment)
        and np.array_equal(allocation.order, order[order >= 0]))


class Mechanism(ABC):
    """An allocation rule plus a payment rule, for one user model.

    Parameters
    ----------
    model : UserModel or str, default "mnl"
        The user model the mechanism optimises for (an instance, or a registry name
        such as ``"mnl"`` / ``"cascade"`` built with default parameters).
    solver : str, optional
        Short name of the allocation solver (see
        :func:`aigc_auction.available_solvers`); default: the model's fastest exact
        solver.

    Notes
    -----
    Subclasses define :meth:`coefficients` (what the allocation maximises:
    ``sum_i coef_i * ctr_i``) and :meth:`payments`. Mechanisms hold no state
    besides their parameters: ``run`` can be called on any instance.
    """

    #: Short registry name.
    name: ClassVar[str]

    def __init__(self, model: UserModel | str = "mnl", *, solver: str | None = None) -> None:
        self.model: UserModel = get_model(model) if isinstance(model, str) else model
        if not isinstance(self.model, UserModel):
            raise TypeError(
                f"`model` must be a UserModel or a model name; got {type(model).__name__}"
            )
        self.solver = solver
        self.solver_spec: SolverSpec = get_solver(self.model, solver)

    # -- interface -----------------------------------------------------------
    @abstractmethod
    def coefficients(self, instance: Instance, bids: NDArray[np.float64]) -> NDArray[np.float64]:
        """The objective coefficients the allocation maximises for these bids."""
        raise NotImplementedError  # abstract

    @abstractmethod
    def _payments_for(
        self, instance: Instance, bids: NDArray[np.float64], allocation: Allocation,
        ctr: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """The payment rule on the per-auction path: payments of validated ``bids``
        given the chosen ``allocation`` and its click probabilities ``ctr``."""
        raise NotImplementedError  # abstract

    def payments(
        self, instance: Instance, bids: ArrayLike, allocation: Allocation | None = None
    ) -> NDArray[np.float64]:
        """Expected payment of every advertiser (``allocation`` default: recomputed).

        Through the solver's batch kernel when the mechanism has a batched rule
        for it (:meth:`fast_arrays`), else by the mechanism's rule on the
        allocation and its click probabilities.
        """
        b = self.check_input(instance, bids)
        fast = self._fast_payments(instance, b, allocation)
        if fast is not None:
            return fast
        alloc = (allocation if allocation is not None
                 else self._solve(instance, self.coefficients(instance, b)))
        pi = self.model.ctr(instance, alloc.assignment, alloc.order)
        return self._payments_for(instance, b, alloc, pi)

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters (scikit-learn style)."""
        return {"model": self.model, "solver": self.solver}

    # -- shared machinery ----------------------------------------------------
    def check_input(self, instance: Instance, bids: ArrayLike) -> NDArray[np.float64]:
        """Validate ``instance`` for the model and return the bids as a float array."""
        if not isinstance(instance, Instance):
            raise TypeError(
                f"`instance` must be an aigc_auction.Instance; got {type(instance).__name__}"
            )
        self.model.check_instance(instance)
        return check_bids(bids, instance.n_advertisers)

    def _solve(self, instance: Instance, coef: NDArray[np.float64]) -> Allocation:
        return self.solver_spec.func(instance, coef, self.model)

    def allocate(self, instance: Instance, bids: ArrayLike) -> Allocation:
        """The allocation chosen for ``bids``.

        Returns
        -------
        Allocation
            Its ``value`` is the maximised objective (welfare for VCG, virtual
            welfare for Myerson).
        """
        b = self.check_input(instance, bids)
        return self._solve(instance, self.coefficients(instance, b))

    def run(self, instance: Instance, bids: ArrayLike) -> Outcome:
        """Allocate and price: the full auction.

        Parameters
        ----------
        instance : Instance
        bids : array_like of shape (n_advertisers,)
            Non-negative bids per click.

        Returns
        -------
        Outcome
        """
        b = self.check_input(instance, bids)
        fast = self.fast_arrays(instance.ctr, instance.slots, b[None, :])
        if fast is not None:
            order = fast.order[0]
            return Outcome(
                fast.assignment[0], order[order >= 0], fast.ctr[0], fast.payments[0], b,
                mechanism=self.name, model=repr(self.model), solver=self.solver_spec.name,
            )
        alloc = self._solve(instance, self.coefficients(instance, b))
        pay = self.payments(instance, b, alloc)
        ctr = self.model.ctr(instance, alloc.assignment, alloc.order)
        return Outcome(
            alloc.assignment, alloc.order, ctr, pay, b,
            mechanism=self.name, model=repr(self.model), solver=self.solver_spec.name,
        )

    def fast_arrays(
        self, ctr: NDArray[np.float64], slots: int, bids: NDArray[np.float64]
    ) -> BatchOutcome | None:
        """Outcomes of a batch of auctions through the solver's batch kernel, or ``None``.

        When the solver registered a :class:`~aigc_auction.solvers.batch.BatchKernel`
        (:attr:`SolverSpec.batch <aigc_auction.solvers.SolverSpec.batch>`) and the
        mechanism has a batched payment rule for it (:meth:`batch_outcomes`), returns
        the :class:`~aigc_auction.mechanisms.batched.BatchOutcome` of validated
        ``bids`` of shape ``(B, n_advertisers)`` on CTR matrices ``ctr`` of shape
        ``(n, m)`` (shared) or ``(B, n, m)``. ``run`` uses it with ``B = 1`` and
        :func:`aigc_auction.batch.run_batch` with the whole batch, so both give
        identical outcomes. ``None`` means: use the per-auction path.
        """
        kernel = self._batch_kernel()
        if kernel is None:
            return None
        data = kernel.prepare(self.model, np.asarray(ctr, dtype=np.float64))
        return self.batch_outcomes(kernel, data, int(slots), bids)

    def batch_outcomes(
        self, kernel: BatchKernel, data: BatchData, slots: int, bids: NDArray[np.float64]
    ) -> BatchOutcome | None:
        """The mechanism's batched rule over ``kernel`` (``None``: it has none)."""
        return None

    def _batch_kernel(self) -> BatchKernel | None:
        """The solver's batch kernel, if this mechanism's batched rule may use it.

        Only for affine-maximising solvers (the batched payment rules re-solve with
        changed coefficients), and only when a subclass has not overridden what
        the batched rule of the class defining :meth:`batch_outcomes` hard-codes
        (coefficients, payments), nor replaced the per-problem solve.
        """
        spec = self.solver_spec
        kernel = spec.batch
        if kernel is None or not spec.affine_maximizer:
            return None
        owner: type[Mechanism] = next(
            c for c in type(self).__mro__ if "batch_outcomes" in c.__dict__
        )
        if owner is Mechanism:
            return None
        cls = type(self)
        if not cls._keeps_rule_of(owner) or cls._solve is not Mechanism._solve:
            return None
        return kernel

    @classmethod
    def _keeps_rule_of(cls, owner: type[Mechanism]) -> bool:
        """Whether ``cls`` keeps what ``owner``'s batched and step rules hard-code:
        its coefficients and its payments."""
        return all(getattr(cls, name) is getattr(owner, name)
                   for name in ("coefficients", "payments", "_payments_for"))

    def _fast_payments(
        self, instance: Instance, bids: NDArray[np.float64], allocation: Allocation | None
    ) -> NDArray[np.float64] | None:
        """Payments from :meth:`fast_arrays` (``None``: take the generic path).

        Also ``None`` when a caller-supplied ``allocation`` is not the one the
        batched path finds, so payments always belong to the allocation given.
        """
        fast = self.fast_arrays(instance.ctr, instance.slots, bids[None, :])
        if fast is None or not _is_batched(allocation, fast.assignment[0], fast.order[0]):
            return None
        return fast.payments[0].copy()

    def _line(
        self, instance: Instance, coef: NDArray[np.float64], i: int, alloc: Allocation
    ) -> Line:
        pi = self.model.ctr(instance, alloc.assignment, alloc.order)
        shown = np.flatnonzero(pi > 0)
        shown = shown[shown != i]  # coef may be -inf where nothing is shown
        others = float(np.dot(coef[shown], pi[shown]))
        return Line(float(pi[i]), others, (alloc.assignment.tobytes(), alloc.order.tobytes()))

    def threshold_jumps(
        self, instance: Instance, coef: NDArray[np.float64], i: int, alloc: Allocation
    ) -> list[tuple[float, float]]:
        """Kinks ``(c_k, ctr_k)`` of advertiser ``i``'s CTR as a function of its coefficient.

        Needs an affine-maximising solver (exact or maximal-in-range). ``alloc`` is
        the allocation at the current coefficients.
        """

        def best_line(c: float) -> Line:
            cc = coef.copy()
            cc[i] = c
            return self._line(instance, cc, i, self._solve(instance, cc))

        right = self._line(instance, coef, i, alloc)
        jumps = envelope_breakpoints(best_line, float(coef[i]))
        if not jumps or jumps[-1][1] != right.slope:
            # tie at the own coefficient: the chosen allocation decides the last step
            jumps.append((float(coef[i]), right.slope))
        return jumps

    def black_box_payment(
        self, instance: Instance, bids: NDArray[np.float64], i: int, *, lower: float = 0.0
    ) -> float:
        """Myerson payment of advertiser ``i`` for a monotone (possibly approximate) rule.

        Treats the allocation rule as a black box and locates every jump of the
        CTR curve by bisection (:func:`aigc_auction.payments.monotone_payment`).
        """

        def ctr_at(z: float) -> float:
            bb = bids.copy()
            bb[i] = z
            a = self._solve(instance, self.coefficients(instance, bb))
            return float(self.model.ctr(instance, a.assignment, a.order)[i])

        return monotone_payment(ctr_at, float(bids[i]), lower=lower)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"
