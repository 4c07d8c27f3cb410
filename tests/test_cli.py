"""The ``aigc-auction`` command line: return codes, printed tables, written files."""

from __future__ import annotations

import json
import os
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
        (["run", "--ctr", "[[0.5]]", "--bids", "1", "--mechanism", "vickrey"], "`mechanism`"),
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


# -- issue 12: a newcomer's first hour -------------------------------------------------
UNGUARDED = """
import warnings
from aigc_auction.sweep import run_sweep
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    df = run_sweep({{"replicates": 3, "mechanisms": ["vcg"]}}, out={out!r})
print("ROWS", len(df))
print("WARN", " | ".join(str(w.message) for w in caught))
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["script", "stdin"])
def test_unguarded_script_runs_in_process_with_a_warning(tmp_path, how):
    out = tmp_path / "o"
    code = UNGUARDED.format(out=str(out))
    if how == "script":
        script = tmp_path / "my.py"
        script.write_text(code)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
    else:
        proc = subprocess.run([sys.executable], input=code, capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ROWS 3" in proc.stdout
    assert "without worker processes" in proc.stdout
    assert ("__main__" in proc.stdout) if how == "script" else ("standard input" in proc.stdout)
    assert "RuntimeError" not in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "results.parquet").exists()


def test_guard_detection_reads_the_script(tmp_path, monkeypatch):
    import ast

    from aigc_auction.sweep.executors import _is_main_test

    guarded = ast.parse('if __name__ == "__main__":\n    pass\n').body[0]
    assert isinstance(guarded, ast.If) and _is_main_test(guarded.test)
    flipped = ast.parse('if "__main__" == __name__ and True:\n    pass\n').body[0]
    assert isinstance(flipped, ast.If) and _is_main_test(flipped.test)
    other = ast.parse('if __name__ == "x":\n    pass\n').body[0]
    assert isinstance(other, ast.If) and not _is_main_test(other.test)


def test_result_files_are_group_readable_like_the_figures(tmp_path):
    old = os.umask(0o022)
    try:
        run_sweep({"replicates": 2, "mechanisms": ["vcg"]}, executor="serial",
                  out=tmp_path / "o")
    finally:
        os.umask(old)
    for name in ("results.parquet", "config.json", "manifest.jsonl"):
        assert (tmp_path / "o" / name).stat().st_mode & 0o777 == 0o644, name
    for shard in (tmp_path / "o" / "shards").glob("*.parquet"):
        assert shard.stat().st_mode & 0o777 == 0o644
    old = os.umask(0o077)  # a stricter umask is respected
    try:
        run_sweep({"replicates": 2, "mechanisms": ["vcg"]}, executor="serial",
                  out=tmp_path / "p")
    finally:
        os.umask(old)
    assert (tmp_path / "p" / "results.parquet").stat().st_mode & 0o777 == 0o600


def test_plot_into_a_closed_pipe_exits_quietly(config, tmp_path):
    out = tmp_path / "out"
    assert main(["sweep", str(config), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "aigc_auction", "plot", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.wait(timeout=120) == 0
    assert "BrokenPipeError" not in err and "Traceback" not in err


def test_run_file_with_per_advertiser_priors_and_sweep_spelling(tmp_path, capsys):
    path = tmp_path / "a.toml"
    path.write_text('ctr = [[0.3, 0.1], [0.2, 0.25]]\nmechanisms = ["myerson"]\nseed = 3\n'
                    '[[prior]]\nname = "uniform"\nscale = 2.0\n'
                    '[[prior]]\nprior = "lognorm"\nprior_shape = 0.5\n')
    assert main(["run", str(path), "--json"]) == 0
    (out,) = json.loads(capsys.readouterr().out)["outcomes"]
    assert len(out["bids"]) == 2
    path.write_text('n_advertisers = 3\nprior = "lognorm"\nprior_shape = 0.5\n'
                    'prior_scale = 2.0\nmechanisms = ["myerson"]\n')
    assert main(["run", str(path)]) == 0
    assert "lognorm(0.5, loc=0, scale=2)" in capsys.readouterr().out
    assert main(["run", "--prior", "lognorm", "--prior-shape", "0.5", "--n-advertisers",
                 "2", "--mechanism", "myerson"]) == 0
    assert "lognorm(0.5" in capsys.readouterr().out
    assert main(["run", "--prior", "lognorm"]) == 2  # the shape is required
    assert "shape parameter" in capsys.readouterr().err


def test_run_without_arguments_prints_the_market_it_drew(capsys):
    assert main(["run", "--mechanism", "vcg"]) == 0
    out = capsys.readouterr().out
    ctr = gen.generate_ctr("lowrank", 5, 4, rng=np.random.default_rng(0))
    assert "random market" in out and f"{ctr[0, 0]:.4f}" in out
    assert "bids = values drawn from uniform" in out


def test_cli_rank_counts_from_zero_like_to_frame(capsys):
    import aigc_auction as aa

    ctr = [[0.3, 0.1], [0.2, 0.25], [0.1, 0.05]]
    assert main(["run", "--ctr", json.dumps(ctr), "--bids", "1", "0.8", "0.5",
                 "--mechanism", "vcg"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:4] == ["ad", "bid",
                                                                          "position", "rank"])
    printed = [line.split()[3] for line in lines[head + 1:head + 4]]
    frame = aa.VCG().run(aa.Instance(ctr=ctr), [1, 0.8, 0.5]).to_frame()
    assert printed == [str(r) if r >= 0 else "-" for r in frame["rank"]]


def test_every_option_has_help():
    import argparse

    from aigc_auction.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_grid_key_of_a_model_missing_from_models_says_what_to_add(tmp_path, capsys):
    path = tmp_path / "g.toml"
    path.write_text('models = ["mnl"]\n[grid]\n"cascade.continue_after_skip" = [0.5, 0.9]\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not in `models`" in err and "models = ['mnl', 'cascade']" in err
