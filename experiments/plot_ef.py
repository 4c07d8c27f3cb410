"""Figures and tables of experiments (e) and (f) from their sweep folders.

The sweeps write long-form tables (``results.parquet``); the generic
``aigc-auction plot`` draws every mechanism under its own design model, which
leaves out what (e) and (f) are about (designs from fitted models; bidders'
strategies as a panel). This script selects those rows and draws them with
:mod:`aigc_auction.plotting` (means with 95% t-intervals, one panel per setting
off the x axis, captions from the config), then prints the README tables::

    python experiments/plot_ef.py e results/e    # figures/e_efficiency.png, e_revenue.png
    python experiments/plot_ef.py f results/f    # figures/f_revenue.png, f_efficiency.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure  # no pyplot: no display needed

from aigc_auction.plotting import plot_metric
from aigc_auction.sweep import FIT_PREFIX

HERE = Path(__file__).resolve().parent
MODELS = {"mnl": "MNL", "cascade": "cascade"}
FAMILIES = {"cascade": "cascade", "mnl": "MNL", "pbm": "PBM", "independent": "independent"}
MECHANISMS = {"vcg": "VCG", "myerson": "Myerson", "gsp": "GSP", "first_price": "first price"}


def _config(folder: Path) -> dict:
    data = json.loads((folder / "config.json").read_text())
    return {k: v for k, v in data.get("config", data).items() if k != "root_seed"}


def _save(draw, path: Path) -> None:
    fig = Figure()
    draw(fig)
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def _markdown(table: pd.DataFrame, fmt: str = "{:.3f}") -> str:
    cols = [str(c) for c in table.columns]
    head = [*table.index.names, *cols]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for idx, row in table.iterrows():
        keys = idx if isinstance(idx, tuple) else (idx,)
        cells = [fmt.format(v) if pd.notna(v) else "" for v in row]
        lines.append("| " + " | ".join([*map(str, keys), *cells]) + " |")
    return "\n".join(lines)


# -- (e) ------------------------------------------------------------------------------
def design_label(design: str, truth: str) -> str:
    if design.startswith(FIT_PREFIX):
        return f"designed on the fitted {FAMILIES[design.removeprefix(FIT_PREFIX)]} model"
    return "designed on the truth (oracle)"


def e_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Rows evaluated under the model that generated the logs: the fitted designs and
    the oracle (the design for that model on the true CTRs)."""
    under = df[df["true_model"] == df["param_fit_logs"]]
    keep = under["design_model"].str.startswith(FIT_PREFIX) | (
        under["design_model"] == under["true_model"])
    rows = under[keep]
    return pd.DataFrame({
        "task": rows["task"],
        "param_true_model": rows["param_fit_logs"].map(MODELS),
        "param_logged_sessions": rows["param_fit_n_sessions"],
        "mechanism": rows["mechanism"],
        "design": [design_label(d, t) for d, t in zip(rows["design_model"],
                                                       rows["true_model"], strict=True)],
        "design_model": rows["design_model"],
        "true_model": rows["true_model"],
        "welfare": rows["welfare"],
        "revenue": rows["revenue"],
        "efficiency": rows["efficiency"],
    })


LOST = "revenue lost per auction (oracle − design)"


def revenue_lost(data: pd.DataFrame) -> pd.DataFrame:
    """The rows with :data:`LOST`, the oracle's revenue minus the row's on the same
    market (paired; 0 on the oracle's own rows), and ``oracle_revenue``."""
    oracle = data["design"].str.endswith("(oracle)")
    base = data[oracle].set_index(["task", "mechanism"])["revenue"]
    ref = base.reindex(pd.MultiIndex.from_frame(data[["task", "mechanism"]])).to_numpy()
    return data.assign(**{LOST: ref - data["revenue"].to_numpy(), "oracle_revenue": ref})


