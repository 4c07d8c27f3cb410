"""aigc_auction.analysis: the numbers against a hand computation, the row selection."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from aigc_auction import analysis
from aigc_auction.cli import summary_table as cli_summary_table

# t quantiles (two-sided 95%) from tables: t_{0.975, 1}, t_{0.975, 2}, t_{0.975, 3}
T975 = {1: 12.706204736174698, 2: 4.302652729749464, 3: 3.182446305284263}


@pytest.fixture
def table() -> pd.DataFrame:
    """Four markets; VCG and Myerson designed for MNL, evaluated under MNL and cascade,
    and a separable baseline under both true models."""
    rows = []
    vcg = [0.30, 0.20, 0.50, 0.40]
    mye = [0.40, 0.26, 0.53, 0.41]
    for task in range(4):
        for true, shift in (("mnl", 0.0), ("cascade", -0.1)):
            rows.append({"task": task, "mechanism": "vcg", "design_model": "mnl",
                         "true_model": true, "revenue": vcg[task] + shift,
                         "efficiency": 1.0 + shift, "param_n": 2 + 2 * (task % 2)})
            rows.append({"task": task, "mechanism": "myerson", "design_model": "mnl",
                         "true_model": true, "revenue": mye[task] + shift,
                         "efficiency": 0.9 + shift, "param_n": 2 + 2 * (task % 2)})
            rows.append({"task": task, "mechanism": "separable_vcg",
                         "design_model": "separable", "true_model": true,
                         "revenue": 0.1 * (task + 1), "efficiency": 0.8,
                         "param_n": 2 + 2 * (task % 2)})
    return pd.DataFrame(rows)


def test_own_model_keeps_own_rows_and_every_baseline(table):
    own = analysis.own_model(table)
    assert set(zip(own["mechanism"], own["true_model"], strict=True)) == {
        ("vcg", "mnl"), ("myerson", "mnl"), ("separable_vcg", "mnl"),
        ("separable_vcg", "cascade")}
    assert len(analysis.own_model(table, baselines=False)) == 8


def test_mean_ci_matches_a_hand_computation():
    y = np.array([0.3, 0.2, 0.5, 0.4])
    got = analysis.mean_ci(pd.DataFrame({"y": y}), "y").iloc[0]
    mean, sd = y.mean(), y.std(ddof=1)
    half = T975[3] * sd / math.sqrt(4)
    assert got["n"] == 4
    assert got["mean"] == pytest.approx(0.35)
    assert got["std"] == pytest.approx(sd)
    assert (got["low"], got["high"]) == pytest.approx((mean - half, mean + half))
    # 90% interval: narrower, t_{0.95, 3} = 2.353363
    got90 = analysis.mean_ci(pd.DataFrame({"y": y}), "y", level=0.9).iloc[0]
    assert got90["high"] - mean == pytest.approx(2.353363434801 * sd / 2)


def test_mean_ci_leaves_out_nan_and_single_values():
    df = pd.DataFrame({"g": ["a", "a", "a", "b", "c"], "y": [1.0, np.nan, 3.0, 7.0, np.nan]})
    got = analysis.mean_ci(df, "y", "g")
    assert got["g"].tolist() == ["a", "b"]  # c has no value
    assert got["n"].tolist() == [2, 1]
    a = got.iloc[0]
    assert a["high"] - a["mean"] == pytest.approx(T975[1] * math.sqrt(2) / math.sqrt(2))
    assert np.isnan(got.iloc[1]["low"])


def test_summarize_by_condition_and_setting(table):
    out = analysis.summarize(table, ["revenue", "efficiency"])
    assert list(out.columns) == ["mechanism", "design_model", "true_model", "n", "revenue",
                                 "revenue_low", "revenue_high", "efficiency",
                                 "efficiency_low", "efficiency_high"]
    vcg = out[out["mechanism"] == "vcg"].iloc[0]
    assert (vcg["true_model"], vcg["n"], vcg["revenue"]) == ("mnl", 4, pytest.approx(0.35))
    # wrong-model rows are not pooled in: the cascade evaluation of vcg is absent
    assert not ((out["mechanism"] == "vcg") & (out["true_model"] == "cascade")).any()
    by = analysis.summarize(table, ["revenue"], by="param_n")
    vcg2 = by[(by["mechanism"] == "vcg") & (by["param_n"] == 2)].iloc[0]
    assert (vcg2["n"], vcg2["revenue"]) == (2, pytest.approx(0.4))  # tasks 0 and 2
    every = analysis.summarize(table, ["revenue"], own_model_only=False)
    assert len(every) == 6


def test_paired_differences_match_a_hand_computation(table):
    out = analysis.paired_differences(table, "revenue", reference="vcg")
    mye = out[out["mechanism"] == "myerson"].iloc[0]
    d = np.array([0.10, 0.06, 0.03, 0.01])
    half = T975[3] * d.std(ddof=1) / 2
    assert mye["true_model"] == "mnl" and mye["n"] == 4
    assert mye["diff"] == pytest.approx(d.mean())
    assert (mye["diff_low"], mye["diff_high"]) == pytest.approx((d.mean() - half,
                                                                 d.mean() + half))
    assert mye["reference_mean"] == pytest.approx(0.35)
    assert mye["rel_diff"] == pytest.approx(d.mean() / 0.35)
    # the paired interval is much tighter than the unpaired one on the same numbers
    unpaired = analysis.summarize(table, ["revenue"])
    spread = unpaired.loc[unpaired["mechanism"] == "vcg", "revenue_high"].iloc[0] - 0.35
    assert half < spread / 3
    # baselines are compared under each true model with vcg designed for that model
    base = out[out["mechanism"] == "separable_vcg"]
    assert base["true_model"].tolist() == ["mnl"]  # no vcg designed for cascade here
    assert base.iloc[0]["diff"] == pytest.approx(np.mean([0.1, 0.2, 0.3, 0.4]) - 0.35)


def test_paired_differences_errors(table):
    with pytest.raises(ValueError, match="`reference` must be a mechanism"):
        analysis.paired_differences(table, reference="gsp")
    with pytest.raises(ValueError, match="several 'vcg' rows"):
        analysis.paired_differences(pd.concat([table, table]), reference="vcg")
    with pytest.raises(ValueError, match="sweep columns"):
        analysis.paired_differences(table.drop(columns="task"))
    with pytest.raises(TypeError, match="`df`"):
        analysis.summarize([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`level`"):
        analysis.mean_ci(table, "revenue", level=95)


def test_summary_table_is_the_cli_one(table):
    assert cli_summary_table is analysis.summary_table
    out = analysis.summary_table(table.assign(welfare=1.0, shown_ads=1, total_ctr=0.5))
    assert out.loc[("vcg", "mnl", "cascade"), "revenue"] == pytest.approx(0.25)
    assert out["auctions"].tolist() == [4] * 6
