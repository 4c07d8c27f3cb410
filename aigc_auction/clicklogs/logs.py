"""Click logs: validation, reading from CSV / Parquet, and the array form the fits use.

A click log has one row per shown ad per session, with the columns

``session`` (int)
    Session (page view) identifier; any non-negative integers.
``advertiser`` (int)
    The creative shown, in ``0..n_advertisers-1``.
``position`` (int)
    Its position in the generated content, in ``0..n_positions-1``.
``rank`` (int)
    Its reading rank, ``0`` for the ad read first; the ranks of a session are
    ``0, 1, ..., k-1``.
``click`` (bool)
    Whether the user clicked it.

:func:`validate_logs` checks every rule and names the offending rows (by the
DataFrame's index labels; :func:`read_logs` numbers data rows from 0).
:class:`ClickData` holds the validated sessions as padded ``(n_sessions,
max_rank)`` arrays, the form every likelihood in this package works on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from .._validation import check_int

__all__ = ["LOG_COLUMNS", "ClickData", "as_click_data", "read_logs", "validate_logs"]

#: The columns of a click log, in order.
LOG_COLUMNS = ("session", "advertiser", "position", "rank", "click")
_ID_COLUMNS = LOG_COLUMNS[:4]
_TRUE = frozenset({"true", "t", "1", "yes"})
_FALSE = frozenset({"false", "f", "0", "no"})
#: Row labels quoted in an error message before "... and N more".
_SHOWN_ROWS = 8


def _rows(labels: ArrayLike, noun: str = "row") -> str:
    """``"rows [3, 7, 9]"`` (at most :data:`_SHOWN_ROWS` labels, then a count)."""
    lab = list(np.asarray(labels).tolist())
    head = ", ".join(repr(v) for v in lab[:_SHOWN_ROWS])
    more = f" and {len(lab) - _SHOWN_ROWS} more" if len(lab) > _SHOWN_ROWS else ""
    word = noun if len(lab) == 1 else noun + "s"
    return f"{word} [{head}]{more}"


def _integer_column(df: pd.DataFrame, name: str) -> NDArray[np.int64]:
    """Column ``name`` as int64, or a ValueError naming the non-integer rows."""
    col = df[name]
    if col.dtype == bool:
        raise TypeError(f"`logs` column `{name}` must hold integers; got booleans")
    if pd.api.types.is_integer_dtype(col.dtype) and not col.isna().any():
        return col.to_numpy(dtype=np.int64)
    num = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(num) | (num != np.round(num))
    if bad.any():
        raise ValueError(
            f"`logs` column `{name}` must hold integers; {_rows(df.index[bad])} "
            f"hold {col[bad].iloc[0]!r}" + (" and others" if bad.sum() > 1 else "")
        )
    return num.astype(np.int64)


def _click_column(df: pd.DataFrame) -> NDArray[np.bool_]:
    """The ``click`` column as bool; 0/1 numbers and true/false strings are accepted."""
    col = df["click"]
    if col.dtype == bool:
        return col.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(col.dtype) and col.dtype != object:
        num = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~((num == 0) | (num == 1))
        out = num == 1
    else:
        low = col.astype(str).str.strip().str.lower().to_numpy(dtype=object)
        out = np.isin(low, list(_TRUE))
        bad = ~(out | np.isin(low, list(_FALSE)))
    if bad.any():
        raise ValueError(
            f"`logs` column `click` must be boolean (True/False or 0/1); "
            f"{_rows(df.index[bad])} hold {col[bad].iloc[0]!r}"
            + (" and others" if bad.sum() > 1 else "")
        )
    return np.asarray(out, dtype=bool)


def _duplicates(keys: tuple[NDArray[np.int64], NDArray[np.int64]]) -> NDArray[np.bool_]:
    """Mask of rows whose ``(keys[0], keys[1])`` pair occurs more than once."""
    order = np.lexsort((keys[1], keys[0]))
    a, b = keys[0][order], keys[1][order]
    same = (a[1:] == a[:-1]) & (b[1:] == b[:-1])
    dup = np.zeros(a.size, dtype=bool)
    dup[1:] |= same
    dup[:-1] |= same
    out = np.zeros(a.size, dtype=bool)
    out[order] = dup
    return out


def _check_count(value: int | None, name: str) -> int | None:
    return None if value is None else check_int(value, name, low=1)


def validate_logs(
    logs: pd.DataFrame, *, n_advertisers: int | None = None, n_positions: int | None = None
) -> pd.DataFrame:
    """Check a click log and return it with clean dtypes.

    Parameters
    ----------
    logs : pandas.DataFrame
        One row per shown ad per session with the columns ``session``,
        ``advertiser``, ``position``, ``rank``, ``click`` (extra columns are
        dropped).
    n_advertisers, n_positions : int, optional
        When given, advertiser ids must be below ``n_advertisers`` and positions
        below ``n_positions``.

    Returns
    -------
    pandas.DataFrame
        The five columns (ids as ``int64``, ``click`` as ``bool``), same index.

    Raises
    ------
    TypeError
        If ``logs`` is not a DataFrame or an id column holds booleans.
    ValueError
        Naming the rows (index labels) at fault: a missing column; an id that is
        not an integer; a negative id; an advertiser ``>= n_advertisers`` or a
        position ``>= n_positions``; the same advertiser, position or rank twice in
        one session; a ``click`` that is not boolean; a session whose ranks are
        not ``0, 1, ..., k-1``; an empty log.

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_auction.clicklogs import validate_logs
    >>> logs = pd.DataFrame({"session": [0, 0, 1], "advertiser": [2, 2, 0],
    ...                      "position": [0, 1, 1], "rank": [0, 1, 0],
    ...                      "click": [True, False, False]})
    >>> validate_logs(logs)
    Traceback (most recent call last):
    ...
    ValueError: `logs` shows an advertiser twice in one session: rows [0, 1]
    """
    if not isinstance(logs, pd.DataFrame):
        raise TypeError(f"`logs` must be a pandas DataFrame; got {type(logs).__name__}")
    n = _check_count(n_advertisers, "n_advertisers")
    m = _check_count(n_positions, "n_positions")
    missing = [c for c in LOG_COLUMNS if c not in logs.columns]
    if missing:
        raise ValueError(
            f"`logs` must have the columns {list(LOG_COLUMNS)}; missing {missing} "
            f"(got {[str(c) for c in logs.columns]})"
        )
    if len(logs) == 0:
        raise ValueError("`logs` must have at least one row; got an empty table")
    ids = {c: _integer_column(logs, c) for c in _ID_COLUMNS}
    click = _click_column(logs)
    for c, v in ids.items():
        neg = v < 0
        if neg.any():
            raise ValueError(
                f"`logs` column `{c}` must be non-negative; {_rows(logs.index[neg])} "
                f"hold {int(v[neg][0])}" + (" and others" if neg.sum() > 1 else "")
            )
    for c, bound, pname in (("advertiser", n, "n_advertisers"), ("position", m, "n_positions")):
        if bound is not None:
            big = ids[c] >= bound
            if big.any():
                raise ValueError(
                    f"`logs` column `{c}` must be below `{pname}` = {bound}; "
                    f"{_rows(logs.index[big])} hold {int(ids[c][big][0])}"
                    + (" and others" if big.sum() > 1 else "")
                )
    for c, what in (("advertiser", "an advertiser"), ("position", "a position"),
                    ("rank", "a rank")):
        dup = _duplicates((ids["session"], ids[c]))
        if dup.any():
            raise ValueError(
                f"`logs` shows {what} twice in one session: {_rows(logs.index[dup])}"
            )
    sess, inv, counts = np.unique(ids["session"], return_inverse=True, return_counts=True)
    top = np.full(sess.size, -1, dtype=np.int64)
    np.maximum.at(top, inv, ids["rank"])
    gap = top != counts - 1
    if gap.any():
        bad_rows = np.isin(inv, np.flatnonzero(gap))
        raise ValueError(
            "`logs` ranks of a session must be 0, 1, ..., k-1 (a missing rank is a "
            f"missing row); sessions {sess[gap][:_SHOWN_ROWS].tolist()} break this: "
            f"{_rows(logs.index[bad_rows])}"
        )
    out = pd.DataFrame({c: ids[c] for c in _ID_COLUMNS}, index=logs.index)
    out["click"] = click
    return out


def read_logs(
    path: str | Path, *, n_advertisers: int | None = None, n_positions: int | None = None
) -> pd.DataFrame:
    """Read and validate a click log from a CSV or Parquet file.

    Parameters
    ----------
    path : str or Path
        ``*.csv`` (optionally compressed, e.g. ``*.csv.gz``) or ``*.parquet`` /
        ``*.pq``.
    n_advertisers, n_positions : int, optional
        Upper bounds of the ids, as in :func:`validate_logs`.

    Returns
    -------
    pandas.DataFrame
        The validated log, indexed by data row number (0 = first data row, the
        line after a CSV header), so errors name rows of the file.

    Raises
    ------
    ValueError
        If the suffix is not a supported format, or the content breaks a rule of
        :func:`validate_logs` (the message names the rows).
    FileNotFoundError
        If the file does not exist.

    Examples
    --------
    >>> import tempfile, pathlib, aigc_auction as aa
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "logs.csv"
    >>> _ = f.write_text("session,advertiser,position,rank,click\\n0,1,0,0,true\\n0,0,1,1,false\\n")
    >>> aa.read_logs(f, n_advertisers=2, n_positions=2)["click"].tolist()
    [True, False]
    """
    p = Path(path)
    name = p.name.lower()
    if name.endswith((".parquet", ".pq")):
        df = pd.read_parquet(p)
    elif ".csv" in name:
        df = pd.read_csv(p)
    else:
        raise ValueError(
            f"`path` must end in .csv (optionally compressed), .parquet or .pq; got {p.name!r}"
        )
    df = df.reset_index(drop=True)
    return validate_logs(df, n_advertisers=n_advertisers, n_positions=n_positions)


@dataclass(frozen=True, eq=False)
class ClickData:
    """Validated sessions as padded arrays (the form the likelihoods use).

    Attributes
    ----------
    session : ndarray of int, shape (n_sessions,)
        The session ids, increasing.
    advertiser, position : ndarray of int, shape (n_sessions, max_rank)
        Ad and position at each reading rank, ``-1`` after the session's end.
    click : ndarray of bool, shape (n_sessions, max_rank)
        ``False`` after the session's end.
    n_advertisers, n_positions : int
    """

    session: NDArray[np.int64]
    advertiser: NDArray[np.int64]
    position: NDArray[np.int64]
    click: NDArray[np.bool_]
    n_advertisers: int
    n_positions: int

    @property
    def n_sessions(self) -> int:
        """Number of sessions."""
        return int(self.session.size)

    @property
    def max_rank(self) -> int:
        """Length of the longest session (columns of the arrays)."""
        return int(self.advertiser.shape[1])

    @cached_property
    def shown(self) -> NDArray[np.bool_]:
        """``(n_sessions, max_rank)`` mask of the ranks that exist."""
        return self.advertiser >= 0

    @cached_property
    def length(self) -> NDArray[np.int64]:
        """Number of ads shown in each session."""
        return np.asarray(self.shown.sum(axis=1), dtype=np.int64)

    @cached_property
    def pair(self) -> NDArray[np.int64]:
        """Flat pair index ``advertiser * n_positions + position`` (0 where not shown)."""
        return np.where(self.shown, self.advertiser * self.n_positions + self.position, 0)

    @cached_property
    def has_next(self) -> NDArray[np.bool_]:
        """Ranks followed by another shown rank (where a continuation is decided)."""
        nxt = np.zeros_like(self.shown)
        nxt[:, :-1] = self.shown[:, 1:]
        return nxt

    @cached_property
    def last_click(self) -> NDArray[np.int64]:
        """Rank of the last click of each session, ``-1`` without clicks."""
        r = np.arange(self.max_rank)
        return np.asarray(np.where(self.click, r, -1).max(axis=1), dtype=np.int64)

    @cached_property
    def n_clicks(self) -> NDArray[np.int64]:
        """Number of clicks of each session."""
        return np.asarray(self.click.sum(axis=1), dtype=np.int64)

    @cached_property
    def pair_counts(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(impressions, clicks)`` of every pair, each of shape ``(n, m)``."""
        size = self.n_advertisers * self.n_positions
        flat = self.pair[self.shown]
        imp = np.bincount(flat, minlength=size).astype(np.float64)
        clk = np.bincount(self.pair[self.click], minlength=size).astype(np.float64)
        shape = (self.n_advertisers, self.n_positions)
        return imp.reshape(shape), clk.reshape(shape)

    @cached_property
    def blocks(self) -> list[RankBlock]:
        """The sessions in rank-major blocks of at most :data:`BLOCK` sessions."""
        return [RankBlock.build(self, s, min(s + BLOCK, self.n_sessions))
                for s in range(0, self.n_sessions, BLOCK)]

    @property
    def fixed_order(self) -> bool:
        """Whether every session reads its positions in increasing index order."""
        increasing = self.position[:, 1:] > self.position[:, :-1]
        return bool(np.all(increasing | ~self.shown[:, 1:]))

    def take(self, index: ArrayLike) -> ClickData:
        """The sessions at ``index`` (integer positions or a boolean mask)."""
        idx = np.asarray(index)
        adv = self.advertiser[idx]
        # drop trailing all-padding columns so max_rank stays the longest session
        width = int(max(1, (adv >= 0).sum(axis=1).max(initial=1)))
        return ClickData(
            self.session[idx], adv[:, :width], self.position[idx][:, :width],
            self.click[idx][:, :width], self.n_advertisers, self.n_positions,
        )

    def to_frame(self) -> pd.DataFrame:
        """The log as a DataFrame (one row per shown ad, sorted by session and rank)."""
        s, r = np.nonzero(self.shown)
        return pd.DataFrame({
            "session": self.session[s], "advertiser": self.advertiser[s, r],
            "position": self.position[s, r], "rank": r.astype(np.int64),
            "click": self.click[s, r],
        })

    def __repr__(self) -> str:
        return (
            f"ClickData(n_sessions={self.n_sessions}, n_advertisers={self.n_advertisers}, "
            f"n_positions={self.n_positions}, max_rank={self.max_rank})"
        )


