"""Kill a running ``aigc-auction sweep`` half-way, rerun it: the same final table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from aigc_auction.cli import main
from aigc_auction.sweep import run_sweep

CONFIG = """
name = "killme"
seed = 11
replicates = 40
mechanisms = ["vcg", "myerson"]
baselines = ["separable_vcg"]
[market]
n_advertisers = 6
n_positions = 4
slots = 3
[grid]
n_advertisers = [4, 6]
"""
N_TASKS = 80


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "killme.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def uninterrupted(config) -> pd.DataFrame:
    return run_sweep(config, executor="serial")


def _shards(out: Path) -> list[Path]:
    d = out / "shards"
    return sorted(d.glob("part-*.parquet")) if d.is_dir() else []


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "workers"), [(signal.SIGINT, 1), (signal.SIGTERM, 2)])
def test_killed_sweep_resumes_to_the_identical_table(
    config, uninterrupted, tmp_path, sig, workers
):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "aigc_auction", "sweep", str(config), "--out", str(out),
           "--workers", str(workers), "--chunk-size", "1", "--no-progress"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while len(_shards(out)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep finished before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert b"rerun the same command to resume" in err
    done = len(_shards(out))
    assert 3 <= done < N_TASKS
    assert not (out / "results.parquet").exists()

    code = main(["sweep", str(config), "--out", str(out), "--workers", "1",
                 "--no-progress"])
    assert code == 0
    resumed = pd.read_parquet(out / "results.parquet")
    cols = [c for c in resumed.columns if c != "solver_time"]
    pd.testing.assert_frame_equal(resumed[cols], uninterrupted[cols], check_exact=True)
    # the interrupted run's shards were kept, not recomputed
    assert len(_shards(out)) > done
