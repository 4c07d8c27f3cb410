"""Sweep keys ``bidders`` (learned bids of the non-truthful formats) and ``fit``
(designs from models fitted to simulated click logs); fixed-order evaluation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import aigc_auction as aa
from aigc_auction.clicklogs import fit_from_simulated_logs
from aigc_auction.sweep import SweepConfig, make_market, run_sweep
from aigc_auction.sweep.batched import BatchEvaluator
from aigc_auction.sweep.runs import BIDS_STREAM, LOGS_STREAM, Markets, task_stream
from aigc_auction.sweep.tasks import run_chunk

SMALL = {"n_advertisers": 4, "n_positions": 3, "slots": 2}
HEDGE = {"type": "hedge", "lr": 20.0, "burn_in": 20, "grid": [0.0, 0.25, 0.5, 0.75, 1.0]}
BASE = {"mechanisms": ["vcg", "gsp"], "market": SMALL}

# both keys, swept, fits of a fixed-order cascade truth (whose users read in
# index order) by the true family and a wrong one, learned bids on the fits too
CONFIG = {
    "seed": 21, "replicates": 2, "mechanisms": ["vcg", "myerson", "gsp", "first_price"],
    "models": ["mnl"], "true_models": ["cascade", "mnl"], "market": SMALL,
    "params": {"cascade": {"order": "fixed", "continue_after_skip": 0.8}},
    "bidders": HEDGE,
    "fit": {"n_sessions": 400, "families": ["cascade", "mnl"], "logs": "cascade"},
    "grid": {"bidders.burn_in": [0, 15], "fit.n_sessions": [300, 900]},
}


def _cfg(**patch):
    return SweepConfig.from_dict({**BASE, **patch})


BAD = [
    # bidders
    ({"bidders": HEDGE, "mechanisms": ["vcg"]}, ValueError, r"`bidders` applies to .*'gsp'"),
    ({"bidders": "hedge"}, TypeError, r"`bidders` must be a table"),
    ({"bidders": {"type": "hedgehog"}}, ValueError, r"`bidders.type` must be one of"),
    ({"bidders": {"lr": 1.0, "burn_in": 3}}, ValueError, r"`bidders.type` is required"),
    ({"bidders": {"type": "hedge", "burn_in": 3}}, ValueError, r"`bidders.lr` is required"),
    ({"bidders": {"type": "hedge", "lr": 1.0}}, ValueError, r"`bidders.burn_in` is required"),
    ({"bidders": {"type": "shade"}}, ValueError, r"`bidders.factor` is required"),
    ({"bidders": {**HEDGE, "lr": -1.0}}, ValueError, r"`bidders` \('hedge'\): `lr`"),
    ({"bidders": {**HEDGE, "burn_in": -3}}, ValueError, r"`bidders.burn_in` must be"),
    ({"bidders": {**HEDGE, "burn_in": 2.5}}, TypeError, r"`bidders.burn_in` must be an int"),
    ({"bidders": {**HEDGE, "factor": 0.5}}, ValueError, r"`bidders.factor` is a parameter "
     r"of bidder type 'shade'"),
    ({"bidders": {**HEDGE, "grid": [0.5, 0.2]}}, ValueError, r"`bidders.grid` must be "
     r"strictly increasing"),
    ({"bidders": {**HEDGE, "grid": []}}, ValueError, r"`bidders.grid` must be a non-empty"),
    ({"bidders": {**HEDGE, "colour": 1}}, ValueError, r"`bidders.colour` is not a bidders"),
    ({"bidders": {**HEDGE, "feedback": "partial"}}, ValueError, r"`feedback` must be"),
    ({"bidders": {"type": "best_response", "burn_in": 3, "window": 0}}, ValueError,
     r"`window`"),
    ({"bidders": HEDGE, "grid": {"bidders.grid": [1, 2]}}, ValueError,
     r"`grid.bidders.grid` cannot be swept"),
    ({"bidders": HEDGE, "grid": {"bidders.speed": [1, 2]}}, ValueError,
     r"`grid.bidders.speed` is not a `bidders` key"),
    ({"grid": {"bidders.burn_in": [1, 2]}}, ValueError, r"add a \[bidders\] table"),
    ({"bidders": HEDGE, "grid": {"bidders.lr": [1.0, -2.0]}}, ValueError,
     r"`lr` must be .* at grid point \{'bidders.lr': -2.0\}"),
    ({"bidders": {"type": "shade", "factor": 0.5}, "grid": {"bidders.type": ["shade", "hedge"]}},
     ValueError, r"`bidders.lr` is required .* at grid point"),
    # fit
    ({"fit": [100]}, TypeError, r"`fit` must be a table"),
    ({"fit": {"families": ["mnl"]}}, ValueError, r"`fit.n_sessions` is required"),
    ({"fit": {"n_sessions": 0}}, ValueError, r"`fit.n_sessions` must be an integer in"),
    ({"fit": {"n_sessions": 10**9}}, ValueError, r"`fit.n_sessions` must be an integer in"),
    ({"fit": {"n_sessions": 1.5}}, TypeError, r"`fit.n_sessions` must be an integer"),
    ({"fit": {"n_sessions": 100, "families": ["logit"]}}, ValueError, r"`fit.families`"),
    ({"fit": {"n_sessions": 100, "logs": "cascade"}}, ValueError,
     r"`fit.logs` must name a true model"),
    ({"fit": {"n_sessions": 100}, "models": ["mnl", "cascade"],
      "true_models": ["mnl", "cascade"]}, ValueError, r"`fit.logs` is required"),
    ({"fit": {"n_sessions": 100, "shrinkage": -1.0}}, ValueError, r"`fit.shrinkage`"),
    ({"fit": {"n_sessions": 100, "speed": 1}}, ValueError, r"`fit.speed` is not a fit key"),
    ({"fit": {"n_sessions": 100}, "grid": {"fit.families": ["mnl"]}}, ValueError,
     r"`grid.fit.families` cannot be swept"),
    ({"fit": {"n_sessions": 100}, "grid": {"fit.n_sessions": [100, 0]}}, ValueError,
     r"at grid point \{'fit.n_sessions': 0\}"),
    ({"grid": {"fit.n_sessions": [100]}}, ValueError, r"add a \[fit\] table"),
    ({"fit": {"n_sessions": 100, "families": [{"name": "x"}]}}, ValueError,
     r"`fit.families` entry .* needs a `family`"),
    ({"fit": {"n_sessions": 100, "families": [{"family": "mnl",
                                               "continue_after_click": 0.0}]}},
     ValueError, r"can be fixed for the cascade family only"),
    ({"fit": {"n_sessions": 100, "families": [{"family": "cascade",
                                               "continue_after_skip": 1.5}]}},
     ValueError, r"`fit.families.continue_after_skip` must be a probability"),
    ({"fit": {"n_sessions": 100, "families": [{"family": "cascade", "gs": 0.5}]}},
     ValueError, r"tables take `family`, `name` and the fixed parameters"),
    ({"fit": {"n_sessions": 100, "families": [{"family": "cascade", "name": " a"}]}},
     ValueError, r"`fit.families.name` must be a non-empty string"),
    ({"fit": {"n_sessions": 100, "families": ["cascade", {"family": "cascade",
                                                          "name": "cascade"}]}},
     ValueError, r"lists 'cascade' twice"),
    ({"fit": {"n_sessions": 100}, "mechanisms": [], "allocators": ["parametric"]},
     ValueError, r"`mechanisms` is empty"),
]


@pytest.mark.parametrize(("patch", "kind", "match"), BAD)
def test_bad_bidders_and_fit_keys_name_the_key(patch, kind, match):
    with pytest.raises(kind, match=match):
        _cfg(**patch)


def test_keys_round_trip_and_sweep_as_param_columns():
    cfg = SweepConfig.from_dict(CONFIG)
    again = SweepConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.fingerprint() == cfg.fingerprint()
    assert cfg.to_dict()["bidders"]["grid"] == HEDGE["grid"]
    assert cfg.to_dict()["fit"] == {"n_sessions": 400, "families": ["cascade", "mnl"],
                                    "logs": "cascade", "shrinkage": 0.0}
    plain = _cfg()
    assert "bidders" not in plain.to_dict() and "fit" not in plain.to_dict()
    assert cfg.param_columns == ["param_bidders_burn_in", "param_fit_n_sessions"]
    # 4 mechanisms x (1 design model + 2 fitted families), 2 true models
    assert cfg.rows_per_task == 4 * 3 * 2
    # defaults: the fitted family is the logs' own, grid of 21 multipliers
    one = _cfg(bidders={"type": "best_response", "burn_in": 2},
               fit={"n_sessions": 50}, grid={"bidders.type": ["best_response", "truthful"]})
    assert one.fit_families == ("mnl",)


def test_rows_equal_the_reference():
    """Learned bids and fits through both paths, to 1e-12."""
    cfg = SweepConfig.from_dict({**CONFIG, "replicates": 1})
    root = np.random.SeedSequence(cfg.seed)
    tasks = list(range(cfg.n_tasks))
    _, fast, f1 = run_chunk(cfg, tasks, root)
    _, slow, f2 = run_chunk(cfg, tasks, root, batched=False)
    assert not f1 and not f2
    assert len(fast) == cfg.n_tasks * cfg.rows_per_task
    cols = [c for c in fast.columns if c != "solver_time"]
    floats = [c for c in cols if fast[c].dtype.kind == "f"]
    pd.testing.assert_frame_equal(fast[[c for c in cols if c not in floats]],
                                  slow[[c for c in cols if c not in floats]], check_exact=True)
    for c in floats:
        np.testing.assert_allclose(fast[c], slow[c], rtol=1e-12, atol=1e-12, err_msg=c)
    assert set(fast["design_model"]) == {"mnl", "fit:cascade", "fit:mnl"}


def test_rows_do_not_depend_on_chunking_or_executor():
    """Bit for bit across chunk sizes and a thread pool (streams are per market)."""
    cfg = SweepConfig.from_dict({**CONFIG, "mechanisms": ["vcg", "gsp"], "replicates": 3,
                                 "fit": {**CONFIG["fit"], "families": ["pbm"]},
                                 "grid": {"bidders.burn_in": [10]}})
    whole = run_sweep(cfg, executor="serial")
    cols = [c for c in whole.columns if c != "solver_time"]
    for size in (1, 2):
        again = run_sweep(cfg, executor="serial", chunk_size=size)
        pd.testing.assert_frame_equal(whole[cols], again[cols], check_exact=True)
    with ThreadPoolExecutor(2) as pool:
        threaded = run_sweep(cfg, executor=pool, chunk_size=1)
    pd.testing.assert_frame_equal(whole[cols], threaded[cols], check_exact=True)


def test_rows_are_the_documented_computation():
    """A learned-bid row and a fitted-design row recomputed from the library calls
    and the task streams the docs name."""
    cfg = SweepConfig.from_dict({**CONFIG, "replicates": 2, "grid": {},
                                 "fit": {**CONFIG["fit"], "families": ["cascade"]}})
    df = run_sweep(cfg, executor="serial")
    truth = aa.Cascade(order="fixed", continue_after_skip=0.8)
    hedge = aa.bidders.Hedge(HEDGE["grid"], lr=HEDGE["lr"])
    for seed in df["seed"].unique():
        inst, values = make_market(cfg, 0, rng=int(seed))
        rows = df[(df["seed"] == seed) & (df["true_model"] == "cascade")].set_index(
            ["mechanism", "design_model"])
        # gsp designed for MNL at Hedge bids after the burn-in
        gsp = aa.GSP(aa.MNL())
        bids = aa.learned_bids(gsp, hedge, inst, values, burn_in=HEDGE["burn_in"],
                               rng=task_stream(int(seed), BIDS_STREAM))
        out = gsp.run(inst, bids)
        pi = truth.ctr(inst, out.assignment)  # fixed-order users: index order
        row = rows.loc[("gsp", "mnl")]
        assert abs(row["welfare"] - values @ pi) < 1e-12
        assert abs(row["revenue"] - out.price_per_click @ pi) < 1e-12
        # vcg and myerson designed on the cascade fitted to this task's logs
        fitted, model = fit_from_simulated_logs(inst, truth, "cascade", 400,
                                                rng=task_stream(int(seed), LOGS_STREAM))
        assert model.order == "fixed"  # the logs were read in index order
        for name, mech in (("vcg", aa.VCG(model)),
                           ("myerson", aa.Myerson(model, prior=aa.generators.value_prior(
                               "uniform")))):
            out = mech.run(fitted, values)
            pi = truth.ctr(inst, out.assignment, out.order)
            row = rows.loc[(name, "fit:cascade")]
            assert abs(row["welfare"] - values @ pi) < 1e-12
            assert abs(row["revenue"] - out.price_per_click @ pi) < 1e-12
            assert row["solver"] == mech.solver_spec.name


def test_fit_families_can_fix_cascade_parameters():
    """A table entry fits a cascade with some parameters held (rows ``fit:<name>``)."""
    classic = {"family": "cascade", "name": "classic", "continue_after_click": 0.0,
               "continue_after_skip": 1.0}
    cfg = {"seed": 4, "replicates": 2, "mechanisms": ["vcg"], "models": ["cascade"],
           "market": SMALL, "params": {"cascade": {"continue_after_skip": 0.7}},
           "fit": {"n_sessions": 500, "families": [
               "cascade", classic, {"family": "cascade", "continue_after_skip": 0.7}]}}
    parsed = SweepConfig.from_dict(cfg)
    assert parsed.fit_families == ("cascade", "classic",
                                   "cascade(continue_after_skip=0.7)")
    again = SweepConfig.from_dict(parsed.to_dict())
    assert again.fingerprint() == parsed.fingerprint()
    assert parsed.to_dict()["fit"]["families"][1] == classic
    df = run_sweep(cfg, executor="serial")
    truth = aa.Cascade(continue_after_skip=0.7)
    for seed, rows in df.groupby("seed"):
        rows = rows.set_index("design_model")
        inst, values = make_market(SweepConfig.from_dict(cfg), 0, rng=int(seed))
        for label, fixed in (("classic", {"continue_after_click": 0.0,
                                          "continue_after_skip": 1.0}),
                             ("cascade(continue_after_skip=0.7)",
                              {"continue_after_skip": 0.7})):
            fitted, model = fit_from_simulated_logs(
                inst, truth, "cascade", 500, rng=task_stream(int(seed), LOGS_STREAM),
                fixed=fixed)
            for k, v in fixed.items():
                assert getattr(model, k) == v
            out = aa.VCG(model).run(fitted, values)
            pi = truth.ctr(inst, out.assignment, out.order)
            assert abs(rows.loc["fit:" + label, "welfare"] - values @ pi) < 1e-12


def test_truthful_and_shading_bidders():
    """``truthful`` keeps today's rows; ``shade`` bids a fixed fraction at once."""
    plain = run_sweep(_cfg(replicates=3), executor="serial")
    same = run_sweep(_cfg(replicates=3, bidders={"type": "truthful"}), executor="serial")
    cols = [c for c in plain.columns if c != "solver_time"]
    pd.testing.assert_frame_equal(plain[cols], same[cols], check_exact=True)
    shaded = run_sweep(_cfg(replicates=3, bidders={"type": "shade", "factor": 0.5,
                                                   "burn_in": 10**6}), executor="serial")
    gsp = shaded[shaded["mechanism"] == "gsp"]
    for row in gsp.itertuples():
        inst, values = make_market(_cfg(), 0, rng=int(row.seed))
        out = aa.GSP(aa.MNL()).run(inst, 0.5 * values)
        assert abs(row.revenue - out.revenue) < 1e-12
    vcg = shaded["mechanism"] == "vcg"  # truthful mechanisms keep truthful bids
    pd.testing.assert_frame_equal(shaded.loc[vcg, cols], plain.loc[vcg, cols],
                                  check_exact=True)


