"""Timing, memory and table helpers shared by the benchmark modules."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import aigc_auction as aa

__all__ = ["fmt_ratio", "market", "peak_memory", "print_table", "timed"]


def market(n: int, m: int, slots: int, seed: int = 0) -> tuple[aa.Instance, np.ndarray]:
    """A random non-separable market: CTRs in [0, 0.5) scaled per advertiser, bids U[0, 1]."""
    rng = np.random.default_rng(seed)
    ctr = rng.uniform(0, 0.5, (n, m)) * rng.uniform(0.2, 1.0, (n, 1))
    return aa.Instance(ctr=ctr, slots=slots), rng.uniform(0, 1, n)


def timed(
    func: Callable[[], Any], *, budget: float = 0.3, max_repeat: int = 50
) -> tuple[float, Any]:
    """Best wall time of ``func()`` over repeats filling ``budget`` seconds (at least one)."""
    t0 = time.perf_counter()
    out = func()
    best = time.perf_counter() - t0
    total, reps = best, 1
    while total < budget and reps < max_repeat:
        t0 = time.perf_counter()
        func()
        dt = time.perf_counter() - t0
        best, total, reps = min(best, dt), total + dt, reps + 1
    return best, out


def peak_memory(func: Callable[[], Any]) -> float:
    """Peak traced memory (bytes) allocated while running ``func()`` once."""
    tracemalloc.start()
    try:
        func()
        return float(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def fmt_ratio(base: float | None, t: float) -> str:
    return "-" if base is None else f"{base / t:,.1f}x"


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h)] + [len(r[k]) for r in rows]) for k, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)), flush=True)
