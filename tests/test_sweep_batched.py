"""Batched sweep tasks: the same rows as the per-task reference, failures isolated."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import aigc_auction as aa
from aigc_auction.sweep import SweepConfig, SweepWarning, make_market, run_sweep, task_seed
from aigc_auction.sweep.baseline import separable_auction
from aigc_auction.sweep.batched import BatchEvaluator, draw_markets
from aigc_auction.sweep.runs import Markets, MechanismRun, point_spec
from aigc_auction.sweep.tasks import MAX_CHUNK, MIN_CHUNK, plan_chunks, run_chunk

SMALL = {"n_advertisers": 5, "n_positions": 3, "slots": 2}
CONFIGS = {
    # MNL mechanisms and allocators (one without a batch kernel), both baselines,
    # evaluated under both models, two grid points
    "mnl": {
        "seed": 11, "replicates": 60, "mechanisms": ["vcg", "myerson"],
        "models": ["mnl"], "true_models": ["mnl", "cascade"],
        "baselines": ["separable_vcg", "separable_gsp"],
        "allocators": ["parametric", "brute_force"],
        "market": SMALL, "grid": {"slots": [1, 2]},
    },
    # cascade with both reading-order modes, non-classic users, an irregular prior
    # (ironed virtual values) and the approximate allocators (approx_ratio < 1)
    "cascade": {
        "seed": 12, "replicates": 40, "mechanisms": ["vcg", "myerson"],
        "models": ["cascade"], "true_models": ["cascade", "mnl"],
        "allocators": ["greedy", "local_search", "restricted_dp"],
        "market": {**SMALL, "prior": "beta", "prior_shape": 0.5, "prior_shape2": 0.5},
        "params": {"cascade": {"continue_after_click": 0.3, "continue_after_skip": 0.8}},
        "grid": {"cascade.order": ["optimized", "fixed"]},
    },
    # both design models, an MNL solver without a batch kernel (per-auction loop
    # inside the batch), non-truthful formats, uniform CTRs
    "mixed": {
        "seed": 13, "replicates": 80, "mechanisms": ["vcg", "myerson", "gsp"],
        "models": ["mnl", "cascade"], "true_models": ["mnl", "cascade"],
        "baselines": ["separable_vcg"],
        "market": {**SMALL, "n_advertisers": 4, "generator": "uniform", "high": 0.6},
        "solvers": {"mnl": "brute_force"},
    },
}


def _numeric_close(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal in every column but solver_time: exactly for ids and labels, to
    1e-12 for floats (sums may be taken in another order)."""
    assert list(a.columns) == list(b.columns)
    floats = [c for c in a.columns if a[c].dtype.kind == "f" and c != "solver_time"]
    other = [c for c in a.columns if c not in floats and c != "solver_time"]
    pd.testing.assert_frame_equal(a[other], b[other], check_exact=True)
    for c in floats:
        np.testing.assert_allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=1e-12,
                                   atol=1e-12, err_msg=c)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_chunked_rows_equal_the_per_task_reference(name):
    cfg = SweepConfig.from_dict(CONFIGS[name])
    root = np.random.SeedSequence(cfg.seed)
    tasks = list(range(cfg.n_tasks))
    _, batched, f1 = run_chunk(cfg, tasks, root)
    _, reference, f2 = run_chunk(cfg, tasks, root, batched=False)
    assert not f1 and not f2
    assert len(batched) == cfg.n_tasks * cfg.rows_per_task
    _numeric_close(batched, reference)
    if name == "cascade":  # the approximations were measured, not assumed exact
        alloc = batched[batched["mechanism"].isin(["alloc:greedy", "alloc:local_search"])]
        assert (alloc["approx_ratio"] < 1 - 1e-9).any()
        assert (alloc["approx_ratio"] <= 1 + 1e-12).all()


def test_table_does_not_depend_on_chunking():
    """Bit for bit: batches of one, of seven and of a whole grid point."""
    cfg = SweepConfig.from_dict({**CONFIGS["mnl"], "replicates": 12})
    whole = run_sweep(cfg, executor="serial")
    cols = [c for c in whole.columns if c != "solver_time"]
    for size in (1, 7):
        again = run_sweep(cfg, executor="serial", chunk_size=size)
        pd.testing.assert_frame_equal(whole[cols], again[cols], check_exact=True)


