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
Two runs are built this way: :class:`BidderRun` (the ``bidders`` key: learned
bids of the non-truthful formats) and :class:`FitRun` (the ``fit`` key: every
mechanism designed on a user model fitted to simulated click logs).

Randomness beyond the market (learning bidders, click logs) comes from streams
of the task's seed, :func:`task_stream`, one per purpose, drawn market by
market: a task's rows do not depend on the batch it runs in.
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

from ..bidders import Bidder, Shade
from ..instance import Instance
from ..mechanisms import VCG, Mechanism, get_mechanism
from ..mechanisms.batched import batch_allocate
from ..models import UserModel
from ..solvers import SolverSpec, get_solver
from .baseline import separable_auction
from .config import ALLOC_PREFIX, FIT_PREFIX, LEARNING_MECHANISMS
from .point import FitFamily, FitSpec, PointSpec, build_point

if TYPE_CHECKING:
    from .config import SweepConfig

__all__ = [
    "BIDS_STREAM",
    "LOGS_STREAM",
    "AllocatorRun",
    "BaselineRun",
    "BidderRun",
    "FitRun",
    "Markets",
    "MechanismRun",
    "Run",
    "RunOutcome",
    "objective_values",
    "optimum_values",
    "point_runs",
    "point_spec",
    "runs_of_point",
    "task_stream",
]

#: ``spawn_key`` of the stream of learning bidders (:class:`BidderRun`).
BIDS_STREAM = 1
#: ``spawn_key`` of the stream of simulated click logs (:class:`FitRun`).
LOGS_STREAM = 2


