"""Fault injection: one or more tests per numbered item of issue 11.

Nothing lost, nothing silently wrong: the sweep store (lock, manifest, integrity,
quarantine), validation that is cheap and total, clear one-line CLI errors, no
process left behind, memory proportional to the input.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import aigc_auction as aa
from aigc_auction.cli import main
from aigc_auction.exceptions import SweepError
from aigc_auction.sweep import SweepConfig, SweepStore, SweepWarning, run_sweep
from aigc_auction.sweep import config as config_mod
from aigc_auction.sweep import point as point_mod

SMALL = {"name": "faults", "seed": 5, "replicates": 3, "mechanisms": ["vcg"],
         "market": {"n_advertisers": 3, "n_positions": 2},
         "grid": {"n_advertisers": [2, 3]}}
N_TASKS = 6


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return run_sweep(SMALL, executor="serial")


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = [c for c in a.columns if c != "solver_time"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)


def _sweep(out: Path, **kw: object) -> pd.DataFrame:
    return run_sweep(SMALL, executor="serial", out=out, chunk_size=1, **kw)


def _shards(out: Path) -> list[Path]:
    return sorted((out / "shards").glob("*.parquet"))


def _rerun_quarantines(out: Path, reference: pd.DataFrame, name: str) -> list[str]:
    """Rerun the sweep: the table is the reference, a warning names the shard."""
    with pytest.warns(SweepWarning) as rec:
        df = _sweep(out)
    messages = [str(w.message) for w in rec]
    assert any(name in m and "quarantine" in m for m in messages), messages
    same(reference, df)
    assert (out / "quarantine").is_dir()
    assert len(df) == N_TASKS * SweepConfig.from_dict(SMALL).rows_per_task
    return messages


# -- 1. one writer per output folder ------------------------------------------------
def test_1_second_sweep_on_a_locked_folder_names_the_holder(tmp_path, capsys):
    out = tmp_path / "o"
    with SweepStore(out).lock():
        with pytest.raises(SweepError, match=rf"another sweep is writing.*pid {os.getpid()}"):
            _sweep(out)
        cfg = tmp_path / "c.toml"
        cfg.write_text('replicates = 2\nmechanisms = ["vcg"]\n')
        assert main(["sweep", str(cfg), "--out", str(out), "--workers", "1",
                     "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "another sweep is writing" in err and "host" in err and "started" in err
    assert not (out / "results.parquet").exists()


def test_1_lock_held_by_another_process_then_stale_after_kill_9(tmp_path, reference):
    out = tmp_path / "o"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from aigc_auction.sweep.store import "
         "SweepStore\nwith SweepStore(sys.argv[1]).lock():\n print('locked', flush=True)"
         "\n time.sleep(120)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(SweepError, match=rf"pid {holder.pid} on host .*started"):
            _sweep(out)
        assert not (out / "config.json").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert str(holder.pid) in (out / ".lock").read_text()  # left behind by the kill
    same(reference, _sweep(out))  # the kernel dropped the lock: taken over safely
    assert (out / ".lock").read_text() == ""  # released


def _toml(cfg: dict) -> str:
    return (f'name = "{cfg["name"]}"\nseed = {cfg["seed"]}\n'
            f'replicates = {cfg["replicates"]}\nmechanisms = ["vcg"]\n[market]\n'
            "n_advertisers = 3\nn_positions = 2\n[grid]\nn_advertisers = [2, 3]\n")


# -- 2. shard integrity --------------------------------------------------------------
def test_2_flipped_bytes_are_detected_quarantined_and_rerun(tmp_path, reference):
    out = tmp_path / "o"
    _sweep(out)
    victim = _shards(out)[2]
    data = bytearray(victim.read_bytes())
    for k in range(8):  # flip 8 bytes in the middle (data pages)
        data[len(data) // 3 + 7 * k] ^= 0xFF
    victim.write_bytes(bytes(data))
    _rerun_quarantines(out, reference, victim.name)
    assert (out / "quarantine" / victim.name).read_bytes() == bytes(data)


@pytest.mark.parametrize("damage", ["duplicate", "overwritten", "half_rows", "no_metadata",
                                    "unknown_file"])
def test_2_duplicated_replaced_truncated_or_foreign_shards(tmp_path, reference, damage):
    out = tmp_path / "o"
    _sweep(out)
    shards = _shards(out)
    if damage == "duplicate":
        victim = out / "shards" / "part-copy.parquet"
        shutil.copy(shards[0], victim)
    elif damage == "overwritten":
        victim = shards[1]
        shutil.copy(shards[0], victim)
    elif damage == "half_rows":
        victim = shards[3]
        df = pd.read_parquet(victim)
        df.iloc[: len(df) // 2].to_parquet(victim, index=False)
    elif damage == "no_metadata":
        victim = shards[4]
        pd.read_parquet(victim).to_parquet(victim, index=False)
    else:
        victim = out / "shards" / "part-99999999-99999999.parquet"
        reference.iloc[:2].to_parquet(victim, index=False)
    _rerun_quarantines(out, reference, victim.name)


def test_2_merge_checks_every_task_has_exactly_its_rows(tmp_path):
    cfg = SweepConfig.from_dict(SMALL)
    out = tmp_path / "o"
    _sweep(out)
    store = SweepStore(out)
    from aigc_auction.sweep.store import ShardCheck

    check = ShardCheck(n_tasks=cfg.n_tasks, replicates=cfg.replicates,
                       rows_per_task=cfg.rows_per_task + 1,  # expect one row more
                       columns=tuple(pd.read_parquet(out / "results.parquet").columns))
    with store.lock(), pytest.warns(Warning, match="expected"):
        done, frames = store.verify(check, read=True)
    assert done == set() and frames == []


def test_2_shard_damaged_during_the_run_is_caught_at_the_merge(tmp_path, reference,
                                                               monkeypatch):
    real = SweepStore.write_shard
    damaged: list[Path] = []

    def write_then_damage(self, tasks, frame):
        path = real(self, tasks, frame)
        if not damaged:  # the first shard is damaged right after it was written
            path.write_bytes(path.read_bytes()[:-10])
            damaged.append(path)
        return path

    monkeypatch.setattr(SweepStore, "write_shard", write_then_damage)
    with pytest.warns(SweepWarning, match=r"part-.*is damaged.*quarantine"):
        df = _sweep(tmp_path / "o")
    same(reference, df)
    assert (tmp_path / "o" / "quarantine" / damaged[0].name).exists()


# -- 3. invalid priors on the API path ------------------------------------------------
class _NanPrior:
    def ppf(self, q):
        return np.full(np.shape(q), np.nan)

    pdf = sf = cdf = ppf


@pytest.mark.parametrize("prior", [
    stats.uniform(0.5, 0), stats.gamma(-1), stats.expon(scale=-1), stats.norm(0, 1),
    stats.expon(loc=-0.1), _NanPrior(),
])
def test_3_invalid_priors_are_refused_by_the_api_like_sweeps(prior):
    with pytest.raises(ValueError, match="`prior`"):
        aa.Myerson(prior=prior)
    with pytest.raises(ValueError, match="`prior"):
        aa.Myerson(prior=[stats.uniform(), prior])


# -- 4. --overwrite deletes only the sweep's own files ---------------------------------
def test_4_overwrite_keeps_files_the_sweep_did_not_write(tmp_path, reference):
    out = tmp_path / "o"
    _sweep(out)
    (out / "notes.txt").write_text("mine")
    (out / "figures").mkdir()
    (out / "figures" / "f.png").write_bytes(b"png")
    same(reference, _sweep(out, overwrite=True))  # its own files: deleted and rewritten
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "figures" / "f.png").read_bytes() == b"png"
    foreign = out / "shards" / "mine.parquet"
    reference.to_parquet(foreign, index=False)
    before = foreign.read_bytes()
    with pytest.raises(SweepError, match=r"did not write \(shards/mine.parquet\)"):
        _sweep(out, overwrite=True)  # cleared its own files, refuses to touch this one
    assert foreign.read_bytes() == before and (out / "notes.txt").exists()
    assert not (out / "config.json").exists()


def test_4_foreign_result_files_are_never_overwritten(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "config.json").write_text('{"mine": 1}')
    (out / "results.parquet").write_bytes(b"precious")
    for overwrite in (False, True):
        with pytest.raises(SweepError, match="not written by a sweep"):
            _sweep(out, overwrite=overwrite)
    (out / "config.json").unlink()
    with pytest.raises(SweepError, match=r"did not write \(results.parquet"):
        _sweep(out, overwrite=True)
    assert (out / "results.parquet").read_bytes() == b"precious"


def test_4_folder_from_before_manifests_resumes_and_overwrites(tmp_path, reference):
    out = tmp_path / "o"
    _sweep(out)
    (out / "manifest.jsonl").unlink()  # as an older version left the folder
    with pytest.warns(SweepWarning, match="no checksum"):  # shards rerun, not trusted
        same(reference, _sweep(out))
    (out / "manifest.jsonl").unlink()
    df = run_sweep({**SMALL, "replicates": 2}, executor="serial", out=out, overwrite=True)
    assert len(df) == 4 and json.loads((out / "config.json").read_text())["config"][
        "replicates"] == 2


# -- 5. run FILE: prior typos and wrong types ------------------------------------------
@pytest.mark.parametrize(("prior", "message"), [
    ({"name": "uniform", "sclae": 2}, "unknown key 'sclae'"),
    (5, "`prior` must be a distribution name"),
    (["uniform"], "1 priors for 2 advertisers"),
    ([["uniform"]], "`prior[0]`"),
    ({"name": "lognorm"}, "shape parameter"),
])
def test_5_run_file_prior_errors(tmp_path, capsys, prior, message):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"ctr": [[0.3], [0.2]], "bids": [1, 0.5], "prior": prior,
                                "mechanisms": ["myerson"]}))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


# -- 6. validation is cheap and total -------------------------------------------------
class _SlowPrior:
    """A valid prior whose quantile function takes 50 ms a call (a slow ppf)."""

    _d = stats.uniform()

    def ppf(self, q):
        time.sleep(0.05)
        return self._d.ppf(q)

    def pdf(self, x):
        return self._d.pdf(x)

    def sf(self, x):
        return self._d.sf(x)

    def cdf(self, x):
        return self._d.cdf(x)


def test_6_a_too_slow_prior_is_refused_at_once():
    with pytest.raises(ValueError, match="too slow"):
        aa.Myerson(prior=_SlowPrior())


def test_6_grid_is_validated_per_value_not_per_product(monkeypatch):
    calls = []
    real = point_mod.check_market
    monkeypatch.setattr(config_mod, "check_market", lambda s: calls.append(1) or real(s))
    vals = list(range(20, 120))
    cfg = SweepConfig.from_dict({"mechanisms": ["vcg"], "grid": {
        "n_advertisers": vals, "n_positions": vals, "slots": list(range(1, 21))}})
    assert cfg.n_points == 200_000
    assert len(calls) == 220  # the sum of the grid lengths, not their product


@pytest.mark.parametrize(("data", "match"), [
    ({"replicates": 10**12}, "tasks"),
    ({"grid": {"n_advertisers": list(range(2, 1002)), "n_positions": list(range(2, 1002)),
               "rank": list(range(1, 1001))}}, "tasks"),
    ({"market": {"rank": 10**9}}, "rank"),
    ({"market": {"n_advertisers": 10**9}}, "entries"),
    ({"market": {"prior": "studentized_range", "prior_shape": 3.0, "prior_shape2": 10.0}},
     "too slow"),
])
def test_6_size_limits_refuse_before_anything_is_written(tmp_path, data, match):
    out = tmp_path / "never"
    with pytest.raises(ValueError, match=match):
        run_sweep(data, executor="serial", out=out)
    assert not out.exists()


# -- 7. no process left behind ------------------------------------------------------
def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            state = (Path("/proc") / str(p) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(p)
    return alive


@pytest.mark.slow
def test_7_kill_9_leaves_no_process_and_resume_gives_the_same_table(tmp_path):
    cfg = dict(SMALL, replicates=100, name="kill9")
    path = tmp_path / "k.toml"
    path.write_text(_toml(cfg))
    out = tmp_path / "o"
    for _cycle in range(2):  # kill -9, resume and kill -9 again, then finish
        proc = subprocess.Popen(
            [sys.executable, "-m", "aigc_auction", "sweep", str(path), "--out", str(out),
             "--workers", "2", "--chunk-size", "1", "--no-progress"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start = len(_shards(out))
        deadline = time.monotonic() + 120
        while (len(_shards(out)) < start + 2 and proc.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.01)
        family = _descendants(proc.pid)  # pool workers and the resource tracker
        assert proc.poll() is None and len(family) >= 2, "the sweep ended too soon"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 60  # workers notice within PARENT_POLL seconds
        while _alive(family) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(family), "pool workers or the resource tracker outlived kill -9"
    assert 4 <= len(_shards(out)) < 2 * cfg["replicates"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SweepWarning)  # a shard cut by the kill, if any
        df = run_sweep(cfg, executor="serial", out=out)
    same(run_sweep(cfg, executor="serial"), df)


# -- 8. damaged shards are reported by name, not as task failures --------------------
@pytest.mark.parametrize("damage", ["empty", "header"])
def test_8_zero_byte_or_damaged_header_shard(tmp_path, reference, capsys, damage):
    cfg = tmp_path / "c.toml"
    cfg.write_text(_toml(SMALL))
    out = tmp_path / "o"
    argv = ["sweep", str(cfg), "--out", str(out), "--workers", "1", "--chunk-size", "1",
            "--no-progress"]
    assert main(argv) == 0
    victim = _shards(out)[0]
    if damage == "empty":
        victim.write_bytes(b"")
    else:
        data = bytearray(victim.read_bytes())
        data[4:40] = b"\xff" * 36  # the first page header
        victim.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert victim.name in err and "quarantine" in err and "Traceback" not in err
    same(reference, pd.read_parquet(out / "results.parquet"))


# -- 9. one-line errors (exit code 2) for every CLI input class --------------------------
def _cli_cases(tmp_path: Path) -> list[list[str]]:
    cfg = tmp_path / "c.toml"
    cfg.write_text('replicates = 1\nmechanisms = ["vcg"]\n')
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    deep = "[" * 30_000 + "]" * 30_000
    return [
        ["sweep", str(tmp_path), "--out", str(tmp_path / "o1")],       # directory as config
        ["sweep", str(cfg), "--out", "/proc/aigc-auction-out"],        # unwritable --out
        ["sweep", str(cfg), "--out", str(blocker / "sub")],             # --out under a file
        ["sweep", str(cfg), "--out", str(blocker)],                     # --out is a file
        ["run", "--ctr", deep],                                         # nested 30,000 deep
        ["run", "--n-advertisers", "1e9"],                              # far too large
        ["run", "--n-advertisers", "1000000000"],
        ["run", str(tmp_path)],                                         # directory as FILE
        ["run", "--ctr", '[["0.3", "0.1"]]', "--bids", "1"],          # strings
        ["run", "--prior", "norm"],                                     # negative support
        ["plot", str(blocker)],                                         # not results
    ]


def test_9_every_input_class_gives_one_line_and_exit_2(tmp_path, capsys):
    for argv in _cli_cases(tmp_path):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("aigc-auction ") and err.count("\n") == 1, (argv, err)
        assert "Traceback" not in err


def test_9_argparse_type_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--n-advertisers", "1.5"])
    assert exc.value.code == 2
    assert "whole number" in capsys.readouterr().err


# -- 10. memory proportional to the input --------------------------------------------
@pytest.mark.parametrize("shape", [(5, 200_000), (200_000, 5)])
def test_10_wide_and_tall_instances_run_in_memory_proportional_to_n_m(shape):
    n, m = shape
    rng = np.random.default_rng(3)
    inst = aa.Instance(ctr=rng.uniform(0.01, 0.3, shape), slots=3)
    bids = rng.uniform(size=n)
    tracemalloc.start()
    try:
        out = aa.VCG().run(inst, bids)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (out.assignment >= 0).sum() == 3
    assert peak < 32 * 8 * n * m  # a small multiple of the n x m input


def test_10_lean_lsa_form_equals_the_square_form():
    from scipy.optimize import linear_sum_assignment

    from aigc_auction.solvers.mnl.parametric import _lsa_lean

    rng = np.random.default_rng(0)
    for t in range(300):
        r, m = rng.integers(2, 10, size=2)
        k = int(rng.integers(1, min(r, m)))
        gain = np.maximum(rng.uniform(-0.5, 1, (r, m)), 0)
        if t % 2:
            gain = np.round(gain, 1)  # ties
        size = r + m - k
        cost = np.zeros((size, size))
        cost[:r, :m] = -gain
        cost[r:, m:] = np.inf
        ri, ci = linear_sum_assignment(cost)
        use = (ri < r) & (ci < m)
        best = gain[ri[use], ci[use]].sum()
        ri, ci = _lsa_lean(gain, k)
        use = (ri < r) & (ci < m)
        assert use.sum() <= k
        assert gain[ri[use], ci[use]].sum() == pytest.approx(best, abs=1e-12)


# -- 11. raw solver exceptions on valid extremes -------------------------------------
def test_11_cascade_vcg_with_a_subnormal_bid_does_not_raise_pulp_error():
    # exact reproduction from the issue: VCG(Cascade(continue_after_skip=.8)) on
    # Instance(ctr=[[.3]]) with bid 5e-324 raised a raw PulpError (objective 0/0)
    out = aa.VCG(aa.Cascade(continue_after_skip=0.8)).run(aa.Instance(ctr=[[0.3]]),
                                                           [5e-324])
    assert out.payments[0] >= 0


# -- 12. no silent coercions -------------------------------------------------------
@pytest.mark.parametrize("bad", [[["0.3", "0.1"]], [[True, False]], [[0.3 + 1j, 0.1]],
                                 np.array([[0.3, "x"]], dtype=object)])
def test_12_ctr_must_be_real_numbers(bad):
    with pytest.raises(TypeError, match="`ctr`"):
        aa.Instance(ctr=bad)


@pytest.mark.parametrize("bad", [["1", "0.5"], [True, False], [1 + 0j, 0.5]])
def test_12_bids_must_be_real_numbers(bad):
    with pytest.raises(TypeError, match="`bids`"):
        aa.VCG().run(aa.Instance(ctr=[[0.3], [0.2]]), bad)


@pytest.mark.parametrize("param", ["continue_after_skip", "continue_after_click"])
@pytest.mark.parametrize("bad", ["0.5", True, 0.5 + 0j, ["0.5", "0.4"]])
def test_12_cascade_parameters_must_be_real_numbers(param, bad):
    with pytest.raises(TypeError, match=f"`{param}`"):
        aa.Cascade(**{param: bad})


# -- malformed configs: ValueError/TypeError or success, never anything else ----------
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                    st.sampled_from(["vcg", "myerson", "mnl", "cascade", "uniform",
                                     "lowrank", "gamma", "norm", "expon", "parametric"]))
_value = st.recursive(_scalar, lambda c: st.one_of(st.lists(c, max_size=3),
                                                   st.dictionaries(st.text(max_size=4), c,
                                                                   max_size=3)),
                      max_leaves=8)
_keys = st.sampled_from(["name", "seed", "replicates", "mechanisms", "models",
                         "true_models", "baselines", "allocators", "market", "params",
                         "solvers", "grid", "nonsense"])
_market = st.dictionaries(st.sampled_from(["n_advertisers", "n_positions", "slots",
                                           "prior", "prior_shape", "prior_loc",
                                           "prior_scale", "generator", "rank", "scale"]),
                          _value, max_size=4)
_configs = st.dictionaries(_keys, _value, max_size=5) | st.fixed_dictionaries(
    {"replicates": st.integers(1, 2), "mechanisms": st.just(["vcg"]), "market": _market,
     "grid": st.dictionaries(st.sampled_from(["n_advertisers", "slots", "prior_scale",
                                              "mnl.x", "cascade.continue_after_skip",
                                              "solver.mnl"]),
                             st.lists(_scalar, max_size=3), max_size=2)})


@given(_configs)
def test_random_malformed_configs_raise_value_or_type_errors_only(data):
    with contextlib.suppress(ValueError, TypeError):  # anything else fails the test
        SweepConfig.from_dict(data)
