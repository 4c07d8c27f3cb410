"""``run_sweep``: run a config's tasks in parallel, incrementally and resumably."""

from __future__ import annotations

import math
import sys
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import SweepConfig, fingerprint_of, load_config
from .executors import resolve_executor
from .store import SweepStore
from .tasks import ID_COLUMNS, RESULT_COLUMNS, TaskFailure, run_chunk

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SweepWarning", "request_stop", "result_dtypes", "root_seed", "run_sweep"]

_STOP = threading.Event()


def request_stop() -> None:
    """Ask the :func:`run_sweep` running in this process to stop.

    Safe to call from a signal handler. The sweep raises ``KeyboardInterrupt`` as
    soon as the chunk it is waiting for has been saved, so nothing finished is lost
    and a rerun resumes. (The CLI's SIGTERM handler calls it, so an interrupt that
    some library code swallowed still stops the sweep at the next chunk.)
    """
    _STOP.set()


class SweepWarning(RuntimeWarning):
    """Some tasks of a sweep failed (the others' rows are returned)."""


def root_seed(cfg: SweepConfig, rng: Any = None) -> np.random.SeedSequence:
    """The root ``SeedSequence`` of a sweep: ``rng`` if given, else ``cfg.seed``.

    ``rng`` may be an int, a ``SeedSequence`` or a ``Generator`` (one 63-bit
    integer is drawn from it).
    """
    if rng is None:
        return np.random.SeedSequence(cfg.seed)
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63)))
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        return np.random.SeedSequence(int(rng))
    raise TypeError(
        "`rng` must be None, a non-negative int, a SeedSequence or a Generator; "
        f"got {rng!r}"
    )


def result_dtypes(cfg: SweepConfig) -> dict[str, str]:
    """Column name -> dtype of the result table of ``cfg``, in column order."""
    out = dict(ID_COLUMNS)
    for (_, values), col in zip(cfg.grid, cfg.param_columns, strict=True):
        kind = type(values[0])
        out[col] = {bool: "bool", int: "int64", float: "float64"}.get(kind, "str")
    out.update(RESULT_COLUMNS)
    return out


def _frame(rows: list[dict[str, Any]], dtypes: Mapping[str, str]) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame.from_records(rows, columns=list(dtypes))
    return df.astype(dict(dtypes))


def _finalize(frames: list[pd.DataFrame], dtypes: Mapping[str, str]) -> pd.DataFrame:
    import pandas as pd

    if not frames:
        return _frame([], dtypes)
    df = pd.concat(frames, ignore_index=True)[list(dtypes)]
    # rows of one task are contiguous and in a fixed order: a stable sort by task
    # gives the same table whatever the completion order
    df = df.sort_values("task", kind="stable").reset_index(drop=True)
    return df.astype(dict(dtypes))


def _auto_chunk(n_tasks: int, n_workers: int) -> int:
    return max(1, min(64, math.ceil(n_tasks / (8 * max(1, n_workers)))))


