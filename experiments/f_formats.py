"""Experiment (f): GSP and first price with learning bidders against VCG and Myerson.

For each user model (MNL; classic cascade with the optimized reading order) and
each number of advertisers n, one repeated auction of ``--rounds`` rounds on
fresh low-rank markets (m = 4 positions, K = 2 slots, values i.i.d. U[0, 1]):

* ``gsp`` and ``first_price``: every advertiser runs full-information Hedge over
  the bid multipliers 0, 0.05, ..., 1 (``aa.bidders.Hedge``), with counterfactual
  utilities read off exact own-bid step functions;
* ``vcg``, ``myerson`` and ``gsp_truthful``: the same markets (paired, drawn by
  ``aa.repeated.market_sequence``) at truthful bids.

Means are taken over the rounds after the burn-in (the first half). Writes
``experiments/figures/f_formats.png`` and ``f_formats.csv`` and prints the table.

Run: ``python experiments/f_formats.py`` (about 5 minutes on 2 cores;
``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import aigc_auction as aa

HERE = Path(__file__).resolve().parent
GRID = np.round(np.linspace(0.0, 1.0, 21), 12)
MODELS = {"mnl": aa.MNL(), "cascade": aa.Cascade()}
PRIOR = stats.uniform(0, 1)


def run_point(model_name: str, n: int, rounds: int, seed: int, lr: float) -> list[dict]:
    model = MODELS[model_name]
    spec = {"n_advertisers": n, "n_positions": 4, "slots": 2, "generator": "lowrank",
            "prior": "uniform"}
    burn = rounds // 2
    rows = []
    for fmt, mech in (("gsp", aa.GSP(model)), ("first_price", aa.FirstPrice(model))):
        t0 = time.perf_counter()
        res = aa.simulate_repeated(mech, aa.bidders.Hedge(GRID, lr=lr), spec, rounds=rounds,
                                   rng=seed)
        s = res.summary(burn_in=burn)
        h = res.history[res.history["round"] >= burn]
        rows.append({"model": model_name, "n": n, "mechanism": fmt, "bidders": "hedge",
                     "revenue": s.revenue, "welfare": s.welfare, "efficiency": s.efficiency,
                     "mean_multiplier": float((h["bid"] / h["value"]).mean()),
                     "regret_per_round": float(s.regret_per_round.mean()),
                     "seconds": time.perf_counter() - t0})
    markets = aa.repeated.market_sequence(spec, rounds=rounds, rng=seed)[burn:]
    truthful = (("vcg", aa.VCG(model)), ("myerson", aa.Myerson(model, prior=PRIOR)),
                ("gsp_truthful", aa.GSP(model)))
    opt = aa.VCG(model)
    for name, mech in truthful:
        t0 = time.perf_counter()
        rev = wel = best = 0.0
        for inst, v in markets:
            out = mech.run(inst, v)
            rev += out.revenue
            wel += float(np.dot(v, out.ctr))
            best += opt.run(inst, v).welfare if name != "vcg" else float(np.dot(v, out.ctr))
        k = len(markets)
        rows.append({"model": model_name, "n": n, "mechanism": name, "bidders": "truthful",
                     "revenue": rev / k, "welfare": wel / k, "efficiency": wel / best,
                     "mean_multiplier": 1.0, "regret_per_round": float("nan"),
                     "seconds": time.perf_counter() - t0})
    return rows


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    style = {"vcg": ("C0", "-", "VCG (truthful)"), "myerson": ("C1", "-", "Myerson (truthful)"),
             "gsp": ("C2", "--", "GSP (Hedge bidders)"),
             "first_price": ("C3", "--", "first price (Hedge bidders)"),
             "gsp_truthful": ("C2", ":", "GSP (truthful bids)")}
    for col, model in enumerate(MODELS):
        for row, metric in enumerate(("revenue", "efficiency")):
            ax = axes[row, col]
            for mech, (color, ls, label) in style.items():
                d = df[(df["model"] == model) & (df["mechanism"] == mech)].sort_values("n")
                ax.plot(d["n"], d[metric], color=color, ls=ls, marker="o", label=label)
            ax.set_title(f"{metric} per auction, {model} users")
            ax.grid(alpha=0.3)
            if row == 1:
                ax.set_xlabel("advertisers n (m = 4 positions, K = 2)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=600)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="smoke run (40 rounds, n <= 4)")
    parser.add_argument("--out", type=Path, default=HERE / "figures")
    args = parser.parse_args(argv)
    ns = (2, 4) if args.quick else (2, 4, 8, 12)
    rounds = 40 if args.quick else args.rounds
    rows = []
    for model_name in MODELS:
        for n in ns:
            rows += run_point(model_name, n, rounds, args.seed + n, args.lr)
            print(f"done {model_name} n={n}", flush=True)
    df = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "f_formats.csv", index=False, float_format="%.6g")
    plot(df, args.out / "f_formats.png")
    table = df.pivot_table(index=["model", "mechanism"], columns="n",
                           values=["revenue", "efficiency"])
    with pd.option_context("display.width", 160, "display.precision", 3):
        print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
