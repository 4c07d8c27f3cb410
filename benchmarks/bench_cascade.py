"""Cascade allocation: exact solvers' speed, approximations' speed and ratios (issue 3).

Run with ``python -m benchmarks cascade`` (``--quick`` for fewer replicates).

Targets of the issue:

* subset DP, classic cascade, n = 200, m = 12, K = 5: under 1 s per allocation;
* MILP, general parameters, n = 30, m = 8, K = 4: under 10 s per allocation;
* best approximation, n = 1000, m = 50, K = 10: under 1 s, mean ratio >= 0.98 and
  worst >= 0.95 to the exact optimum on every instance family.

Instance families (generated here; seeded): ``uniform`` (p ~ U[0, 0.3], bids
U[0, 1]), ``separable`` (p = alpha_i beta_j, beta decreasing), ``lowrank`` (LLM-like
context: p = sigmoid(u_i . v_j - 2), rank 3), ``heavy`` (p ~ U[0, 0.3], log-normal
bids with sigma 1.5).

The exact optimum is computed by the subset DP for the classic cascade up to
m = 16 positions and by the MILP for general parameters at n = 30, m = 8. At
m = 50 neither exact solver finishes (2^50 DP states; the MILP's relaxation is
weak), so the ratios there are certified instead: ``value / bound``, with
``bound`` the run-relaxation upper bound of
:func:`aigc_auction.solvers.cascade.bound.cascade_upper_bound` (distinct
positions dropped), is a *lower bound* on ``value / optimum``. The column
``tight`` counts the instances whose bound is attained (then the optimum is
known exactly).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np

import aigc_auction as aa
from aigc_auction.solvers.cascade.bound import cascade_upper_bound
from aigc_auction.solvers.cascade.greedy import cascade_greedy
from aigc_auction.solvers.cascade.local_search import cascade_local_search
from aigc_auction.solvers.cascade.milp import cascade_milp
from aigc_auction.solvers.cascade.restricted import cascade_restricted
from aigc_auction.solvers.cascade.subset_dp import cascade_subset_dp

FAMILIES = ("uniform", "separable", "lowrank", "heavy")
APPROX: dict[str, Callable[..., aa.Allocation]] = {
    "greedy": cascade_greedy,
    "local_search": cascade_local_search,
    "restricted_dp": cascade_restricted,
}


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


def timed(func: Callable[[], aa.Allocation], repeat: int) -> tuple[float, aa.Allocation]:
    """Median wall time over ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    assert out is not None
    return float(np.median(times)), out


def general_model(n: int, rng: np.random.Generator, order: str = "optimized") -> aa.Cascade:
    return aa.Cascade(
        continue_after_click=rng.uniform(0, 1, n),
        continue_after_skip=rng.uniform(0.5, 1, n),
        order=order,  # type: ignore[arg-type]
    )


def speed_targets(reps: int) -> None:
    rng = np.random.default_rng(0)
    print("exact solvers (median seconds per allocation)")
    print(f"{'solver':<12} {'setting':<34} {'n':>5} {'m':>3} {'K':>3} {'seconds':>9}  target")
    for family in FAMILIES:
        p, c = make_case(family, 200, 12, rng)
        inst = aa.Instance(ctr=p, slots=5)
        sec, _ = timed(partial(cascade_subset_dp, inst, c, aa.Cascade()), reps)
        print(f"{'subset_dp':<12} {'classic, ' + family:<34} {200:>5} {12:>3} {5:>3} "
              f"{sec:>9.4f}  < 1 s")
    for order in ("optimized", "fixed"):
        for family in FAMILIES:
            p, c = make_case(family, 30, 8, rng)
            inst = aa.Instance(ctr=p, slots=4)
            model = general_model(30, rng, order)
            sec, _ = timed(partial(cascade_milp, inst, c, model), max(1, reps // 2))
            print(f"{'milp':<12} {'general ' + order + ', ' + family:<34} {30:>5} {8:>3} "
                  f"{4:>3} {sec:>9.4f}  < 10 s")


def ratio_table(
    title: str,
    n: int,
    m: int,
    k: int,
    reps: int,
    exact: Callable[..., aa.Allocation] | None,
    model_for: Callable[[np.random.Generator], aa.Cascade],
    names: tuple[str, ...],
) -> None:
    """Approximation ratios per family: to the exact optimum, or certified by a bound.

    With ``exact=None`` the reference is the run-relaxation upper bound, so every
    ratio printed is a lower bound on the true approximation ratio.
    """
    rng = np.random.default_rng(1)
    ref = "exact optimum" if exact is not None else "upper bound (ratios certified)"
    print(f"\n{title}: n={n}, m={m}, K={k}, {reps} instances per family; ratio to {ref}")
    print(f"{'family':<10} {'solver':<14} {'mean ratio':>10} {'worst':>8} {'mean s':>9} "
          f"{'ref s':>8} {'tight':>6}")
    for family in FAMILIES:
        ratios: dict[str, list[float]] = {s: [] for s in names}
        secs: dict[str, list[float]] = {s: [] for s in names}
        ref_secs, tight = [], 0
        for _ in range(reps):
            p, c = make_case(family, n, m, rng)
            inst = aa.Instance(ctr=p, slots=k)
            model = model_for(rng)
            vals = {}
            for s in names:
                sec, alloc = timed(partial(APPROX[s], inst, c, model), 1)
                vals[s] = alloc.value
                secs[s].append(sec)
            t0 = time.perf_counter()
            if exact is not None:
                best = exact(inst, c, model).value
                tight += 1
            else:
                bound = cascade_upper_bound(inst, c, model)
                best = bound.value
                tight += bound.attained
            ref_secs.append(time.perf_counter() - t0)
            for s in names:
                ratios[s].append(vals[s] / best if best > 0 else 1.0)
        for s in names:
            print(f"{family:<10} {s:<14} {np.mean(ratios[s]):>10.5f} "
                  f"{np.min(ratios[s]):>8.5f} {np.mean(secs[s]):>9.4f} "
                  f"{np.mean(ref_secs):>8.3f} {tight:>3}/{reps:<2}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cascade")
    parser.add_argument("--quick", action="store_true", help="fewer replicates")
    args = parser.parse_args(argv)
    reps = 2 if args.quick else 5
    speed_targets(3 if args.quick else 5)
    all_names = tuple(APPROX)
    ratio_table(
        "classic cascade, exact by subset DP", 1000, 14, 10, reps, cascade_subset_dp,
        lambda rng: aa.Cascade(), all_names,
    )
    ratio_table(
        "general parameters (gc ~ U[0,1], gs ~ U[0.5,1]), exact by MILP", 30, 8, 4,
        max(2, reps // 2), cascade_milp, lambda rng: general_model(30, rng), all_names,
    )
    ratio_table(
        "classic cascade at the target size", 1000, 50, 10, reps, None,
        lambda rng: aa.Cascade(), all_names,
    )
    ratio_table(
        "general parameters at the target size", 1000, 50, 10, reps, None,
        lambda rng: general_model(1000, rng), ("greedy", "local_search"),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
