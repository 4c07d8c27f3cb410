"""Plots render to files without a display (Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from aigc_auction import plotting
from aigc_auction.sweep import run_sweep

CFG = {
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


@pytest.mark.parametrize(
    "func",
    [plotting.plot_welfare, plotting.plot_revenue, plotting.plot_efficiency,
     plotting.plot_separable_loss, plotting.plot_approx_ratio],
)
def test_line_plots_render(func, df, tmp_path):
    ax = func(df)
    assert ax.get_xlabel() == "n_advertisers"
    assert ax.get_legend() is not None
    _save(ax, tmp_path / f"{func.__name__}.png")


def test_model_and_misspecification_plots_render(two_models, tmp_path):
    ax = plotting.plot_models(two_models)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["mnl", "other"]
    _save(ax, tmp_path / "models.png")
    ax = plotting.plot_misspecification(two_models)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "designed for mnl" in labels and "separable_vcg" in labels
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
    assert len(ax.patches) == 2  # vcg and myerson
    _save(ax, tmp_path / "bars.png")


def test_plot_sweep_writes_the_applicable_figures(df, two_models, tmp_path):
    files = plotting.plot_sweep(df, tmp_path / "a")
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
