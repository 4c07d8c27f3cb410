"""``run_sweep``: run a config's tasks in parallel, incrementally and resumably."""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import SweepError
from .config import SweepConfig, fingerprint_of, load_config
from .executors import Backend, SerialBackend, main_guard_problem, resolve_executor
from .store import ShardCheck, StoreWarning, SweepStore
from .tasks import TaskFailure, plan_chunks, result_dtypes, run_chunk

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
        Tasks per chunk (one shard per chunk); default: about four chunks per
        worker of 250 to 1000 tasks, cut along grid points (a chunk's tasks of
        one grid point run as one batch; see ``plan_chunks`` and ``docs/sweeps.md``).
    overwrite : bool, default False
        Delete the files a previous sweep wrote in ``out`` first (only those: the
        folder's manifest lists them, see ``docs/sweeps.md``).

    Returns
    -------
    pandas.DataFrame
        Sorted by ``task`` (then a fixed in-task order), with a ``RangeIndex``:
        the same table as ``out/results.parquet``. ``df.attrs["failures"]``
        lists the tasks that raised (with their parameters and seed); they are
        also reported by a :class:`SweepWarning` and in ``out/failures.json``,
        and a rerun retries them.

    Raises
    ------
    ValueError, TypeError
        For an invalid config or argument (nothing is written then).
    SweepError
        If ``out`` is locked by another running sweep (the message names it),
        holds another config or files the sweep did not write, cannot be
        written, or a worker process died.

    Notes
    -----
    Every column is deterministic except ``solver_time`` (wall-clock seconds).

    With ``out``, the folder is locked for the whole run, every shard's SHA-256
    is recorded when it is written and checked before a resume and at the
    merge: a damaged or unknown shard is named in a :class:`SweepWarning`,
    moved to ``out/quarantine/`` and its tasks are run again.

    **Scripts and the process pool.** The default pool starts its workers with
    ``spawn``: each re-imports the main script. Call ``run_sweep`` from a script
    under ``if __name__ == "__main__":``. A script that calls it at the top level
    (or one piped on standard input) cannot start such workers; ``run_sweep``
    detects that, warns (:class:`SweepWarning`, saying what to add) and runs the
    sweep in this process instead, so the script still works, only serially.
    Interactive sessions, notebooks and ``python -c`` need no guard.

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
    _refuse_in_starting_worker()
    _STOP.clear()
    cfg = load_config(config)
    root = root_seed(cfg, rng)
    dtypes = result_dtypes(cfg)
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(f"`chunk_size` must be a positive integer; got {chunk_size!r}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"`overwrite` must be a bool; got {overwrite!r}")
    run = _Run(cfg, root, dtypes, executor, progress, chunk_size)

    if out is None:
        frames = run.execute(list(range(cfg.n_tasks)), None, done=0)
        table = _finalize(frames, dtypes)
        failed = run.failed()
    else:
        store = SweepStore(out)
        with _store_warnings(), store.lock():
            if overwrite:
                kept = store.clear()
                if kept:
                    warnings.warn(f"--overwrite left {kept} in {str(store.root)!r}: they "
                                  "changed since the sweep wrote them", StoreWarning,
                                  stacklevel=2)
            stamp = {**cfg.to_dict(), "root_seed": {"entropy": str(root.entropy),
                                                    "spawn_key": list(root.spawn_key)}}
            store.claim(stamp, fingerprint_of(stamp), meta={"aigc_auction": _version()})
            check = ShardCheck(n_tasks=cfg.n_tasks, replicates=cfg.replicates,
                               rows_per_task=cfg.rows_per_task, columns=tuple(dtypes))
            done, _ = store.verify(check)
            for attempt in range(3):  # a shard damaged during the run: rerun its tasks
                failed_tasks = {f.task for f in run.failures}
                todo = [t for t in range(cfg.n_tasks)
                        if t not in done and t not in failed_tasks]
                run.execute(todo, store, done=len(done))
                done, frames = store.verify(check, read=True)
                failed_tasks = {f.task for f in run.failures}
                if all(t in done or t in failed_tasks for t in range(cfg.n_tasks)):
                    break
                if attempt == 2:
                    raise SweepError(f"shards in {str(store.root)!r} keep failing their "
                                     "checks; see the warnings above")
            table = _finalize(frames, dtypes)
            failed = run.failed()
            store.write_results(table)
            store.write_failures([f.to_dict() for f in failed])
            store.compact()
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


class _Run:
    """The execution side of one :func:`run_sweep` call."""

    def __init__(self, cfg: SweepConfig, root: np.random.SeedSequence,
                 dtypes: Mapping[str, str], executor: Any, progress: bool,
                 chunk_size: int | None) -> None:
        self.cfg, self.root, self.dtypes = cfg, root, dtypes
        self.executor, self.progress, self.chunk_size = executor, progress, chunk_size
        self.failures: list[TaskFailure] = []

    def failed(self) -> list[TaskFailure]:
        return sorted(self.failures, key=lambda f: f.task)

    def _backend(self) -> tuple[Backend, bool]:
        ex = self.executor
        spawns = ex is None or ex == "local" or (
            isinstance(ex, int) and not isinstance(ex, bool) and ex > 1
        )
        problem = main_guard_problem() if spawns else None
        if problem is not None:
            warnings.warn(
                f"running the sweep in this process, without worker processes: {problem}."
                " To run it in parallel, call run_sweep under "
                "`if __name__ == \"__main__\":` in a script file.",
                SweepWarning, stacklevel=4,
            )
            return SerialBackend(), True
        return resolve_executor(ex)

    def execute(self, todo: list[int], store: SweepStore | None, *, done: int
                ) -> list[pd.DataFrame]:
        """Run ``todo``; write each chunk as a shard (``store``) or return the frames."""
        frames: list[pd.DataFrame] = []
        if not todo:
            return frames
        cfg = self.cfg
        backend, own = self._backend()
        try:
            chunks = plan_chunks(cfg, todo, backend.n_workers, self.chunk_size)
            bar = _progress_bar(cfg, done, self.progress, backend.label)
            try:
                args = [(cfg, chunk, self.root) for chunk in chunks]
                for tasks, frame, fails in backend.imap_unordered(run_chunk, args):
                    self.failures.extend(fails)
                    if len(frame):
                        if store is not None:
                            bad = {f.task for f in fails}
                            store.write_shard([t for t in tasks if t not in bad], frame)
                        else:
                            frames.append(frame)
                    bar.update(len(tasks))
                    if self.failures:
                        bar.set_postfix(failed=len(self.failures))
                    if _STOP.is_set():
                        raise KeyboardInterrupt
            finally:
                bar.close()
        except SweepError as exc:
            if own:
                backend.abort()
                own = False
            saved = (f"finished tasks are saved in {str(store.root)!r}; rerun the same "
                     "command to resume" if store is not None else
                     "nothing was saved (no `out` folder was given)")
            raise SweepError(f"{exc}; {saved}") from exc.__cause__
        except BaseException:
            if own:
                backend.abort()
                own = False
            raise
        finally:
            if own:
                backend.close()
        return frames


@contextlib.contextmanager
def _store_warnings() -> Iterator[None]:
    """Re-issue the store's warnings (quarantined shards, ...) as SweepWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StoreWarning)
        try:
            yield
        finally:
            pass
    for w in caught:
        if issubclass(w.category, StoreWarning):
            warnings.warn(str(w.message), SweepWarning, stacklevel=4)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _refuse_in_starting_worker() -> None:
    """A worker process that is still importing the main script must not sweep."""
    import multiprocessing

    if multiprocessing.parent_process() is not None and getattr(
        multiprocessing.current_process(), "_inheriting", False
    ):
        raise SweepError(
            "run_sweep was called while a worker process was starting: the main "
            "script calls it at the top level. Put the call under "
            "`if __name__ == \"__main__\":`"
        )


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
