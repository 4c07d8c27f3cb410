"""Cascade: exact general-parameter solver, truthful approximation, fast payments.

Run with ``python -m benchmarks cascade`` (``--quick``: fewer instances and no
slow MILP baselines). Every ratio is measured in the same run; targets of the
general-cascade issue are printed next to the numbers.

* Exact allocation, general parameters (``gc = 0.2, gs = 0.7``), both order
  modes: ``dssr`` against the reach-flow ``milp`` at n = 30, m = 8, K = 4
  (target >= 100x); n = 200, m = 12, K = 5 over 20 seeds (median < 0.5 s,
  slowest < 5 s); the classic cascade with m = 21 positions (where the old
  subset DP gave way to the MILP).
* Mechanisms, one auction at a time (``Mechanism.run``) and per auction through
  ``run_batch``: VCG and Myerson under ``Cascade(continue_after_skip=0.7)`` at
  n = 20, m = 5, K = 3 (targets 10 ms and 30 ms; baseline: the same mechanism
  on the MILP) and the classic cascade (Myerson target 5 ms; baseline: the
  subset DP solver through the per-auction path).
* Truthful approximation at n = 1000, m = 50, K = 10 with per-advertiser
  ``gc ~ U[0, 1]``, ``gs ~ U[0.5, 1]``: ``restricted_dp`` time per allocation
  (target < 1 s) and its **certified** ratio ``value / bound`` (target mean >=
  0.99, worst >= 0.97), the bound from
  :func:`aigc_auction.solvers.cascade.bound.cascade_upper_bound` (``attained``:
  the bound is the proven optimum).

Instance families (seeded): ``uniform`` (p ~ U[0, 0.3], bids U[0, 1]),
``separable`` (p = alpha_i beta_j, beta decreasing), ``lowrank`` (LLM-like
context: p = sigmoid(u_i . v_j - 2), rank 3), ``heavy`` (p ~ U[0, 0.3],
log-normal bids with sigma 1.5).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from scipy import stats

import aigc_auction as aa
from aigc_auction.solvers.cascade.bound import cascade_upper_bound

from ._util import print_table

FAMILIES = ("uniform", "separable", "lowrank", "heavy")
GENERAL = {"continue_after_click": 0.2, "continue_after_skip": 0.7}


def make_case(
    family: str, n: int, m: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(ctr, bids)`` of one instance of ``family``."""
    if family == "uniform":
        return rng.uniform(0, 0.3, (n, m)), rng.uniform(0, 1, n)
    if family == "separable":
        alpha = rng.uniform(0.05, 0.6, n)
        beta = np.sort(rng.uniform(0.1, 1.0, m))[::-1]
        return np.outer(alpha, beta), rng.uniform(0, 1, n)
    if family == "lowrank":
        u, v = rng.normal(size=(n, 3)), rng.normal(size=(m, 3))
        return 1.0 / (1.0 + np.exp(2.0 - u @ v.T)), rng.uniform(0, 1, n)
    if family == "heavy":
        return rng.uniform(0, 0.3, (n, m)), rng.lognormal(0.0, 1.5, n)
    raise ValueError(f"`family` must be one of {FAMILIES}; got {family!r}")


