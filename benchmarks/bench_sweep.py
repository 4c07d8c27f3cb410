"""Sweep throughput: auctions per second of the smoke config, per backend.

Times ``experiments/configs/smoke.toml`` in this process (1 worker), on a local
process pool with 2 workers and on a Dask ``LocalCluster`` with 2 worker
processes. Start-up (spawning workers and importing the library in them) is
timed separately from the sweep itself (best of ``--repeat`` runs); the last
column is the backend's total time relative to the 2-worker local pool, i.e. the
overhead of Dask.

Run with ``python -m benchmarks sweep`` (``--config PATH`` for another config).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from aigc_auction.sweep import (
    Backend,
    DaskBackend,
    LocalBackend,
    SerialBackend,
    load_config,
    run_sweep,
    task_seed,
)

SMOKE = Path(__file__).resolve().parent.parent / "experiments" / "configs" / "smoke.toml"


def _time_backend(make: type[Backend] | object, cfg: object, repeat: int
                  ) -> tuple[float, float]:
    """(start-up seconds, best sweep seconds of ``repeat``) of a backend ``make()``."""
    t0 = time.perf_counter()
    backend = make() if callable(make) else make  # type: ignore[operator]
    # warm up: every worker imports the library and runs a trivial task
    list(backend.imap_unordered(task_seed, [(0, k) for k in range(4 * backend.n_workers)]))
    t1 = time.perf_counter()
    best = float("inf")
    try:
        for _ in range(repeat):
            t = time.perf_counter()
            run_sweep(cfg, executor=backend)  # type: ignore[arg-type]
            best = min(best, time.perf_counter() - t)
    finally:
        backend.close()
    return t1 - t0, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks sweep")
    parser.add_argument("--config", default=str(SMOKE))
    parser.add_argument("--repeat", type=int, default=3, help="sweeps per backend (best)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    auctions = cfg.n_tasks * cfg.auctions_per_task
    print(f"config {args.config}: {cfg.n_tasks} tasks, {auctions} auctions "
          f"({cfg.auctions_per_task} per task)")
    runs = [
        ("in process (1 worker)", SerialBackend),
        ("local pool, 1 worker", lambda: LocalBackend(1)),
        ("local pool, 2 workers", lambda: LocalBackend(2)),
        ("dask LocalCluster, 2 workers", lambda: DaskBackend("local", n_workers=2)),
    ]
    results = []
    for label, make in runs:
        start, sweep = _time_backend(make, cfg, args.repeat)
        results.append((label, start, sweep))
    ref = next(s + w for label, s, w in results if label == "local pool, 2 workers")
    print(f"\n{'backend':<30} {'start-up s':>10} {'sweep s':>9} {'auctions/s':>11} "
          f"{'total vs pool(2)':>17}")
    for label, start, sweep in results:
        print(f"{label:<30} {start:>10.2f} {sweep:>9.2f} {auctions / sweep:>11.1f} "
              f"{(start + sweep) / ref:>16.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
