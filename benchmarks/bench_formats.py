"""Issue 14: repeated auctions with learning bidders, and the equilibrium checks.

1. ``simulate_repeated`` rounds per second with 20 full-information Hedge
   bidders (grid 0, 0.05, ..., 1), n = 20, m = 5, K = 3, low-rank markets drawn
   every round (target: >= 2,000 rounds/s on one core under MNL), for GSP and
   first price under MNL and the classic cascade. The baseline is what the
   step functions replace: the counterfactual utility of every grid bid by
   rerunning the auction (``Mechanism.run``) per advertiser and grid bid, timed
   on a few rounds; ``vs rerun`` = baseline time / method time per round.
   ``rounds/cpu-s`` divides by the process's CPU time instead of wall time: on
   a shared machine it approximates what one idle core does.
2. The textbook equilibria: best-response dynamics for first price with two
   U[0, 1] bidders and one slot (30 x 30 quadrature, grid step 0.05), and the
   EOS/Varian lowest envy-free GSP profile on a separable market without
   externalities: the multipliers reached, the reported epsilon, the revenue.

Run ``python -m benchmarks formats`` (``--quick`` for a smoke run); for the
one-core number of the target, ``OPENBLAS_NUM_THREADS=1 taskset -c 0 python -m
benchmarks formats``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import aigc_auction as aa
from aigc_auction import steps_mnl_numba
from aigc_auction.equilibrium import (
    best_response_dynamics,
    equilibrium_check,
    profile_outcomes,
)

from ._util import print_table

GRID = np.round(np.linspace(0.0, 1.0, 21), 12)
SPEC = {"n_advertisers": 20, "n_positions": 5, "slots": 3, "generator": "lowrank",
        "prior": "uniform"}


def rerun_round(mech: aa.Mechanism, inst: aa.Instance, values: np.ndarray,
                bids: np.ndarray) -> np.ndarray:
    """The naive round: one auction per advertiser and grid bid."""
    u = np.empty((values.size, GRID.size))
    for i in range(values.size):
        for k, m in enumerate(GRID):
            bb = bids.copy()
            bb[i] = m * values[i]
            out = mech.run(inst, bb)
            u[i, k] = values[i] * out.ctr[i] - out.payments[i]
    return u


def repeated_rows(rounds: int, naive_rounds: int) -> list[list[str]]:
    rows = []
    hedge = aa.bidders.Hedge(GRID, lr=20.0)
    engines = ["numpy", "numba"] if steps_mnl_numba.available() else ["numpy"]
    for model in (aa.MNL(), aa.Cascade()):
        for mech in (aa.GSP(model), aa.FirstPrice(model)):
            markets = aa.repeated.market_sequence(SPEC, rounds=naive_rounds, rng=1)
            t0 = time.perf_counter()
            for inst, v in markets:
                rerun_round(mech, inst, v, v)
            naive = (time.perf_counter() - t0) / naive_rounds
            base = None
            # the step tables' engine matters under MNL only (the table engine)
            for engine in engines if isinstance(model, aa.MNL) else ["-"]:
                kw = {} if engine == "-" else {"engine": engine}
                aa.simulate_repeated(mech, hedge, SPEC, rounds=2, rng=0, **kw)  # warm-up
                t0, c0 = time.perf_counter(), time.process_time()
                aa.simulate_repeated(mech, hedge, SPEC, rounds=rounds, rng=1, **kw)
                per_round = (time.perf_counter() - t0) / rounds
                cpu_round = (time.process_time() - c0) / rounds
                base = per_round if base is None else base
                rows.append([model.name, mech.name, solver_name(mech), engine, str(rounds),
                             f"{1.0 / per_round:,.0f}", f"{1.0 / cpu_round:,.0f}",
                             f"{per_round * 1e3:,.2f}", f"{base / per_round:,.2f}x",
                             f"{naive * 1e3:,.0f}", f"{naive / per_round:,.0f}x",
                             "yes" if 1.0 / per_round >= 2000 else "no"])
    return rows


def solver_name(mech: aa.Mechanism) -> str:
    return mech.solver_spec.name


def equilibrium_rows() -> list[list[str]]:
    rows = []
    inst = aa.Instance(ctr=[[0.5], [0.5]])
    n_grid = 30
    v0 = (np.arange(n_grid) + 2 / 3) / n_grid
    v1 = (np.arange(n_grid) + 1 / 3) / n_grid
    markets = [(inst, np.array([a, b])) for a in v0 for b in v1]
    t0 = time.perf_counter()
    res = best_response_dynamics(aa.FirstPrice(), markets, grid=GRID)
    dt = time.perf_counter() - t0
    rev = profile_outcomes(aa.FirstPrice(), markets, res.multipliers)["revenue"] / 0.5
    rows.append(["first price, 2 x U[0,1], 1 slot", "v/2 (0.5, 0.5)",
                 str(res.multipliers.tolist()), f"{res.converged} ({res.passes} passes)",
                 f"{res.epsilon:.2e}", f"{rev:.4f} (1/3)", f"{dt:.2f}"])
    no_ext = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)
    alpha = np.array([1.0, 0.8, 0.6, 0.5])
    beta = np.array([0.5, 0.3, 0.15])
    v = np.array([0.9, 1.0, 0.7, 0.6])
    sep = aa.Instance.from_separable(alpha, beta)
    bids = eos_bids(alpha, beta, v)
    t0 = time.perf_counter()
    chk = equilibrium_check(aa.GSP(no_ext), (sep, v), bids / v,
                            grid=np.round(np.linspace(0, 1.5, 151), 12))
    dt = time.perf_counter() - t0
    rev = aa.GSP(no_ext).run(sep, bids).revenue
    vcg = aa.VCG(no_ext).run(sep, v).revenue
    rows.append(["GSP lowest envy-free (EOS)", "VCG revenue", str(np.round(bids / v, 4).tolist()),
                 "-", f"{chk.epsilon:.2e}", f"{rev:.6f} (VCG {vcg:.6f})", f"{dt:.2f}"])
    t0 = time.perf_counter()
    br = best_response_dynamics(aa.GSP(no_ext), (sep, v), grid=GRID)
    dt = time.perf_counter() - t0
    rev = profile_outcomes(aa.GSP(no_ext), (sep, v), br.multipliers)["revenue"]
    rows.append(["GSP best-response dynamics", "an equilibrium", str(br.multipliers.tolist()),
                 f"{br.converged} ({br.passes} passes)", f"{br.epsilon:.2e}",
                 f"{rev:.6f} (VCG {vcg:.6f})", f"{dt:.2f}"])
    return rows


def eos_bids(alpha: np.ndarray, beta: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Lowest envy-free GSP bids: the ad ranked k+1 makes the ad ranked k pay VCG."""
    k_slots = min(len(v), len(beta))
    rank = np.argsort(-(alpha * v), kind="stable")
    s = np.append((alpha * v)[rank], 0.0)
    b_ext = np.append(beta[:k_slots], 0.0)
    bids = v.copy()
    for k in range(k_slots):
        vcg_k = sum((b_ext[j] - b_ext[j + 1]) * s[j + 1] for j in range(k, k_slots))
        if k + 1 < len(v):
            bids[rank[k + 1]] = vcg_k / (beta[k] * alpha[rank[k + 1]])
    return bids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks formats", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: few rounds")
    args = parser.parse_args([a for a in (argv or []) if a == "--quick"])
    rounds, naive_rounds = (5, 1) if args.quick else (1000, 2)
    print("simulate_repeated, 20 Hedge bidders, n=20, m=5, K=3 (target >= 2,000 rounds/s "
          "under MNL); vs rerun = one Mechanism.run per advertiser and grid bid")
    print_table(["model", "format", "solver", "engine", "rounds", "rounds/s", "rounds/cpu-s",
                 "ms/round", "vs numpy", "rerun ms/round", "vs rerun", "target met"],
                repeated_rows(rounds, naive_rounds))
    print("\nTextbook equilibria on a multiplier grid")
    print_table(["case", "known", "multipliers", "converged", "epsilon", "revenue",
                 "seconds"], equilibrium_rows())
    return 0
