"""The ``aigc-auction`` command line: return codes, printed tables, written files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from aigc_auction import generators as gen
from aigc_auction.cli import main
from aigc_auction.sweep import run_sweep

CONFIG = """
name = "cli"
seed = 4
replicates = 2
mechanisms = ["vcg", "myerson"]
baselines = ["separable_vcg"]
[market]
n_advertisers = 3
n_positions = 2
[grid]
slots = [1, 2]
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "cli.toml"
    path.write_text(CONFIG)
    return path


def test_sweep_writes_results_and_summary(config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(config), "--out", str(out), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "4 tasks, 12 auctions" in captured.out
    assert "summary" in captured.out and "separable_vcg" in captured.out
    assert "task" in captured.err  # the progress bar, on stderr
    df = pd.read_parquet(out / "results.parquet")
    expected = run_sweep(config, executor="serial")
    cols = [c for c in df.columns if c != "solver_time"]
    pd.testing.assert_frame_equal(df[cols], expected[cols])
    # rerun: resumes (nothing to do), same table
    assert main(["sweep", str(config), "--out", str(out), "--no-progress"]) == 0
    again = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(again[cols], df[cols])


def test_sweep_refuses_a_changed_config(config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(config), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    config.write_text(CONFIG.replace("replicates = 2", "replicates = 3"))
    assert main(["sweep", str(config), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "different config" in err and "replicates: 2 -> 3" in err
    assert main(["sweep", str(config), "--out", str(out), "--workers", "1",
                 "--no-progress", "--overwrite"]) == 0
    assert pd.read_parquet(out / "results.parquet")["rep"].max() == 2


def test_sweep_on_a_dask_scheduler_address(config, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        code = main(["sweep", str(config), "--out", str(tmp_path / "d"), "--scheduler",
                     cluster.scheduler_address, "--no-progress"])
    assert code == 0
    df = pd.read_parquet(tmp_path / "d" / "results.parquet")
    assert len(df) == 12


def test_sweep_with_failing_tasks_returns_1(tmp_path, monkeypatch, capsys):
    def flaky(n_advertisers, n_positions, *, rng=None):
        g = np.random.default_rng(rng)
        if g.uniform() < 0.4:
            raise RuntimeError("boom")
        return g.uniform(0.05, 0.5, size=(n_advertisers, n_positions))

    monkeypatch.setitem(gen.CTR_GENERATORS, "flaky", flaky)
    path = tmp_path / "f.toml"
    path.write_text(CONFIG.replace("n_advertisers = 3", 'generator = "flaky"\n'
                                   "n_advertisers = 3").replace("replicates = 2",
                                                                "replicates = 4"))
    out = tmp_path / "out"
    code = main(["sweep", str(path), "--out", str(out), "--workers", "1",
                 "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "failed" in err and "seed" in err and "RuntimeError: boom" in err
    assert (out / "results.parquet").exists()
    assert json.loads((out / "failures.json").read_text())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sweep", "missing.toml", "--out", "x"], "not found"),
        (["plot", "nowhere"], "no results"),
        (["run", "--ctr", "[[1.0]]", "--bids", "1"], "[0, 1)"),
        (["run", "--ctr", "not json"], "JSON"),
        (["run", "--ctr", "[[0.5]]", "--bids", "1", "--mechanism", "gsp"], "`mechanism`"),
        (["run", "--model-param", "oops"], "KEY=VALUE"),
    ],
)
def test_bad_input_returns_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_config_value_returns_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("replicates = 0\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "`replicates`" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "sweep" in capsys.readouterr().out


@pytest.mark.parametrize("sub", [[], ["run"], ["sweep"], ["plot"], ["demo"]])
def test_help_everywhere(sub, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*sub, "--help"])
    assert exc.value.code == 0
    assert "usage: aigc-auction" in capsys.readouterr().out


def test_run_prints_a_table_per_mechanism(capsys):
    code = main(["run", "--ctr", "[[0.3, 0.1], [0.2, 0.25], [0.1, 0.05]]",
                 "--bids", "1", "0.8", "0.5", "--slots", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "VCG under MNL()" in out and "MYERSON under MNL()" in out
    assert "price/click" in out and "welfare" in out and "revenue" in out


def test_run_from_a_file_as_json(tmp_path, capsys):
    spec = {"ctr": [[0.5], [0.5]], "bids": [0.9, 0.4], "mechanisms": ["vcg"]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(spec))
    assert main(["run", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (vcg,) = data["outcomes"]
    assert vcg["assignment"] == [0, -1]
    assert vcg["price_per_click"] == pytest.approx([0.4, 0.0])


def test_run_random_market_from_toml(tmp_path, capsys):
    path = tmp_path / "a.toml"
    path.write_text('n_advertisers = 4\nn_positions = 3\nslots = 2\nseed = 5\n'
                    'generator = "separable"\nprior = "expon"\n')
    assert main(["run", str(path)]) == 0
    assert "Instance(n_advertisers=4, n_positions=3, slots=2)" in capsys.readouterr().out
    path.write_text("colour = 3\n")
    assert main(["run", str(path)]) == 2


def test_plot_writes_figures(config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(config), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["plot", str(out)]) == 0
    written = capsys.readouterr().out.split()
    names = {p.rsplit("/", 1)[-1] for p in written}
    assert {"welfare.png", "revenue.png", "separable.png"} <= names
    for p in written:
        assert (out / "figures" / p.rsplit("/", 1)[-1]).stat().st_size > 1000
    assert main(["plot", str(out / "results.parquet"), "--out", str(tmp_path / "f"),
                 "--format", "svg", "--x", "slots"]) == 0
    assert (tmp_path / "f" / "revenue.svg").exists()


def test_demo_prints_auctions_and_runs_a_sweep(config, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--config", str(config), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "VCG under MNL()" in text and "MYERSON under MNL()" in text
    assert "VCG under Cascade(" in text and "MYERSON under Cascade(" in text
    assert "summary" in text and str(out) in text
    assert (out / "results.parquet").exists()
    assert (out / "figures" / "revenue.png").exists()


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "aigc_auction", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("aigc-auction ")
