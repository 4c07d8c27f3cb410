"""The output folder of a sweep: lock, manifest, config stamp, shards, results.

Layout of ``DIR``::

    DIR/.lock              held (flock) by the sweep writing to DIR; names its holder
    DIR/manifest.jsonl     every file the sweep wrote, with its SHA-256 (one JSON line each)
    DIR/config.json        the config the folder was started with (+ fingerprint)
    DIR/shards/*.parquet   one shard per finished chunk of tasks, written atomically
    DIR/quarantine/        damaged or unknown shards, moved aside (never deleted)
    DIR/failures.json      tasks that raised in the last run (absent if none)
    DIR/results.parquet    the merged, sorted table, written when the sweep ends

Guarantees:

* **One writer.** :meth:`SweepStore.lock` takes an exclusive ``flock`` on
  ``DIR/.lock`` for the whole sweep; a second sweep on the same folder stops at
  once with a :class:`~aigc_auction.SweepError` naming the holder (pid, host,
  start time, command). The kernel drops the lock when its holder dies, even by
  ``kill -9``, so a stale lock is taken over safely by the next sweep.
* **Nothing used unverified.** Every file is written to a temporary name, its
  SHA-256, size and (for shards) task list and row count are appended to the
  manifest, then it is moved into place with :func:`os.replace`. Before a resume
  and again when merging, every shard is re-hashed and checked (tasks, rows per
  task, columns); a damaged, truncated, duplicated, replaced or unknown shard is
  named in a :class:`~aigc_auction.sweep.SweepWarning`, moved to
  ``DIR/quarantine/`` and its tasks are run again.
* **Only its own files.** ``--overwrite`` (:meth:`SweepStore.clear`) deletes
  exactly the files the manifest lists, and only while their content is still
  what the sweep wrote; a new sweep refuses a folder holding a ``results.parquet``,
  ``failures.json`` or shards it did not write.
* Files are created with mode ``0666`` minus the umask (``0644`` usually), like
  the figures.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import secrets
import socket
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import SweepError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ShardCheck", "SweepStore", "atomic_write"]

RESULTS = "results.parquet"
CONFIG = "config.json"
FAILURES = "failures.json"
SHARDS = "shards"
MANIFEST = "manifest.jsonl"
LOCK = ".lock"
QUARANTINE = "quarantine"
#: Parquet metadata key holding a shard's task list.
TASKS_KEY = b"aigc_auction_tasks"


class StoreWarning(RuntimeWarning):
    """Base of the store's warnings (the runner re-issues them as SweepWarning)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _oserror(exc: OSError, path: Path, what: str) -> SweepError:
    reason = exc.strerror or str(exc)
    return SweepError(f"cannot {what} {str(path)!r}: {reason}")


def atomic_write(path: Path, write: Callable[[Path], object],
                 record: Callable[[Path], None] | None = None) -> None:
    """Call ``write(tmp)`` on a new temporary file next to ``path``, then rename it.

    The temporary file is created with mode ``0666`` minus the umask. ``record``,
    if given, is called with the finished temporary file before the rename (the
    store appends the file's hash to its manifest there).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    try:
        write(tmp)
        if record is not None:
            record(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@dataclass(frozen=True)
class ShardCheck:
    """What a valid shard of one sweep looks like."""

    #: Number of tasks of the sweep (valid task indices are ``0..n_tasks-1``).
    n_tasks: int
    #: Replicates per grid point (``point = task // replicates``).
    replicates: int
    #: Result rows of every task.
    rows_per_task: int
    #: The result columns, in order.
    columns: tuple[str, ...]


@dataclass
class _Record:
    file: str
    sha256: str
    size: int
    tasks: tuple[int, ...] | None
    rows: int | None


class SweepLock:
    """An exclusive lock on a sweep folder (``DIR/.lock``), held until :meth:`release`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise _oserror(exc, self.path.parent, "write to the output folder") from None
        try:
            _lock_fd(fd)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise SweepError(
                f"another sweep is writing to {str(self.path.parent)!r} ({holder}); wait "
                "for it to finish or stop it, or choose another output folder"
            ) from None
        except OSError as exc:  # a file system without locks: warn, go on
            warnings.warn(
                f"cannot lock {str(self.path)!r} ({exc.strerror or exc}); do not run two "
                "sweeps on this folder at once", StoreWarning, stacklevel=3,
            )
        info = {
            "pid": os.getpid(), "host": socket.gethostname(),
            "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": " ".join(sys.argv) or "python",
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(info) + "\n").encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # the file stays: deleting it would race with waiters
        finally:
            os.close(fd)  # closing drops the lock


