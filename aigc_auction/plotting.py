"""Figures of sweep results (matplotlib, from the ``[plot]`` extra, imported lazily).

Every ``plot_*`` function takes the long-form table of
:func:`aigc_auction.sweep.run_sweep` and returns the ``Axes`` that carries the
legend. The figures are meant to be read without the code that made them:

* each point is a mean over markets and its error bar is the 95% Student-t
  interval of that mean (:func:`aigc_auction.analysis.mean_ci`); the legend
  title says so and gives the number of markets behind each point;
* bounded metrics are clipped to their range (efficiency and approximation
  ratio to [0, 1], the others to >= 0), with a dotted line at the optimum;
* overlapping lines stay visible: each line has its own marker and dash
  pattern and a small horizontal offset;
* swept settings that are not on the x axis are never pooled: the figure gets
  one panel per value (facets, sharing the y axis); with a given ``ax`` such a
  table is refused, so select rows first;
* rows are the mechanisms evaluated under the user model they were designed
  for, plus the separable baselines under each true user model
  (:func:`aigc_auction.analysis.own_model`), with the true model in the label;
* axes have human labels, and a figure made here (``ax=None`` or
  :func:`plot_sweep`) carries a caption: the rows it shows, the interval, the
  config name and seed and every fixed setting (pass ``config``; without it
  the settings that are constant in the table).

:func:`plot_sweep` writes the figures that apply to a sweep to a folder
without touching pyplot's global state, so it works without a display.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from aigc_auction.sweep import run_sweep
>>> from aigc_auction.plotting import plot_revenue
>>> df = run_sweep({"replicates": 3, "mechanisms": ["vcg", "myerson"],
...                 "grid": {"n_advertisers": [2, 4]}}, executor="serial")
>>> ax = plot_revenue(df)
>>> ax.get_xlabel(), ax.get_ylabel()
('advertisers n', 'revenue per auction')
>>> ax.get_legend().get_title().get_text()
'mean ± 95% t-interval, 3 markets per point'
"""

from __future__ import annotations

import contextlib
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._optional import require
from .analysis import BASELINE_DESIGN, _check_frame, mean_ci, own_model
from .sweep.config import ALLOC_PREFIX

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "BOUNDS",
    "LABELS",
    "default_x",
    "param_label",
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

#: Axis labels of the metric columns.
LABELS: dict[str, str] = {
    "welfare": "welfare per auction",
    "revenue": "revenue per auction",
    "efficiency": "efficiency (welfare / optimal welfare)",
    "approx_ratio": "approximation ratio (objective / exact optimum)",
    "total_ctr": "expected clicks per auction",
    "shown_ads": "ads shown",
    "optimal_welfare": "optimal welfare per auction",
    "solver_time": "solver time per auction (s)",
}

#: The range of each metric; intervals are clipped to it.
BOUNDS: dict[str, tuple[float, float]] = {
    "welfare": (0.0, math.inf),
    "revenue": (0.0, math.inf),
    "efficiency": (0.0, 1.0),
    "approx_ratio": (0.0, 1.0),
    "total_ctr": (0.0, math.inf),
    "shown_ads": (0.0, math.inf),
    "optimal_welfare": (0.0, math.inf),
    "solver_time": (0.0, math.inf),
}

#: Swept settings: (symbol for panel titles, axis label).
PARAMS: dict[str, tuple[str, str]] = {
    "n_advertisers": ("n", "advertisers n"),
    "n_positions": ("m", "candidate positions m"),
    "slots": ("K", "most ads shown K"),
    "scale": ("scale", "creative-context interaction (scale)"),
    "rank": ("rank", "rank of the CTR logits"),
    "bias": ("bias", "CTR logit bias"),
    "position_slope": ("slope", "position slope of the CTR logits"),
    "prior_loc": ("prior loc", "value prior location"),
    "prior_scale": ("prior scale", "value prior scale"),
}

_MECHANISMS = {"vcg": "VCG", "myerson": "Myerson", "gsp": "GSP", "first_price": "first price",
               "separable_vcg": "separable VCG", "separable_gsp": "separable GSP"}
_MODELS = {"mnl": "MNL", "cascade": "cascade", BASELINE_DESIGN: "separable"}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_DASHES = ("-", "--", "-.", ":")
_HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")
_DEFAULT_HUE = ("mechanism", "design_model", "true_model")
_ROWS_OWN = ("Rows: each mechanism evaluated under the user model it was designed for; "
             "separable baselines under each true user model.")
_ROWS_OWN_NO_BASE = "Rows: each mechanism evaluated under the user model it was designed for."
_ROWS_ALL = ("Rows: each mechanism designed for each user model and evaluated under each "
             "(panels: the true user model); separable baselines under each.")
MAX_PANELS = 16


# -- labels -------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):g}"
    return str(v)


