"""The row groups of a sweep task: mechanisms, allocators and baselines as *runs*.

Every task of a sweep runs a fixed list of allocation rules on its market, the
config's mechanisms and allocators per design model, then the baselines; each
one's outcome is then evaluated under every true model, which gives the task's
row groups (see ``docs/sweeps.md``). A :class:`Run` is one such rule. It has two
entry points that give the same outcome:

* :meth:`Run.run_one`, one market through the per-auction API
  (``Mechanism.run``, the solver function, ``separable_auction``): the per-task
  reference path of :func:`~aigc_auction.sweep.run_task`;
* :meth:`Run.run_batch`, the markets of a chunk of tasks of one grid point at
  once: mechanisms go through ``Mechanism.fast_arrays`` (the solver's batch
  kernel, :mod:`aigc_auction.solvers.batch`) and allocators through their
  solver's kernel; without a kernel it loops over :meth:`Run.run_one`.

Extension point
---------------
A run decides what its rule sees, the sweep decides how it is evaluated (always
on the true CTRs with the true values). To add a kind of row group, subclass
:class:`Run` (or :class:`MechanismRun`) and override:

* :meth:`Run.bids`: the bids submitted, ``(B, n)`` (default: the values, i.e.
  truthful bidding; e.g. learned bids of a non-truthful format);
* :meth:`Run.design_ctr`: the CTR matrices the rule optimises with, ``(B, n, m)``
  (default: the true ones; e.g. CTRs estimated from simulated click logs);

and list the run in :func:`point_runs`. Both execution paths then use it.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..instance import Instance
from ..mechanisms import VCG, Mechanism
from ..mechanisms.batched import batch_allocate
from ..models import UserModel
from ..solvers import SolverSpec, get_solver
from .baseline import separable_auction
from .config import ALLOC_PREFIX
from .point import PointSpec, build_point

if TYPE_CHECKING:
    from .config import SweepConfig

__all__ = [
    "AllocatorRun",
    "BaselineRun",
    "Markets",
    "MechanismRun",
    "Run",
    "RunOutcome",
    "objective_values",
    "optimum_values",
    "point_runs",
    "point_spec",
    "runs_of_point",
]


@dataclass(frozen=True, eq=False)
class Markets:
    """The markets of one or more tasks of one grid point, stacked.

    Attributes
    ----------
    ctr : ndarray of shape (B, n_advertisers, n_positions)
        True CTR matrices.
    values : ndarray of shape (B, n_advertisers)
        Per-click values.
    slots : int
    given : tuple of Instance
        Instances already built (the per-task path); otherwise built on demand.
    """

    ctr: NDArray[np.float64]
    values: NDArray[np.float64]
    slots: int
    given: tuple[Instance, ...] = field(default=())

    @classmethod
    def single(cls, instance: Instance, values: NDArray[np.float64]) -> Markets:
        """The market of one task."""
        return cls(instance.ctr[None], np.asarray(values)[None], instance.slots, (instance,))

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @cached_property
    def instances(self) -> tuple[Instance, ...]:
        """One :class:`~aigc_auction.Instance` per market (built on first use)."""
        if self.given:
            return self.given
        return tuple(Instance(ctr=c, slots=self.slots) for c in self.ctr)

    def row(self, k: int) -> Markets:
        """The market of row ``k`` alone."""
        return Markets.single(self.instances[k], self.values[k])

    def with_ctr(self, ctr: NDArray[np.float64]) -> Markets:
        """The same markets with other CTR matrices (a design view, see :meth:`Run.design_ctr`)."""
        if ctr is self.ctr:
            return self
        return Markets(np.asarray(ctr, dtype=np.float64), self.values, self.slots)


class RunOutcome(NamedTuple):
    """The outcomes of one run on ``B`` markets, as arrays (one row per market).

    Attributes
    ----------
    assignment : ndarray of int, shape (B, n)
        Position of each advertiser, ``-1`` when not shown.
    order : ndarray of int, shape (B, slots)
        Shown positions in reading order, ``-1`` after them.
    ctr : ndarray of shape (B, n)
        Click probabilities under the run's design model on the CTRs it optimised
        with (its own view, :attr:`Run.own_view`).
    price_per_click : ndarray of shape (B, n) or None
        Per-click prices; ``None`` when the rule charges nothing (NaN revenue).
    approx_ratio : ndarray of shape (B,)
    solver_time : ndarray of shape (B,)
        Seconds per market (see ``docs/sweeps.md``).
    """

    assignment: NDArray[np.int64]
    order: NDArray[np.int64]
    ctr: NDArray[np.float64]
    price_per_click: NDArray[np.float64] | None
    approx_ratio: NDArray[np.float64]
    solver_time: NDArray[np.float64]


def _one(
    slots: int, assignment: NDArray[np.int64], order: NDArray[np.int64],
    ctr: NDArray[np.float64], ppc: NDArray[np.float64] | None, ratio: float, elapsed: float,
) -> RunOutcome:
    padded = np.full((1, slots), -1, dtype=np.int64)
    padded[0, : order.size] = order
    return RunOutcome(
        np.asarray(assignment, dtype=np.int64)[None], padded, np.asarray(ctr)[None],
        None if ppc is None else np.asarray(ppc)[None],
        np.array([ratio]), np.array([elapsed]),
    )


def _stack(outs: Sequence[RunOutcome]) -> RunOutcome:
    ppc = [o.price_per_click for o in outs]
    return RunOutcome(
        np.concatenate([o.assignment for o in outs]),
        np.concatenate([o.order for o in outs]),
        np.concatenate([o.ctr for o in outs]),
        None if ppc[0] is None else np.concatenate(ppc),  # type: ignore[arg-type]
        np.concatenate([o.approx_ratio for o in outs]),
        np.concatenate([o.solver_time for o in outs]),
    )


def _price_per_click(payments: NDArray[np.float64], ctr: NDArray[np.float64]
                     ) -> NDArray[np.float64]:
    """``payments / ctr`` where shown, else 0 (as ``Outcome.price_per_click``)."""
    out = np.zeros_like(payments)
    np.divide(payments, ctr, out=out, where=ctr > 0)
    return out


def objective_values(coef: NDArray[np.float64], ctr: NDArray[np.float64]
                     ) -> NDArray[np.float64]:
    """``sum_i coef_i ctr_i`` per row over the shown ads (``coef`` may be ``-inf``
    where ``ctr`` is 0), as ``UserModel.objective``."""
    shown = ctr > 0
    return np.asarray(np.where(shown, np.where(shown, coef, 0.0) * ctr, 0.0).sum(axis=1))


def optimum_values(
    model: UserModel, markets: Markets, coef: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Optimal objective ``max sum_i coef_i ctr_i`` of each market under ``model``.

    One batched allocation through the batch kernel of the model's default
    (exact) solver when it has one, else one solver call per market.
    """
    spec = get_solver(model, None)
    kernel = spec.batch
    if kernel is None:
        return np.array([spec.func(inst, c, model).value
                         for inst, c in zip(markets.instances, coef, strict=True)])
    _, _, pi = batch_allocate(kernel, kernel.prepare(model, markets.ctr), markets.slots, coef)
    return objective_values(coef, pi)