#: Sessions per rank-major block (bounds the memory of the likelihood passes).
BLOCK = 1 << 17


@dataclass(frozen=True, eq=False)
class RankBlock:
    """Sessions ``start:stop`` of a :class:`ClickData` in rank-major layout ``(R, S)``.

    Rank-major rows are contiguous, so the recursions over reading ranks are a few
    vector operations per rank. After a session's end ``pair`` holds the dummy
    index ``n * m`` (likelihood code appends a neutral entry there), so no mask is
    needed in the hot loops.

    Attributes
    ----------
    pair : ndarray of int, shape (R, S)
    click, shown, has_next : ndarray of bool, shape (R, S)
    valid : ndarray of bool, shape (R, S)
        Ranks that can be the last one read: shown and at or after the last click.
    advertiser : ndarray of int, shape (R, S)
        0 after a session's end.
    n_clicks : ndarray of int, shape (S,)
    click_next, skip_next : ndarray of float, shape (R, S)
        1.0 where a clicked (skipped) rank is followed by another shown rank.
    """

    pair: NDArray[np.int64]
    click: NDArray[np.bool_]
    shown: NDArray[np.bool_]
    has_next: NDArray[np.bool_]
    valid: NDArray[np.bool_]
    advertiser: NDArray[np.int64]
    n_clicks: NDArray[np.int64]
    click_next: NDArray[np.float64]
    skip_next: NDArray[np.float64]

    @classmethod
    def build(cls, data: ClickData, start: int, stop: int) -> RankBlock:
        sl = slice(start, stop)
        shown = np.ascontiguousarray(data.shown[sl].T)
        dummy = data.n_advertisers * data.n_positions
        pair = np.ascontiguousarray(np.where(data.shown[sl], data.pair[sl], dummy).T)
        ranks = np.arange(data.max_rank)[:, None]
        click = np.ascontiguousarray(data.click[sl].T)
        nxt = np.ascontiguousarray(data.has_next[sl].T)
        return cls(
            pair=pair,
            click=click,
            shown=shown,
            has_next=nxt,
            valid=shown & (ranks >= data.last_click[sl][None, :]),
            advertiser=np.ascontiguousarray(np.where(data.shown[sl], data.advertiser[sl], 0).T),
            n_clicks=data.n_clicks[sl],
            click_next=(click & nxt).astype(np.float64),
            skip_next=(~click & nxt).astype(np.float64),
        )

    @property
    def n_ranks(self) -> int:
        """``R``, the number of rank rows."""
        return int(self.pair.shape[0])


