"""Where sweep chunks run: in process, on a local process pool, or on Dask.

Every backend maps one function over argument tuples and yields the results as
they complete (in any order); :func:`~aigc_auction.sweep.run_sweep` makes the
final table independent of that order. Task *failures* are caught inside the
chunk function; an exception escaping a backend means the infrastructure itself
failed (e.g. a worker process was killed) and stops the sweep, keeping every
shard already written.
"""

from __future__ import annotations

import ast
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Any

from .._optional import require
from ..exceptions import SweepError

__all__ = [
    "Backend",
    "DaskBackend",
    "LocalBackend",
    "SerialBackend",
    "main_guard_problem",
    "resolve_executor",
]

#: Seconds between two checks of a pool worker that its parent is still alive.
PARENT_POLL = 0.2


class Backend:
    """Runs ``fn(*args)`` for every ``args`` and yields results as they complete."""

    #: Number of parallel workers (used to size chunks).
    n_workers: int = 1
    #: Short label used in progress bars and benchmarks.
    label: str = "backend"

    def imap_unordered(
        self, fn: Callable[..., Any], arg_list: Sequence[tuple[Any, ...]]
    ) -> Iterator[Any]:
        raise NotImplementedError  # abstract

    def close(self) -> None:
        """Release the workers this backend started (no-op for borrowed ones)."""

    def abort(self) -> None:
        """Stop at once after an error or an interrupt: end the workers this backend
        started without waiting for their running chunks (default: :meth:`close`)."""
        self.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_workers={self.n_workers})"


class SerialBackend(Backend):
    """Run every chunk in the calling process, one after the other."""

    label = "serial"

    def imap_unordered(
        self, fn: Callable[..., Any], arg_list: Sequence[tuple[Any, ...]]
    ) -> Iterator[Any]:
        for args in arg_list:
            yield fn(*args)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_POLL)
        if os.getppid() != parent:  # re-parented: the sweep process is gone
            os._exit(70)