def param_label(column: str) -> str:
    """A human axis label of a swept column (``"param_slots"`` -> ``"most ads shown K"``).

    Examples
    --------
    >>> from aigc_auction.plotting import param_label
    >>> param_label("param_n_advertisers"), param_label("param_cascade_continue_after_skip")
    ('advertisers n', 'cascade continue after skip')
    """
    key = column.removeprefix("param_")
    return PARAMS.get(key, (key, key.replace("_", " ")))[1]


def _symbol(column: str) -> str:
    if column == "true_model":
        return "true user model"
    key = column.removeprefix("param_")
    return PARAMS.get(key, (key.replace("_", " "), ""))[0]


def _panel_title(cols: Sequence[str], values: Sequence[Any]) -> str:
    parts = []
    for c, v in zip(cols, values, strict=True):
        if c == "true_model":
            parts.append(f"{_MODELS.get(str(v), v)} users")
        else:
            parts.append(f"{_symbol(c)} = {_fmt(v)}")
    return ", ".join(parts)


def _mechanism(name: Any) -> str:
    return _MECHANISMS.get(str(name), str(name))


def _hue_label(cols: Sequence[str], values: Sequence[Any], varying: set[str]) -> str:
    """A legend entry: mechanism and model columns in words, others as ``col=value``."""
    row = dict(zip(cols, values, strict=True))
    if {"mechanism", "design_model"} <= set(cols):
        mech, design = str(row["mechanism"]), str(row["design_model"])
        true = row.get("true_model")
        label = _mechanism(mech)
        if design != BASELINE_DESIGN and "design_model" in varying and (
                true is None or design != true):
            label += f" designed for {_MODELS.get(design, design)}"
        if true is not None and "true_model" in varying:
            label += f" ({_MODELS.get(str(true), true)} users)"
        rest = [c for c in cols if c not in _DEFAULT_HUE and c in varying]
        return " ".join([label, *(_fmt(row[c]) for c in rest)])
    shown = [c for c in cols if c in varying] or list(cols)
    return " / ".join(_MODELS.get(str(row[c]), _fmt(row[c])) if c.endswith("_model")
                      else _mechanism(row[c]) for c in shown)


# -- config caption -------------------------------------------------------------------
@dataclass(frozen=True)
class _Caption:
    name: str | None = None
    seed: int | None = None
    fixed: dict[str, Any] = field(default_factory=dict)


def _caption_from(config: Any, df: pd.DataFrame) -> _Caption:
    """The config name, seed and fixed settings, from a config or the table itself."""
    swept = {c.removeprefix("param_") for c in _swept(df)}
    if config is None:
        fixed = {c.removeprefix("param_"): df[c].iloc[0] for c in df.columns
                 if str(c).startswith("param_") and df[c].nunique() == 1}
        return _Caption(fixed=fixed)
    from .sweep.config import SweepConfig, load_config

    if isinstance(config, str | Path) and Path(config).suffix == ".json":
        import json

        data = json.loads(Path(config).read_text())
        config = {k: v for k, v in data.get("config", data).items() if k != "root_seed"}
    if isinstance(config, Mapping):
        with contextlib.suppress(ValueError, TypeError):  # TOML-shaped: fill defaults
            config = load_config(config)
    if isinstance(config, Mapping):
        raw = dict(config)
        settings: dict[str, Any] = dict(raw.get("market", {}))
        for model, table in dict(raw.get("params", {})).items():
            settings.update({f"{model}.{k}": v for k, v in dict(table).items()})
        for model, solver in dict(raw.get("solvers", {})).items():
            settings[f"solver.{model}"] = solver
        name, seed = raw.get("name"), raw.get("seed")
    else:
        cfg = config if isinstance(config, SweepConfig) else load_config(config)
        settings, name, seed = dict(cfg.settings), cfg.name, cfg.seed
    fixed = {k: v for k, v in settings.items()
             if k.replace(".", "_") not in swept and v is not None}
    return _Caption(name=None if name is None else str(name),
                    seed=None if seed is None else int(seed), fixed=fixed)


def _fixed_text(fixed: Mapping[str, Any]) -> str:
    items = dict(fixed)
    prior = items.pop("prior", None)
    loc, scale = items.pop("prior_loc", None), items.pop("prior_scale", None)
    shape = [items.pop(k) for k in ("prior_shape", "prior_shape2") if items.get(k) is not None]
    items.pop("prior_shape", None)
    items.pop("prior_shape2", None)
    parts = []
    for k, v in items.items():
        sym = PARAMS.get(k, (k.replace("_", " "), ""))[0]
        parts.append(f"{sym} = {_fmt(v)}")
    if prior is not None:
        args = [_fmt(s) for s in shape]
        if loc is not None:
            args.append(f"loc {_fmt(loc)}")
        if scale is not None:
            args.append(f"scale {_fmt(scale)}")
        parts.append(f"values ~ {prior}({', '.join(args)})")
    return ", ".join(parts)