def as_click_data(
    logs: pd.DataFrame | ClickData,
    *,
    n_advertisers: int | None = None,
    n_positions: int | None = None,
) -> ClickData:
    """Validate a log (:func:`validate_logs`) and build its :class:`ClickData`.

    ``n_advertisers`` / ``n_positions`` default to the largest id in the log plus
    one. A :class:`ClickData` is returned as is after checking that it agrees with
    the counts given.

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_auction.clicklogs import as_click_data
    >>> logs = pd.DataFrame({"session": [5, 5, 9], "advertiser": [2, 0, 1],
    ...                      "position": [0, 1, 1], "rank": [1, 0, 0],
    ...                      "click": [True, False, False]})
    >>> data = as_click_data(logs, n_advertisers=3, n_positions=2)
    >>> data.advertiser.tolist()             # rank order; -1 after a session ends
    [[0, 2], [1, -1]]
    """
    if isinstance(logs, ClickData):
        for name, given, have in (("n_advertisers", n_advertisers, logs.n_advertisers),
                                  ("n_positions", n_positions, logs.n_positions)):
            if given is not None and check_int(given, name, low=1) != have:
                raise ValueError(f"`{name}` must match the ClickData ({have}); got {given}")
        return logs
    df = validate_logs(logs, n_advertisers=n_advertisers, n_positions=n_positions)
    n = n_advertisers if n_advertisers is not None else int(df["advertiser"].max()) + 1
    m = n_positions if n_positions is not None else int(df["position"].max()) + 1
    sess = df["session"].to_numpy()
    rank = df["rank"].to_numpy()
    ids, row = np.unique(sess, return_inverse=True)
    width = int(rank.max()) + 1
    adv = np.full((ids.size, width), -1, dtype=np.int64)
    pos = np.full((ids.size, width), -1, dtype=np.int64)
    clk = np.zeros((ids.size, width), dtype=bool)
    adv[row, rank] = df["advertiser"].to_numpy()
    pos[row, rank] = df["position"].to_numpy()
    clk[row, rank] = df["click"].to_numpy()
    return ClickData(ids, adv, pos, clk, n, m)

