"""Plots render without a display (Agg) and say what they show.

Checked on the drawn artists: error bars are the 95% t-intervals of
:func:`aigc_auction.analysis.mean_ci` clipped to the metric's range, swept
settings off the x axis become panels (never pooled), lines that coincide stay
distinguishable, labels are human and the caption records the config.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from aigc_auction import plotting
from aigc_auction.analysis import mean_ci, own_model
from aigc_auction.sweep import run_sweep

CFG = {
    "name": "plots",
    "seed": 2,
    "replicates": 3,
    "mechanisms": ["vcg", "myerson"],
    "baselines": ["separable_vcg"],
    "market": {"n_advertisers": 3, "n_positions": 3, "slots": 2},
    "grid": {"n_advertisers": [2, 4]},
}


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return run_sweep(CFG, executor="serial")


@pytest.fixture(scope="module")
def two_params() -> pd.DataFrame:
    cfg = {**CFG, "baselines": [], "replicates": 2,
           "grid": {"n_advertisers": [2, 3], "slots": [1, 2]}}
    return run_sweep(cfg, executor="serial")


@pytest.fixture
def two_models(df) -> pd.DataFrame:
    """A synthetic two-model table (cross-evaluated) built from the MNL rows."""
    mnl = df[df["design_model"] == "mnl"]
    parts = []
    for design in ("mnl", "other"):
        for true in ("mnl", "other"):
            scale = 1.0 if design == true else 0.8
            parts.append(mnl.assign(design_model=design, true_model=true,
                                    efficiency=mnl["efficiency"] * scale))
    base = df[df["design_model"] == "separable"]
    parts += [base, base.assign(true_model="other")]
    return pd.concat(parts, ignore_index=True)


def _save(ax, path):
    ax.figure.savefig(path)
    plt.close(ax.figure)
    assert path.stat().st_size > 1000


def _caption(fig) -> str:
    return "\n".join(t.get_text() for t in fig.texts)


def _legend_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize(
    "func",
    [plotting.plot_welfare, plotting.plot_revenue, plotting.plot_efficiency,
     plotting.plot_separable_loss, plotting.plot_approx_ratio],
)
def test_line_plots_render_with_human_labels(func, df, tmp_path):
    ax = func(df)
    assert ax.get_xlabel() == "advertisers n"
    assert "_" not in ax.get_ylabel() and ax.get_ylabel()
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "mean ± 95% t-interval, 3 markets per point"
    assert "95% Student-t interval" in _caption(ax.figure)
    _save(ax, tmp_path / f"{func.__name__}.png")


def test_error_bars_are_the_clipped_t_intervals(df):
    """Efficiency bars equal mean_ci's interval, clipped to [0, 1] (never above 1)."""
    ax = plotting.plot_efficiency(df)
    data = own_model(df)
    stats = mean_ci(data, "efficiency", ["mechanism", "design_model", "true_model",
                                         "param_n_advertisers"])
    myerson = stats[stats["mechanism"] == "myerson"].sort_values("param_n_advertisers")
    assert (myerson["high"] > 1).any()  # the raw interval does cross 1 here
    (cont,) = [c for c in ax.containers if c.get_label().startswith("Myerson")]
    segments = cont.lines[2][0].get_segments()
    lows = [min(s[:, 1]) for s in segments]
    highs = [max(s[:, 1]) for s in segments]
    np.testing.assert_allclose(highs, np.minimum(myerson["high"], 1.0))
    np.testing.assert_allclose(lows, np.maximum(myerson["low"], 0.0))
    assert max(highs) <= 1.0
    plt.close(ax.figure)


def test_coinciding_lines_stay_distinguishable(df):
    """VCG has efficiency 1 everywhere; each line still has its own marker, dashes, x."""
    both = pd.concat([df, df[df["mechanism"] == "vcg"].assign(mechanism="vcg2")])
    ax = plotting.plot_efficiency(both)
    lines = [c.lines[0] for c in ax.containers]
    assert len({ln.get_marker() for ln in lines}) == len(lines)
    assert len({str(ln.get_linestyle()) for ln in lines}) >= min(len(lines), 4)
    xs = [tuple(ln.get_xdata()) for ln in lines]
    assert len(set(xs)) == len(xs)  # small offsets: no two lines on the same x
    plt.close(ax.figure)