def _caption_lines(cap: _Caption, *, rows: str | None, kind: str, bounded: bool) -> list[str]:
    text = f"{kind}: means over markets; error bars: 95% Student-t interval of the mean"
    lines = [text + (", clipped to the metric's range." if bounded else ".")]
    if rows:
        lines.append(rows)
    head = f"Config {cap.name!r}" if cap.name else "Settings"
    if cap.seed is not None:
        head += f" (seed {cap.seed})"
    if cap.fixed:
        lines.append(f"{head}; fixed: {_fixed_text(cap.fixed)}.")
    elif cap.name:
        lines.append(head + ".")
    return lines


# -- data helpers ------------------------------------------------------------------------
def _check(df: Any, columns: Sequence[str]) -> None:
    _check_frame(df, columns)
    if df.empty:
        raise ValueError("`df` must not be empty")


def _swept(df: pd.DataFrame) -> list[str]:
    return [str(c) for c in df.columns
            if str(c).startswith("param_") and df[c].nunique(dropna=False) > 1]


def default_x(df: pd.DataFrame) -> str | None:
    """The first ``param_*`` column with more than one value (``None`` if none).

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_auction.plotting import default_x
    >>> default_x(pd.DataFrame({"param_slots": [1, 1], "param_n_advertisers": [2, 4]}))
    'param_n_advertisers'
    """
    swept = _swept(df)
    return swept[0] if swept else None


def _resolve_x(df: pd.DataFrame, x: str | None) -> str | None:
    if x is None:
        return default_x(df)
    if not isinstance(x, str):
        raise TypeError(f"`x` must be a column name; got {x!r}")
    col = x if x in df.columns else f"param_{x}"
    if col not in df.columns:
        params = [c for c in df.columns if str(c).startswith("param_")]
        raise ValueError(f"`x` must be one of the swept columns {params}; got {x!r}")
    return col


