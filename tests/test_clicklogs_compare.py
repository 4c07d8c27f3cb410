"""Model comparison, logging policies, determinism and design from a fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import aigc_auction as aa
from aigc_auction.clicklogs import (
    as_click_data,
    click_probabilities,
    fit_from_simulated_logs,
    session_folds,
)

RNG = np.random.default_rng(7)
N, M, K = 5, 3, 3
CTR = RNG.uniform(0.1, 0.5, (N, M))
TRUTH = aa.Instance(ctr=CTR, slots=K)
NO_EXTERNALITIES = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)


@pytest.mark.parametrize(
    ("family", "instance", "model"),
    [
        ("cascade", TRUTH, aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8)),
        ("mnl", TRUTH, aa.MNL()),
        ("pbm", aa.Instance.from_separable(RNG.uniform(0.2, 0.6, N), [1.0, 0.6, 0.3], slots=K),
         NO_EXTERNALITIES),
    ],
)
def test_the_true_family_is_ranked_first(
    family: str, instance: aa.Instance, model: aa.UserModel
) -> None:
    logs = aa.simulate_logs(instance, model, n_sessions=15_000, rng=11)
    table = aa.compare_user_models(logs, ["mnl", "cascade", "pbm", "independent"],
                                   n_advertisers=N, n_positions=M, folds=3, rng=0)
    assert table["model"].iloc[0] == family
    assert table["heldout_loglik"].is_monotonic_decreasing
    for col in ("model", "heldout_loglik", "heldout_loglik_se", "perplexity",
                "perplexity_rank_0", "perplexity_rank_1", "perplexity_rank_2", "ctr_rmse",
                "aic", "bic", "impossible_sessions", "fit_seconds"):
        assert col in table.columns
    best = table.iloc[0]
    assert 1.0 < best["perplexity"] < 2.0 and best["impossible_sessions"] == 0
    assert best["heldout_loglik_se"] > 0


def test_impossible_sessions_are_counted_never_raised() -> None:
    users = aa.Cascade(continue_after_click=0.5, continue_after_skip=0.9)
    logs = aa.simulate_logs(TRUTH, users, n_sessions=4000, rng=12)
    two = int((as_click_data(logs).n_clicks > 1).sum())
    assert two > 0
    table = aa.compare_user_models(logs, ["mnl", aa.Cascade(), "cascade"], folds=2, rng=0)
    rows = table.set_index("model")
    for name in ("mnl", "Cascade(continue_after_click=0.0, continue_after_skip=1.0, "
                        "order='optimized')"):
        assert rows.loc[name, "heldout_loglik"] == -np.inf
        assert np.isnan(rows.loc[name, "heldout_loglik_se"])
        assert rows.loc[name, "impossible_sessions"] == two   # every session held out once
        assert rows.loc[name, "dropped_sessions"] == two
        assert np.isfinite(rows.loc[name, "perplexity"])
    assert rows.loc["cascade", "impossible_sessions"] == 0
    assert table["model"].iloc[0] == "cascade"
    # a family that can produce none of the sessions still gets a row
    all_two = logs[logs["session"].isin(np.flatnonzero(as_click_data(logs).n_clicks > 1))]
    only = aa.compare_user_models(all_two, ["mnl", "pbm"], n_advertisers=N, n_positions=M,
                                  folds=2, rng=0).set_index("model")
    assert only.loc["mnl", "heldout_loglik"] == -np.inf
    assert only.loc["mnl", "impossible_sessions"] == two


def test_metrics_follow_their_definitions() -> None:
    """Perplexity per rank and the CTR RMSE recomputed by hand from fold fits."""
    logs = aa.simulate_logs(TRUTH, NO_EXTERNALITIES, n_sessions=3000, rng=13)
    data = as_click_data(logs)
    table = aa.compare_user_models(data, ["independent"], folds=3, rng=5)
    labels = session_folds(data.n_sessions, 3, rng=5)
    q = np.zeros(data.shown.shape)
    ll = np.zeros(data.n_sessions)
    for f in range(3):
        fit = aa.fit_user_model("independent", data.take(labels != f))
        held = data.take(labels == f)
        q[labels == f] = click_probabilities(fit.ctr, fit.model, held)
        ll[labels == f] = fit.session_loglik(held)
    c = data.click
    perp = [2 ** -np.mean(np.where(c[:, r], np.log2(q[:, r]), np.log2(1 - q[:, r])))
            for r in range(K)]
    row = table.iloc[0]
    assert row["heldout_loglik"] == pytest.approx(ll.mean(), rel=1e-12)
    assert row["heldout_loglik_se"] == pytest.approx(ll.std(ddof=1) / np.sqrt(ll.size))
    for r in range(K):
        assert row[f"perplexity_rank_{r}"] == pytest.approx(perp[r], rel=1e-12)
    assert row["perplexity"] == pytest.approx(np.mean(perp), rel=1e-12)
    df = pd.DataFrame({"pair": data.pair[data.shown], "c": c[data.shown], "q": q[data.shown]})
    g = df.groupby("pair").agg(n=("c", "size"), c=("c", "mean"), q=("q", "mean"))
    rmse = np.sqrt(np.sum(g["n"] * (g["c"] - g["q"]) ** 2) / g["n"].sum())
    assert row["ctr_rmse"] == pytest.approx(rmse, rel=1e-9)
    full = aa.fit_user_model("independent", data)
    assert row["aic"] == pytest.approx(full.aic) and row["bic"] == pytest.approx(full.bic)


def test_determinism_with_rng() -> None:
    a = aa.simulate_logs(TRUTH, aa.MNL(), n_sessions=500, rng=3)
    b = aa.simulate_logs(TRUTH, aa.MNL(), n_sessions=500, rng=np.random.SeedSequence(3))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(aa.simulate_logs(TRUTH, aa.MNL(), n_sessions=500, rng=4))
    t1 = aa.compare_user_models(a, ["mnl", "pbm"], folds=2, rng=9).drop(columns="fit_seconds")
    t2 = aa.compare_user_models(a, ["mnl", "pbm"], folds=2, rng=9).drop(columns="fit_seconds")
    pd.testing.assert_frame_equal(t1, t2)
    assert session_folds(10, 3, rng=1).tolist() == session_folds(10, 3, rng=1).tolist()
    with pytest.raises(ValueError, match="`folds` must be an integer in"):
        session_folds(10, 1)
    with pytest.raises(TypeError, match="`models` must be a non-empty list"):
        aa.compare_user_models(a, "mnl")


def test_uniform_policy_draws_every_matching_equally() -> None:
    logs = aa.simulate_logs(aa.Instance(ctr=CTR, slots=2), aa.Cascade(), n_sessions=30_000,
                            rng=14)
    counts = logs.groupby(["advertiser", "position"]).size().to_numpy()
    assert counts.size == N * M
    assert stats.chisquare(counts).pvalue > 1e-4
    first = logs[logs["rank"] == 0]
    # optimized order: the first-read position is uniform; fixed order: the smallest
    assert stats.chisquare(first.groupby("position").size()).pvalue > 1e-4
    fixed = aa.simulate_logs(aa.Instance(ctr=CTR, slots=2), aa.Cascade(order="fixed"),
                             n_sessions=2000, rng=14)
    assert (fixed.groupby("session")["position"].diff().dropna() > 0).all()
    many = aa.simulate_logs(aa.Instance(ctr=CTR[:2], slots=3), aa.MNL(), n_sessions=10, rng=0)
    assert many.groupby("session").size().max() == 2  # min(slots, n_advertisers)


def test_mechanism_policy_logs_the_auction_outcome() -> None:
    vcg = aa.VCG(aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8))
    users = aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8)
    bids = np.array([1.0, 0.2, 0.5, 0.9, 0.1])
    logs = aa.simulate_logs(TRUTH, users, n_sessions=50, policy=(vcg, bids), rng=15)
    out = vcg.run(TRUTH, bids)
    first = logs[logs["session"] == 0].sort_values("rank")
    assert first["position"].tolist() == out.order.tolist()
    assert (out.assignment[first["advertiser"]] == first["position"].to_numpy()).all()
    rand = aa.simulate_logs(TRUTH, aa.MNL(), n_sessions=300,
                            policy=(aa.VCG(aa.MNL()), stats.uniform(0, 1)), rng=16)
    assert rand.groupby("session").size().max() <= K and rand["advertiser"].nunique() > 1
    fn = aa.simulate_logs(TRUTH, aa.MNL(), n_sessions=20,
                          policy=(aa.VCG(aa.MNL()), lambda rng, s: rng.uniform(0, 1, (s, N))),
                          rng=17)
    assert len(fn) > 0
    with pytest.raises(ValueError, match="bid sampler must return"):
        aa.simulate_logs(TRUTH, aa.MNL(), n_sessions=5,
                         policy=(aa.VCG(aa.MNL()), lambda rng, s: np.ones((s, 2))))
    with pytest.raises(TypeError, match="`policy` must be None"):
        aa.simulate_logs(TRUTH, aa.MNL(), n_sessions=5, policy="uniform")
    with pytest.raises(TypeError, match="must return a tuple"):
        aa.simulate_logs(TRUTH, aa.MNL(), n_sessions=5, policy=lambda rng: [0, 1])
    with pytest.raises(ValueError, match="infeasible allocation"):
        aa.simulate_logs(TRUTH, aa.MNL(), n_sessions=5,
                         policy=lambda rng: ([0, 0, -1, -1, -1], None))
    with pytest.raises(TypeError, match=r"`model` must be an aigc_auction\.MNL or Cascade"):
        aa.simulate_logs(TRUTH, "mnl", n_sessions=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`n_sessions` must be an integer in"):
        aa.simulate_logs(TRUTH, aa.MNL(), n_sessions=0)


def test_fit_from_simulated_logs_for_design() -> None:
    users = aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8)
    inst, model = fit_from_simulated_logs(TRUTH, users, "cascade", 20_000, rng=18)
    assert inst.shape == TRUTH.shape and inst.slots == K
    assert isinstance(model, aa.Cascade)
    assert model.continue_after_skip == pytest.approx(0.8, abs=0.05)
    again = fit_from_simulated_logs(TRUTH, users, "cascade", 20_000, rng=18)
    assert np.array_equal(again[0].ctr, inst.ctr) and again[1] == model
    # the wrong family is fitted on the sessions it can produce; tiny logs still give a model
    wrong, mnl = fit_from_simulated_logs(TRUTH, users, "mnl", 30, slots=2, rng=19)
    assert mnl == aa.MNL() and wrong.slots == 2 and (wrong.ctr < 1).all()
    out = aa.Myerson(mnl, prior=stats.uniform(0, 1)).run(wrong, RNG.uniform(0, 1, N))
    welfare = float(users.ctr(TRUTH, out.assignment, out.order) @ out.bids)
    assert welfare >= 0
    with pytest.raises(ValueError, match="`slots` must be an integer in"):
        fit_from_simulated_logs(TRUTH, users, "pbm", 10, slots=9)