def test_other_swept_settings_become_panels(two_params):
    ax = plotting.plot_revenue(two_params, x="n_advertisers")
    fig = ax.figure
    panels = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in panels] == ["K = 1", "K = 2"]
    # each panel holds only its own rows: the means match a filtered computation
    data = own_model(two_params)
    for a, k in zip(panels, (1, 2), strict=True):
        sub = data[data["param_slots"] == k]
        expect = mean_ci(sub, "revenue", ["mechanism", "design_model", "true_model",
                                          "param_n_advertisers"])
        vcg = expect[expect["mechanism"] == "vcg"].sort_values("param_n_advertisers")
        (cont,) = [c for c in a.containers if c.get_label().startswith("VCG")]
        np.testing.assert_allclose(cont.lines[0].get_ydata(), vcg["mean"])
    plt.close(fig)
    with pytest.raises(ValueError, match="slots besides the x axis"):
        _, one = plt.subplots()
        plotting.plot_revenue(two_params, x="n_advertisers", ax=one)
    plt.close("all")


def test_caption_records_the_config_and_fixed_settings(df, tmp_path):
    fig = Figure()
    plotting.plot_revenue(df, fig=fig, config=CFG)
    text = _caption(fig)
    assert "Config 'plots' (seed 2)" in text
    assert "m = 3" in text and "K = 2" in text and "values ~ uniform" in text
    assert "n = " not in text.split("fixed:")[1]  # the swept setting is not "fixed"
    # without a config: the settings that are constant in the table
    fig = Figure()
    plotting.plot_revenue(df[df["param_n_advertisers"] == 2], fig=fig)
    assert "n = 2" in _caption(fig)


def test_model_and_misspecification_plots_render(two_models, tmp_path):
    ax = plotting.plot_models(two_models)
    assert _legend_labels(ax) == ["VCG, MNL users", "Myerson, MNL users",
                                  "VCG, other users", "Myerson, other users"]
    _save(ax, tmp_path / "models.png")
    ax = plotting.plot_misspecification(two_models)
    fig = ax.figure
    assert [a.get_title() for a in fig.axes if a.get_visible()] == ["MNL users",
                                                                     "other users"]
    labels = _legend_labels(ax)
    assert "designed for MNL" in labels and "separable VCG (baseline)" in labels
    _save(ax, tmp_path / "miss.png")


def test_given_axes_are_used(df, tmp_path):
    fig, axes = plt.subplots(1, 2)
    assert plotting.plot_welfare(df, ax=axes[0]) is axes[0]
    assert plotting.plot_revenue(df, ax=axes[1], x="n_advertisers") is axes[1]
    fig.savefig(tmp_path / "both.png")
    plt.close(fig)


def test_without_a_swept_parameter_draws_bars(df, tmp_path):
    one = df[df["param_n_advertisers"] == 2]
    ax = plotting.plot_revenue(one)
    assert len(ax.patches) == 3  # VCG, Myerson, separable VCG
    assert [t.get_text() for t in ax.get_xticklabels()] == ["VCG", "Myerson", "separable VCG"]
    _save(ax, tmp_path / "bars.png")


def test_plot_sweep_writes_the_applicable_figures(df, two_models, tmp_path):
    files = plotting.plot_sweep(df, tmp_path / "a", config=CFG)
    assert [p.name for p in files] == [
        "welfare.png", "revenue.png", "efficiency.png", "separable.png"]
    files = plotting.plot_sweep(two_models, tmp_path / "b", fmt="pdf")
    names = {p.name for p in files}
    assert {"models.pdf", "misspecification.pdf"} <= names
    assert all(p.stat().st_size > 1000 for p in files)


def test_plot_errors(df):
    with pytest.raises(TypeError, match="`df`"):
        plotting.plot_welfare([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`df` must have the sweep columns"):
        plotting.plot_welfare(pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="`x`"):
        plotting.plot_welfare(df, x="colour")
    with pytest.raises(ValueError, match="baseline"):
        plotting.plot_separable_loss(df[df["design_model"] != "separable"])
    with pytest.raises(ValueError, match="`fmt`"):
        plotting.plot_sweep(df, "unused", fmt="jpg")
    with pytest.raises(ValueError, match="`mechanism`"):
        plotting.plot_misspecification(df, mechanism="gsp")
    plt.close("all")
