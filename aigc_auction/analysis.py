"""Comparisons of sweep results: the rows that answer a question, means with intervals.

A sweep table (:func:`aigc_auction.sweep.run_sweep`) holds one row per market
(``task``) x mechanism x design model x true model. Averaging a column over the
whole table mixes rows a reader rarely wants together: a mechanism evaluated
under the user model it was designed for and the same mechanism evaluated under
the other model (the cost of a wrong model). The functions here make the usual
cuts explicit:

* :func:`own_model` keeps the rows evaluated under their own design model, plus
  the separable baselines (which have no user model of their own) under every
  true model;
* :func:`mean_ci` gives means with Student-t confidence intervals and the number
  of markets behind each mean;
* :func:`summarize` does that for several metrics per mechanism and model pair;
* :func:`paired_differences` compares each mechanism with a reference mechanism
  on the *same* markets (paired by ``task``), which removes the market-to-market
  variation from the comparison;
* :func:`summary_table` is the plain table of means the command line prints.

The plots of :mod:`aigc_auction.plotting` use the same functions, so a figure
and a table of the same sweep agree.

Examples
--------
>>> import pandas as pd
>>> from aigc_auction.analysis import paired_differences
>>> df = pd.DataFrame({
...     "task": [0, 0, 1, 1, 2, 2],
...     "mechanism": ["vcg", "myerson"] * 3,
...     "design_model": "mnl", "true_model": "mnl",
...     "revenue": [0.30, 0.40, 0.20, 0.26, 0.50, 0.53]})
>>> paired_differences(df, "revenue", reference="vcg")[["mechanism", "n", "diff"]]
  mechanism  n  diff
0   myerson  3  0.0633
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONDITION",
    "METRICS",
    "mean_ci",
    "own_model",
    "paired_differences",
    "summarize",
    "summary_table",
]

#: The columns that name what was run: which mechanism, designed for which user
#: model, evaluated under which user model.
CONDITION: tuple[str, str, str] = ("mechanism", "design_model", "true_model")

#: The metric columns of a sweep table, in the order tables show them.
METRICS: tuple[str, ...] = ("welfare", "revenue", "efficiency", "shown_ads", "total_ctr",
                            "approx_ratio")

#: ``design_model`` of the separable position-auction baselines.
BASELINE_DESIGN = "separable"


def _check_frame(df: Any, columns: Sequence[str]) -> None:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"`df` must be a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"`df` must have the sweep columns {missing}; got {list(df.columns)}")


def _check_level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"`level` must be a number in (0, 1); got {level!r}")
    return float(level)


def _as_list(by: str | Sequence[str] | None, name: str) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    if not all(isinstance(b, str) for b in by):
        raise TypeError(f"`{name}` must be a column name or a sequence of them; got {by!r}")
    return list(by)


def own_model(df: pd.DataFrame, *, baselines: bool = True) -> pd.DataFrame:
    """Rows evaluated under the user model the mechanism was designed for.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table (columns ``design_model`` and ``true_model``).
    baselines : bool, default True
        Keep the separable baselines (``design_model == "separable"``) under
        every true model: they assume no user model, so each of their rows is
        a fair comparison with the mechanisms evaluated under that true model.

    Returns
    -------
    pandas.DataFrame
        The selected rows, index unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_auction.analysis import own_model
    >>> df = pd.DataFrame({"design_model": ["mnl", "mnl", "separable"],
    ...                    "true_model": ["mnl", "cascade", "cascade"]})
    >>> own_model(df).index.tolist(), own_model(df, baselines=False).index.tolist()
    ([0, 2], [0])
    """
    _check_frame(df, ["design_model", "true_model"])
    keep = df["design_model"] == df["true_model"]
    if baselines:
        keep |= df["design_model"] == BASELINE_DESIGN
    return df[keep]


def mean_ci(
    df: pd.DataFrame, y: str, by: str | Sequence[str] | None = None, *, level: float = 0.95,
) -> pd.DataFrame:
    """Mean of ``y`` per group with a Student-t confidence interval.

    Parameters
    ----------
    df : pandas.DataFrame
    y : str
        The column to average. NaN values (e.g. the revenue of allocator rows)
        are left out and not counted.
    by : str or sequence of str, optional
        Grouping columns (none: one row for the whole table).
    level : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    pandas.DataFrame
        One row per group (groups in order of first appearance): the ``by``
        columns, then ``n`` (non-NaN values), ``mean``, ``std`` (sample standard
        deviation), ``low`` and ``high`` (the interval ``mean -/+ t * std /
        sqrt(n)``, with ``t`` the ``(1 + level) / 2`` quantile of Student's t
        with ``n - 1`` degrees of freedom; NaN when ``n < 2``). Groups with no
        value of ``y`` are dropped.

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_auction.analysis import mean_ci
    >>> df = pd.DataFrame({"m": ["a", "a", "a", "b"], "y": [1.0, 2.0, 3.0, 5.0]})
    >>> mean_ci(df, "y", "m").round(3)
       m  n  mean  std    low   high
    0  a  3   2.0  1.0 -0.484  4.484
    1  b  1   5.0  NaN    NaN    NaN
    """
    import pandas as pd
    from scipy import stats

    keys = _as_list(by, "by")
    _check_frame(df, [y, *keys])
    lev = _check_level(level)
    data = df[df[y].notna()]
    if keys:
        g = data.groupby(keys, sort=False, observed=True, dropna=False)[y]
        out = g.agg(["count", "mean", "std"]).reset_index()
    else:
        col = data[y].astype(float)
        out = pd.DataFrame({"count": [col.count()], "mean": [col.mean()],
                            "std": [col.std()]})
    out = out.rename(columns={"count": "n"})
    n = out["n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(n > 1, stats.t.ppf(0.5 + lev / 2, np.maximum(n - 1, 1)), np.nan)
        half = t * out["std"].to_numpy(dtype=float) / np.sqrt(n)
    out["low"] = out["mean"] - half
    out["high"] = out["mean"] + half
    out = out[out["n"] > 0].reset_index(drop=True)
    out["n"] = out["n"].astype("int64")
    return out


def summarize(
    df: pd.DataFrame,
    metrics: Sequence[str] = ("welfare", "revenue", "efficiency"),
    *,
    by: str | Sequence[str] | None = None,
    own_model_only: bool = True,
    level: float = 0.95,
) -> pd.DataFrame:
    """Means with confidence intervals of several metrics, per mechanism and models.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    metrics : sequence of str, default ("welfare", "revenue", "efficiency")
        Metric columns.
    by : str or sequence of str, optional
        Further grouping columns, e.g. ``"param_n_advertisers"`` to keep the
        grid points apart (default: pooled over the grid).
    own_model_only : bool, default True
        Use :func:`own_model` rows (baselines kept); ``False`` keeps every
        (design model, true model) pair as its own group.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per ``mechanism, design_model, true_model`` (and ``by``) in
        order of appearance, with ``n`` (the number of markets) and, per
        metric ``m``, the columns ``m``, ``m_low``, ``m_high``.

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_auction.analysis import summarize
    >>> df = pd.DataFrame({"mechanism": "vcg", "design_model": "mnl",
    ...                    "true_model": ["mnl", "mnl", "cascade"],
    ...                    "revenue": [0.2, 0.4, 0.9]})
    >>> summarize(df, ["revenue"]).round(3)
      mechanism design_model true_model  n  revenue  revenue_low  revenue_high
    0       vcg          mnl        mnl  2      0.3       -0.971         1.571
    """
    mets = _as_list(metrics, "metrics")
    if not mets:
        raise ValueError("`metrics` must name at least one column; got []")
    keys = [*CONDITION, *_as_list(by, "by")]
    _check_frame(df, [*keys, *mets])
    data = own_model(df) if own_model_only else df
    if data.empty:
        raise ValueError("`df` has no rows evaluated under their own design model")
    parts = [
        mean_ci(data, m, keys, level=level)[[*keys, "n", "mean", "low", "high"]].rename(
            columns={"mean": m, "low": f"{m}_low", "high": f"{m}_high", "n": f"_n_{m}"})
        for m in mets
    ]
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part, on=keys, how="outer", sort=False)
    counts = out[[f"_n_{m}" for m in mets]]
    out.insert(len(keys), "n", counts.max(axis=1).fillna(0).astype("int64"))
    return out.drop(columns=counts.columns).reset_index(drop=True)


def paired_differences(
    df: pd.DataFrame,
    metric: str = "revenue",
    *,
    reference: str = "vcg",
    by: str | Sequence[str] | None = None,
    own_model_only: bool = True,
    level: float = 0.95,
) -> pd.DataFrame:
    """Each mechanism minus a reference mechanism, on the same markets.

    Rows are paired by market (``task``) and true user model: every row is
    compared with the row of the ``reference`` mechanism designed for that true
    model on the same market. The mean of the differences has a much tighter
    interval than the difference of two means, because the market-to-market
    variation cancels.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table (needs ``task``, ``mechanism``, ``design_model``,
        ``true_model`` and ``metric``).
    metric : str, default "revenue"
    reference : str, default "vcg"
        The mechanism everything is compared with (designed for the true model).
    by : str or sequence of str, optional
        Further grouping columns, e.g. ``"param_slots"``.
    own_model_only : bool, default True
        Compare only :func:`own_model` rows (baselines kept); ``False`` also
        compares mechanisms designed for the wrong model with the reference.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per compared ``mechanism, design_model, true_model`` (and
        ``by``): ``n`` (paired markets), ``mean`` (of the compared rows),
        ``reference_mean`` (of the reference on the same markets), ``diff``
        (mean difference), ``diff_low``, ``diff_high`` (its t-interval) and
        ``rel_diff`` (``diff / reference_mean``).

    Raises
    ------
    ValueError
        If a column is missing, ``reference`` has no rows, or it has two rows
        for the same market and true model.

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_auction.analysis import paired_differences
    >>> df = pd.DataFrame({
    ...     "task": [0, 0, 1, 1],
    ...     "mechanism": ["vcg", "myerson"] * 2,
    ...     "design_model": "mnl", "true_model": "mnl",
    ...     "revenue": [0.30, 0.40, 0.20, 0.24]})
    >>> res = paired_differences(df, "revenue")
    >>> res[["mechanism", "n", "mean", "reference_mean", "diff", "rel_diff"]].round(3)
      mechanism  n  mean  reference_mean  diff  rel_diff
    0   myerson  2  0.32            0.25  0.07      0.28
    >>> res[["diff_low", "diff_high"]].round(3).to_numpy().tolist()  # t with 1 dof: wide
    [[-0.311, 0.451]]
    """
    keys = _as_list(by, "by")
    _check_frame(df, ["task", *CONDITION, metric, *keys])
    if not isinstance(reference, str):
        raise TypeError(f"`reference` must be a mechanism name; got {reference!r}")
    data = own_model(df) if own_model_only else df
    is_ref = (data["mechanism"] == reference) & (data["design_model"] == data["true_model"])
    ref = data.loc[is_ref, ["task", "true_model", metric]]
    if ref.empty:
        mechs = sorted(map(str, df["mechanism"].unique()))
        raise ValueError(f"`reference` must be a mechanism of `df` evaluated under its own "
                         f"design model, one of {mechs}; got {reference!r}")
    if ref.duplicated(["task", "true_model"]).any():
        raise ValueError(f"`df` has several {reference!r} rows for the same task and true "
                         "model; filter it first (e.g. one solver)")
    ref = ref.rename(columns={metric: "_ref"})
    pairs = data[~is_ref].merge(ref, on=["task", "true_model"], how="inner", sort=False)
    pairs = pairs[pairs[metric].notna() & pairs["_ref"].notna()]
    group = [*CONDITION, *keys]
    if pairs.empty:
        raise ValueError(f"`df` has no rows to pair with {reference!r} on the same tasks")
    pairs = pairs.assign(_diff=pairs[metric] - pairs["_ref"])
    diff = mean_ci(pairs, "_diff", group, level=level)
    means = pairs.groupby(group, sort=False, observed=True, dropna=False)[
        [metric, "_ref"]].mean().reset_index()
    out = means.merge(diff[[*group, "n", "mean", "low", "high"]].rename(
        columns={"mean": "diff", "low": "diff_low", "high": "diff_high"}), on=group)
    out = out.rename(columns={metric: "mean", "_ref": "reference_mean"})
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rel_diff"] = out["diff"] / out["reference_mean"]
    cols = [*group, "n", "mean", "reference_mean", "diff", "diff_low", "diff_high", "rel_diff"]
    return out[cols].reset_index(drop=True)


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean welfare, revenue, efficiency and shown ads per mechanism and model pair.

    Every ``(mechanism, design_model, true_model)`` group is its own row, so
    own-model and wrong-model evaluations are never pooled; ``auctions`` is the
    number of rows behind each mean. :func:`summarize` adds intervals.

    Examples
    --------
    >>> from aigc_auction.sweep import run_sweep
    >>> from aigc_auction.analysis import summary_table
    >>> df = run_sweep({"replicates": 2, "mechanisms": ["vcg"]}, executor="serial")
    >>> list(summary_table(df).columns)
    ['auctions', 'welfare', 'revenue', 'efficiency', 'shown_ads', 'total_ctr']
    """
    keys = list(CONDITION)
    cols = ["welfare", "revenue", "efficiency", "shown_ads", "total_ctr"]
    _check_frame(df, [*keys, *cols])
    g = df.groupby(keys, sort=False)
    out = g[cols].mean()
    out.insert(0, "auctions", g.size())
    return out