def clock(func: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = func()
    return time.perf_counter() - t0, out


def solver(name: str) -> Callable[..., aa.Allocation]:
    return aa.get_solver("cascade", name).func


def exact_speed(quick: bool) -> None:
    dssr, milp = solver("dssr"), solver("milp")
    print("\nExact allocation, general parameters (gc = 0.2, gs = 0.7)")
    rows = []
    for order in ("optimized", "fixed"):
        model = aa.Cascade(order=order, **GENERAL)  # type: ignore[arg-type]
        t_d, t_m = [], []
        for f, family in enumerate(FAMILIES):
            p, c = make_case(family, 30, 8, np.random.default_rng(f))
            inst = aa.Instance(ctr=p, slots=4)
            sec, a = clock(lambda inst=inst, c=c, md=model: dssr(inst, c, md))
            t_d.append(sec)
            if not quick or f == 0:
                sec, b = clock(lambda inst=inst, c=c, md=model: milp(inst, c, md))
                t_m.append(sec)
                assert abs(a.value - b.value) <= 1e-8 * max(1.0, b.value)  # type: ignore[attr-defined]
        rows.append([order, "30 x 8, K=4", f"{np.median(t_d) * 1e3:.1f} ms",
                     f"{np.median(t_m):.2f} s", f"{np.median(t_m) / np.median(t_d):,.0f}x",
                     ">= 100x"])
        secs = []
        for seed in range(8 if quick else 20):
            p, c = make_case(FAMILIES[seed % 4], 200, 12, np.random.default_rng(100 + seed))
            sec, _ = clock(lambda p=p, c=c, md=model: dssr(aa.Instance(ctr=p, slots=5), c, md))
            secs.append(sec)
        rows.append([order, f"200 x 12, K=5 ({len(secs)} seeds)",
                     f"median {np.median(secs):.3f} s", f"max {np.max(secs):.3f} s", "-",
                     "median < 0.5 s, max < 5 s"])
    print_table(["order", "size", "dssr", "milp", "milp / dssr", "target"], rows)
    rng = np.random.default_rng(7)
    inst = aa.Instance(ctr=rng.uniform(0, 0.5, (8, 21)), slots=4)
    bids = rng.uniform(0, 1, 8)
    classic = aa.Cascade()
    t_a, _ = clock(lambda: dssr(inst, bids, classic))
    t_v, _ = clock(lambda: aa.VCG(classic).run(inst, bids))
    line = (f"classic cascade, n = 8, m = 21, K = 4: dssr allocation {t_a * 1e3:.1f} ms, "
            f"VCG {t_v * 1e3:.1f} ms")
    if not quick:
        t_m, _ = clock(lambda: milp(inst, bids, classic))
        line += f"; milp allocation {t_m:.1f} s ({t_m / t_a:,.0f}x)"
    print(line)


def per_auction(mech: aa.Mechanism, n: int, m: int, k: int, count: int) -> tuple[float, float]:
    """Median seconds of ``run`` over ``count`` markets, and seconds per auction in a batch."""
    rng = np.random.default_rng(3)
    insts = [aa.Instance(ctr=rng.uniform(0, 0.5, (n, m)), slots=k) for _ in range(count)]
    bids = rng.uniform(0, 1, (count, n))
    mech.run(insts[0], bids[0])  # warm caches (virtual-value tables)
    times = [clock(lambda i=i: mech.run(insts[i], bids[i]))[0] for i in range(count)]
    batch, _ = clock(lambda: aa.run_batch_arrays(mech, insts, bids))
    return float(np.median(times)), batch / count


def mechanisms(quick: bool) -> None:
    print("\nMechanisms: one auction (median of Mechanism.run) and per auction in run_batch")
    u01 = stats.uniform(0, 1)
    general = aa.Cascade(continue_after_skip=0.7)
    classic = aa.Cascade()
    cases = [
        ("VCG", general, None, "milp", 20, 5, 3, "<= 10 ms"),
        ("Myerson", general, None, "milp", 20, 5, 3, "<= 30 ms"),
        ("VCG", classic, None, "subset_dp", 20, 5, 3, "-"),
        ("Myerson", classic, None, "subset_dp", 20, 5, 3, "<= 5 ms"),
        ("VCG", classic, None, "subset_dp", 50, 10, 5, "-"),
        ("Myerson", classic, None, "subset_dp", 50, 10, 5, "-"),
    ]
    rows = []
    for kind, model, name, base, n, m, k, target in cases:
        def build(solver_name: str | None, model: aa.Cascade = model, kind: str = kind
                  ) -> aa.Mechanism:
            if kind == "VCG":
                return aa.VCG(model, solver=solver_name)
            return aa.Myerson(model, prior=u01, solver=solver_name)

        one, batch = per_auction(build(name), n, m, k, 20 if not quick else 8)
        slow_count = 1 if base == "milp" else (3 if quick else 8)
        if quick and base == "milp":
            base_s, ratio = "-", "-"
        else:
            ref, _ = per_auction(build(base), n, m, k, slow_count)
            base_s, ratio = f"{ref * 1e3:.1f} ms", f"{ref / one:,.0f}x"
        label = "classic" if model is classic else "gs = 0.7"
        rows.append([kind, label, f"{n} x {m}, K={k}", f"{one * 1e3:.2f} ms",
                     f"{batch * 1e3:.2f} ms", f"{base} {base_s}", ratio, target])
    print_table(["mechanism", "cascade", "size", "run", "run_batch / auction", "baseline",
                 "speed-up", "target"], rows)


def large(quick: bool) -> None:
    reps = 2 if quick else 5
    limit = 10.0 if quick else 60.0
    print(f"\nTruthful approximation, n = 1000, m = 50, K = 10, gc ~ U[0,1], gs ~ U[0.5,1]; "
          f"{reps} instances per family; certified ratio = value / upper bound "
          f"(bound: anytime DSSR rounds, <= 2^22 states, {limit:.0f} s)")
    rows, all_ratios = [], []
    mir, greedy, local = solver("restricted_dp"), solver("greedy"), solver("local_search")
    for f, family in enumerate(FAMILIES):
        ratios, secs, attained, bound_secs, heur = [], [], 0, [], []
        for r in range(reps):
            rng = np.random.default_rng([f, r])
            p, c = make_case(family, 1000, 50, rng)
            inst = aa.Instance(ctr=p, slots=10)
            model = aa.Cascade(continue_after_click=rng.uniform(0, 1, 1000),
                               continue_after_skip=rng.uniform(0.5, 1, 1000))
            sec, alloc = clock(lambda inst=inst, c=c, model=model: mir(inst, c, model))
            secs.append(sec)
            sec, bound = clock(lambda inst=inst, c=c, model=model: cascade_upper_bound(
                inst, c, model, max_states=1 << 22, time_limit=limit))
            bound_secs.append(sec)
            attained += bound.attained  # type: ignore[attr-defined]
            value = alloc.value  # type: ignore[attr-defined]
            ratios.append(value / bound.value)  # type: ignore[attr-defined]
            heur.append((greedy(inst, c, model).value / bound.value,  # type: ignore[attr-defined]
                         local(inst, c, model).value / bound.value))  # type: ignore[attr-defined]
        all_ratios += ratios
        h = np.array(heur)
        rows.append([family, f"{np.mean(secs):.3f} s", f"{np.max(secs):.3f} s",
                     f"{np.mean(ratios):.4f}", f"{np.min(ratios):.4f}", f"{attained}/{reps}",
                     f"{np.mean(bound_secs):.1f} s", f"{h[:, 0].mean():.4f}",
                     f"{h[:, 1].mean():.4f}"])
    print_table(["family", "mean time", "max time", "mean ratio", "worst", "attained",
                 "bound time", "greedy", "local_search"], rows)
    print(f"all families: mean certified ratio {np.mean(all_ratios):.4f}, worst "
          f"{np.min(all_ratios):.4f} (targets: mean >= 0.99, worst >= 0.97; time < 1 s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cascade")
    parser.add_argument("--quick", action="store_true",
                        help="fewer instances, no slow MILP baselines")
    args = parser.parse_args(argv)
    exact_speed(args.quick)
    mechanisms(args.quick)
    large(args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
