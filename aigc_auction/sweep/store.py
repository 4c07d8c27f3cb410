"""The output folder of a sweep: config stamp, Parquet shards, merged results.

Layout of ``DIR``::

    DIR/config.json        the config the folder was started with (+ fingerprint)
    DIR/shards/*.parquet   one shard per finished chunk of tasks, written atomically
    DIR/failures.json      tasks that raised in the last run (absent if none)
    DIR/results.parquet    the merged, sorted table, written when the sweep ends

Every file is written to a temporary name in the same folder and moved into place
with :func:`os.replace`, so a sweep killed at any moment leaves either a complete
shard or none. Rerunning skips every task found in a shard.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import SweepError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SweepStore", "atomic_write"]

RESULTS = "results.parquet"
CONFIG = "config.json"
FAILURES = "failures.json"
SHARDS = "shards"


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class SweepStore:
    """Reads and writes one sweep output folder.

    Parameters
    ----------
    out : str or Path
        The folder (created if missing).
    """

    def __init__(self, out: str | Path) -> None:
        if not isinstance(out, str | os.PathLike):
            raise TypeError(f"`out` must be a folder path; got {type(out).__name__}")
        self.root = Path(out)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"`out` must be a folder; {str(self.root)!r} is a file")
        self.shards = self.root / SHARDS

    # -- config stamp ----------------------------------------------------------
    def claim(self, config: dict[str, Any], fingerprint: str, *, meta: dict[str, Any]) -> bool:
        """Record ``config`` in a new folder, or check it matches the recorded one.

        Returns
        -------
        bool
            True when the folder already held this sweep (a resume).

        Raises
        ------
        SweepError
            If the folder was started with a different config.
        """
        stamp = self.root / CONFIG
        if stamp.exists():
            try:
                old = json.loads(stamp.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise SweepError(f"cannot read {str(stamp)!r}: {exc}") from None
            if old.get("fingerprint") != fingerprint:
                changes = _diff(old.get("config", {}), config)
                raise SweepError(
                    f"the output folder {str(self.root)!r} holds a sweep started with a "
                    f"different config ({'; '.join(changes) or 'changed'}). Rerun with the "
                    "original config to resume it, or choose a new --out folder "
                    "(or pass --overwrite to start over)."
                )
            return True
        self.root.mkdir(parents=True, exist_ok=True)
        blob = {"fingerprint": fingerprint, "config": config, **meta}
        atomic_write(stamp, lambda p: p.write_text(json.dumps(blob, indent=2) + "\n"))
        return False

    def clear(self) -> None:
        """Delete this sweep's files (config, shards, failures, results, figures)."""
        for name in (CONFIG, FAILURES, RESULTS):
            (self.root / name).unlink(missing_ok=True)
        if self.shards.is_dir():
            for f in self.shards.iterdir():
                if f.suffix in (".parquet", ".tmp"):
                    f.unlink()
            if not any(self.shards.iterdir()):
                self.shards.rmdir()

    # -- shards ----------------------------------------------------------------
    def shard_files(self) -> list[Path]:
        """Finished shards, sorted by name (stray temporary files are removed)."""
        if not self.shards.is_dir():
            return []
        for tmp in self.shards.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        return sorted(self.shards.glob("part-*.parquet"))

    def done_tasks(self) -> set[int]:
        """Indices of the tasks found in the shards."""
        import pyarrow.parquet as pq

        done: set[int] = set()
        for f in self.shard_files():
            meta = pq.read_schema(f).metadata or {}
            tasks = meta.get(b"aigc_auction_tasks")
            if tasks is not None:
                done.update(json.loads(tasks))
        return done

    def write_shard(self, tasks: Iterable[int], frame: pd.DataFrame) -> Path:
        """Write the rows of ``tasks`` as one shard (atomically)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        ts = sorted(int(t) for t in tasks)
        name = f"part-{ts[0]:08d}-{ts[-1]:08d}"
        path = self.shards / f"{name}.parquet"
        k = 1
        while path.exists():
            path = self.shards / f"{name}-{k}.parquet"
            k += 1
        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"aigc_auction_tasks"] = json.dumps(ts).encode()
        table = table.replace_schema_metadata(meta)
        atomic_write(path, lambda p: pq.write_table(table, p))
        return path

    def read_shards(self) -> list[pd.DataFrame]:
        """Every shard as a DataFrame."""
        import pandas as pd

        return [pd.read_parquet(f) for f in self.shard_files()]

    # -- final outputs ------------------------------------------------------------
    def write_results(self, frame: pd.DataFrame) -> Path:
        """Write the merged table to ``DIR/results.parquet`` (atomically)."""
        path = self.root / RESULTS
        atomic_write(path, lambda p: frame.to_parquet(p, index=False))
        return path

    def write_failures(self, failures: list[dict[str, Any]]) -> Path | None:
        """Write (or, with none, remove) ``DIR/failures.json``."""
        path = self.root / FAILURES
        if not failures:
            path.unlink(missing_ok=True)
            return None
        atomic_write(path, lambda p: p.write_text(json.dumps(failures, indent=2) + "\n"))
        return path


def _diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(_diff(a, b, f"{prefix}{key}."))
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out
