"""Run every ``bench_*.py`` module of this folder, or those named on the command line."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    names = sorted(
        m.name[len("bench_"):]
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    chosen = [a for a in args if not a.startswith("-")] or names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {names}", file=sys.stderr)
        return 2
    rest = [a for a in args if a.startswith("-")]
    status = 0
    for name in chosen:
        print(f"\n=== benchmarks/bench_{name}.py ===", flush=True)
        mod = importlib.import_module(f"benchmarks.bench_{name}")
        status |= int(mod.main(rest) or 0)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