def _ratio(
    model: UserModel,
    inst: Instance,
    coef: NDArray[np.float64],
    assignment: NDArray[np.int64],
    order: NDArray[np.int64],
    best: float | None = None,
) -> float:
    """Objective of an allocation over the exact optimum (1 when the optimum is 0)."""
    if best is None:
        best = get_solver(model, None).func(inst, coef, model).value
    got = model.objective(inst, coef, assignment, order)
    return float(got / best) if best > 0 else 1.0


def _ratios(got: NDArray[np.float64], best: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.ones_like(got)
    np.divide(got, best, out=out, where=best > 0)
    return out


class Run(ABC):
    """One allocation rule of a task, evaluated under every true model.

    Attributes
    ----------
    mechanism, solver, design_model : str
        The row group's ``mechanism``, ``solver`` and ``design_model`` columns.
    """

    mechanism: str
    solver: str
    design_model: str

    def bids(self, markets: Markets) -> NDArray[np.float64]:
        """Bids submitted in each market, ``(B, n)``: the values (truthful bidding)."""
        return markets.values

    def design_ctr(self, markets: Markets) -> NDArray[np.float64]:
        """CTR matrices the rule optimises with, ``(B, n, m)``: the true ones."""
        return markets.ctr

    @property
    def own_view(self) -> str | None:
        """The true model under which the outcome's ``ctr`` already are the click
        probabilities: the design model when the rule optimised on the true CTRs
        (``None`` when :meth:`design_ctr` is overridden)."""
        return self.design_model if type(self).design_ctr is Run.design_ctr else None

    def maximises_welfare(self, model: UserModel) -> bool:
        """Whether this run's allocation is the welfare optimum under ``model`` as its
        default solver finds it (then the sweep reads the optimum off this run)."""
        return False

    @abstractmethod
    def run_one(self, markets: Markets, optimum: Mapping[str, NDArray[np.float64]]
                ) -> RunOutcome:
        """The outcome on a single market (``len(markets) == 1``) through the
        per-auction API. ``optimum`` maps true-model names to optimal welfare."""

    def run_batch(self, markets: Markets, optimum: Mapping[str, NDArray[np.float64]]
                  ) -> RunOutcome:
        """The outcomes on every market; the default loops over :meth:`run_one`."""
        return _stack([
            self.run_one(markets.row(k), {t: v[k:k + 1] for t, v in optimum.items()})
            for k in range(len(markets))
        ])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(mechanism={self.mechanism!r}, "
                f"solver={self.solver!r}, design_model={self.design_model!r})")


class MechanismRun(Run):
    """A mechanism designed for one user model: allocation and payments."""

    def __init__(self, design_model: str, mechanism: Mechanism) -> None:
        self.design_model = design_model
        self.mech = mechanism
        self.mechanism = mechanism.name
        self.solver = mechanism.solver_spec.name

    def maximises_welfare(self, model: UserModel) -> bool:
        # VCG maximises the bids, which are the values, on the true CTRs
        cls = type(self)
        return (type(self.mech) is VCG and self.mech.model is model
                and cls.bids is Run.bids and cls.design_ctr is Run.design_ctr
                and self.mech.solver_spec == get_solver(model, None))

    def run_one(self, markets: Markets, optimum: Mapping[str, NDArray[np.float64]]
                ) -> RunOutcome:
        mk = markets.with_ctr(self.design_ctr(markets))
        inst, bids = mk.instances[0], self.bids(markets)[0]
        t0 = time.perf_counter()
        out = self.mech.run(inst, bids)
        elapsed = time.perf_counter() - t0
        ratio = 1.0
        if not self.mech.solver_spec.exact:
            coef = self.mech.coefficients(inst, bids)
            ratio = _ratio(self.mech.model, inst, coef, out.assignment, out.order)
        return _one(mk.slots, out.assignment, out.order, out.ctr, out.price_per_click,
                    ratio, elapsed)

    def run_batch(self, markets: Markets, optimum: Mapping[str, NDArray[np.float64]]
                  ) -> RunOutcome:
        mk = markets.with_ctr(self.design_ctr(markets))
        bids = self.bids(markets)
        t0 = time.perf_counter()
        fast = self.mech.fast_arrays(mk.ctr, mk.slots, bids)
        if fast is None:  # no batch kernel: one auction at a time
            return super().run_batch(markets, optimum)
        elapsed = (time.perf_counter() - t0) / len(mk)
        ratio = np.ones(len(mk))
        if not self.mech.solver_spec.exact:
            coef = np.stack([self.mech.coefficients(inst, b)
                             for inst, b in zip(mk.instances, bids, strict=True)])
            best = optimum_values(self.mech.model, mk, coef)
            ratio = _ratios(objective_values(coef, fast.ctr), best)
        return RunOutcome(fast.assignment, fast.order, fast.ctr,
                          _price_per_click(fast.payments, fast.ctr), ratio,
                          np.full(len(mk), elapsed))


class AllocatorRun(Run):
    """An allocation solver maximising welfare under a design model, no payments."""

    def __init__(self, design_model: str, solver: SolverSpec, model: UserModel,
                 prefix: str) -> None:
        self.design_model = design_model
        self.spec = solver
        self.model = model
        self.mechanism = prefix + solver.name
        self.solver = solver.name

    def _best(self, optimum: Mapping[str, NDArray[np.float64]]) -> NDArray[np.float64] | None:
        # the optimum under the design model, when it is also a true model (same
        # model object, same default solver)
        return optimum.get(self.design_model)

    def run_one(self, markets: Markets, optimum: Mapping[str, NDArray[np.float64]]
                ) -> RunOutcome:
        mk = markets.with_ctr(self.design_ctr(markets))
        inst, values = mk.instances[0], markets.values[0]
        t0 = time.perf_counter()
        alloc = self.spec.func(inst, values, self.model)
        elapsed = time.perf_counter() - t0
        ratio = 1.0
        if not self.spec.exact:
            best = self._best(optimum)
            ratio = _ratio(self.model, inst, values, alloc.assignment, alloc.order,
                           None if best is None else float(best[0]))
        own = self.model.ctr(inst, alloc.assignment, alloc.order)
        return _one(mk.slots, alloc.assignment, alloc.order, own, None, ratio, elapsed)

    def run_batch(self, markets: Markets, optimum: Mapping[str, NDArray[np.float64]]
                  ) -> RunOutcome:
        kernel = self.spec.batch
        if kernel is None:
            return super().run_batch(markets, optimum)
        mk = markets.with_ctr(self.design_ctr(markets))
        values = markets.values
        t0 = time.perf_counter()
        assignment, order, pi = batch_allocate(
            kernel, kernel.prepare(self.model, mk.ctr), mk.slots, values)
        elapsed = (time.perf_counter() - t0) / len(mk)
        ratio = np.ones(len(mk))
        if not self.spec.exact:
            best = self._best(optimum)
            if best is None:
                best = optimum_values(self.model, mk, values)
            ratio = _ratios(objective_values(values, pi), best)
        return RunOutcome(assignment, order, pi, None, ratio, np.full(len(mk), elapsed))


class BaselineRun(Run):
    """The separable position auction on the rank-1 fit (``separable_<pricing>``)."""

    design_model = "separable"
    solver = "rank1"

    def __init__(self, name: str) -> None:
        self.mechanism = name
        self.pricing = name.split("_", 1)[1]

    def run_one(self, markets: Markets, optimum: Mapping[str, NDArray[np.float64]]
                ) -> RunOutcome:
        mk = markets.with_ctr(self.design_ctr(markets))
        inst, bids = mk.instances[0], self.bids(markets)[0]
        t0 = time.perf_counter()
        out = separable_auction(inst, bids, pricing=self.pricing)
        elapsed = time.perf_counter() - t0
        return _one(mk.slots, out.assignment, out.order, out.ctr, out.price_per_click,
                    float("nan"), elapsed)


def point_runs(cfg: SweepConfig, spec: PointSpec) -> tuple[Run, ...]:
    """The runs of every task of a grid point, in row order.

    Per design model (config order) its mechanisms, then its allocators (config
    order); then the baselines.
    """
    runs: list[Run] = []
    for design_name in cfg.models:
        runs.extend(MechanismRun(design, mech) for design, mech in spec.mechanisms
                    if design == design_name)
        runs.extend(AllocatorRun(design, solver, spec.design_models[design], ALLOC_PREFIX)
                    for design, solver in spec.allocators if design == design_name)
    runs.extend(BaselineRun(base) for base in cfg.baselines)
    return tuple(runs)


@lru_cache(maxsize=16)
def point_spec(cfg: SweepConfig, point: int) -> PointSpec:
    """The :class:`~aigc_auction.sweep.point.PointSpec` of grid point ``point``
    (built once per process)."""
    return build_point(cfg, cfg.point(point))


@lru_cache(maxsize=16)
def runs_of_point(cfg: SweepConfig, point: int) -> tuple[Run, ...]:
    """:func:`point_runs` of grid point ``point`` (built once per process)."""
    return point_runs(cfg, point_spec(cfg, point))
