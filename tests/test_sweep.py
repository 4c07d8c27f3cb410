"""run_sweep: schema, determinism across backends, resume, refusal, failures."""

from __future__ import annotations

import json
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import aigc_auction as aa
from aigc_auction import generators as gen
from aigc_auction.exceptions import SweepError
from aigc_auction.sweep import (
    RESULT_COLUMNS,
    DaskBackend,
    SweepConfig,
    SweepWarning,
    make_market,
    rank1_fit,
    run_sweep,
    separable_auction,
    task_seed,
)

SMALL = {
    "name": "small",
    "seed": 7,
    "replicates": 3,
    "mechanisms": ["vcg", "myerson"],
    "baselines": ["separable_vcg", "separable_gsp"],
    "market": {"n_advertisers": 4, "n_positions": 3, "slots": 2},
    "grid": {"n_advertisers": [2, 4]},
}
DETERMINISTIC = [c for c in (*RESULT_COLUMNS, "task", "seed") if c != "solver_time"]


def same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal in every column except the wall-clock ``solver_time``."""
    assert list(a.columns) == list(b.columns)
    cols = [c for c in a.columns if c != "solver_time"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return run_sweep(SMALL, executor="serial")


def test_schema(reference):
    df = reference
    cfg = SweepConfig.from_dict(SMALL)
    assert list(df.columns[:4]) == ["task", "point", "rep", "seed"]
    assert list(df.columns[4:5]) == ["param_n_advertisers"]
    assert list(df.columns[5:]) == list(RESULT_COLUMNS)
    rows_per_task = cfg.auctions_per_task * len(cfg.true_models)
    assert len(df) == cfg.n_tasks * rows_per_task
    assert isinstance(df.index, pd.RangeIndex)
    assert df["task"].is_monotonic_increasing
    for col, dtype in RESULT_COLUMNS.items():
        if dtype == "str":
            assert pd.api.types.is_string_dtype(df[col]), col
        else:
            assert str(df[col].dtype) == dtype, col
    assert set(df["mechanism"]) == {"vcg", "myerson", "separable_vcg", "separable_gsp"}
    assert set(df["design_model"]) == {"mnl", "separable"}
    assert (df["param_n_advertisers"] == np.where(df["point"] == 0, 2, 4)).all()
    assert (df["rep"] == df["task"] % 3).all()
    assert df.attrs["failures"] == []


def test_metrics_are_consistent(reference):
    df = reference
    assert (df["efficiency"] <= 1 + 1e-9).all() and (df["efficiency"] >= 0).all()
    vcg = df[df["mechanism"] == "vcg"]
    np.testing.assert_allclose(vcg["efficiency"], 1.0)  # VCG is efficient in its model
    assert (df["revenue"] <= df["welfare"] + 1e-9).all()  # IR with truthful bids
    assert (df["revenue"] >= -1e-12).all()
    assert (df["shown_ads"] <= 2).all()  # slots
    assert (df.loc[df["design_model"] == "mnl", "approx_ratio"] == 1.0).all()
    assert df.loc[df["design_model"] == "separable", "approx_ratio"].isna().all()


def test_rows_reproduce_from_the_seed_column(reference):
    cfg = SweepConfig.from_dict(SMALL)
    row = reference[(reference["task"] == 4) & (reference["mechanism"] == "vcg")].iloc[0]
    assert row["seed"] == task_seed(np.random.SeedSequence(7), 4)
    inst, values = make_market(cfg, int(row["point"]), rng=int(row["seed"]))
    out = aa.VCG(aa.MNL()).run(inst, values)
    assert out.welfare == pytest.approx(row["welfare"], rel=1e-12)
    assert out.revenue == pytest.approx(row["revenue"], rel=1e-12)


def test_rng_overrides_seed(reference):
    again = run_sweep(SMALL, executor="serial", rng=7)
    same_table(reference, again)
    other = run_sweep(SMALL, executor="serial", rng=8)
    assert not np.array_equal(other["welfare"], reference["welfare"])
    with pytest.raises(TypeError, match="`rng`"):
        run_sweep(SMALL, executor="serial", rng="x")


def test_identical_across_backends_and_worker_counts(reference, tmp_path):
    """Serial, 2-process pool, thread pool and a Dask LocalCluster: one table."""
    pool = run_sweep(SMALL, executor=2, chunk_size=1)
    same_table(reference, pool)
    with ThreadPoolExecutor(3) as ex:
        threads = run_sweep(SMALL, executor=ex, chunk_size=2)
    same_table(reference, threads)
    with DaskBackend("local", n_workers=2, processes=False) as dask:
        on_dask = run_sweep(SMALL, executor=dask, chunk_size=1, out=tmp_path / "d")
    same_table(reference, on_dask)
    same_table(reference, pd.read_parquet(tmp_path / "d" / "results.parquet"))


def test_out_folder_table_equals_returned_table(tmp_path, reference):
    df = run_sweep(SMALL, executor="serial", out=tmp_path / "o", chunk_size=2)
    pd.testing.assert_frame_equal(df, pd.read_parquet(tmp_path / "o" / "results.parquet"))
    same_table(reference, df)
    shards = sorted((tmp_path / "o" / "shards").glob("*.parquet"))
    assert len(shards) == 3  # 6 tasks in chunks of 2
    stamp = json.loads((tmp_path / "o" / "config.json").read_text())
    assert stamp["config"]["replicates"] == 3
    assert not (tmp_path / "o" / "failures.json").exists()


def test_resume_skips_finished_tasks_and_gives_the_same_table(tmp_path, reference):
    out = tmp_path / "r"
    run_sweep(SMALL, executor="serial", out=out, chunk_size=1)
    shards = sorted((out / "shards").glob("*.parquet"))
    for f in shards[1::2]:  # lose half of the work, as if killed
        f.unlink()
    (out / "results.parquet").unlink()
    (out / "shards" / ".part-x.parquet.123.tmp").write_bytes(b"half-written")
    calls = []

    class Counting(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
            calls.append(list(args[1]))
            return super().submit(fn, *args, **kwargs)

    with Counting(2) as ex:
        resumed = run_sweep(SMALL, executor=ex, out=out, chunk_size=1)
    assert sorted(t for c in calls for t in c) == [1, 3, 5]
    same_table(reference, resumed)
    assert not list((out / "shards").glob("*.tmp"))
    # a complete folder: nothing left to run, same table again
    again = run_sweep(SMALL, executor="serial", out=out)
    pd.testing.assert_frame_equal(resumed, again)


def test_changed_config_is_refused(tmp_path):
    out = tmp_path / "c"
    run_sweep(SMALL, executor="serial", out=out)
    changed = {**SMALL, "replicates": 4}
    with pytest.raises(SweepError, match=r"different config \(replicates: 3 -> 4\)"):
        run_sweep(changed, executor="serial", out=out)
    with pytest.raises(SweepError, match="root_seed"):
        run_sweep(SMALL, executor="serial", out=out, rng=99)
    # --overwrite starts over
    df = run_sweep(changed, executor="serial", out=out, overwrite=True)
    assert df["rep"].max() == 3


def _flaky(n_advertisers, n_positions, *, rng=None):
    """A generator that fails on some draws (to test failure reporting)."""
    g = np.random.default_rng(rng)
    if g.uniform() < 0.35:
        raise RuntimeError("flaky generator")
    return g.uniform(0.05, 0.5, size=(n_advertisers, n_positions))


def test_failing_tasks_are_reported_and_retried(tmp_path, monkeypatch):
    monkeypatch.setitem(gen.CTR_GENERATORS, "flaky", _flaky)
    cfg = {**SMALL, "market": {**SMALL["market"], "generator": "flaky"}}
    out = tmp_path / "f"
    with pytest.warns(SweepWarning, match=r"of 6 sweep tasks failed") as rec:
        df = run_sweep(cfg, executor="serial", out=out, chunk_size=2)
    failures = df.attrs["failures"]
    assert 0 < len(failures) < 6
    failed = {f["task"] for f in failures}
    assert set(df["task"]) == set(range(6)) - failed
    first = failures[0]
    assert first["params"] == {"n_advertisers": [2, 4][first["point"]]}
    assert first["seed"] == task_seed(np.random.SeedSequence(7), first["task"])
    assert "RuntimeError: flaky generator" in first["error"]
    assert str(first["seed"]) in str(rec[0].message)
    on_disk = json.loads((out / "failures.json").read_text())
    assert [f["task"] for f in on_disk] == sorted(failed)
    # fix the bug, rerun: only the failed tasks run, and the table is complete
    monkeypatch.setitem(gen.CTR_GENERATORS, "flaky", _fixed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SweepWarning)
        full = run_sweep(cfg, executor="serial", out=out)
    assert set(full["task"]) == set(range(6))
    assert not (out / "failures.json").exists()
    kept = full[~full["task"].isin(failed)].reset_index(drop=True)
    same_table(df, kept)


def _fixed(n_advertisers, n_positions, *, rng=None):
    g = np.random.default_rng(rng)
    g.uniform()
    return g.uniform(0.05, 0.5, size=(n_advertisers, n_positions))


def test_bad_arguments():
    with pytest.raises(ValueError, match="`chunk_size`"):
        run_sweep(SMALL, executor="serial", chunk_size=0)
    with pytest.raises(ValueError, match="`workers`"):
        run_sweep(SMALL, executor=0)
    with pytest.raises(TypeError, match="`executor`"):
        run_sweep(SMALL, executor=1.5)
    with pytest.raises(TypeError, match="`config`"):
        run_sweep(3)  # type: ignore[arg-type]


def test_separable_baseline_matches_closed_form_on_separable_markets():
    """On a separable p with no externalities the baseline is the textbook auction."""
    alpha, beta = np.array([1.0, 0.8, 0.5, 0.3]), np.array([0.5, 0.3, 0.1])
    inst = aa.Instance.from_separable(alpha, beta, slots=2)
    a, b = rank1_fit(inst.ctr)
    np.testing.assert_allclose(np.outer(a, b), inst.ctr, atol=1e-12)
    bids = np.array([0.4, 0.9, 0.5, 1.0])
    out = separable_auction(inst, bids)
    # scores alpha * b: [0.4, 0.72, 0.25, 0.3] -> ranks 1, 0, 3 (2 slots: ads 1 and 0)
    assert out.assignment.tolist() == [1, 0, -1, -1]
    s = [0.72, 0.4, 0.3]
    bs = beta / beta.max()
    t0 = (bs[0] - bs[1]) * s[1] + (bs[1] - 0) * s[2]
    t1 = (bs[1] - 0) * s[2]
    ppc = out.price_per_click
    assert ppc[1] == pytest.approx(t0 / (0.8 * bs[0]))
    assert ppc[0] == pytest.approx(t1 / (1.0 * bs[1]))
    gsp = separable_auction(inst, bids, pricing="gsp")
    assert gsp.price_per_click[1] == pytest.approx(0.4 / 0.8)
    assert gsp.price_per_click[0] == pytest.approx(0.3 / 1.0)
    assert np.all(gsp.price_per_click >= ppc - 1e-12)  # GSP charges at least VCG
    with pytest.raises(ValueError, match="`pricing`"):
        separable_auction(inst, bids, pricing="first")
