"""Issue 5: the MNL engine against the assortment LP written in PuLP and solved by CBC.

One table, every ratio measured in this run: for n in {10, 100, 1000}, m in {5, 20},
K in {3, 10} (K <= m), each method's best wall time, its speed-up over the
baseline computing the same output, and its peak traced memory (tracemalloc).
Allocation rows compare with the baseline allocation (the PuLP/CBC LP of
``benchmarks/_baseline.py``); auction rows with the same mechanism whose every
allocation is that LP (computed for n <= 100; ``--full`` for all). Then the four
targets of issue 5, each with what is reached and whether it is met.

Run ``python -m benchmarks mnl`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
from scipy import stats

import aigc_auction as aa

from ._baseline import BaselineMyerson, BaselineVCG, pulp_cbc_allocation
from ._util import fmt_ratio, market, peak_memory, print_table, timed

PRIOR = stats.uniform(0, 1)
MODEL = aa.MNL()


def _grid(quick: bool) -> list[tuple[int, int, int]]:
    ns = (10, 100) if quick else (10, 100, 1000)
    return [(n, m, k) for n in ns for m in (5, 20) for k in (3, 10) if k <= m]


def _config_rows(
    n: int, m: int, k: int, full: bool, budget: float
) -> list[list[str]]:
    rows = []
    highs = aa.get_solver(MODEL, "lp_highs").func
    fast = aa.get_solver(MODEL, "parametric").func
    inst, b = market(n, m, k, seed=n + m + k)
    cfg = [str(n), str(m), str(k)]

    def base_alloc() -> object:
        return pulp_cbc_allocation(inst.ctr, b, k)

    t_base, _ = timed(base_alloc, budget=budget, max_repeat=3)
    mem = peak_memory(base_alloc) if n <= 100 else None
    rows.append([*cfg, "alloc: PuLP/CBC LP (baseline)", f"{t_base * 1e3:,.2f}", "1.0x",
                 "-" if mem is None else f"{mem / 1e6:,.2f}"])
    for label, solve in (("alloc: HiGHS LP (lp_highs)", highs),
                         ("alloc: parametric (default)", fast)):
        t, _ = timed(partial(solve, inst, b, MODEL), budget=budget)
        mem = peak_memory(partial(solve, inst, b, MODEL))
        rows.append([*cfg, label, f"{t * 1e3:,.2f}", fmt_ratio(t_base, t), f"{mem / 1e6:,.2f}"])
    mechs: list[tuple[str, aa.Mechanism, aa.Mechanism]] = [
        ("VCG", aa.VCG(MODEL), BaselineVCG(MODEL)),
        ("Myerson", aa.Myerson(MODEL, prior=PRIOR), BaselineMyerson(MODEL, prior=PRIOR)),
    ]
    for name, mech, base in mechs:
        t, _ = timed(partial(mech.run, inst, b), budget=budget)
        mem = peak_memory(partial(mech.run, inst, b))
        t_b: float | None = None
        if n <= 100 or full:
            t_b, _ = timed(partial(base.run, inst, b), budget=0.0, max_repeat=1)
            rows.append([*cfg, f"{name} run (PuLP/CBC inside)", f"{t_b * 1e3:,.2f}",
                         "1.0x", "-"])
        rows.append([*cfg, f"{name} run (parametric)", f"{t * 1e3:,.2f}",
                     fmt_ratio(t_b, t), f"{mem / 1e6:,.2f}"])
    return rows


def grid_rows(quick: bool, full: bool, budget: float) -> list[list[str]]:
    rows = []
    for n, m, k in _grid(quick):
        rows += _config_rows(n, m, k, full, budget)
    return rows


def targets(quick: bool) -> list[list[str]]:
    out = []
    # 1. full Myerson auction, n = 100, m = 20, K = 5, >= 50x, identical to 1e-9
    inst, b = market(100, 20, 5, seed=1)
    base = BaselineMyerson(MODEL, prior=PRIOR)
    fast = aa.Myerson(MODEL, prior=PRIOR)
    t_b, o_b = timed(lambda: base.run(inst, b), budget=0.0, max_repeat=1)
    t_f, o_f = timed(lambda: fast.run(inst, b), budget=1.0)
    diff = float(np.max(np.abs(o_b.payments - o_f.payments)))
    same = bool(np.array_equal(o_b.assignment, o_f.assignment)) and diff <= 1e-9
    ratio = t_b / t_f
    out.append(["Myerson(MNL) auction n=100 m=20 K=5", ">= 50x, identical to 1e-9",
                f"{ratio:,.0f}x (max |dt| {diff:.1e})", _met(ratio >= 50 and same)])
    # 2. allocation alone, n = 1000, m = 20, K = 10, >= 100x
    inst, b = market(1000, 20, 10, seed=2)
    t_b, a_b = timed(lambda: pulp_cbc_allocation(inst.ctr, b, 10), budget=0.0, max_repeat=1)
    func = aa.get_solver(MODEL, "parametric").func
    t_f, a_f = timed(lambda: func(inst, b, MODEL), budget=1.0)
    ratio = t_b / t_f
    same = bool(np.array_equal(a_b, a_f.assignment))
    out.append(["MNL allocation n=1000 m=20 K=10", ">= 100x",
                f"{ratio:,.0f}x (same allocation: {same})", _met(ratio >= 100 and same)])
    # 3. sweep throughput, n = 20, m = 5, K = 3, one process
    inst, _ = market(20, 5, 3, seed=3)
    bsz = 1000 if quick else 4000
    bids = np.random.default_rng(3).uniform(0, 1, (bsz, 20))
    for name, mech in (("VCG", aa.VCG(MODEL)), ("Myerson", aa.Myerson(MODEL, prior=PRIOR))):
        t0 = time.perf_counter()
        aa.run_batch(mech, inst, bids)
        rate = bsz / (time.perf_counter() - t0)
        out.append([f"{name}(MNL) sweep n=20 m=5 K=3 (run_batch)", ">= 2,000 auctions/s/core",
                    f"{rate:,.0f} auctions/s", _met(rate >= 2000)])
    # 4. memory, n = 10,000, m = 50 (K = 10): no n*m*K-sized matrix
    n, m, k = 10_000, 50, 10
    inst, b = market(n, m, k, seed=4)
    _ = inst.odds
    func = aa.get_solver(MODEL, "parametric").func
    t_f, _ = timed(lambda: func(inst, b, MODEL), budget=0.0, max_repeat=1)
    peak = peak_memory(lambda: func(inst, b, MODEL))
    out.append([f"allocation n={n} m={m} K={k}: peak memory",
                f"< n*m*K*8 B = {n * m * k * 8 / 1e6:.0f} MB",
                f"{peak / 1e6:.1f} MB in {t_f * 1e3:.0f} ms", _met(peak < n * m * k * 8)])
    return out


def _met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks mnl", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: n <= 100, short timings")
    parser.add_argument("--full", action="store_true", help="baseline auctions at n = 1000 too")
    args = parser.parse_args([a for a in (argv or []) if a in ("--quick", "--full")])
    budget = 0.05 if args.quick else 0.3
    print("MNL engine vs the assortment LP in PuLP/CBC (ratio = baseline time / method time)")
    rows = grid_rows(args.quick, args.full, budget)
    print_table(["n", "m", "K", "method", "time ms", "vs baseline", "peak MB"], rows)
    print("\nIssue 5 targets (measured in this run)")
    print_table(["target", "needed", "reached", "status"], targets(args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