def test_learned_bids_need_task_seeds():
    from aigc_auction.sweep.runs import runs_of_point

    cfg = _cfg(bidders=HEDGE)
    run = runs_of_point(cfg, 0)[1]
    inst, values = make_market(cfg, 0, rng=0)
    with pytest.raises(ValueError, match="task seed"):
        run.bids(Markets.single(inst, values))


def test_fixed_order_evaluator_reads_index_order():
    rng = np.random.default_rng(3)
    bsz, n, m, k = 30, 5, 4, 3
    markets = Markets(rng.uniform(0, 0.9, (bsz, n, m)), rng.uniform(0, 1, (bsz, n)), k)
    assignment = np.full((bsz, n), -1, dtype=np.int64)
    order = np.full((bsz, k), -1, dtype=np.int64)
    for b in range(bsz):
        s = int(rng.integers(0, k + 1))
        ads, pos = rng.permutation(n)[:s], rng.permutation(m)[:s]
        assignment[b, ads] = pos
        order[b, :s] = pos  # any order, as another model's mechanism intends
    model = aa.Cascade(continue_after_click=0.3, continue_after_skip=0.7, order="fixed")
    got = BatchEvaluator(model, markets).ctr(assignment, order)
    for b, inst in enumerate(markets.instances):
        assert np.array_equal(got[b], model.ctr(inst, assignment[b]))
