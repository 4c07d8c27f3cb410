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

Two paths compute the same rows. :func:`run_task` is the per-task reference:
one market through the per-auction API. :func:`run_chunk`, which sweeps use,
runs the tasks of one grid point together through the batched path
(:mod:`aigc_auction.sweep.batched`) and reruns a batch that raises as batches
of one task, so a failing task is isolated and reported with its seed.
:func:`plan_chunks` cuts a sweep's tasks into chunks.
"""

from __future__ import annotations

import itertools
import math
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .. import generators as gen
from ..instance import Instance
from ..models import UserModel
from ..solvers import get_solver
from .batched import reads_in_index_order, run_point_tasks
from .config import SweepConfig
from .point import PointSpec, build_point
from .runs import Markets, RunOutcome, point_spec, runs_of_point

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_CHUNK",
    "MIN_CHUNK",
    "RESULT_COLUMNS",
    "PointSpec",
    "TaskFailure",
    "build_point",
    "make_market",
    "plan_chunks",
    "result_dtypes",
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
#: Most tasks in one automatically sized chunk (one batch, one shard).
MAX_CHUNK = 1000
#: Automatic chunks aim at this many tasks at least (batches get cheaper per task
#: up to a few hundred tasks) ...
MIN_CHUNK = 250
#: ... and at this many chunks per worker (load balance).
CHUNKS_PER_WORKER = 4


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


def result_dtypes(cfg: SweepConfig) -> dict[str, str]:
    """Column name -> dtype of the result table of ``cfg``, in column order."""
    out = dict(ID_COLUMNS)
    for (_, values), col in zip(cfg.grid, cfg.param_columns, strict=True):
        kind = type(values[0])
        out[col] = {bool: "bool", int: "int64", float: "float64"}.get(kind, "str")
    out.update(RESULT_COLUMNS)
    return out


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
    spec = point_spec(cfg, point)
    s = spec.settings
    g = np.random.default_rng(rng)
    ctr = gen.generate_ctr(spec.generator, s["n_advertisers"], s["n_positions"], rng=g,
                           **spec.generator_params)
    values = gen.draw_values(spec.prior, s["n_advertisers"], rng=g)
    return Instance(ctr=ctr, slots=s["slots"]), values


def _evaluate(
    out: RunOutcome,
    inst: Instance,
    values: NDArray[np.float64],
    own_view: str | None,
    true_models: Mapping[str, UserModel],
    optimum: Mapping[str, NDArray[np.float64]],
) -> list[dict[str, Any]]:
    """Rows of one outcome under every true model (NaN revenue without prices);
    under ``own_view`` the outcome's own click probabilities are used. Users of a
    fixed-order cascade read the shown positions in index order, whatever order
    the mechanism intended (:func:`~aigc_auction.sweep.batched.reads_in_index_order`)."""
    assignment, order = out.assignment[0], out.order[0]
    order = order[order >= 0]
    ppc = None if out.price_per_click is None else out.price_per_click[0]
    rows = []
    for true_name, model in true_models.items():
        if true_name == own_view:
            pi = out.ctr[0]
        else:
            read = None if reads_in_index_order(model) else order
            pi = model.ctr(inst, assignment, read)
        welfare = float(np.dot(values, pi))
        opt = float(optimum[true_name][0])
        revenue = float("nan") if ppc is None else float(np.dot(ppc, pi))
        rows.append({
            "true_model": true_name,
            "welfare": welfare,
            "revenue": revenue,
            "optimal_welfare": opt,
            "efficiency": welfare / opt if opt > 0 else float("nan"),
            "shown_ads": int(np.count_nonzero(assignment >= 0)),
            "total_ctr": float(pi.sum()),
        })
    return rows


def run_task(cfg: SweepConfig, task: int, *, root: int | np.random.SeedSequence
             ) -> list[dict[str, Any]]:
    """All result rows of task ``task`` (see :data:`RESULT_COLUMNS`), in a fixed order.

    The per-task reference path: one market through the per-auction API
    (``Mechanism.run``, the solver functions, ``UserModel.ctr``). Rows are
    ordered by design model, within it the mechanisms then the allocators
    (config order), then the baselines, and within each by true model.
    """
    point, rep = divmod(int(task), cfg.replicates)
    spec = point_spec(cfg, point)
    seed = task_seed(root, task)
    inst, values = make_market(cfg, point, rng=seed)
    optimum = {
        name: np.array([get_solver(model, None).func(inst, values, model).value])
        for name, model in spec.true_models.items()
    }
    head: dict[str, Any] = {"task": int(task), "point": point, "rep": rep, "seed": seed}
    for key, col in zip((k for k, _ in cfg.grid), cfg.param_columns, strict=True):
        head[col] = spec.settings[key]
    markets = Markets.single(inst, values, seed)
    rows: list[dict[str, Any]] = []
    for run in runs_of_point(cfg, point):
        out = run.run_one(markets, optimum)
        group = {"mechanism": run.mechanism, "solver": run.solver,
                 "design_model": run.design_model}
        tail = {"approx_ratio": float(out.approx_ratio[0]),
                "solver_time": float(out.solver_time[0])}
        for r in _evaluate(out, inst, values, run.own_view, spec.true_models, optimum):
            rows.append({**head, **group, **r, **tail})
    return rows


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


def _rows_frame(rows: list[dict[str, Any]], dtypes: Mapping[str, str]) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame.from_records(rows, columns=list(dtypes))
    return df.astype(dict(dtypes))


def _failure(cfg: SweepConfig, task: int, root: int | np.random.SeedSequence,
             exc: Exception) -> TaskFailure:
    point, rep = divmod(int(task), cfg.replicates)
    return TaskFailure(
        task=int(task), point=point, rep=rep, seed=task_seed(root, task),
        params=cfg.grid_values(point), error=f"{type(exc).__name__}: {exc}",
        traceback=traceback.format_exc(),
    )


def _task_by_task(
    cfg: SweepConfig, tasks: Sequence[int], root: int | np.random.SeedSequence
) -> tuple[list[dict[str, Any]], list[TaskFailure]]:
    rows: list[dict[str, Any]] = []
    failures: list[TaskFailure] = []
    for task in tasks:
        try:
            rows.extend(run_task(cfg, task, root=root))
        except Exception as exc:  # reported with its seed; the sweep goes on
            failures.append(_failure(cfg, task, root, exc))
    return rows, failures


def _point_groups(cfg: SweepConfig, tasks: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Consecutive tasks of the same grid point, in the given order."""
    groups: list[tuple[int, list[int]]] = []
    for task in tasks:
        point = int(task) // cfg.replicates
        if groups and groups[-1][0] == point:
            groups[-1][1].append(int(task))
        else:
            groups.append((point, [int(task)]))
    return groups


