"""Click-log validation: every rule gives a clear error naming the rows; CSV / Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aigc_auction as aa
from aigc_auction.clicklogs import as_click_data, validate_logs


def _logs(**over: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "session": [0, 0, 1, 1, 2],
        "advertiser": [0, 1, 2, 0, 1],
        "position": [0, 1, 0, 2, 1],
        "rank": [0, 1, 1, 0, 0],
        "click": [True, False, False, True, False],
    }
    base.update(over)
    return pd.DataFrame(base, index=[10, 11, 12, 13, 14])


def test_valid_logs_pass_and_keep_their_index() -> None:
    out = validate_logs(_logs(), n_advertisers=3, n_positions=3)
    assert out.index.tolist() == [10, 11, 12, 13, 14]
    assert out.dtypes["click"] == np.dtype(bool) and out.dtypes["session"] == np.int64


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"advertiser": [0, 1, -2, 0, 1]}, r"`advertiser` must be non-negative; row \[12\]"),
        ({"session": [0, 0, 1, -1, 2]}, r"`session` must be non-negative; row \[13\]"),
        ({"rank": [0, 1, -1, 0, 0]}, r"`rank` must be non-negative; row \[12\]"),
        ({"advertiser": [0, 1, 3, 0, 7]},
         r"`advertiser` must be below `n_advertisers` = 3; rows \[12, 14\] hold 3 and others"),
        ({"position": [0, 1, 0, 5, 1]}, r"`position` must be below `n_positions` = 3; row \[13\]"),
        ({"advertiser": [0, 0, 2, 0, 1]}, r"advertiser twice in one session: rows \[10, 11\]"),
        ({"position": [0, 0, 0, 2, 1]}, r"position twice in one session: rows \[10, 11\]"),
        ({"rank": [0, 0, 1, 0, 0]}, r"rank twice in one session: rows \[10, 11\]"),
        ({"rank": [0, 2, 1, 0, 0]}, r"sessions \[0\] break this: rows \[10, 11\]"),
        ({"click": [True, 2, False, True, False]},
         r"`click` must be boolean .*row \[11\] hold 2"),
        ({"click": ["yes", "no", "maybe", "true", "0"]}, r"`click` must be boolean .*row \[12\]"),
        ({"click": [1.0, 0.0, np.nan, 1.0, 0.0]}, r"`click` must be boolean .*row \[12\]"),
        ({"advertiser": [0, 1.5, 2, 0, 1]}, r"`advertiser` must hold integers; row \[11\]"),
        ({"position": [0, "x", 0, 2, 1]}, r"`position` must hold integers; row \[11\]"),
        ({"session": [0, 0, None, 1, 2]}, r"`session` must hold integers; row \[12\]"),
    ],
)
def test_each_rule_names_the_rows(over: dict[str, list[object]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        validate_logs(_logs(**over), n_advertisers=3, n_positions=3)


def test_structural_errors() -> None:
    with pytest.raises(ValueError, match=r"missing \['rank', 'click'\]"):
        validate_logs(_logs().drop(columns=["rank", "click"]))
    with pytest.raises(ValueError, match="empty"):
        validate_logs(_logs().iloc[:0])
    with pytest.raises(TypeError, match="DataFrame"):
        validate_logs({"session": [0]})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="booleans"):
        validate_logs(_logs(advertiser=[True, False, True, False, True]))
    with pytest.raises(ValueError, match="`n_advertisers` must be an integer in"):
        validate_logs(_logs(), n_advertisers=0)
    many = _logs(advertiser=list(range(20, 25)))
    with pytest.raises(ValueError, match=r"rows \[10, 11, 12, 13, 14\] hold 20"):
        validate_logs(many, n_advertisers=3)


def test_long_row_lists_are_truncated() -> None:
    df = pd.DataFrame({"session": range(20), "advertiser": [-1] * 20, "position": 0,
                       "rank": 0, "click": False})
    with pytest.raises(ValueError, match=r"rows \[0, 1, 2, 3, 4, 5, 6, 7\] and 12 more"):
        validate_logs(df)


def test_read_logs_csv_and_parquet(tmp_path: Path) -> None:
    logs = aa.simulate_logs(aa.Instance(ctr=[[0.3, 0.2], [0.1, 0.4]], slots=2), aa.Cascade(),
                            n_sessions=50, rng=0)
    logs.to_csv(tmp_path / "a.csv", index=False)
    logs.to_parquet(tmp_path / "a.parquet")
    for name in ("a.csv", "a.parquet"):
        back = aa.read_logs(tmp_path / name, n_advertisers=2, n_positions=2)
        pd.testing.assert_frame_equal(back, logs)
    bad = logs.copy()
    bad.loc[7, "position"] = 9
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match=r"`position` must be below `n_positions` = 2; row \[7\]"):
        aa.read_logs(tmp_path / "bad.csv", n_positions=2)
    with pytest.raises(ValueError, match=r"must end in \.csv"):
        aa.read_logs(tmp_path / "a.json")
    (tmp_path / "text.csv").write_text("session,advertiser,position,rank,click\n0,0,0,0,maybe\n")
    with pytest.raises(ValueError, match=r"`click` must be boolean .*row \[0\] hold 'maybe'"):
        aa.read_logs(tmp_path / "text.csv")


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 3), st.booleans()),
                min_size=1, max_size=25, unique_by=lambda t: t[0]))
def test_click_data_round_trips(sessions: list[tuple[int, int, bool]]) -> None:
    """Any valid log becomes ClickData and back (sorted by session and rank)."""
    rows = []
    for sid, k, clicked in sessions:
        for r in range(k):
            rows.append({"session": sid, "advertiser": (sid + r) % 4, "position": (r + sid) % 3,
                         "rank": r, "click": clicked and r == k - 1})
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # any row order
    data = as_click_data(df, n_advertisers=4, n_positions=3)
    back = data.to_frame()
    want = df.sort_values(["session", "rank"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back, want, check_dtype=False)
    assert data.n_sessions == len(sessions)
    assert (data.length == np.array([k for _, k, _ in sorted(sessions)])).all()
