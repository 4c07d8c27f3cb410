"""One sweep task: draw a market, run every mechanism, evaluate under every model.

A task is a (grid point, replicate) pair with index
``task = point * replicates + rep``. Its randomness comes from one integer
``seed`` derived from ``SeedSequence(root, spawn_key=(task,))``, so a task's rows
do not depend on which process runs it, when, or next to which other tasks.
The market is drawn from ``numpy.random.default_rng(seed)``: first the CTR matrix,
then the values (truthful bids). Every mechanism sees the same market (common
random numbers), which makes the comparisons paired.

Besides mechanisms, a task runs the config's *allocators*: an allocation solver
maximising welfare (coefficients = values) under a design model, with no
payments. Their rows have ``mechanism = "alloc:<solver>"``, NaN revenue and
``approx_ratio`` = welfare reached / optimal welfare under the design model.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import generators as gen
from .._validation import check_int
from ..allocation import Allocation
from ..instance import Instance
from ..mechanisms import Mechanism, get_mechanism
from ..models import UserModel, get_model
from ..outcome import Outcome
from ..solvers import SolverSpec, get_solver
from .baseline import separable_auction
from .config import ALLOC_PREFIX, SweepConfig

__all__ = [
    "RESULT_COLUMNS",
    "PointSpec",
    "build_point",
    "make_market",
    "run_chunk",
    "run_task",
    "task_seed",
]

#: Result columns after ``task, point, rep, seed, param_*`` (see ``docs/sweeps.md``).
RESULT_COLUMNS: dict[str, str] = {
    "mechanism": "str",
    "solver": "str",
    "design_model": "str",
    "true_model": "str",
    "welfare": "float64",
    "revenue": "float64",
    "optimal_welfare": "float64",
    "efficiency": "float64",
    "shown_ads": "int64",
    "total_ctr": "float64",
    "approx_ratio": "float64",
    "solver_time": "float64",
}
#: Leading identification columns.
ID_COLUMNS: dict[str, str] = {"task": "int64", "point": "int64", "rep": "int64",
                              "seed": "int64"}


def task_seed(root: int | np.random.SeedSequence, task: int) -> int:
    """The integer seed of task ``task`` (a 63-bit int from the task's SeedSequence).

    Examples
    --------
    >>> from aigc_auction.sweep import task_seed
    >>> task_seed(0, 3) == task_seed(0, 3) != task_seed(0, 4)
    True
    """
    base = root if isinstance(root, np.random.SeedSequence) else np.random.SeedSequence(root)
    child = np.random.SeedSequence(base.entropy, spawn_key=(*base.spawn_key, int(task)))
    return int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True, eq=False)
class PointSpec:
    """Everything a grid point needs, built once per point and process."""

    settings: Mapping[str, Any]
    prior: Any
    generator: str
    generator_params: Mapping[str, Any]
    design_models: Mapping[str, UserModel]
    true_models: Mapping[str, UserModel]
    mechanisms: tuple[tuple[str, Mechanism], ...]
    #: ``(design model, solver)`` of every allocator, in config order.
    allocators: tuple[tuple[str, SolverSpec], ...] = ()


def build_point(cfg: SweepConfig, settings: Mapping[str, Any]) -> PointSpec:
    """Validate the settings of one grid point and build its models and mechanisms."""
    s = dict(settings)
    kind = str(s["generator"])
    gparams = {k: s[k] for k in gen.generator_params(kind) if k in s}
    check_int(s["n_advertisers"], "n_advertisers", low=1)
    m = check_int(s["n_positions"], "n_positions", low=1)
    check_int(s["slots"], "slots", low=1, high=m)
    gen.generate_ctr(kind, 1, 1, rng=0, **gparams)  # a 1x1 draw validates the parameters
    prior = gen.value_prior(
        str(s["prior"]), loc=s["prior_loc"], scale=s["prior_scale"],
        shape=s["prior_shape"], shape2=s["prior_shape2"],
    )
    models: dict[str, UserModel] = {}
    for name in dict.fromkeys(cfg.models + cfg.true_models):
        mparams = cfg.model_params(s, name)
        try:
            models[name] = get_model(name, **mparams)
        except TypeError as exc:
            raise TypeError(
                f"`params.{name}` {mparams} rejected by the {name!r} model: {exc}"
            ) from None
    mechs: list[tuple[str, Mechanism]] = []
    for model_name in cfg.models:
        solver = cfg.solver_for(s, model_name)
        for mech_name in cfg.mechanisms:
            extra = {"prior": prior} if mech_name == "myerson" else {}
            mechs.append(
                (model_name, get_mechanism(mech_name, models[model_name], solver=solver,
                                           **extra))
            )
    allocs: list[tuple[str, SolverSpec]] = []
    for model_name, names in cfg.allocators:
        for name in names:
            try:
                allocs.append((model_name, get_solver(models[model_name], name)))
            except ValueError as exc:
                raise ValueError(f"`allocators` entry {name!r} for model {model_name!r}: "
                                 f"{exc}") from None
    return PointSpec(
        settings=s, prior=prior, generator=kind, generator_params=gparams,
        design_models={k: models[k] for k in cfg.models},
        true_models={k: models[k] for k in cfg.true_models},
        mechanisms=tuple(mechs), allocators=tuple(allocs),
    )


@lru_cache(maxsize=16)
def _cached_point(cfg: SweepConfig, point: int) -> PointSpec:
    return build_point(cfg, cfg.point(point))


def make_market(
    cfg: SweepConfig, point: int, *, rng: Any
) -> tuple[Instance, NDArray[np.float64]]:
    """The market of grid point ``point`` drawn with ``rng``: ``(instance, values)``.

    Pass a task's ``seed`` column as ``rng`` to rebuild that task's market.

    Examples
    --------
    >>> from aigc_auction.sweep import SweepConfig, make_market
    >>> cfg = SweepConfig.from_dict({"market": {"n_advertisers": 3, "n_positions": 2}})
    >>> inst, values = make_market(cfg, 0, rng=1)
    >>> inst.shape, values.shape
    ((3, 2), (3,))
    """
    spec = _cached_point(cfg, point)
    s = spec.settings
    g = np.random.default_rng(rng)
    ctr = gen.generate_ctr(spec.generator, s["n_advertisers"], s["n_positions"], rng=g,
                           **spec.generator_params)
    values = gen.draw_values(spec.prior, s["n_advertisers"], rng=g)
    return Instance(ctr=ctr, slots=s["slots"]), values


def _evaluate(
    out: Outcome | Allocation,
    own_ctr: NDArray[np.float64],
    price_per_click: NDArray[np.float64] | None,
    inst: Instance,
    values: NDArray[np.float64],
    design: str,
    true_models: Mapping[str, UserModel],
    optimum: Mapping[str, float],
) -> list[dict[str, Any]]:
    """Rows of one allocation under every true model (NaN revenue without prices)."""
    rows = []
    for true_name, model in true_models.items():
        pi = own_ctr if true_name == design else model.ctr(inst, out.assignment, out.order)
        welfare = float(np.dot(values, pi))
        opt = optimum[true_name]
        revenue = float("nan") if price_per_click is None else float(np.dot(price_per_click, pi))
        rows.append({
            "true_model": true_name,
            "welfare": welfare,
            "revenue": revenue,
            "optimal_welfare": opt,
            "efficiency": welfare / opt if opt > 0 else float("nan"),
            "shown_ads": int(np.count_nonzero(out.assignment >= 0)),
            "total_ctr": float(pi.sum()),
        })
    return rows


def run_task(cfg: SweepConfig, task: int, *, root: int | np.random.SeedSequence
             ) -> list[dict[str, Any]]:
    """All result rows of task ``task`` (see :data:`RESULT_COLUMNS`), in a fixed order.

    Rows are ordered by design model, within it the mechanisms then the
    allocators (config order), then the baselines, and within each by true model.
    """
    point, rep = divmod(int(task), cfg.replicates)
    spec = _cached_point(cfg, point)
    seed = task_seed(root, task)
    inst, values = make_market(cfg, point, rng=seed)
    optimum = {
        name: get_solver(model, None).func(inst, values, model).value
        for name, model in spec.true_models.items()
    }
    head: dict[str, Any] = {"task": int(task), "point": point, "rep": rep, "seed": seed}
    for key, col in zip((k for k, _ in cfg.grid), cfg.param_columns, strict=True):
        head[col] = spec.settings[key]
    rows: list[dict[str, Any]] = []
    for design_name in cfg.models:
        for design, mech in spec.mechanisms:
            if design != design_name:
                continue
            t0 = time.perf_counter()
            out = mech.run(inst, values)
            elapsed = time.perf_counter() - t0
            ratio = 1.0
            if not mech.solver_spec.exact:
                coef = mech.coefficients(inst, values)
                ratio = _ratio(mech.model, inst, coef, out.assignment, out.order)
            for r in _evaluate(out, out.ctr, out.price_per_click, inst, values, design,
                               spec.true_models, optimum):
                rows.append({**head, "mechanism": mech.name, "solver": out.solver,
                             "design_model": design, **r, "approx_ratio": ratio,
                             "solver_time": elapsed})
        for design, solver in spec.allocators:
            if design != design_name:
                continue
            model = spec.design_models[design]
            t0 = time.perf_counter()
            alloc = solver.func(inst, values, model)
            elapsed = time.perf_counter() - t0
            ratio = 1.0
            if not solver.exact:
                best = optimum.get(design)  # same model object, same default solver
                ratio = _ratio(model, inst, values, alloc.assignment, alloc.order, best)
            own = model.ctr(inst, alloc.assignment, alloc.order)
            for r in _evaluate(alloc, own, None, inst, values, design, spec.true_models,
                               optimum):
                rows.append({**head, "mechanism": ALLOC_PREFIX + solver.name,
                             "solver": solver.name, "design_model": design, **r,
                             "approx_ratio": ratio, "solver_time": elapsed})
    for base in cfg.baselines:
        t0 = time.perf_counter()
        out = separable_auction(inst, values, pricing=base.split("_", 1)[1])
        elapsed = time.perf_counter() - t0
        for r in _evaluate(out, out.ctr, out.price_per_click, inst, values, "separable",
                           spec.true_models, optimum):
            rows.append({**head, "mechanism": base, "solver": out.solver,
                         "design_model": "separable", **r, "approx_ratio": float("nan"),
                         "solver_time": elapsed})
    return rows


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


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised: where, with which seed, and why."""

    task: int
    point: int
    rep: int
    seed: int
    params: dict[str, Any]
    error: str
    traceback: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task, "point": self.point, "rep": self.rep, "seed": self.seed,
            "params": self.params, "error": self.error, "traceback": self.traceback,
        }

    def __str__(self) -> str:
        return (f"task {self.task} (params {self.params}, rep {self.rep}, "
                f"seed {self.seed}) failed: {self.error}")


def run_chunk(
    cfg: SweepConfig, tasks: Sequence[int], root: int | np.random.SeedSequence
) -> tuple[list[int], list[dict[str, Any]], list[TaskFailure]]:
    """Run several tasks; a failing task is recorded, never raised.

    Returns
    -------
    tasks : list of int
        The task indices (as given).
    rows : list of dict
        The result rows of the tasks that succeeded, task by task.
    failures : list of TaskFailure
    """
    rows: list[dict[str, Any]] = []
    failures: list[TaskFailure] = []
    for task in tasks:
        try:
            rows.extend(run_task(cfg, task, root=root))
        except Exception as exc:  # reported with its seed; the sweep goes on
            point, rep = divmod(int(task), cfg.replicates)
            failures.append(TaskFailure(
                task=int(task), point=point, rep=rep, seed=task_seed(root, task),
                params=cfg.grid_values(point),
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(),
            ))
    return list(tasks), rows, failures