def run_chunk(
    cfg: SweepConfig, tasks: Sequence[int], root: int | np.random.SeedSequence,
    *, batched: bool = True,
) -> tuple[list[int], pd.DataFrame, list[TaskFailure]]:
    """Run several tasks; a failing task is recorded, never raised.

    The tasks of each grid point run as one batch
    (:func:`aigc_auction.sweep.batched.run_point_tasks`). If a batch raises,
    its tasks run again as batches of one, so the failing task is reported with
    its seed and the others keep their rows (the same rows a larger batch gives:
    every batched computation is row by row, so the table does not depend on
    how tasks are chunked).

    Parameters
    ----------
    cfg : SweepConfig
    tasks : sequence of int
    root : int or SeedSequence
    batched : bool, default True
        ``False`` runs every task through :func:`run_task` (the reference path).

    Returns
    -------
    tasks : list of int
        The task indices (as given).
    frame : pandas.DataFrame
        The result rows of the tasks that succeeded, task by task, with the
        columns and dtypes of :func:`result_dtypes`.
    failures : list of TaskFailure
    """
    import pandas as pd

    dtypes = result_dtypes(cfg)
    frames: list[pd.DataFrame] = []
    failures: list[TaskFailure] = []
    for point, group in _point_groups(cfg, tasks):
        if not batched:
            rows, fails = _task_by_task(cfg, group, root)
            frames.append(_rows_frame(rows, dtypes))
            failures.extend(fails)
            continue
        seeds = [task_seed(root, t) for t in group]
        try:
            frames.append(run_point_tasks(cfg, point, group, seeds, dtypes))
            continue
        except Exception as exc:  # isolate the failing task(s): one batch per task
            if len(group) == 1:
                failures.append(_failure(cfg, group[0], root, exc))
                continue
        for task, seed in zip(group, seeds, strict=True):
            try:
                frames.append(run_point_tasks(cfg, point, [task], [seed], dtypes))
            except Exception as exc:  # reported with its seed; the sweep goes on
                failures.append(_failure(cfg, task, root, exc))
    if not frames:
        return list(tasks), _rows_frame([], dtypes), failures
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return list(tasks), frame, failures