def experiment_e(folder: Path, out: Path) -> None:
    df = pd.read_parquet(folder / "results.parquet")
    cfg = _config(folder)
    data = e_frame(df)
    vcg = data[data["mechanism"] == "vcg"]
    mye = revenue_lost(data[data["mechanism"] == "myerson"])
    hue = ("mechanism", "design")
    _save(lambda f: plot_metric(
        vcg, y="efficiency", x="param_logged_sessions", hue=hue, own_model=False,
        config=cfg, fig=f,
        title="(e) VCG designed from click logs of the true users: efficiency"),
        out / "e_efficiency.png")
    _save(lambda f: plot_metric(
        mye, y=LOST, x="param_logged_sessions", hue=hue, own_model=False,
        config=cfg, fig=f,
        title="(e) Myerson designed from click logs: revenue lost on the same markets"),
        out / "e_revenue.png")
    table = vcg.pivot_table(index=["param_true_model", "design"],
                            columns="param_logged_sessions", values="efficiency",
                            aggfunc="mean", sort=False)
    table.index.names = ["true users", "design"]
    print("\nVCG efficiency (mean over markets), by logged sessions:\n")
    print(_markdown(table))
    fitted = mye[~mye["design"].str.endswith("(oracle)")]
    grouped = fitted.groupby(["param_true_model", "design", "param_logged_sessions"],
                             sort=False)
    share = (grouped[LOST].mean() / grouped["oracle_revenue"].mean()).unstack()
    share.index.names = ["true users", "design"]
    print("\nMyerson revenue lost, share of the oracle's revenue on the same markets:\n")
    print(_markdown(100 * share, "{:.1f}%"))
    oracle = data[data["design"].str.endswith("(oracle)") & (data["mechanism"] == "myerson")]
    print("\nOracle Myerson revenue per auction:",
          oracle.groupby("param_true_model")["revenue"].mean().round(3).to_dict())
    sizes = data.groupby(["param_true_model", "param_logged_sessions", "design",
                          "mechanism"]).size()
    print(f"\nmarkets per point: {sizes.min()}-{sizes.max()}")


# -- (f) ------------------------------------------------------------------------------
def f_frame(df: pd.DataFrame, burn_in: int) -> pd.DataFrame:
    """Own-model rows; the user model and the bidders' strategy as panels."""
    rows = df[df["design_model"] == df["true_model"]]
    bidders = rows["param_bidders_type"].map(
        {"truthful": "truthful bids", "hedge": f"Hedge, {burn_in} rounds"})
    return pd.DataFrame({
        "param_n_advertisers": rows["param_n_advertisers"],
        "param_user_model": rows["true_model"].map(MODELS),
        "param_bidders": bidders,
        "mechanism": rows["mechanism"].map(MECHANISMS),
        "design_model": rows["design_model"],
        "true_model": rows["true_model"],
        "revenue": rows["revenue"],
        "welfare": rows["welfare"],
        "efficiency": rows["efficiency"],
    })


def experiment_f(folder: Path, out: Path) -> None:
    df = pd.read_parquet(folder / "results.parquet")
    cfg = _config(folder)
    data = f_frame(df, int(cfg["bidders"]["burn_in"]))
    for y in ("revenue", "efficiency"):
        _save(lambda f, y=y: plot_metric(
            data, y=y, x="param_n_advertisers", hue=("mechanism",), own_model=False,
            config=cfg, fig=f,
            title=f"(f) {y.capitalize()} of the formats: GSP and first price at the "
                  "bids shown, VCG and Myerson at truthful bids"),
            out / f"f_{y}.png")
    for y in ("revenue", "efficiency"):
        table = data.pivot_table(index=["param_user_model", "param_bidders", "mechanism"],
                                 columns="param_n_advertisers", values=y, aggfunc="mean",
                                 sort=False)
        table.index.names = ["users", "bidders", "mechanism"]
        print(f"\n{y} (mean over markets), by n:\n")
        print(_markdown(table))
    sizes = data.groupby(["param_user_model", "param_bidders", "mechanism",
                          "param_n_advertisers"]).size()
    print(f"\nmarkets per point: {sizes.min()}-{sizes.max()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=["e", "f"])
    parser.add_argument("folder", type=Path, help="the sweep's --out folder")
    parser.add_argument("--out", type=Path, default=HERE / "figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (experiment_e if args.experiment == "e" else experiment_f)(args.folder, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