def test_failing_auction_loses_no_other_rows(monkeypatch):
    """A mechanism raising on some markets: those tasks are reported with their seed,
    every other task keeps exactly the rows of an unbroken run."""
    cfg = SweepConfig.from_dict({**CONFIGS["mnl"], "replicates": 40, "baselines": [],
                                 "allocators": []})
    clean = run_sweep(cfg, executor="serial")
    root = np.random.SeedSequence(cfg.seed)
    poisoned = {t for t in range(cfg.n_tasks)
                if make_market(cfg, t // cfg.replicates, rng=task_seed(root, t))[1].max()
                > 0.97}
    assert 0 < len(poisoned) < cfg.n_tasks // 4
    original = aa.Myerson.batch_outcomes

    def fragile(self, kernel, data, slots, bids):
        if (bids.max(axis=1) > 0.97).any():
            raise RuntimeError("poisoned market")
        return original(self, kernel, data, slots, bids)

    monkeypatch.setattr(aa.Myerson, "batch_outcomes", fragile)
    with pytest.warns(SweepWarning, match="sweep tasks failed"):
        df = run_sweep(cfg, executor="serial")
    failures = df.attrs["failures"]
    assert {f["task"] for f in failures} == poisoned
    for f in failures:
        assert f["seed"] == task_seed(root, f["task"])
        assert f["error"] == "RuntimeError: poisoned market"
        assert f["params"] == cfg.grid_values(f["point"])
    kept = clean[~clean["task"].isin(poisoned)].reset_index(drop=True)
    cols = [c for c in df.columns if c != "solver_time"]
    pd.testing.assert_frame_equal(df[cols], kept[cols], check_exact=True)


def test_markets_are_those_of_make_market():
    cfg = SweepConfig.from_dict(CONFIGS["cascade"])
    seeds = [task_seed(5, t) for t in range(4)]
    markets = draw_markets(point_spec(cfg, 1), seeds)
    for k, seed in enumerate(seeds):
        inst, values = make_market(cfg, 1, rng=seed)
        assert np.array_equal(markets.ctr[k], inst.ctr)
        assert np.array_equal(markets.values[k], values)


def test_a_market_outside_a_model_domain_is_reported_per_task(monkeypatch):
    """A CTR of 1 is refused by MNL: that task fails, the batch's others do not."""
    from aigc_auction import generators as gen

    def ones_sometimes(n_advertisers, n_positions, *, rng=None):
        g = np.random.default_rng(rng)
        p = g.uniform(0.05, 0.5, size=(n_advertisers, n_positions))
        if g.uniform() < 0.2:
            p[0, 0] = 1.0
        return p

    monkeypatch.setitem(gen.CTR_GENERATORS, "ones", ones_sometimes)
    cfg = SweepConfig.from_dict({"seed": 3, "replicates": 30, "mechanisms": ["vcg"],
                                 "market": {**SMALL, "generator": "ones"}})
    with pytest.warns(SweepWarning):
        df = run_sweep(cfg, executor="serial")
    failed = {f["task"] for f in df.attrs["failures"]}
    assert 0 < len(failed) < 30
    assert set(df["task"]) == set(range(30)) - failed
    assert all("`ctr`" in f["error"] for f in df.attrs["failures"])


def test_fixed_order_users_read_any_allocation_in_index_order():
    """The separable baseline reads positions by fitted effect and an optimized-order
    design may read them in any order; fixed-order cascade users read the shown
    positions in index order: no task fails, both paths give the same rows, equal to
    ``Cascade.ctr(..., order=None)``, while ``Cascade.ctr`` itself still refuses a
    non-increasing order."""
    cfg = SweepConfig.from_dict({
        "replicates": 12, "mechanisms": ["vcg"], "models": ["mnl", "cascade"],
        "true_models": ["mnl", "cascade"],
        "baselines": ["separable_vcg"], "params": {"cascade": {"order": "fixed"}},
        "market": SMALL})
    _, rows_a, fails_a = run_chunk(cfg, range(12), 0)
    _, rows_b, fails_b = run_chunk(cfg, range(12), 0, batched=False)
    assert not fails_a and not fails_b
    _numeric_close(rows_a, rows_b)
    fixed = aa.Cascade(order="fixed")
    base = rows_a[(rows_a["mechanism"] == "separable_vcg") & (rows_a["true_model"] == "cascade")]
    unread = 0
    for row in base.itertuples():
        inst, values = make_market(cfg, 0, rng=int(row.seed))
        out = separable_auction(inst, values)
        welfare = float(values @ fixed.ctr(inst, out.assignment))
        assert abs(welfare - row.welfare) < 1e-12
        if out.order.size > 1 and np.any(np.diff(out.order) < 0):
            unread += 1
            with pytest.raises(ValueError, match="must be increasing"):
                fixed.ctr(inst, out.assignment, out.order)
    assert unread > 0  # the case was exercised


def test_evaluator_matches_the_models():
    """Batched MNL and cascade click probabilities = UserModel.ctr, market by market."""
    rng = np.random.default_rng(0)
    bsz, n, m, k = 40, 6, 4, 3
    markets = Markets(rng.uniform(0, 0.9, (bsz, n, m)), rng.uniform(0, 1, (bsz, n)), k)
    assignment = np.full((bsz, n), -1, dtype=np.int64)
    order = np.full((bsz, k), -1, dtype=np.int64)
    for b in range(bsz):
        s = int(rng.integers(0, k + 1))
        ads, pos = rng.permutation(n)[:s], rng.permutation(m)[:s]
        assignment[b, ads] = pos
        order[b, :s] = rng.permutation(pos)
    models = [aa.MNL(), aa.Cascade(continue_after_click=0.4, continue_after_skip=0.7),
              aa.Cascade(continue_after_click=rng.uniform(0, 1, n))]
    for model in models:
        got = BatchEvaluator(model, markets).ctr(assignment, order)
        for b, inst in enumerate(markets.instances):
            o = order[b][order[b] >= 0]
            assert np.array_equal(got[b], model.ctr(inst, assignment[b], o))


class _Shaded(MechanismRun):
    """Bids at half the value (a non-truthful bidding rule)."""

    def bids(self, markets):
        return 0.5 * markets.values


class _Misread(MechanismRun):
    """Designed on CTR estimates that are 30% too low for odd advertisers."""

    def design_ctr(self, markets):
        return markets.ctr * np.where(np.arange(markets.ctr.shape[1]) % 2, 0.7, 1.0)[
            None, :, None]


def test_run_hooks_are_used_by_both_paths(monkeypatch):
    """The extension point: runs with other bids or other design CTRs give the same
    rows batched and task by task, evaluated on the true CTRs and values."""
    from aigc_auction.sweep import batched, runs, tasks

    cfg = SweepConfig.from_dict({**CONFIGS["mnl"], "replicates": 15, "baselines": [],
                                 "allocators": []})

    def hooked(cfg_, point):
        vcg = runs.runs_of_point(cfg_, point)[0]
        return (vcg, _Shaded(vcg.design_model, vcg.mech), _Misread(vcg.design_model, vcg.mech))

    monkeypatch.setattr(batched, "runs_of_point", hooked)
    monkeypatch.setattr(tasks, "runs_of_point", hooked)
    _, fast, f1 = run_chunk(cfg, range(cfg.n_tasks), 4)
    _, slow, f2 = run_chunk(cfg, range(cfg.n_tasks), 4, batched=False)
    assert not f1 and not f2
    _numeric_close(fast, slow)
    by_run = fast[fast["true_model"] == "mnl"].groupby(np.arange(len(fast) // 2) % 3)
    truthful, shaded, misread = (g.reset_index(drop=True) for _, g in by_run)
    assert (shaded["revenue"] <= truthful["revenue"] + 1e-12).all()
    assert (shaded["revenue"] < truthful["revenue"] - 1e-9).any()
    # the misread run is evaluated on the true CTRs: never above the optimum
    assert (misread["welfare"] <= misread["optimal_welfare"] * (1 + 1e-12)).all()
    assert (misread["efficiency"] < 1 - 1e-9).any()


def test_plan_chunks_covers_every_task_once_along_grid_points():
    cfg = SweepConfig.from_dict({"replicates": 700, "mechanisms": ["vcg"],
                                 "grid": {"slots": [1, 2, 3], "n_positions": [3, 4]}})
    rng = np.random.default_rng(1)
    for _ in range(20):
        todo = sorted(rng.choice(cfg.n_tasks, int(rng.integers(1, cfg.n_tasks)),
                                 replace=False).tolist())
        workers = int(rng.integers(1, 5))
        chunks = plan_chunks(cfg, todo, workers)
        assert [t for c in chunks for t in c] == todo
        assert max(len(c) for c in chunks) <= MAX_CHUNK
        if len(todo) >= 2 * MIN_CHUNK * workers:  # enough tasks: batches of a few hundred
            assert len(todo) / len(chunks) >= MIN_CHUNK / 2
            assert len(chunks) >= workers
        # a point's tasks are cut only where needed
        for c in chunks:
            points = [t // cfg.replicates for t in c]
            assert points == sorted(points)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plan_chunks(cfg, [], 2) == []
    assert plan_chunks(cfg, list(range(10)), 1, chunk_size=4) == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
