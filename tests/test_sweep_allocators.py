"""Sweep allocators: allocation rules measured without payments (``alloc:<solver>``)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aigc_auction as aa
from aigc_auction.cli import main
from aigc_auction.plotting import plot_approx_ratio, plot_revenue, plot_sweep
from aigc_auction.sweep import (
    ALLOC_PREFIX,
    RESULT_COLUMNS,
    SweepConfig,
    load_config,
    make_market,
    run_sweep,
)

REPO = Path(__file__).resolve().parent.parent

# 14 positions > the 12-position range of restricted_dp, so it can miss the optimum
CFG = {
    "name": "alloc",
    "seed": 11,
    "replicates": 4,
    "mechanisms": ["vcg"],
    "models": ["mnl", "cascade"],
    "true_models": ["mnl", "cascade"],
    "allocators": {"cascade": ["greedy", "local_search", "restricted_dp", "subset_dp"]},
    "market": {"n_advertisers": 6, "n_positions": 14, "slots": 8},
    "grid": {"n_advertisers": [6, 10]},
}
ALLOCS = ["greedy", "local_search", "restricted_dp", "subset_dp"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return run_sweep(CFG, executor="serial")


def test_rows_schema_and_order(table):
    cfg = SweepConfig.from_dict(CFG)
    assert cfg.allocators == (("cascade", tuple(ALLOCS)),)
    assert cfg.allocations_per_task == 4 and cfg.auctions_per_task == 2
    assert cfg.rows_per_task == (2 + 4) * 2
    assert len(table) == cfg.n_tasks * cfg.rows_per_task
    assert list(table.columns[5:]) == list(RESULT_COLUMNS)
    first = table[table["task"] == 0]
    assert first[["mechanism", "design_model", "true_model"]].values.tolist() == [
        ["vcg", "mnl", "mnl"], ["vcg", "mnl", "cascade"],
        ["vcg", "cascade", "mnl"], ["vcg", "cascade", "cascade"],
        *[[ALLOC_PREFIX + a, "cascade", t] for a in ALLOCS for t in ("mnl", "cascade")],
    ]
    alloc = table[table["mechanism"].str.startswith(ALLOC_PREFIX)]
    assert (alloc["solver"] == alloc["mechanism"].str.removeprefix(ALLOC_PREFIX)).all()
    assert alloc["revenue"].isna().all()  # no payments
    assert table.loc[~table.index.isin(alloc.index), "revenue"].notna().all()
    assert (alloc["solver_time"] >= 0).all() and alloc["solver_time"].notna().all()


def test_ratios(table):
    alloc = table[table["mechanism"].str.startswith(ALLOC_PREFIX)]
    own = alloc[alloc["true_model"] == "cascade"]
    # under the design model the ratio is the efficiency
    np.testing.assert_allclose(own["approx_ratio"], own["efficiency"], rtol=0, atol=1e-12)
    # a ratio is a property of the allocation: the same on every true model's row
    other = alloc[alloc["true_model"] == "mnl"]
    np.testing.assert_array_equal(other["approx_ratio"].to_numpy(),
                                  own["approx_ratio"].to_numpy())
    assert (alloc["approx_ratio"] <= 1 + 1e-12).all() and (alloc["approx_ratio"] > 0.5).all()
    assert (alloc.loc[alloc["solver"] == "subset_dp", "approx_ratio"] == 1.0).all()
    by = own.groupby("solver")["welfare"].mean()
    assert by["local_search"] >= by["greedy"] - 1e-12  # local search starts from greedy
    # the maximal-in-range rule inside VCG allocates exactly like the allocator
    vcg = run_sweep({**CFG, "models": ["cascade"], "true_models": ["cascade"],
                     "allocators": [], "solvers": {"cascade": "restricted_dp"}},
                    executor="serial")
    rdp = own[own["solver"] == "restricted_dp"]
    np.testing.assert_allclose(vcg["welfare"], rdp["welfare"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(vcg["approx_ratio"], rdp["approx_ratio"], rtol=0, atol=1e-12)


def test_rows_reproduce_from_the_seed_column(table):
    """Every allocator row from scratch: make_market, the solver, the exact optimum."""
    cfg = SweepConfig.from_dict(CFG)
    model = aa.Cascade()
    rows = table[table["mechanism"].str.startswith(ALLOC_PREFIX)
                 & (table["true_model"] == "cascade")]
    below = 0
    for row in rows.itertuples():
        inst, values = make_market(cfg, row.point, rng=row.seed)
        a = aa.get_solver(model, row.solver).func(inst, values, model)
        best = aa.get_solver(model, "brute_force" if inst.n_positions < 5 else "subset_dp")
        opt = best.func(inst, values, model).value
        welfare = float(np.dot(values, model.ctr(inst, a.assignment, a.order)))
        assert row.welfare == pytest.approx(welfare, abs=1e-12)
        assert row.optimal_welfare == pytest.approx(opt, abs=1e-12)
        assert row.approx_ratio == pytest.approx(welfare / opt, abs=1e-12)
        assert row.shown_ads == int((a.assignment >= 0).sum())
        below += row.approx_ratio < 1 - 1e-9
    assert below > 0  # the approximations do miss the optimum here


def test_allocators_only_sweep_and_its_plots(tmp_path):
    cfg = {**CFG, "mechanisms": [], "models": ["cascade"], "true_models": ["cascade"],
           "allocators": ["greedy", "restricted_dp"], "replicates": 2}
    df = run_sweep(cfg, executor="serial")
    assert set(df["mechanism"]) == {"alloc:greedy", "alloc:restricted_dp"}
    written = {p.name for p in plot_sweep(df, tmp_path)}
    assert written == {"welfare.png", "efficiency.png", "approx_ratio.png"}  # no revenue
    with pytest.raises(ValueError, match="revenue"):
        plot_revenue(df)


def test_plots_skip_allocators_in_revenue_and_show_them_in_ratios(table, tmp_path):
    written = {p.name for p in plot_sweep(table, tmp_path)}
    assert {"revenue.png", "approx_ratio.png", "misspecification.png"} <= written
    ax = plot_revenue(table)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels and not any(ALLOC_PREFIX in s for s in labels)
    ax = plot_approx_ratio(table)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sum(ALLOC_PREFIX in s for s in labels) == len(ALLOCS)


def test_config_forms_roundtrip_and_fingerprint():
    as_list = SweepConfig.from_dict({"models": ["cascade"], "allocators": ["greedy"]})
    as_table = SweepConfig.from_dict({"models": ["cascade"],
                                      "allocators": {"cascade": ["greedy"]}})
    assert as_list == as_table and as_list.allocators == (("cascade", ("greedy",)),)
    assert SweepConfig.from_dict(as_list.to_dict()) == as_list
    # unused, the key stays out of the stamp: folders of older sweeps still resume
    plain = SweepConfig.from_dict({"models": ["cascade"]})
    assert "allocators" not in plain.to_dict()
    assert plain == SweepConfig.from_dict({"models": ["cascade"], "allocators": []})
    assert plain.fingerprint() != as_list.fingerprint()
    # a list applies to every design model; a table to the ones it names
    both = SweepConfig.from_dict({"models": ["mnl", "cascade"],
                                  "allocators": {"cascade": ["greedy"]}})
    assert both.allocators_for("mnl") == () and both.allocators_for("cascade") == ("greedy",)
    mnl = SweepConfig.from_dict({"models": ["mnl", "cascade"], "allocators": ["brute_force"]})
    assert mnl.allocators == (("mnl", ("brute_force",)), ("cascade", ("brute_force",)))


@pytest.mark.parametrize(
    ("data", "exc", "match"),
    [
        ({"models": ["cascade"], "allocators": ["gredy"]}, ValueError,
         r"`allocators` entry 'gredy' for model 'cascade'.*greedy"),
        ({"models": ["mnl", "cascade"], "allocators": ["greedy"]}, ValueError,
         r"`allocators` entry 'greedy' for model 'mnl'"),
        ({"models": ["cascade"], "allocators": {"mnl": ["greedy"]}}, ValueError,
         r"`allocators.mnl` names a model not in `models`"),
        ({"models": ["cascade"], "allocators": ["greedy", "greedy"]}, ValueError, "twice"),
        ({"models": ["cascade"], "allocators": {"cascade": []}}, ValueError,
         "`allocators.cascade` must be a non-empty list"),
        ({"models": ["cascade"], "allocators": "greedy x"}, ValueError,
         "`allocators` entry 'greedy x'"),
        ({"models": ["cascade"], "allocators": 3}, TypeError, "`allocators` must be a list"),
        ({"models": ["cascade"], "allocators": [3]}, TypeError, "solver name strings"),
        ({"mechanisms": [], "allocators": []}, ValueError, "`mechanisms`"),
        # a solver that does not apply to the model's parameters at one grid point
        ({"models": ["cascade"], "allocators": ["subset_dp"],
          "grid": {"cascade.continue_after_skip": [1.0, 0.5]}}, ValueError,
         r"`allocators` entry 'subset_dp'.*at grid point"),
    ],
)
def test_validation_errors_name_the_key(data, exc, match):
    with pytest.raises(exc, match=match):
        SweepConfig.from_dict(data)


def test_cli_reports_allocations(tmp_path, capsys):
    path = tmp_path / "a.toml"
    path.write_text('seed = 1\nreplicates = 2\nmechanisms = ["vcg"]\nmodels = ["cascade"]\n'
                    'allocators = ["greedy"]\n[market]\nn_advertisers = 4\nn_positions = 3\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--workers", "1",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2 tasks, 2 auctions + 2 allocations (no payments)" in out
    assert "alloc:greedy" in out


def test_shipped_configs_cover_cascade_and_the_approximations():
    smoke = load_config(REPO / "experiments" / "configs" / "smoke.toml")
    assert set(smoke.models) == set(smoke.true_models) == {"mnl", "cascade"}
    d = load_config(REPO / "experiments" / "configs" / "d_cascade_approx.toml")
    assert {"greedy", "local_search", "restricted_dp"} <= set(d.allocators_for("cascade"))
    # more positions than restricted_dp's 12-position range, within the exact DP's reach
    assert all(12 < p["n_positions"] <= 20 for p in d.points())
