"""Figures of sweep results (matplotlib, imported lazily).

Every ``plot_*`` function takes the long-form table of
:func:`aigc_auction.sweep.run_sweep` and an optional ``ax`` and returns the
``Axes`` it drew on (a new figure when ``ax`` is None). Confidence bands are
95% Student-t intervals of the mean over replicates (and over any other setting
that is not on the x axis). :func:`plot_sweep` writes the standard set of figures
of a sweep to a folder without touching pyplot's global state, so it also works
without a display.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from aigc_auction.sweep import run_sweep
>>> from aigc_auction.plotting import plot_revenue
>>> df = run_sweep({"replicates": 2, "mechanisms": ["vcg", "myerson"],
...                 "grid": {"n_advertisers": [2, 4]}}, executor="serial")
>>> ax = plot_revenue(df)
>>> ax.get_xlabel(), ax.get_ylabel()
('n_advertisers', 'revenue')
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .sweep.config import ALLOC_PREFIX

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = [
    "default_x",
    "plot_approx_ratio",
    "plot_efficiency",
    "plot_metric",
    "plot_misspecification",
    "plot_models",
    "plot_revenue",
    "plot_separable_loss",
    "plot_sweep",
    "plot_welfare",
]

LABELS = {
    "welfare": "welfare",
    "revenue": "revenue",
    "efficiency": "efficiency (welfare / optimal welfare)",
    "approx_ratio": "objective / exact optimum",
    "total_ctr": "total CTR",
    "shown_ads": "ads shown",
}


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(6.4, 4.2))
    return new


def _check(df: Any, columns: Sequence[str]) -> None:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"`df` must be a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"`df` must have the sweep columns {missing}; got {list(df.columns)}")
    if df.empty:
        raise ValueError("`df` must not be empty")


def default_x(df: pd.DataFrame) -> str | None:
    """The first ``param_*`` column with more than one value (``None`` if none).

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_auction.plotting import default_x
    >>> default_x(pd.DataFrame({"param_slots": [1, 1], "param_n_advertisers": [2, 4]}))
    'param_n_advertisers'
    """
    for c in df.columns:
        if str(c).startswith("param_") and df[c].nunique() > 1:
            return str(c)
    return None


def _resolve_x(df: pd.DataFrame, x: str | None) -> str | None:
    if x is None:
        return default_x(df)
    col = x if x in df.columns else f"param_{x}"
    if col not in df.columns:
        params = [c for c in df.columns if str(c).startswith("param_")]
        raise ValueError(f"`x` must be one of the swept columns {params}; got {x!r}")
    return col


def _mean_ci(df: pd.DataFrame, by: list[str], y: str) -> pd.DataFrame:
    from scipy import stats

    g = df.groupby(by, sort=True, observed=True)[y]
    out = g.agg(["mean", "std", "count"]).reset_index()
    n = out["count"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), np.nan)
        half = t * out["std"].to_numpy(dtype=float) / np.sqrt(n)
    out["half"] = np.nan_to_num(half)
    return out


def _is_integer(col: pd.Series) -> bool:
    """Whether a column holds integers (for integer axis ticks)."""
    from pandas.api.types import is_integer_dtype

    return bool(is_integer_dtype(col))


def _label(key: Any) -> str:
    if isinstance(key, tuple):
        return " / ".join(str(k) for k in key)
    return str(key)


def _lines(df: pd.DataFrame, ax: Axes, *, x: str, y: str, hue: list[str]) -> None:
    stats_ = _mean_ci(df, [*hue, x], y)
    for key, part in stats_.groupby(hue, sort=False):
        part = part.sort_values(x)
        xs = part[x].to_numpy()
        m = part["mean"].to_numpy(dtype=float)
        h = part["half"].to_numpy(dtype=float)
        (line,) = ax.plot(xs, m, marker="o", label=_label(key))
        ax.fill_between(xs, m - h, m + h, alpha=0.2, color=line.get_color(), linewidth=0)
    ax.set_xlabel(x.removeprefix("param_"))
    if _is_integer(df[x]):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _bars(df: pd.DataFrame, ax: Axes, *, group: str, bar: str, y: str) -> None:
    stats_ = _mean_ci(df, [group, bar], y)
    groups = list(dict.fromkeys(df[group]))
    bars = list(dict.fromkeys(df[bar]))
    width = 0.8 / max(1, len(bars))
    for k, b in enumerate(bars):
        part = stats_[stats_[bar] == b].set_index(group).reindex(groups)
        pos = np.arange(len(groups)) - 0.4 + width * (k + 0.5)
        ax.bar(pos, part["mean"].to_numpy(dtype=float), width,
               yerr=part["half"].to_numpy(dtype=float), capsize=3, label=str(b))
    ax.set_xticks(np.arange(len(groups)), [str(g) for g in groups])
    ax.set_xlabel(group.replace("_", " "))


def _own_model(df: pd.DataFrame) -> pd.DataFrame:
    """Rows evaluated under the model the mechanism was designed for."""
    return df[df["design_model"] == df["true_model"]]


def plot_metric(
    df: pd.DataFrame,
    *,
    y: str = "revenue",
    x: str | None = None,
    hue: Sequence[str] = ("mechanism", "design_model"),
    own_model: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Mean of ``y`` against a swept parameter, one line (with 95% band) per ``hue``.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    y : str, default "revenue"
        The metric column.
    x : str, optional
        Swept column (``"param_..."`` or without the prefix); default the first
        swept column with several values. Without one, bars per ``hue`` group.
    hue : sequence of str, default ("mechanism", "design_model")
        Columns whose combinations get one line each.
    own_model : bool, default True
        Keep only rows evaluated under the mechanism's own design model.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Rows where ``y`` is NaN are left out, so the allocator rows of a sweep
    (``mechanism = "alloc:<solver>"``, no payments, NaN revenue) do not appear
    in revenue plots.
    """
    hue = list(hue)
    _check(df, [y, *hue, "design_model", "true_model"])
    data = _own_model(df) if own_model else df
    if data.empty:
        raise ValueError("`df` has no rows evaluated under their own design model")
    data = data[data[y].notna()]
    if data.empty:
        raise ValueError(f"`df` has no rows with a value of {y!r}")
    col = _resolve_x(data, x)
    ax = _axes(ax)
    if col is None:
        tmp = data.assign(_group=[_label(tuple(r)) for r in data[hue].itertuples(index=False)])
        _bars(tmp.assign(_all=""), ax, group="_group", bar="_all", y=y)
        ax.set_xlabel(" / ".join(hue))
        legend = False
    else:
        _lines(data, ax, x=col, y=y, hue=hue)
        legend = True
    ax.set_ylabel(LABELS.get(y, y))
    if legend:
        ax.legend(title=" / ".join(hue), fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_welfare(df: pd.DataFrame, *, x: str | None = None, ax: Axes | None = None) -> Axes:
    """Welfare against a swept parameter, per mechanism and user model.

    See :func:`plot_metric` (rows evaluated under their own design model).
    """
    ax = plot_metric(df, y="welfare", x=x, ax=ax)
    ax.set_title("Welfare")
    return ax


def plot_revenue(df: pd.DataFrame, *, x: str | None = None, ax: Axes | None = None) -> Axes:
    """Revenue against a swept parameter, per mechanism and user model.

    See :func:`plot_metric` (rows evaluated under their own design model).
    """
    ax = plot_metric(df, y="revenue", x=x, ax=ax)
    ax.set_title("Revenue")
    return ax


def plot_efficiency(df: pd.DataFrame, *, x: str | None = None, ax: Axes | None = None
                    ) -> Axes:
    """Efficiency (welfare / optimal welfare) against a swept parameter."""
    ax = plot_metric(df, y="efficiency", x=x, ax=ax)
    ax.set_title("Efficiency")
    return ax


def plot_models(df: pd.DataFrame, *, y: str = "revenue", ax: Axes | None = None) -> Axes:
    """The user models side by side: mean ``y`` per mechanism, one bar per model.

    Uses the rows evaluated under each mechanism's own design model (e.g. VCG
    designed for and evaluated under MNL next to the same under cascade), with
    95% error bars.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(df, [y, "mechanism", "design_model", "true_model"])
    data = _own_model(df)
    data = data[(data["design_model"] != "separable") & data[y].notna()]
    if data.empty:
        raise ValueError("`df` has no rows evaluated under their own design model")
    ax = _axes(ax)
    _bars(data, ax, group="mechanism", bar="design_model", y=y)
    ax.set_ylabel(LABELS.get(y, y))
    ax.legend(title="user model", fontsize="small")
    ax.set_title(f"{y.capitalize()} by user model")
    ax.grid(alpha=0.3, axis="y")
    return ax


def plot_misspecification(
    df: pd.DataFrame, *, y: str = "efficiency", mechanism: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Cost of the wrong user model: ``y`` per true model, one bar per design model.

    Parameters
    ----------
    df : pandas.DataFrame
    y : str, default "efficiency"
    mechanism : str, optional
        Mechanism to show (default ``"vcg"`` if present, else the first one);
        the separable baselines, when present, are added as their own bars.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(df, [y, "mechanism", "design_model", "true_model"])
    mechs = list(dict.fromkeys(df.loc[df["design_model"] != "separable", "mechanism"]))
    if mechanism is None:
        mechanism = "vcg" if "vcg" in mechs else (mechs[0] if mechs else None)
    keep = (df["mechanism"] == mechanism) | (df["design_model"] == "separable")
    data = df[keep]
    if data.empty:
        raise ValueError(f"`mechanism` {mechanism!r} has no rows in `df`")
    label = np.where(data["design_model"] == "separable", data["mechanism"],
                     "designed for " + data["design_model"].astype(str))
    ax = _axes(ax)
    _bars(data.assign(design=label), ax, group="true_model", bar="design", y=y)
    ax.set_xlabel("true user model")
    ax.set_ylabel(LABELS.get(y, y))
    ax.legend(fontsize="small")
    ax.set_title(f"{mechanism}: cost of a misspecified user model")
    ax.grid(alpha=0.3, axis="y")
    return ax


def plot_separable_loss(df: pd.DataFrame, *, x: str | None = None, y: str = "efficiency",
                        ax: Axes | None = None) -> Axes:
    """The separable position auction against VCG on the true ``p``.

    One line per (mechanism, true model) for VCG and the separable baselines,
    against a swept parameter (bars without one).

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(df, [y, "mechanism", "design_model", "true_model"])
    base = df["design_model"] == "separable"
    if not base.any():
        raise ValueError("`df` has no separable baseline rows (set `baselines` in the "
                         "config)")
    vcg = (df["mechanism"] == "vcg") & (df["design_model"] == df["true_model"])
    data = df[base | vcg]
    ax = plot_metric(data, y=y, x=x, hue=("mechanism", "true_model"), own_model=False,
                     ax=ax)
    ax.set_title("Cost of the separability assumption")
    return ax


def plot_approx_ratio(df: pd.DataFrame, *, x: str | None = None, y: str = "approx_ratio",
                      ax: Axes | None = None) -> Axes:
    """Approximation ratios of the allocation solvers, one line per solver.

    ``approx_ratio`` is the objective the mechanism's solver achieved (welfare
    for VCG, virtual welfare for Myerson) over the exact optimum; for an
    allocator's rows (``mechanism = "alloc:<solver>"``) its welfare over the
    optimal welfare under the design model. Pass ``y="efficiency"`` or
    ``y="revenue"`` for the other metrics.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(df, [y, "mechanism", "solver", "design_model", "true_model"])
    data = df[df["design_model"] != "separable"]
    mech = data["mechanism"].astype(str)
    # "alloc:<solver>" already names its solver; mechanisms get "<mechanism> / <solver>"
    rule = mech.where(mech.str.startswith(ALLOC_PREFIX),
                      mech + " / " + data["solver"].astype(str))
    ax = plot_metric(data.assign(rule=rule), y=y, x=x, hue=("design_model", "rule"), ax=ax)
    ax.legend(title="design model / rule (/ solver)", fontsize="small")
    ax.set_title("Approximation ratio by solver")
    return ax


def plot_sweep(
    df: pd.DataFrame, out: str | Path, *, fmt: str = "png", x: str | None = None
) -> list[Path]:
    """Write the figures that apply to this sweep to the folder ``out``.

    ``welfare`` always; ``revenue`` when some rows have prices (allocator rows
    have none); ``models`` with several design models; ``misspecification``
    when outcomes are evaluated under other models; ``separable`` with
    baselines; ``approx_ratio`` when a solver is inexact or the sweep has
    allocators.
    Uses :class:`matplotlib.figure.Figure` directly (no pyplot, no display).

    Returns
    -------
    list of Path
        The files written.
    """
    from matplotlib.figure import Figure

    _check(df, ["mechanism", "design_model", "true_model"])
    if fmt not in ("png", "pdf", "svg"):
        raise ValueError(f"`fmt` must be 'png', 'pdf' or 'svg'; got {fmt!r}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    designs = set(df["design_model"]) - {"separable"}
    jobs: list[tuple[str, Any]] = [("welfare", lambda ax: plot_welfare(df, x=x, ax=ax))]
    if "revenue" in df and _own_model(df)["revenue"].notna().any():
        jobs.append(("revenue", lambda ax: plot_revenue(df, x=x, ax=ax)))
    jobs.append(("efficiency", lambda ax: plot_efficiency(df, x=x, ax=ax)))
    if len(designs) > 1:
        jobs.append(("models", lambda ax: plot_models(df, ax=ax)))
    if (df["design_model"] != df["true_model"]).any() and len(set(df["true_model"])) > 1:
        jobs.append(("misspecification", lambda ax: plot_misspecification(df, ax=ax)))
    if (df["design_model"] == "separable").any():
        jobs.append(("separable", lambda ax: plot_separable_loss(df, x=x, ax=ax)))
    allocators = df["mechanism"].astype(str).str.startswith(ALLOC_PREFIX).any()
    if "approx_ratio" in df and (
        allocators or (df["approx_ratio"].dropna() < 1 - 1e-12).any()
    ):
        jobs.append(("approx_ratio", lambda ax: plot_approx_ratio(df, x=x, ax=ax)))
    written = []
    for name, draw in jobs:
        fig = Figure(figsize=(6.4, 4.2), layout="constrained")
        draw(fig.add_subplot())
        path = folder / f"{name}.{fmt}"
        fig.savefig(path, dpi=120)
        written.append(path)
    return written
