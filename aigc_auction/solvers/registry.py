"""Registry of allocation solvers, by user model and short name.

A solver is a plain function ``solve(instance, coef, model) -> Allocation`` that
maximises ``sum_i coef[i] * ctr_i`` over feasible allocations of ``instance`` under
``model``. Every solver obeys the engine's tie-breaking rule (``docs/model.md``):
an advertiser with ``coef[i] <= 0`` is never shown, and no ad is placed where its
standalone CTR is 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from ..allocation import Allocation
    from ..instance import Instance
    from ..models.base import UserModel
    from .batch import BatchKernel

__all__ = ["SolverSpec", "available_solvers", "get_solver", "register_solver"]

SolveFunc = Callable[["Instance", NDArray[np.float64], "UserModel"], "Allocation"]


@dataclass(frozen=True)
class SolverSpec:
    """A registered allocation solver.

    Attributes
    ----------
    model : str
        Registry name of the user model it solves ("mnl", "cascade").
    name : str
        Short solver name used by ``Mechanism(..., solver=name)``.
    func : callable
        ``func(instance, coef, model) -> Allocation``.
    exact : bool
        Whether it returns an optimal allocation.
    affine_maximizer : bool
        Whether it maximises ``sum coef * ctr`` exactly over a range of allocations
        that does not depend on the coefficients (exact solvers, maximal-in-range
        approximations). Clarke (VCG) payments and envelope thresholds need this.
    monotone : bool
        Whether each advertiser's CTR is non-decreasing in its own coefficient
        (needed by Myerson payments; implied by ``affine_maximizer``).
    priority : int
        The default solver of a model is the one with the highest priority.
    description : str
    """

    model: str
    name: str
    func: SolveFunc
    exact: bool
    affine_maximizer: bool
    monotone: bool
    priority: int
    description: str
    supports: Callable[[UserModel], bool] | None = None

    def applies_to(self, model: UserModel) -> bool:
        """Whether this solver handles ``model`` with its current parameters."""
        return self.supports is None or bool(self.supports(model))

    @property
    def batch(self) -> BatchKernel | None:
        """The solver's batched kernel (:mod:`aigc_auction.solvers.batch`), if any."""
        from .batch import get_batch_kernel

        return get_batch_kernel(self.model, self.name)


_REGISTRY: dict[str, dict[str, SolverSpec]] = {}


def register_solver(
    model: str,
    name: str,
    *,
    exact: bool,
    affine_maximizer: bool | None = None,
    monotone: bool | None = None,
    priority: int = 0,
    description: str = "",
    supports: Callable[[UserModel], bool] | None = None,
) -> Callable[[SolveFunc], SolveFunc]:
    """Decorator registering ``func`` as solver ``name`` of user model ``model``."""
    am = exact if affine_maximizer is None else affine_maximizer
    mono = am if monotone is None else monotone

    def deco(func: SolveFunc) -> SolveFunc:
        _REGISTRY.setdefault(model, {})[name] = SolverSpec(
            model, name, func, exact, am, mono, priority, description, supports
        )
        return func

    return deco


def available_solvers(model: str | UserModel | None = None) -> list[str]:
    """Names of the registered solvers (of one model when given), default first.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> "brute_force" in aa.available_solvers("mnl")
    True
    """
    if model is None:
        return sorted({n for d in _REGISTRY.values() for n in d})
    specs = _specs_for(model)
    return [s.name for s in sorted(specs, key=lambda s: (-s.priority, s.name))]


def _specs_for(model: str | UserModel) -> list[SolverSpec]:
    key = model if isinstance(model, str) else model.name
    if key not in _REGISTRY:
        raise ValueError(f"`model` must be one of {sorted(_REGISTRY)}; got {key!r}")
    specs = list(_REGISTRY[key].values())
    if not isinstance(model, str):
        specs = [s for s in specs if s.applies_to(model)]
    return specs


def get_solver(model: str | UserModel, name: str | None = None) -> SolverSpec:
    """Look up a solver of ``model`` by short name (``None``: the default one).

    Raises
    ------
    ValueError
        If ``name`` is not a registered solver of that model (or does not handle the
        model's parameters).
    """
    specs = _specs_for(model)
    if name is None:
        exact = [s for s in specs if s.exact]
        if not exact:
            raise ValueError(f"no exact solver registered for model {model!r}")
        return max(exact, key=lambda s: (s.priority, s.name))
    if not isinstance(name, str):
        raise TypeError(f"`solver` must be a string naming a solver; got {name!r}")
    for s in specs:
        if s.name == name:
            return s
    names = [s.name for s in sorted(specs, key=lambda s: (-s.priority, s.name))]
    raise ValueError(f"`solver` must be one of {names} for model {model!r}; got {name!r}")