def _lock_fd(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - not tested on Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            raise BlockingIOError(str(exc)) from None
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        info = json.loads(raw.decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "holder unknown"
    return (f"pid {info.get('pid')} on host {info.get('host', '?')}, started "
            f"{info.get('started', '?')}: {info.get('command', '?')}")


class SweepStore:
    """Reads and writes one sweep output folder (see the module docstring).

    Parameters
    ----------
    out : str or Path
        The folder (created when the sweep claims it).

    Raises
    ------
    TypeError
        If ``out`` is not a path.
    SweepError
        If ``out`` is an existing file or lies under one.
    """

    def __init__(self, out: str | Path) -> None:
        if not isinstance(out, str | os.PathLike):
            raise TypeError(f"`out` must be a folder path; got {type(out).__name__}")
        self.root = Path(out)
        for parent in (self.root, *self.root.parents):
            if parent.exists():
                if not parent.is_dir():
                    what = ("is a file" if parent == self.root
                            else f"lies under the file {str(parent)!r}")
                    raise SweepError(f"`out` must be a folder; {str(self.root)!r} {what}")
                break
        self.shards = self.root / SHARDS
        self._records: dict[str, _Record] = {}
        self._hashes: dict[str, set[str]] = {}
        self._lock: SweepLock | None = None

    # -- lock ----------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[SweepStore]:
        """Hold the folder's exclusive lock (creating the folder) for a ``with`` block."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _oserror(exc, self.root, "create the output folder") from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise SweepError(f"cannot write to the output folder {str(self.root)!r}: "
                             "permission denied")
        lk = SweepLock(self.root / LOCK)
        lk.acquire()
        self._lock = lk
        try:
            self._load_manifest()
            if not self.manifest.exists():
                self._adopt_legacy()
            yield self
        finally:
            self._lock = None
            lk.release()

    # -- manifest -------------------------------------------------------------------
    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    def _load_manifest(self) -> None:
        self._records.clear()
        self._hashes.clear()
        path = self.manifest
        if not path.is_file():
            return
        raw = path.read_bytes()
        if raw and not raw.endswith(b"\n"):  # a line cut by a kill: end it
            with path.open("ab") as fh:
                fh.write(b"\n")
        for line in raw.splitlines():
            try:
                rec = json.loads(line)
                name = str(rec["file"])
            except (ValueError, KeyError, TypeError):
                continue  # a partial line from a killed run
            if rec.get("removed"):
                self._records.pop(name, None)
                continue
            try:
                tasks = rec.get("tasks")
                self._records[name] = _Record(
                    file=name, sha256=str(rec["sha256"]), size=int(rec["size"]),
                    tasks=None if tasks is None else tuple(int(t) for t in tasks),
                    rows=None if rec.get("rows") is None else int(rec["rows"]),
                )
            except (ValueError, KeyError, TypeError):
                continue
            self._hashes.setdefault(name, set()).add(str(rec["sha256"]))

    def _adopt_legacy(self) -> None:
        """Record the files of a folder written before manifests existed.

        Only when ``config.json`` is a sweep stamp: it, ``results.parquet``,
        ``failures.json`` and the shards carrying the sweep's task metadata are
        recorded as the sweep's (so ``--overwrite`` may delete them); the shards
        have no checksum from their writing, so they are quarantined and rerun.
        """
        stamp = self.root / CONFIG
        try:
            old = json.loads(stamp.read_text())
        except (OSError, ValueError):
            return
        if not (isinstance(old, dict) and isinstance(old.get("fingerprint"), str)
                and isinstance(old.get("config"), dict)):
            return
        for name in (CONFIG, RESULTS, FAILURES):
            if (self.root / name).is_file():
                self._recorder(name)(self.root / name)
        if not self.shards.is_dir():
            return
        import pyarrow.parquet as pq

        for path in sorted(self.shards.glob("part-*.parquet")):
            try:
                meta = pq.read_schema(path).metadata or {}
            except Exception:  # unreadable: not recorded, quarantined later
                continue
            if TASKS_KEY in meta:
                self._recorder(f"{SHARDS}/{path.name}")(path)  # no task list: legacy

    def _append(self, entry: Mapping[str, Any]) -> None:
        with self.manifest.open("a") as fh:
            fh.write(json.dumps(entry, separators=(",", ":")) + "\n")
            fh.flush()

    def _recorder(self, name: str, *, tasks: list[int] | None = None,
                  rows: int | None = None) -> Callable[[Path], None]:
        def record(tmp: Path) -> None:
            digest, size = _file_sha256(tmp), tmp.stat().st_size
            entry: dict[str, Any] = {"file": name, "sha256": digest, "size": size}
            if tasks is not None:
                entry["tasks"] = tasks
                entry["rows"] = rows
            self._append(entry)
            self._records[name] = _Record(name, digest, size,
                                          None if tasks is None else tuple(tasks), rows)
            self._hashes.setdefault(name, set()).add(digest)
        return record

    def _forget(self, name: str, **extra: Any) -> None:
        self._append({"file": name, "removed": True, **extra})
        self._records.pop(name, None)

    def _write(self, name: str, write: Callable[[Path], object], **rec: Any) -> Path:
        path = self.root / name
        try:
            atomic_write(path, write, self._recorder(name, **rec))
        except OSError as exc:
            raise _oserror(exc, path, "write") from None
        return path

    def _ours(self, name: str) -> bool:
        """Whether ``DIR/name`` holds content this sweep wrote (by its hash)."""
        path = self.root / name
        if not path.is_file() or name not in self._hashes:
            return False
        try:
            return _file_sha256(path) in self._hashes[name]
        except OSError:
            return False

    def compact(self) -> None:
        """Rewrite the manifest with one line per live file (at the end of a run)."""
        lines = []
        for rec in self._records.values():
            entry: dict[str, Any] = {"file": rec.file, "sha256": rec.sha256, "size": rec.size}
            if rec.tasks is not None:
                entry["tasks"] = list(rec.tasks)
                entry["rows"] = rec.rows
            lines.append(json.dumps(entry, separators=(",", ":")))
        text = "".join(line + "\n" for line in lines)
        try:
            atomic_write(self.manifest, lambda p: p.write_text(text))
        except OSError as exc:
            raise _oserror(exc, self.manifest, "write") from None
        self._hashes = {name: {rec.sha256} for name, rec in self._records.items()}

    # -- config stamp ----------------------------------------------------------------
    def claim(self, config: dict[str, Any], fingerprint: str, *, meta: dict[str, Any]) -> bool:
        """Record ``config`` in a new folder, or check it matches the recorded one.

        Returns
        -------
        bool
            True when the folder already held this sweep (a resume).

        Raises
        ------
        SweepError
            If the folder was started with a different config, or holds result
            files this sweep did not write.
        """
        stamp = self.root / CONFIG
        if stamp.exists():
            try:
                old = json.loads(stamp.read_text())
            except (OSError, ValueError) as exc:
                raise SweepError(f"cannot read {str(stamp)!r}: {exc}") from None
            if not (isinstance(old, dict) and isinstance(old.get("fingerprint"), str)
                    and isinstance(old.get("config"), dict)):
                raise SweepError(
                    f"{str(stamp)!r} was not written by a sweep; choose another output "
                    "folder (it is left untouched)"
                )
            if CONFIG in self._hashes and not self._ours(CONFIG):
                raise SweepError(f"{str(stamp)!r} changed since the sweep wrote it; "
                                 "choose another output folder or restore it")
            if old.get("fingerprint") != fingerprint:
                changes = _diff(old.get("config", {}), config)
                raise SweepError(
                    f"the output folder {str(self.root)!r} holds a sweep started with a "
                    f"different config ({'; '.join(changes) or 'changed'}). Rerun with the "
                    "original config to resume it, or choose a new --out folder "
                    "(or pass --overwrite to start over)."
                )
            return True
        foreign = [name for name in (RESULTS, FAILURES)
                   if (self.root / name).exists() and not self._ours(name)]
        if self.shards.is_dir():
            foreign += [f"{SHARDS}/{f.name}" for f in sorted(self.shards.iterdir())
                        if f.suffix == ".parquet"
                        and not self._ours(f"{SHARDS}/{f.name}")][:5]
        if foreign:
            raise SweepError(
                f"the output folder {str(self.root)!r} holds files this sweep did not "
                f"write ({', '.join(foreign)}); choose an empty or new folder (they are "
                "left untouched)"
            )
        blob = {"fingerprint": fingerprint, "config": config, **meta}
        self._write(CONFIG, lambda p: p.write_text(json.dumps(blob, indent=2) + "\n"))
        return False

    def clear(self) -> list[str]:
        """Delete the files this sweep wrote (``--overwrite``), and only those.

        Files listed in the manifest are deleted while their content is still
        what the sweep wrote; anything else (foreign files, files changed since,
        ``DIR/quarantine``, figures) is left in place.

        Returns
        -------
        list of str
            The files that were left although the manifest lists them (changed).
        """
        kept: list[str] = []
        for name in list(self._records):
            if self._ours(name):
                (self.root / name).unlink()
            elif (self.root / name).exists():
                kept.append(name)
        if self.manifest.exists() and not kept:
            self.manifest.unlink()
        elif kept:
            self._records = {k: v for k, v in self._records.items() if k in kept}
            self.compact()
        if not kept:
            self._records.clear()
            self._hashes.clear()
        self._remove_temporaries()
        if self.shards.is_dir() and not any(self.shards.iterdir()):
            self.shards.rmdir()
        return kept

    # -- shards ----------------------------------------------------------------------
    def _remove_temporaries(self) -> None:
        """Remove temporary files left by a killed writer (only the store's own names)."""
        patterns = [(self.root, f".{name}.*.tmp") for name in (CONFIG, RESULTS, FAILURES,
                                                               MANIFEST)]
        patterns.append((self.shards, ".part-*.tmp"))
        for folder, pattern in patterns:
            if folder.is_dir():
                for tmp in folder.glob(pattern):
                    tmp.unlink(missing_ok=True)

    def shard_files(self) -> list[Path]:
        """Shard files present, sorted by name (stray temporary files are removed)."""
        if not self.shards.is_dir():
            return []
        self._remove_temporaries()
        return sorted(self.shards.glob("*.parquet"))

    def quarantine(self, path: Path, reason: str) -> Path:
        """Move a damaged or unknown shard to ``DIR/quarantine`` and say so."""
        folder = self.root / QUARANTINE
        folder.mkdir(exist_ok=True)
        target = folder / path.name
        k = 1
        while target.exists():
            target = folder / f"{path.stem}.{k}{path.suffix}"
            k += 1
        os.replace(path, target)
        name = f"{SHARDS}/{path.name}"
        if name in self._records:
            self._forget(name, quarantined=f"{QUARANTINE}/{target.name}")
        warnings.warn(
            f"shard {str(path)!r} {reason}: moved to {str(target)!r}; its tasks run again",
            StoreWarning, stacklevel=2,
        )
        return target

    def _check_shard(self, path: Path, data: bytes, check: ShardCheck,
                     claimed: set[int]) -> tuple[int, ...] | str:
        """The shard's tasks, or why it is not usable."""
        name = f"{SHARDS}/{path.name}"
        rec = self._records.get(name)
        if rec is None:
            return "was not written by this sweep (not in its manifest)"
        if rec.tasks is None:
            return "has no checksum from its writing (a folder from an older version)"
        if len(data) != rec.size or _sha256(data) != rec.sha256:
            return (f"is damaged: its content differs from what was written (SHA-256 "
                    f"{_sha256(data)[:12]}..., {len(data)} bytes; expected "
                    f"{rec.sha256[:12]}..., {rec.size} bytes)")
        tasks = rec.tasks
        if not tasks or any(not 0 <= t < check.n_tasks for t in tasks):
            return f"lists tasks outside 0..{check.n_tasks - 1}"
        if len(set(tasks)) != len(tasks) or claimed.intersection(tasks):
            return "repeats tasks already found in another shard"
        if rec.rows != len(tasks) * check.rows_per_task:
            return (f"records {rec.rows} rows for {len(tasks)} tasks; expected "
                    f"{len(tasks) * check.rows_per_task}")
        return tasks

    def _parse(self, data: bytes, tasks: tuple[int, ...], check: ShardCheck
               ) -> pd.DataFrame | str:
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(pa.BufferReader(data))
            meta = table.schema.metadata or {}
            frame = table.to_pandas()
        except Exception as exc:  # any parse failure is a damaged shard
            return f"cannot be read ({type(exc).__name__}: {exc})"
        try:
            listed = tuple(json.loads(meta.get(TASKS_KEY, b"null")) or ())
        except ValueError:
            listed = ()
        if tuple(sorted(listed)) != tuple(sorted(tasks)):
            return "has task metadata that does not match its manifest entry"
        if tuple(frame.columns) != check.columns:
            return f"has columns {list(frame.columns)}; expected {list(check.columns)}"
        task_col = frame["task"].to_numpy()
        want = np.repeat(np.array(sorted(tasks), dtype=np.int64), check.rows_per_task)
        if len(task_col) != len(want) or not np.array_equal(np.sort(task_col), want):
            return (f"does not hold exactly {check.rows_per_task} rows for each of its "
                    f"{len(tasks)} tasks")
        if not (np.array_equal(frame["point"].to_numpy(), task_col // check.replicates)
                and np.array_equal(frame["rep"].to_numpy(), task_col % check.replicates)):
            return "has point/rep columns that do not match its task column"
        return frame

    def verify(self, check: ShardCheck, *, read: bool = False
               ) -> tuple[set[int], list[pd.DataFrame]]:
        """Check every shard; quarantine the bad ones.

        Returns the tasks found in valid shards, and (with ``read``) their frames.
        """
        done: set[int] = set()
        frames: list[pd.DataFrame] = []
        for path in self.shard_files():
            try:
                data = path.read_bytes()
            except OSError as exc:
                self.quarantine(path, f"cannot be read ({exc.strerror or exc})")
                continue
            got = self._check_shard(path, data, check, done)
            if isinstance(got, str):
                self.quarantine(path, got)
                continue
            tasks = got
            if read:
                frame = self._parse(data, tasks, check)
                if isinstance(frame, str):
                    self.quarantine(path, frame)
                    continue
                frames.append(frame)
            done.update(tasks)
        return done, frames

    def write_shard(self, tasks: Iterable[int], frame: pd.DataFrame) -> Path:
        """Write the rows of ``tasks`` as one shard (atomically, recorded)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        ts = sorted(int(t) for t in tasks)
        base = f"part-{ts[0]:08d}-{ts[-1]:08d}"
        name = f"{base}.parquet"
        k = 1
        while (self.shards / name).exists():
            name = f"{base}-{k}.parquet"
            k += 1
        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[TASKS_KEY] = json.dumps(ts).encode()
        table = table.replace_schema_metadata(meta)
        return self._write(f"{SHARDS}/{name}", lambda p: pq.write_table(table, p),
                           tasks=ts, rows=len(frame))

    # -- final outputs ------------------------------------------------------------
    def write_results(self, frame: pd.DataFrame) -> Path:
        """Write the merged table to ``DIR/results.parquet`` (atomically)."""
        return self._write(RESULTS, lambda p: frame.to_parquet(p, index=False))

    def write_failures(self, failures: list[dict[str, Any]]) -> Path | None:
        """Write (or, with none, remove) ``DIR/failures.json``."""
        path = self.root / FAILURES
        if not failures:
            if self._ours(FAILURES):
                path.unlink()
                self._forget(FAILURES)
            return None
        return self._write(
            FAILURES, lambda p: p.write_text(json.dumps(failures, indent=2) + "\n")
        )


def _diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(_diff(a, b, f"{prefix}{key}."))
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out