def _clip(y: str, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = BOUNDS.get(y, (-math.inf, math.inf))
    return np.clip(low, lo, hi), np.clip(high, lo, hi)


def _counts_text(stats: pd.DataFrame) -> str:
    n = stats["n"].to_numpy()
    if n.size == 0:
        return "no markets"
    lo, hi = int(n.min()), int(n.max())
    return f"{lo} markets per point" if lo == hi else f"{lo}-{hi} markets per point"


def _key(values: Any) -> tuple[Any, ...]:
    return values if isinstance(values, tuple) else (values,)


# -- figure layout ----------------------------------------------------------------------
def _order(col: pd.Series) -> list[Any]:
    """Values of a column: sorted if numeric, else in order of first appearance."""
    values = list(dict.fromkeys(col))
    if np.issubdtype(np.asarray(values).dtype, np.number):
        return sorted(values)
    return values


def _combos(data: pd.DataFrame, cols: Sequence[str]) -> list[tuple[Any, ...]]:
    if not cols:
        return [()]
    present = {_key(k) for k, _ in data.groupby(list(cols), sort=False, observed=True)}
    import itertools

    return [c for c in itertools.product(*(_order(data[c]) for c in cols)) if c in present]


@dataclass
class _Panels:
    fig: Figure
    axes: list[Axes]
    keys: list[tuple[Any, ...]]
    owned: bool


def _panels(data: pd.DataFrame, facets: list[str], ax: Axes | None, fig: Figure | None,
            *, width: float = 4.0, height: float = 3.3) -> _Panels:
    """One Axes per combination of the ``facets`` values (in sorted order)."""
    combos = _combos(data, facets)
    if ax is not None:
        if len(combos) > 1:
            names = ", ".join(c.removeprefix("param_") for c in facets)
            raise ValueError(
                f"`df` varies {names} besides the x axis, which one Axes cannot show "
                "without pooling; pass `ax=None` for one panel per value, or select "
                f"rows first (e.g. df[df[{facets[0]!r}] == ...])")
        return _Panels(ax.figure, [ax], combos, owned=False)  # type: ignore[arg-type]
    if len(combos) > MAX_PANELS:
        raise ValueError(f"`df` has {len(combos)} combinations of {facets}, more than "
                         f"{MAX_PANELS} panels; select rows or choose another `x`")
    if len(facets) == 2:
        rows = len(dict.fromkeys(c[0] for c in combos))
        cols = math.ceil(len(combos) / rows)
    else:
        cols = max(1, min(len(combos), 3, int(13.0 // width)))
        rows = math.ceil(len(combos) / cols)
    size = (1.2 + width * cols + 2.6, 1.3 + height * rows)
    if fig is None:
        plt = require("matplotlib.pyplot", extra="plot", purpose="figures",
                      package="matplotlib")
        fig = plt.figure(figsize=size, layout="constrained")
    else:
        fig.set_size_inches(*size)
        fig.set_layout_engine("constrained")
    assert fig is not None
    grid = fig.subplots(rows, cols, sharey=True, squeeze=False)
    flat = list(grid.ravel())
    for extra in flat[len(combos):]:
        extra.set_visible(False)
    return _Panels(fig, flat[:len(combos)], combos, owned=True)


def _finish(p: _Panels, *, title: str, caption: list[str], legend_title: str,
            handles: list[Any], labels: list[str]) -> Axes:
    """Legend on the last panel of the first row (outside, right), titles, caption."""
    top = [a for a in p.axes if _spec(a) is None or _spec(a).is_first_row()]
    carrier = top[-1] if top else p.axes[0]
    if handles:
        if p.owned:
            carrier.legend(handles, labels, title=legend_title, fontsize="small",
                           title_fontsize="small", loc="upper left",
                           bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
        else:
            carrier.legend(handles, labels, title=legend_title, fontsize="small",
                           title_fontsize="small")
    if p.owned:
        p.fig.suptitle(title, fontsize="large")
        if caption:
            w, h = p.fig.get_size_inches()
            text = "\n".join(textwrap.fill(line, max(60, int(w * 17))) for line in caption)
            n_lines = text.count("\n") + 1
            frac = min(0.45, (0.125 * n_lines + 0.08) / h)
            p.fig.text(0.01, 0.01, text, fontsize="x-small", va="bottom", ha="left",
                       color="0.25")
            from matplotlib.layout_engine import ConstrainedLayoutEngine

            engine = p.fig.get_layout_engine()
            if isinstance(engine, ConstrainedLayoutEngine):
                engine.set(rect=(0.0, frac, 1.0, 1.0 - frac))
    else:
        p.axes[0].set_title(title)
    return carrier


def _spec(ax: Axes) -> Any:
    return ax.get_subplotspec()


def _style_x(ax: Axes, values: np.ndarray, *, log: bool, integer: bool) -> None:
    if log:
        ax.set_xscale("log")
        ax.minorticks_off()
    if len(values) <= 12:
        ax.set_xticks(values, [_fmt(v.item() if hasattr(v, "item") else v) for v in values])
    elif integer:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _is_log(values: np.ndarray) -> bool:
    v = values.astype(float)
    return bool(v.size >= 3 and (v > 0).all() and v.max() / v.min() >= 10)


def _offsets(values: np.ndarray, n_lines: int, *, log: bool) -> np.ndarray:
    """Horizontal offsets (additive, or multiplicative on a log axis) per line."""
    if n_lines <= 1 or values.size == 0:
        return np.zeros(max(n_lines, 1))
    v = np.log(values.astype(float)) if log else values.astype(float)
    gaps = np.diff(np.unique(v))
    span = float(v.max() - v.min()) if v.size > 1 else 1.0
    gap = float(gaps.min()) if gaps.size else (span or 1.0)
    step = min(0.35 * gap / (n_lines - 1), 0.025 * (span or gap))
    return (np.arange(n_lines) - (n_lines - 1) / 2) * step


# -- lines --------------------------------------------------------------------------
def _line_figure(
    data: pd.DataFrame, *, y: str, x: str, hue: list[str], ax: Axes | None,
    fig: Figure | None, title: str, config: Any, rows: str | None,
) -> Axes:
    hue_order = list(dict.fromkeys(_key(k) for k in
                                   data[hue].itertuples(index=False, name=None)))
    varying = {c for c in hue if data[c].nunique() > 1}
    facets = [c for c in _swept(data) if c != x]
    p = _panels(data, facets, ax, fig)
    xs_all = np.sort(data[x].unique())
    numeric = np.issubdtype(xs_all.dtype, np.number)
    log = numeric and _is_log(xs_all)
    offsets = _offsets(xs_all, len(hue_order), log=log) if numeric else np.zeros(len(hue_order))
    handles: dict[tuple[Any, ...], Any] = {}
    all_stats = []
    for axis, combo in zip(p.axes, p.keys, strict=True):
        sub = data
        for c, v in zip(facets, combo, strict=True):
            sub = sub[sub[c] == v]
        stats = mean_ci(sub, y, [*hue, x])
        all_stats.append(stats)
        for k, key in enumerate(hue_order):
            part = stats
            for c, v in zip(hue, key, strict=True):
                part = part[part[c] == v]
            if part.empty:
                continue
            part = part.sort_values(x)
            xv = part[x].to_numpy()
            if numeric:
                xv = xv.astype(float)
                xv = xv * math.exp(offsets[k]) if log else xv + offsets[k]
            else:
                xv = np.searchsorted(xs_all, xv) + offsets[k]
            m = part["mean"].to_numpy(dtype=float)
            low, high = _clip(y, part["low"].to_numpy(dtype=float),
                              part["high"].to_numpy(dtype=float))
            err = np.vstack([np.nan_to_num(m - low), np.nan_to_num(high - m)])
            err = np.maximum(err, 0.0)
            cont = axis.errorbar(
                xv, m, yerr=err, color=f"C{k % 10}", marker=_MARKERS[k % len(_MARKERS)],
                linestyle=_DASHES[k % len(_DASHES)], markersize=5, capsize=2.5,
                linewidth=1.4, elinewidth=1.0, markeredgecolor="white",
                markeredgewidth=0.6, label=_hue_label(hue, key, varying),
            )
            handles.setdefault(key, cont)
        if numeric:
            _style_x(axis, xs_all, log=log, integer=bool(np.issubdtype(xs_all.dtype,
                                                                        np.integer)))
        else:
            axis.set_xticks(np.arange(len(xs_all)), [str(v) for v in xs_all])
        hi = BOUNDS.get(y, (-math.inf, math.inf))[1]
        if math.isfinite(hi):
            axis.axhline(hi, color="0.5", linewidth=0.8, linestyle=":", zorder=0)
        axis.set_xlabel(param_label(x))
        axis.grid(alpha=0.3)
        if facets:
            axis.set_title(_panel_title(facets, combo), fontsize="medium")
    for axis in p.axes:
        if _spec(axis) is None or _spec(axis).is_first_col():
            axis.set_ylabel(LABELS.get(y, y.replace("_", " ")))
    import pandas as pd

    stats_all = pd.concat(all_stats, ignore_index=True)
    if y in BOUNDS and math.isfinite(BOUNDS[y][1]):
        top = float(np.nanmax(np.minimum(stats_all["high"].fillna(stats_all["mean"]),
                                         BOUNDS[y][1])))
        bottom = float(np.nanmin(np.maximum(stats_all["low"].fillna(stats_all["mean"]),
                                            BOUNDS[y][0])))
        pad = 0.06 * max(top - bottom, 1e-3)
        p.axes[0].set_ylim(max(bottom - pad, BOUNDS[y][0]), BOUNDS[y][1] + pad)
    cap = _caption_from(config, data)
    bounded = y in BOUNDS
    keys = list(handles)
    return _finish(
        p, title=title,
        caption=_caption_lines(cap, rows=rows, kind="Points", bounded=bounded),
        legend_title=f"mean ± 95% t-interval, {_counts_text(stats_all)}",
        handles=[handles[k] for k in keys],
        labels=[_hue_label(hue, k, varying) for k in keys],
    )


# -- bars ----------------------------------------------------------------------------------
def _bar_figure(
    data: pd.DataFrame, *, y: str, group: str, bar: str, facets: list[str],
    ax: Axes | None, fig: Figure | None, title: str, config: Any, rows: str | None,
    group_label: str, bar_label: Callable[[Any], str], legend_title: str,
) -> Axes:
    groups = _order(data[group])
    bars = list(dict.fromkeys(data[bar]))
    p = _panels(data, facets, ax, fig,
                width=max(3.4, 1.2 + 0.22 * len(groups) * len(bars)))
    width = 0.8 / max(1, len(bars))
    handles: dict[Any, Any] = {}
    all_stats = []
    for axis, combo in zip(p.axes, p.keys, strict=True):
        sub = data
        for c, v in zip(facets, combo, strict=True):
            sub = sub[sub[c] == v]
        stats = mean_ci(sub, y, [group, bar])
        all_stats.append(stats)
        for k, b in enumerate(bars):
            part = stats[stats[bar] == b].set_index(group).reindex(groups)
            m = part["mean"].to_numpy(dtype=float)
            low, high = _clip(y, part["low"].to_numpy(dtype=float),
                              part["high"].to_numpy(dtype=float))
            err = np.maximum(np.vstack([np.nan_to_num(m - low), np.nan_to_num(high - m)]), 0)
            pos = np.arange(len(groups)) - 0.4 + width * (k + 0.5)
            cont = axis.bar(pos, m, width, yerr=err, capsize=3, color=f"C{k % 10}",
                            hatch=_HATCHES[k % len(_HATCHES)], edgecolor="white",
                            linewidth=0.5, label=bar_label(b),
                            error_kw={"elinewidth": 1.0, "ecolor": "0.2"})
            handles.setdefault(b, cont)
        axis.set_xticks(np.arange(len(groups)), [_fmt(g) for g in groups])
        axis.set_xlabel(group_label)
        hi = BOUNDS.get(y, (-math.inf, math.inf))[1]
        if math.isfinite(hi):
            axis.axhline(hi, color="0.5", linewidth=0.8, linestyle=":", zorder=0)
            axis.set_ylim(0, hi * 1.06)
        axis.grid(alpha=0.3, axis="y")
        if facets:
            axis.set_title(_panel_title(facets, combo), fontsize="medium")
    p.axes[0].set_ylabel(LABELS.get(y, y.replace("_", " ")))
    import pandas as pd

    stats_all = pd.concat(all_stats, ignore_index=True)
    cap = _caption_from(config, data)
    return _finish(
        p, title=title,
        caption=_caption_lines(cap, rows=rows, kind="Bars", bounded=y in BOUNDS),
        legend_title=f"{legend_title}\nmean ± 95% t-interval, {_counts_text(stats_all)}",
        handles=list(handles.values()), labels=[bar_label(b) for b in handles],
    )


# -- public plots -------------------------------------------------------------------------
def plot_metric(
    df: pd.DataFrame,
    *,
    y: str = "revenue",
    x: str | None = None,
    hue: Sequence[str] = _DEFAULT_HUE,
    own_model: bool = True,
    config: Any = None,
    title: str | None = None,
    ax: Axes | None = None,
    fig: Figure | None = None,
) -> Axes:
    """Mean of ``y`` against a swept setting, one line (with 95% error bars) per ``hue``.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    y : str, default "revenue"
        The metric column.
    x : str, optional
        Swept column (``"param_..."`` or without the prefix); default the first
        swept column. Without a swept column, one bar per ``hue`` group.
    hue : sequence of str, default ("mechanism", "design_model", "true_model")
        Columns whose combinations get one line each.
    own_model : bool, default True
        Keep only :func:`aigc_auction.analysis.own_model` rows (the mechanism's
        own design model; separable baselines under each true model).
    config : SweepConfig, mapping or path, optional
        The sweep's config (a TOML file or the ``config.json`` of a sweep
        folder) for the caption: its name, seed and fixed settings.
    title : str, optional
        Figure title (default from ``y``).
    ax : matplotlib Axes, optional
        Draw into this Axes; refused when ``df`` sweeps a setting other than
        ``x`` (that would pool it).
    fig : matplotlib Figure, optional
        Draw into this (empty) figure, one panel per value of the other swept
        settings. Default: a new pyplot figure.

    Returns
    -------
    matplotlib.axes.Axes
        The panel that carries the legend (``ax.figure`` has all panels).

    Notes
    -----
    Rows where ``y`` is NaN are left out, so the allocator rows of a sweep
    (``mechanism = "alloc:<solver>"``, no payments, NaN revenue) do not appear
    in revenue plots.
    """
    hue = list(hue)
    _check(df, [y, *hue, "design_model", "true_model"])
    data = _own(df) if own_model else df
    if data.empty:
        raise ValueError("`df` has no rows evaluated under their own design model")
    data = data[data[y].notna()]
    if data.empty:
        raise ValueError(f"`df` has no rows with a value of {y!r}")
    col = _resolve_x(data, x)
    name = title or LABELS.get(y, y).split(" (")[0].capitalize()
    rows = None
    if own_model:
        base = (data["design_model"] == BASELINE_DESIGN).any()
        rows = _ROWS_OWN if base else _ROWS_OWN_NO_BASE
    if col is None:
        labels = [_hue_label(hue, _key(tuple(r)), {c for c in hue if data[c].nunique() > 1})
                  for r in data[hue].itertuples(index=False)]
        tmp = data.assign(_group=labels, _all="")
        return _bar_figure(tmp, y=y, group="_group", bar="_all", facets=[], ax=ax, fig=fig,
                           title=name, config=config, rows=rows,
                           group_label="", bar_label=lambda b: "all markets",
                           legend_title="")
    return _line_figure(data, y=y, x=col, hue=hue, ax=ax, fig=fig,
                        title=f"{name}, by {param_label(col)}", config=config,
                        rows=rows)


def _own(df: pd.DataFrame) -> pd.DataFrame:
    return own_model(df)


def plot_welfare(df: pd.DataFrame, *, x: str | None = None, config: Any = None,
                 ax: Axes | None = None, fig: Figure | None = None) -> Axes:
    """Welfare against a swept setting, per mechanism and user model.

    See :func:`plot_metric` (own-model rows, baselines kept).
    """
    return plot_metric(df, y="welfare", x=x, config=config, ax=ax, fig=fig)


def plot_revenue(df: pd.DataFrame, *, x: str | None = None, config: Any = None,
                 ax: Axes | None = None, fig: Figure | None = None) -> Axes:
    """Revenue against a swept setting, per mechanism and user model.

    See :func:`plot_metric` (own-model rows, baselines kept).
    """
    return plot_metric(df, y="revenue", x=x, config=config, ax=ax, fig=fig)


def plot_efficiency(df: pd.DataFrame, *, x: str | None = None, config: Any = None,
                    ax: Axes | None = None, fig: Figure | None = None) -> Axes:
    """Efficiency (welfare / optimal welfare, in [0, 1]) against a swept setting."""
    return plot_metric(df, y="efficiency", x=x, config=config, ax=ax, fig=fig)


def plot_models(df: pd.DataFrame, *, y: str = "revenue", x: str | None = None,
                config: Any = None, ax: Axes | None = None, fig: Figure | None = None
                ) -> Axes:
    """The user models side by side: mean ``y`` per mechanism, one bar per model.

    Uses the rows evaluated under each mechanism's own design model (e.g. VCG
    designed for and evaluated under MNL next to the same under cascade), with
    95% error bars. Without a swept setting the groups are the mechanisms;
    with one, the groups are the values of ``x`` (default the first swept
    setting), the bars the mechanism and model pairs, and every other swept
    setting gets its own panel.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(df, [y, "mechanism", "design_model", "true_model"])
    data = _own(df)
    data = data[(data["design_model"] != BASELINE_DESIGN) & data[y].notna()]
    if data.empty:
        raise ValueError("`df` has no rows evaluated under their own design model")
    col = _resolve_x(data, x)
    name = f"{LABELS.get(y, y).split(' (')[0].capitalize()} by user model"
    if col is None:
        return _bar_figure(data, y=y, group="mechanism", bar="design_model", facets=[],
                           ax=ax, fig=fig, title=name, config=config, rows=_ROWS_OWN_NO_BASE,
                           group_label="mechanism",
                           bar_label=lambda b: f"{_MODELS.get(str(b), b)} users",
                           legend_title="user model (designed for = evaluated under)")
    pair = (data["mechanism"].map(_mechanism) + ", "
            + data["design_model"].map(lambda m: _MODELS.get(str(m), str(m))) + " users")
    facets = [c for c in _swept(data) if c != col]
    return _bar_figure(data.assign(_pair=pair), y=y, group=col, bar="_pair", facets=facets,
                       ax=ax, fig=fig, title=name, config=config, rows=_ROWS_OWN_NO_BASE,
                       group_label=param_label(col), bar_label=str,
                       legend_title="mechanism, user model")


def plot_misspecification(
    df: pd.DataFrame, *, y: str = "efficiency", mechanism: str | None = None,
    x: str | None = None, config: Any = None, ax: Axes | None = None,
    fig: Figure | None = None,
) -> Axes:
    """Cost of the wrong user model: ``y`` per true model, one bar per design model.

    One panel per true user model; in each, the mechanism designed for that
    model, the same mechanism designed for the other model(s), and the
    separable baselines. The groups are the values of ``x`` (default the first
    swept setting; the mechanisms when nothing is swept), and any other swept
    setting adds panels.

    Parameters
    ----------
    df : pandas.DataFrame
    y : str, default "efficiency"
    mechanism : str, optional
        Mechanism to show (default ``"vcg"`` if present, else the first one);
        the separable baselines, when present, are added as their own bars.
    x : str, optional
        Swept column for the groups.
    config : SweepConfig, mapping or path, optional
    ax : matplotlib Axes, optional
        Only when the table has one true model and no swept setting besides ``x``.
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(df, [y, "mechanism", "design_model", "true_model"])
    mechs = list(dict.fromkeys(df.loc[df["design_model"] != BASELINE_DESIGN, "mechanism"]))
    if mechanism is None:
        mechanism = "vcg" if "vcg" in mechs else (mechs[0] if mechs else None)
    keep = (df["mechanism"] == mechanism) | (df["design_model"] == BASELINE_DESIGN)
    data = df[keep & df[y].notna()]
    if data.empty or not (data["mechanism"] == mechanism).any():
        raise ValueError(f"`mechanism` must be one of {mechs}; got {mechanism!r}")
    design = data["design_model"].map(lambda m: _MODELS.get(str(m), str(m)))
    label = np.where(data["design_model"] == BASELINE_DESIGN,
                     data["mechanism"].map(_mechanism) + " (baseline)",
                     "designed for " + design)
    col = _resolve_x(data, x)
    facets = ["true_model", *[c for c in _swept(data) if c != col]]
    data = data.assign(_design=label)
    name = f"{_mechanism(mechanism)}: cost of a misspecified user model"
    if col is None:
        data = data.assign(_all=_mechanism(mechanism))
        return _bar_figure(data, y=y, group="_all", bar="_design", facets=facets, ax=ax,
                           fig=fig, title=name, config=config, rows=_ROWS_ALL,
                           group_label="", bar_label=str, legend_title="allocation rule")
    return _bar_figure(data, y=y, group=col, bar="_design", facets=facets, ax=ax, fig=fig,
                       title=name, config=config, rows=_ROWS_ALL,
                       group_label=param_label(col), bar_label=str,
                       legend_title="allocation rule")


def plot_separable_loss(df: pd.DataFrame, *, x: str | None = None, y: str = "efficiency",
                        config: Any = None, ax: Axes | None = None,
                        fig: Figure | None = None) -> Axes:
    """The separable position auction against VCG on the true ``p``.

    One line per (mechanism, true model) for VCG (designed for the true model)
    and the separable baselines, against a swept setting (bars without one).

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(df, [y, "mechanism", "design_model", "true_model"])
    base = df["design_model"] == BASELINE_DESIGN
    if not base.any():
        raise ValueError("`df` has no separable baseline rows (set `baselines` in the "
                         "config)")
    vcg = (df["mechanism"] == "vcg") & (df["design_model"] == df["true_model"])
    return plot_metric(df[base | vcg], y=y, x=x, hue=_DEFAULT_HUE, own_model=True,
                       config=config, ax=ax, fig=fig,
                       title="Cost of the separability assumption")


def plot_approx_ratio(df: pd.DataFrame, *, x: str | None = None, y: str = "approx_ratio",
                      config: Any = None, ax: Axes | None = None,
                      fig: Figure | None = None) -> Axes:
    """Approximation ratios of the allocation solvers, one line per rule.

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
    data = df[df["design_model"] != BASELINE_DESIGN]
    mech = data["mechanism"].astype(str)
    # "alloc:<solver>" already names its solver; mechanisms get "<mechanism> on <solver>"
    rule = mech.where(mech.str.startswith(ALLOC_PREFIX),
                      mech.map(_mechanism) + " on " + data["solver"].astype(str))
    return plot_metric(data.assign(rule=rule), y=y, x=x, hue=("design_model", "rule"),
                       config=config, ax=ax, fig=fig,
                       title="Approximation ratio of each allocation rule")


def plot_sweep(
    df: pd.DataFrame, out: str | Path, *, fmt: str = "png", x: str | None = None,
    config: Any = None,
) -> list[Path]:
    """Write the figures that apply to this sweep to the folder ``out``.

    ``welfare`` always; ``revenue`` when some rows have prices (allocator rows
    have none); ``efficiency``; ``models`` with several design models;
    ``misspecification`` when outcomes are evaluated under other models;
    ``separable`` with baselines; ``approx_ratio`` when a solver is inexact or
    the sweep has allocators. Uses :class:`matplotlib.figure.Figure` directly
    (no pyplot, no display).

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    out : str or Path
        Folder for the figures (created).
    fmt : {"png", "pdf", "svg"}, default "png"
    x : str, optional
        Swept column for the x axis (default the first swept column).
    config : SweepConfig, mapping or path, optional
        The sweep's config, for the caption (name, seed, fixed settings); the
        ``config.json`` of a sweep folder works.

    Returns
    -------
    list of Path
        The files written.
    """
    require("matplotlib", extra="plot", purpose="figures")
    from matplotlib.figure import Figure

    _check(df, ["mechanism", "design_model", "true_model"])
    if fmt not in ("png", "pdf", "svg"):
        raise ValueError(f"`fmt` must be 'png', 'pdf' or 'svg'; got {fmt!r}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    designs = set(df["design_model"]) - {BASELINE_DESIGN}
    kw: dict[str, Any] = {"config": config}
    jobs: list[tuple[str, Callable[[Figure], Any]]] = [
        ("welfare", lambda f: plot_welfare(df, x=x, fig=f, **kw))]
    if "revenue" in df and _own(df)["revenue"].notna().any():
        jobs.append(("revenue", lambda f: plot_revenue(df, x=x, fig=f, **kw)))
    jobs.append(("efficiency", lambda f: plot_efficiency(df, x=x, fig=f, **kw)))
    if len(designs) > 1:
        jobs.append(("models", lambda f: plot_models(df, x=x, fig=f, **kw)))
    if (df["design_model"] != df["true_model"]).any() and len(set(df["true_model"])) > 1:
        jobs.append(("misspecification",
                     lambda f: plot_misspecification(df, x=x, fig=f, **kw)))
    if (df["design_model"] == BASELINE_DESIGN).any():
        jobs.append(("separable", lambda f: plot_separable_loss(df, x=x, fig=f, **kw)))
    allocators = df["mechanism"].astype(str).str.startswith(ALLOC_PREFIX).any()
    if "approx_ratio" in df and (
        allocators or (df["approx_ratio"].dropna() < 1 - 1e-12).any()
    ):
        jobs.append(("approx_ratio", lambda f: plot_approx_ratio(df, x=x, fig=f, **kw)))
    written = []
    for name, draw in jobs:
        fig = Figure()
        draw(fig)
        path = folder / f"{name}.{fmt}"
        fig.savefig(path, dpi=120)
        written.append(path)
    return written
