"""Issue 2: the core engine's solvers and full auctions, per LP backend.

For n in {10, 50, 200}, m in {5, 20}, K = min(m, 5): the MNL allocation through the
library's LP backends (PuLP/CBC, the baseline; SciPy HiGHS) and the default
parametric solver, then full VCG and Myerson runs with each of them. Ratios are
baseline time / method time within the same group (allocation, VCG, Myerson),
measured in this run; peak memory by tracemalloc.

Run ``python -m benchmarks core`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
from functools import partial

from scipy import stats

import aigc_auction as aa

from ._util import fmt_ratio, market, peak_memory, print_table, timed

PRIOR = stats.uniform(0, 1)
MODEL = aa.MNL()
SOLVERS = ("pulp_cbc", "lp_highs", "parametric")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks core", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: n <= 50")
    args = parser.parse_args([a for a in (argv or []) if a == "--quick"])
    budget = 0.05 if args.quick else 0.3
    ns = (10, 50) if args.quick else (10, 50, 200)
    rows: list[list[str]] = []
    for n in ns:
        for m in (5, 20):
            k = min(m, 5)
            inst, b = market(n, m, k, seed=10 * n + m)
            cfg = [str(n), str(m), str(k)]
            groups: list[tuple[str, dict[str, object]]] = [
                ("alloc", {s: partial(aa.get_solver(MODEL, s).func, inst, b, MODEL)
                           for s in SOLVERS}),
                ("VCG run", {s: partial(aa.VCG(MODEL, solver=s).run, inst, b)
                             for s in SOLVERS}),
                ("Myerson run", {s: partial(aa.Myerson(MODEL, prior=PRIOR, solver=s).run,
                                            inst, b) for s in SOLVERS}),
            ]
            for group, funcs in groups:
                base: float | None = None
                for s, func in funcs.items():
                    rep = 2 if s == "pulp_cbc" else 50
                    t, _ = timed(func, budget=budget, max_repeat=rep)  # type: ignore[arg-type]
                    mem = peak_memory(func) if s != "pulp_cbc" else None  # type: ignore[arg-type]
                    base = t if s == "pulp_cbc" else base
                    rows.append([*cfg, f"{group}: {s}", f"{t * 1e3:,.2f}", fmt_ratio(base, t),
                                 "-" if mem is None else f"{mem / 1e6:,.2f}"])
    print("Core engine per backend (ratio = PuLP/CBC time / method time, same group)")
    print_table(["n", "m", "K", "method", "time ms", "vs PuLP/CBC", "peak MB"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