def run_sweep(
    config: SweepConfig | Mapping[str, Any] | str | Path,
    *,
    executor: Any = None,
    out: str | Path | None = None,
    rng: Any = None,
    progress: bool = False,
    chunk_size: int | None = None,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Run a sweep and return its long-form result table.

    One row per (grid point x replicate x design model x mechanism x true model),
    plus the baselines' rows; see ``docs/sweeps.md`` for the columns.

    Parameters
    ----------
    config : SweepConfig, mapping or path to a TOML file
    executor : optional, keyword-only
        Where tasks run: ``None`` (default) a process pool on all cores; an int
        ``n``, ``n`` worker processes (``1`` runs in this process); ``"serial"``;
        ``"local"``, a new Dask ``LocalCluster``; a Dask scheduler address; a
        ``concurrent.futures.Executor``; a ``distributed.Client``; or a
        :class:`~aigc_auction.sweep.Backend`.
    out : str or Path, optional
        Output folder. Finished chunks are written there as Parquet shards while
        the sweep runs, a rerun skips the tasks already done, and the merged
        table is written to ``out/results.parquet``. A folder started with a
        different config is refused (:class:`~aigc_auction.SweepError`).
    rng : None, int, SeedSequence or Generator, keyword-only
        Root seed; overrides the config's ``seed``. Task ``k`` draws from
        ``SeedSequence(root, spawn_key=(k,))``, so results do not depend on the
        backend, the number of workers or the completion order.
    progress : bool, default False
        Show a tqdm progress bar (with ETA) on stderr.
    chunk_size : int, optional
        Tasks per chunk (one shard per chunk); default: about eight chunks per worker,
        at most 64 tasks each.
    overwrite : bool, default False
        Delete the results of a previous sweep in ``out`` first.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``task`` (then a fixed in-task order), with a ``RangeIndex``:
        the same table as ``out/results.parquet``. ``df.attrs["failures"]``
        lists the tasks that raised (with their parameters and seed); they are
        also reported by a :class:`SweepWarning` and in ``out/failures.json``,
        and a rerun retries them.

    Notes
    -----
    Every column is deterministic except ``solver_time`` (wall-clock seconds).

    Examples
    --------
    >>> from aigc_auction.sweep import run_sweep
    >>> cfg = {"seed": 3, "replicates": 2, "mechanisms": ["vcg"],
    ...        "market": {"n_advertisers": 3, "n_positions": 2, "slots": 1}}
    >>> df = run_sweep(cfg, executor="serial")
    >>> df[["task", "rep", "mechanism", "design_model", "true_model"]].to_dict("records")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'task': 0, 'rep': 0, 'mechanism': 'vcg', 'design_model': 'mnl', 'true_model': 'mnl'},
     {'task': 1, 'rep': 1, 'mechanism': 'vcg', 'design_model': 'mnl', 'true_model': 'mnl'}]
    >>> bool((df["efficiency"] <= 1 + 1e-9).all())
    True
    """
    _STOP.clear()
    cfg = load_config(config)
    root = root_seed(cfg, rng)
    dtypes = result_dtypes(cfg)
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(f"`chunk_size` must be a positive integer; got {chunk_size!r}")

    store = None
    done: set[int] = set()
    if out is not None:
        store = SweepStore(out)
        if overwrite:
            store.clear()
        stamp = {**cfg.to_dict(), "root_seed": {"entropy": str(root.entropy),
                                                "spawn_key": list(root.spawn_key)}}
        store.claim(stamp, fingerprint_of(stamp), meta={"aigc_auction": _version()})
        done = store.done_tasks() & set(range(cfg.n_tasks))
    todo = [t for t in range(cfg.n_tasks) if t not in done]

    frames: list[pd.DataFrame] = []
    failures: list[TaskFailure] = []
    if todo:
        backend, own = resolve_executor(executor)
        try:
            size = chunk_size or _auto_chunk(len(todo), backend.n_workers)
            chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
            bar = _progress_bar(cfg, len(done), progress, backend.label)
            try:
                args = [(cfg, chunk, root) for chunk in chunks]
                for tasks, rows, fails in backend.imap_unordered(run_chunk, args):
                    failures.extend(fails)
                    if rows:
                        frame = _frame(rows, dtypes)
                        if store is not None:
                            bad = {f.task for f in fails}
                            store.write_shard([t for t in tasks if t not in bad], frame)
                        else:
                            frames.append(frame)
                    bar.update(len(tasks))
                    if failures:
                        bar.set_postfix(failed=len(failures))
                    if _STOP.is_set():
                        raise KeyboardInterrupt
            finally:
                bar.close()
        finally:
            if own:
                backend.close()

    if store is not None:
        frames = store.read_shards()
    table = _finalize(frames, dtypes)
    failed = sorted(failures, key=lambda f: f.task)
    if store is not None:
        store.write_results(table)
        store.write_failures([f.to_dict() for f in failed])
    if failed:
        lines = "\n  ".join(str(f) for f in failed[:10])
        more = f"\n  ... and {len(failed) - 10} more" if len(failed) > 10 else ""
        warnings.warn(
            f"{len(failed)} of {cfg.n_tasks} sweep tasks failed (rerun to retry):\n  "
            f"{lines}{more}",
            SweepWarning,
            stacklevel=2,
        )
    table.attrs["failures"] = [f.to_dict() for f in failed]
    return table


def _progress_bar(cfg: SweepConfig, done: int, enabled: bool, label: str) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=cfg.n_tasks, initial=done, disable=not enabled, unit="task",
        desc=f"{cfg.name} [{label}]", file=sys.stderr, dynamic_ncols=True,
        smoothing=0.1,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aigc_auction")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"