def _init_worker(parent: int) -> None:
    """Pool worker start-up: leave Ctrl-C to the parent (which cancels the pending
    chunks) and end this process as soon as the parent is gone, even if it was
    killed with SIGKILL (a daemon thread polls the parent pid)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="aigc-auction-parent-watch").start()


class LocalBackend(Backend):
    """A ``concurrent.futures`` executor: a local process pool by default.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes of a new pool (default: ``os.cpu_count()``).
    executor : concurrent.futures.Executor, optional
        Use this executor instead of starting a pool (it is not shut down).

    Notes
    -----
    New pools use the ``spawn`` start method: workers start from a clean
    interpreter, which is safe next to threads (tqdm, Dask) and behaves the same on
    every platform. Their workers end with the parent process whatever way it
    ends (each polls the parent's pid every :data:`PARENT_POLL` seconds), and
    :meth:`abort` terminates them without waiting for the running chunks.
    """

    label = "local"

    def __init__(self, n_workers: int | None = None, *, executor: Executor | None = None
                 ) -> None:
        if executor is not None:
            self._executor: Executor = executor
            self._own = False
            self.n_workers = int(getattr(executor, "_max_workers", n_workers or 1))
        else:
            n = (os.cpu_count() or 1) if n_workers is None else _check_workers(n_workers)
            self._executor = ProcessPoolExecutor(
                max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(os.getpid(),),
            )
            self._own = True
            self.n_workers = n

    def imap_unordered(
        self, fn: Callable[..., Any], arg_list: Sequence[tuple[Any, ...]]
    ) -> Iterator[Any]:
        futures: list[Future[Any]] = [self._executor.submit(fn, *a) for a in arg_list]
        try:
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:
                    raise SweepError(
                        f"a worker process failed ({type(exc).__name__}: {exc})"
                    ) from exc
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        if self._own:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        if not self._own:
            return
        procs = list((getattr(self._executor, "_processes", None) or {}).values())
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for proc in procs:
            proc.join(timeout=5)


class DaskBackend(Backend):
    """A Dask ``distributed`` cluster: an existing one or a new ``LocalCluster``.

    Parameters
    ----------
    scheduler : str or distributed.Client, default "local"
        ``"local"`` starts a ``distributed.LocalCluster`` (closed by :meth:`close`);
        any other string is a scheduler address such as ``"tcp://10.0.0.5:8786"``;
        a ``Client`` is used as is.
    n_workers : int, optional
        Workers of a new ``LocalCluster`` (default: ``os.cpu_count()``).
    processes : bool, default True
        Whether a new ``LocalCluster`` uses worker processes (``False``: threads in
        this process, quick to start; used by the tests).

    Notes
    -----
    The workers must be able to import ``aigc_auction`` (same version); results
    come back to this process, which writes the shards, so the output folder
    need not be shared with the cluster.
    """

    label = "dask"

    def __init__(self, scheduler: Any = "local", *, n_workers: int | None = None,
                 processes: bool = True) -> None:
        distributed = require("distributed", extra="distributed", purpose="the Dask backend")
        self._cluster: Any = None
        if isinstance(scheduler, distributed.Client):
            self._client = scheduler
            self._own = False
        elif scheduler == "local":
            n = (os.cpu_count() or 1) if n_workers is None else _check_workers(n_workers)
            self._cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=processes,
                dashboard_address=None, silence_logs=logging.ERROR,
            )
            self._client = distributed.Client(self._cluster)
            self._own = True
        elif isinstance(scheduler, str):
            try:
                self._client = distributed.Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise SweepError(
                    f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}"
                ) from exc
            self._own = True
        else:
            raise TypeError(
                "`scheduler` must be 'local', an address string or a distributed.Client; "
                f"got {type(scheduler).__name__}"
            )
        info = self._client.scheduler_info()
        threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
        self.n_workers = max(1, int(threads))

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` in use."""
        return self._client

    def imap_unordered(
        self, fn: Callable[..., Any], arg_list: Sequence[tuple[Any, ...]]
    ) -> Iterator[Any]:
        import distributed

        futures = [self._client.submit(fn, *a, pure=False) for a in arg_list]
        try:
            for fut in distributed.as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:
                    raise SweepError(
                        f"a Dask worker failed ({type(exc).__name__}: {exc})"
                    ) from exc
        finally:
            self._client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        if self._own:
            self._client.close()
            if self._cluster is not None:
                self._cluster.close()


def _check_workers(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"`workers` must be a positive integer; got {n!r}")
    if n < 1:
        raise ValueError(f"`workers` must be a positive integer; got {n}")
    return n


def _is_main_test(test: ast.expr) -> bool:
    """Whether ``test`` is ``__name__ == "__main__"`` (either side, maybe in an ``and``)."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_is_main_test(v) for v in test.values)
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [isinstance(x, ast.Name) and x.id == "__name__" for x in sides]
    mains = [isinstance(x, ast.Constant) and x.value == "__main__" for x in sides]
    return (names[0] and mains[1]) or (names[1] and mains[0])


def main_guard_problem() -> str | None:
    """Why a new ``spawn`` worker could not start from this program, or ``None``.

    A ``spawn`` worker re-imports the main script (as ``__mp_main__``). That
    fails when the script was read from standard input, and it starts the
    sweep again in every worker when the script calls it at the top level
    instead of under ``if __name__ == "__main__":``. Interactive sessions,
    ``python -c`` and guarded scripts are fine.
    """
    if multiprocessing.parent_process() is not None:
        return None
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None:
        return None  # interactive or -c: workers do not re-run the main module
    if not os.path.isfile(path):
        return (f"the main program was not read from a file ({path!r}, e.g. piped on "
                "standard input), so worker processes cannot re-import it")
    frame: Any = sys._getframe()
    while frame is not None and not (
        frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"
    ):
        frame = frame.f_back
    if frame is None:
        return None  # the main script is not running its top level now
    line = frame.f_lineno
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_test(node.test):
            for stmt in node.body:
                if stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
                    return None
    return (f"{path} runs the sweep at line {line} outside an "
            "`if __name__ == \"__main__\":` block, so every worker process would start it "
            "again")


def resolve_executor(executor: Any) -> tuple[Backend, bool]:
    """A :class:`Backend` for ``executor`` and whether the caller must close it.

    ``None``: a process pool on all cores; an int ``n``: ``n`` worker processes
    (``1`` runs in this process); ``"serial"``: in this process; ``"local"``: a
    Dask ``LocalCluster``; another string: a Dask scheduler address; a
    ``concurrent.futures.Executor``, a ``distributed.Client`` or a
    :class:`Backend`: used as is.
    """
    if isinstance(executor, Backend):
        return executor, False
    if executor is None:
        return LocalBackend(), True
    if isinstance(executor, bool):
        raise TypeError(f"`executor` must not be a bool; got {executor!r}")
    if isinstance(executor, int):
        n = _check_workers(executor)
        return (SerialBackend(), True) if n == 1 else (LocalBackend(n), True)
    if executor == "serial":
        return SerialBackend(), True
    if isinstance(executor, str):
        return DaskBackend(executor), True
    if isinstance(executor, Executor):
        return LocalBackend(executor=executor), True
    if type(executor).__module__.startswith("distributed"):
        return DaskBackend(executor), True
    raise TypeError(
        "`executor` must be None, a worker count, 'serial', 'local', a Dask scheduler "
        "address, a concurrent.futures.Executor, a distributed.Client or a Backend; "
        f"got {type(executor).__name__}"
    )