def plan_chunks(
    cfg: SweepConfig, todo: Sequence[int], n_workers: int, chunk_size: int | None = None
) -> list[list[int]]:
    """Cut the tasks ``todo`` (ascending) into chunks, one shard each.

    With ``chunk_size``, consecutive slices of ``todo`` of that many tasks.
    Otherwise chunks of at most ``size`` tasks, cut along grid points: ``size``
    aims at :data:`CHUNKS_PER_WORKER` chunks per worker, kept within
    [:data:`MIN_CHUNK`, :data:`MAX_CHUNK`] tasks, then evened out so that the
    number of chunks is a multiple of the number of workers. A grid point's tasks
    are split into near-equal chunks of at most ``size``, and consecutive small
    pieces (points with few tasks left) share a chunk. A chunk's tasks of one
    grid point run as one batch: large chunks make batches efficient, small ones
    make progress, load balance and resumption finer.

    Examples
    --------
    >>> from aigc_auction.sweep import SweepConfig
    >>> from aigc_auction.sweep.tasks import plan_chunks
    >>> cfg = SweepConfig.from_dict({"replicates": 1000, "mechanisms": ["vcg"],
    ...                              "grid": {"n_advertisers": [2, 3, 4]}})
    >>> [len(c) for c in plan_chunks(cfg, range(1000), n_workers=2)]
    [250, 250, 250, 250]
    >>> [len(c) for c in plan_chunks(cfg, range(600), n_workers=2)]
    [150, 150, 150, 150]
    >>> sizes = [len(c) for c in plan_chunks(cfg, range(3000), n_workers=1)]
    >>> len(sizes), max(sizes)
    (6, 500)
    >>> [len(c) for c in plan_chunks(cfg, range(1500), 1, chunk_size=400)]
    [400, 400, 400, 300]
    """
    if not todo:
        return []
    if chunk_size is not None:
        return [list(todo[i:i + chunk_size]) for i in range(0, len(todo), chunk_size)]
    workers = max(1, n_workers)
    target = min(MAX_CHUNK, max(MIN_CHUNK, math.ceil(len(todo) / (CHUNKS_PER_WORKER * workers))))
    n_chunks = math.ceil(math.ceil(len(todo) / target) / workers) * workers
    size = math.ceil(len(todo) / n_chunks)
    pieces: list[list[int]] = []
    for _, group in _point_groups(cfg, todo):
        k = math.ceil(len(group) / size)
        bounds = [j * len(group) // k for j in range(k + 1)]
        pieces.extend(group[a:b] for a, b in itertools.pairwise(bounds))
    chunks: list[list[int]] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + len(piece) <= size:
            chunks[-1].extend(piece)
        else:
            chunks.append(list(piece))
    return chunks