def task_stream(seed: int, purpose: int) -> np.random.SeedSequence:
    """The stream of a task for one purpose: ``SeedSequence(seed, spawn_key=(purpose,))``.

    ``seed`` is the task's ``seed`` column (its market is drawn from
    ``default_rng(seed)``, whose spawn key is empty, so the streams are
    independent of the market draw). Purposes: :data:`BIDS_STREAM` (learning
    bidders), :data:`LOGS_STREAM` (click logs).

    Examples
    --------
    >>> from aigc_auction.sweep.runs import BIDS_STREAM, task_stream
    >>> task_stream(7, BIDS_STREAM).spawn_key
    (1,)
    """
    return np.random.SeedSequence(int(seed), spawn_key=(int(purpose),))


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
    seeds : tuple of int
        The tasks' seeds (empty when unknown); runs that draw randomness beyond
        the market (:func:`task_stream`) need them.
    cache : dict
        Results runs share on these markets (e.g. the fits of :class:`FitRun`,
        made once for all the mechanisms designed on them).
    """

    ctr: NDArray[np.float64]
    values: NDArray[np.float64]
    slots: int
    given: tuple[Instance, ...] = field(default=())
    seeds: tuple[int, ...] = field(default=())
    cache: dict[object, object] = field(default_factory=dict, repr=False)

    @classmethod
    def single(cls, instance: Instance, values: NDArray[np.float64],
               seed: int | None = None) -> Markets:
        """The market of one task (with its seed, when known)."""
        return cls(instance.ctr[None], np.asarray(values)[None], instance.slots, (instance,),
                   () if seed is None else (int(seed),))

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
        return Markets.single(self.instances[k], self.values[k],
                              self.seeds[k] if self.seeds else None)

    def with_ctr(self, ctr: NDArray[np.float64]) -> Markets:
        """The same markets with other CTR matrices (a design view, see :meth:`Run.design_ctr`)."""
        if ctr is self.ctr:
            return self
        return Markets(np.asarray(ctr, dtype=np.float64), self.values, self.slots,
                       seeds=self.seeds)

    def stream(self, k: int, purpose: int) -> np.random.SeedSequence:
        """:func:`task_stream` of market ``k``."""
        if len(self.seeds) != len(self):
            raise ValueError("`markets` must carry one task seed per market (`seeds`) for "
                             "runs that draw randomness beyond the market")
        return task_stream(self.seeds[k], purpose)


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
        return _run_auction(self.mech, mk.instances[0], self.bids(markets)[0], mk.slots)

    def run_batch(self, markets: Markets, optimum: Mapping[str, NDArray[np.float64]]
                  ) -> RunOutcome:
        mk = markets.with_ctr(self.design_ctr(markets))
        bids = self.bids(markets)
        t0 = time.perf_counter()
        fast = self.mech.fast_arrays(mk.ctr, mk.slots, bids)
        if fast is None:  # no batch kernel: one auction at a time (bids drawn once)
            return _stack([_run_auction(self.mech, inst, b, mk.slots)
                           for inst, b in zip(mk.instances, bids, strict=True)])
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


def _run_auction(mech: Mechanism, inst: Instance, bids: NDArray[np.float64], slots: int
                 ) -> RunOutcome:
    """One auction through ``Mechanism.run`` (the per-auction API) as a RunOutcome."""
    t0 = time.perf_counter()
    out = mech.run(inst, bids)
    elapsed = time.perf_counter() - t0
    ratio = 1.0
    if not mech.solver_spec.exact:
        coef = mech.coefficients(inst, bids)
        ratio = _ratio(mech.model, inst, coef, out.assignment, out.order)
    return _one(slots, out.assignment, out.order, out.ctr, out.price_per_click, ratio,
                elapsed)


def _learned(mechs: Sequence[Mechanism], bidder: Bidder, burn_in: int,
             design: Markets, markets: Markets) -> NDArray[np.float64]:
    """``aa.learned_bids`` market by market: ``mechs[k]`` on the design view
    ``design`` (instance ``k``) with the values and the bidders' stream of
    market ``k``. Non-learning strategies (truthful, shade) bid at once."""
    from ..repeated import learned_bids

    rounds = 0 if isinstance(bidder, Shade) else burn_in
    return np.stack([
        learned_bids(mech, bidder, inst, markets.values[k], burn_in=rounds,
                     rng=markets.stream(k, BIDS_STREAM))
        for k, (mech, inst) in enumerate(zip(mechs, design.instances, strict=True))
    ])


class BidderRun(MechanismRun):
    """A non-truthful format at the bids of a bidding strategy after a burn-in.

    In each market every advertiser follows ``bidder`` for ``burn_in`` rounds of
    the mechanism on that market (values fixed), then bids once more: those bids
    (:func:`aigc_auction.learned_bids`, stream :data:`BIDS_STREAM` of the task)
    are the run's. The bidders learn from the outcomes the mechanism computes,
    i.e. under its design model. ``solver_time`` times the final auction only.
    """

    def __init__(self, design_model: str, mechanism: Mechanism, bidder: Bidder,
                 burn_in: int) -> None:
        super().__init__(design_model, mechanism)
        self.bidder = bidder
        self.burn_in = burn_in

    def bids(self, markets: Markets) -> NDArray[np.float64]:
        """The learned bids of every market, ``(B, n)``."""
        design = markets.with_ctr(self.design_ctr(markets))
        return _learned([self.mech] * len(markets), self.bidder, self.burn_in, design, markets)


class FitRun(Run):
    """A mechanism designed on a user model fitted to simulated click logs.

    For each market, ``fit.n_sessions`` sessions of logs of the true model
    ``fit.logs`` are drawn under the uniformly random logging policy (stream
    :data:`LOGS_STREAM` of the task) and ``family`` is fitted to them
    (:func:`aigc_auction.clicklogs.fit_from_simulated_logs`). The mechanism is
    built on the **fitted model** (its fitted parameters: a cascade's
    continuation probabilities and reading-order mode; ``pbm`` and
    ``independent`` give a cascade without externalities) with the model
    class's default exact solver, and run on the fitted CTRs
    (:meth:`design_ctr`). Its outcome is evaluated on the true CTRs under every
    true model. Every family of a task is fitted to the same logs, and the fit
    of a (market, family) is made once for all the mechanisms designed on it.

    ``design_model`` is ``"fit:<label>"`` (the family's name, or the ``name``
    of a ``fit.families`` entry that fixes parameters).
    """

    def __init__(self, family: FitFamily, mechanism: str, fit: FitSpec, prior: object,
                 bidder: Bidder | None = None, burn_in: int = 0) -> None:
        self.family = family
        self.fit = fit
        self.mechanism = mechanism
        self.design_model = FIT_PREFIX + family.label
        self.solver = dict(fit.solvers)[family.label]
        self.prior = prior
        learns = bidder is not None and mechanism in LEARNING_MECHANISMS
        self.bidder = bidder if learns else None
        self.burn_in = burn_in

    def fits(self, markets: Markets) -> list[tuple[Instance, UserModel]]:
        """The fitted instance and model of every market (made once per markets)."""
        fit = self.fit
        key = ("fit", self.family, fit.n_sessions, fit.shrinkage, fit.logs, id(fit.truth))
        got = markets.cache.get(key)
        if got is None:
            from ..clicklogs import fit_from_simulated_logs

            got = [fit_from_simulated_logs(inst, fit.truth, self.family.family,
                                           fit.n_sessions, rng=markets.stream(k, LOGS_STREAM),
                                           shrinkage=fit.shrinkage,
                                           fixed=dict(self.family.fixed) or None)
                   for k, inst in enumerate(markets.instances)]
            markets.cache[key] = got
        return got  # type: ignore[return-value]

    def design_ctr(self, markets: Markets) -> NDArray[np.float64]:
        """The fitted CTR matrices, ``(B, n, m)``."""
        return np.stack([inst.ctr for inst, _ in self.fits(markets)])

    def mechanisms(self, markets: Markets) -> list[Mechanism]:
        """The mechanism built on each market's fitted model."""
        extra = {"prior": self.prior} if self.mechanism == "myerson" else {}
        return [get_mechanism(self.mechanism, model, solver=self.solver, **extra)
                for _, model in self.fits(markets)]

    def bids(self, markets: Markets) -> NDArray[np.float64]:
        """The values, or the learned bids (``bidders`` key) on the fitted market."""
        if self.bidder is None:
            return markets.values
        design = markets.with_ctr(self.design_ctr(markets))
        return _learned(self.mechanisms(markets), self.bidder, self.burn_in, design, markets)

    def run_one(self, markets: Markets, optimum: Mapping[str, NDArray[np.float64]]
                ) -> RunOutcome:
        return self.run_batch(markets, optimum)

    def run_batch(self, markets: Markets, optimum: Mapping[str, NDArray[np.float64]]
                  ) -> RunOutcome:
        """Market by market (each has its own fitted model) through ``Mechanism.run``."""
        mechs = self.mechanisms(markets)
        bids = self.bids(markets)
        fitted = [inst for inst, _ in self.fits(markets)]
        return _stack([_run_auction(mech, inst, b, markets.slots)
                       for mech, inst, b in zip(mechs, fitted, bids, strict=True)])


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
    order); then per fitted family (``fit`` key) its mechanisms; then the
    baselines. With a ``bidders`` strategy the non-truthful formats
    (:data:`~aigc_auction.sweep.config.LEARNING_MECHANISMS`) are
    :class:`BidderRun`; a truthful strategy keeps them plain runs.
    """
    from ..bidders import Truthful

    learner = spec.bidder if spec.bidder is not None and not isinstance(
        spec.bidder, Truthful) else None
    runs: list[Run] = []
    for design_name in cfg.models:
        for design, mech in spec.mechanisms:
            if design != design_name:
                continue
            if learner is not None and mech.name in LEARNING_MECHANISMS:
                runs.append(BidderRun(design, mech, learner, spec.burn_in))
            else:
                runs.append(MechanismRun(design, mech))
        runs.extend(AllocatorRun(design, solver, spec.design_models[design], ALLOC_PREFIX)
                    for design, solver in spec.allocators if design == design_name)
    if spec.fit is not None:
        runs.extend(FitRun(family, mech, spec.fit, spec.prior, learner, spec.burn_in)
                    for family in spec.fit.families for mech in cfg.mechanisms)
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
