"""Fitting user models to click logs: recovery, optimality, options, identifiability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

import aigc_auction as aa
from aigc_auction.clicklogs import as_click_data, session_loglik
from aigc_auction.clicklogs.independent import counts_loglik

RNG = np.random.default_rng(20240607)
CTR = RNG.uniform(0.1, 0.5, (6, 3))
TRUTH = aa.Instance(ctr=CTR, slots=3)
CASCADE = aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8)
CASCADE_LOGS = aa.simulate_logs(TRUTH, CASCADE, n_sessions=30_000, rng=1)


def test_cascade_recovers_its_parameters() -> None:
    fit = aa.fit_user_model("cascade", CASCADE_LOGS, n_advertisers=6, n_positions=3)
    assert fit.converged and fit.family == "cascade"
    assert fit.params["continue_after_click"] == pytest.approx(0.3, abs=0.03)
    assert fit.params["continue_after_skip"] == pytest.approx(0.8, abs=0.03)
    assert np.sqrt(np.mean((fit.ctr - CTR) ** 2)) < 0.015
    assert isinstance(fit.model, aa.Cascade) and fit.model.order == "optimized"
    assert fit.model.continue_after_click == fit.params["continue_after_click"]
    assert fit.n_params == 18 + 2 and fit.n_sessions == 30_000
    assert fit.aic == pytest.approx(2 * 20 - 2 * fit.loglik)
    assert fit.bic == pytest.approx(20 * np.log(30_000) - 2 * fit.loglik)
    assert fit.stderr is not None and set(fit.stderr) == {
        "continue_after_click", "continue_after_skip"}
    # the estimate lies within 4 standard errors of the truth
    for k, v in (("continue_after_click", 0.3), ("continue_after_skip", 0.8)):
        assert abs(fit.params[k] - v) < 4 * fit.stderr[k]
    # the reported log-likelihood is that of the fitted model on the logs
    assert fit.loglik == pytest.approx(fit.session_loglik(CASCADE_LOGS).sum(), rel=1e-12)
    inst = fit.instance(slots=2)
    assert inst.slots == 2 and np.array_equal(inst.ctr, fit.ctr)
    assert fit.instance().slots == 3
    aa.VCG(fit.model).run(inst, np.ones(6))  # ready for any mechanism


def test_cascade_fit_is_the_maximum_found_by_an_independent_optimizer() -> None:
    """Nelder-Mead / BFGS on the brute-force likelihood of a tiny problem agree."""
    truth = aa.Instance(ctr=[[0.5, 0.3], [0.2, 0.6]], slots=2)
    logs = aa.simulate_logs(truth, CASCADE, n_sessions=3000, rng=2)
    data = as_click_data(logs)
    fit = aa.fit_user_model("cascade", data)

    def negll(x: np.ndarray) -> float:
        p = special.expit(x[:4]).reshape(2, 2)
        gc, gs = special.expit(x[4:])
        model = aa.Cascade(continue_after_click=gc, continue_after_skip=gs)
        return -float(session_loglik(p, model, data).sum())

    res = optimize.minimize(negll, np.zeros(6), method="BFGS")
    assert fit.loglik >= -res.fun - 1e-6
    assert fit.loglik == pytest.approx(-res.fun, abs=1e-3)


def test_stderr_matches_the_spread_of_replicate_fits() -> None:
    truth = aa.Instance(ctr=[[0.5, 0.3], [0.2, 0.6]], slots=2)
    est, se = [], []
    for seed in range(25):
        logs = aa.simulate_logs(truth, CASCADE, n_sessions=2000, rng=100 + seed)
        fit = aa.fit_user_model("cascade", logs)
        assert fit.stderr is not None
        est.append(fit.params["continue_after_skip"])
        se.append(fit.stderr["continue_after_skip"])
    ratio = np.std(est, ddof=1) / np.mean(se)
    assert 0.6 < ratio < 1.5


def test_mnl_recovers_and_is_optimal() -> None:
    truth = aa.Instance(ctr=RNG.uniform(0.05, 0.4, (5, 3)), slots=3)
    logs = aa.simulate_logs(truth, aa.MNL(), n_sessions=30_000, rng=3)
    fit = aa.fit_user_model("mnl", logs, n_advertisers=5, n_positions=3)
    assert fit.model == aa.MNL() and fit.stderr is None and "no scalar" in fit.stderr_reason
    assert np.sqrt(np.mean((fit.ctr - truth.ctr) ** 2)) < 0.015
    data = as_click_data(logs)

    def negll(x: np.ndarray) -> float:
        return -float(session_loglik(special.expit(x).reshape(5, 3), aa.MNL(), data).sum())

    res = optimize.minimize(negll, np.zeros(15), method="BFGS")
    assert fit.loglik == pytest.approx(-res.fun, abs=1e-4)
    assert fit.loglik >= -res.fun - 1e-4  # ftol = 1e-9 per session


def test_pbm_em_recovers_and_matches_a_direct_optimizer() -> None:
    alpha, beta = RNG.uniform(0.2, 0.7, 6), np.array([1.0, 0.7, 0.4])
    truth = aa.Instance.from_separable(alpha, beta, slots=3)
    free = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)
    logs = aa.simulate_logs(truth, free, n_sessions=20_000, rng=4)
    fit = aa.fit_user_model("pbm", logs)
    assert fit.converged and fit.n_params == 6 + 3 - 1
    np.testing.assert_allclose(fit.params["examination"], beta, atol=0.04)
    assert np.sqrt(np.mean((fit.ctr - truth.ctr) ** 2)) < 0.015
    assert fit.model == aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)
    assert fit.stderr is not None and set(fit.stderr) == {"examination[1]", "examination[2]"}
    imp, clk = as_click_data(logs).pair_counts

    def negll(x: np.ndarray) -> float:
        return -counts_loglik(np.outer(special.expit(x[:6]), special.expit(x[6:])), imp, clk)

    res = optimize.minimize(negll, np.zeros(9), method="BFGS", options={"gtol": 1e-8})
    assert fit.loglik == pytest.approx(-res.fun, abs=1e-5)


def test_independent_is_the_click_rate_and_shrinkage_is_the_beta_posterior_mode() -> None:
    data = as_click_data(CASCADE_LOGS)
    imp, clk = data.pair_counts
    fit = aa.fit_user_model("independent", data)
    np.testing.assert_allclose(fit.ctr, clk / imp)
    p0 = clk.sum() / imp.sum()
    shrunk = aa.fit_user_model("independent", data, shrinkage=50.0)
    np.testing.assert_allclose(shrunk.ctr, (clk + 50 * p0) / (imp + 50))
    assert fit.n_params == 18 and fit.stderr is None


def test_shrinkage_pulls_towards_the_pooled_rate_and_fills_unseen_pairs() -> None:
    logs = CASCADE_LOGS[~((CASCADE_LOGS["advertiser"] == 0) & (CASCADE_LOGS["position"] == 1))]
    logs = logs[logs["session"].isin(logs.groupby("session").size().loc[lambda s: s == 3].index)]
    data = as_click_data(logs, n_advertisers=6, n_positions=3)
    for family in ("cascade", "mnl", "pbm", "independent"):
        kw = {"impossible": "drop"} if family == "mnl" else {}
        plain = aa.fit_user_model(family, data, **kw)  # type: ignore[arg-type]
        strong = aa.fit_user_model(family, data, shrinkage=1e6, **kw)  # type: ignore[arg-type]
        imp, clk = data.take(data.n_clicks <= (1 if family == "mnl" else 3)).pair_counts
        p0 = clk.sum() / imp.sum()  # pooled click rate of the fitted sessions
        if family != "pbm":  # PBM identifies the unseen pair through a_0 * e_1
            assert [0, 1] in plain.unidentified.tolist()
            assert plain.ctr[0, 1] == pytest.approx(p0)
            assert any("never shown" in c for c in plain.caveats)
        assert np.abs(strong.ctr - p0).max() < np.abs(plain.ctr - p0).max()
        assert np.abs(strong.ctr - p0).max() < 0.02


def test_fixing_parameters() -> None:
    classic = aa.fit_user_model(aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8,
                                           order="fixed"), CASCADE_LOGS)
    assert classic.fixed == ("continue_after_click", "continue_after_skip")
    assert classic.model == aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8,
                                       order="fixed")
    assert classic.stderr is None and "fixed" in classic.stderr_reason
    assert classic.n_params == 18
    part = aa.fit_user_model("cascade", CASCADE_LOGS, fixed={"continue_after_click": 0.3})
    assert part.params["continue_after_click"] == 0.3
    assert part.params["continue_after_skip"] == pytest.approx(0.8, abs=0.03)
    assert part.stderr is not None and list(part.stderr) == ["continue_after_skip"]
    per_ad = np.full(6, 0.3)
    arr = aa.fit_user_model("cascade", CASCADE_LOGS, fixed={"continue_after_click": per_ad})
    assert arr.loglik == pytest.approx(part.loglik, rel=1e-9)
    with pytest.raises(ValueError, match=r"`fixed` keys must be among \[\]"):
        aa.fit_user_model("mnl", CASCADE_LOGS, fixed={"continue_after_click": 0.0},
                          impossible="drop")
    with pytest.raises(ValueError, match="`continue_after_click` must have entries in"):
        aa.fit_user_model("cascade", CASCADE_LOGS, fixed={"continue_after_click": 1.5})
    with pytest.raises(ValueError, match="one entry per advertiser"):
        aa.fit_user_model("cascade", CASCADE_LOGS, fixed={"continue_after_click": [0.3, 0.3]})


def test_warm_start_reaches_the_same_optimum_faster() -> None:
    cold = aa.fit_user_model("cascade", CASCADE_LOGS)
    warm = aa.fit_user_model("cascade", CASCADE_LOGS, init=cold)
    assert warm.n_iter < cold.n_iter
    assert warm.loglik == pytest.approx(cold.loglik, abs=1e-4)
    with pytest.raises(ValueError, match="`init` must be a UserModelFit of the 'mnl' family"):
        aa.fit_user_model("mnl", CASCADE_LOGS, init=cold, impossible="drop")


def test_impossible_sessions_raise_or_are_dropped_and_reported() -> None:
    two = as_click_data(CASCADE_LOGS).n_clicks > 1
    sessions = np.flatnonzero(two)
    with pytest.raises(ValueError, match=rf"{two.sum()} sessions the 'mnl' family cannot produce"
                       rf".*sessions \[{sessions[0]}, {sessions[1]},"):
        aa.fit_user_model("mnl", CASCADE_LOGS)
    fit = aa.fit_user_model("mnl", CASCADE_LOGS, impossible="drop")
    assert fit.n_impossible == two.sum() and fit.impossible_sessions.tolist() == sessions.tolist()
    assert fit.n_sessions == 30_000 - two.sum()
    # the classic cascade (click ends the reading) cannot produce them either
    with pytest.raises(ValueError, match="'cascade' family cannot produce"):
        aa.fit_user_model(aa.Cascade(), CASCADE_LOGS)
    # ... nor can a cascade whose users stop after every skip produce a click after a skip
    after_skip = aa.fit_user_model("cascade", CASCADE_LOGS, fixed={"continue_after_skip": 0.0},
                                   impossible="drop")
    data = as_click_data(CASCADE_LOGS)
    skip_before_last_click = (~data.click & (np.arange(3) < data.last_click[:, None])).any(1)
    assert after_skip.n_impossible == skip_before_last_click.sum() > 0
    with pytest.raises(ValueError, match="`impossible` must be 'raise' or 'drop'"):
        aa.fit_user_model("mnl", CASCADE_LOGS, impossible="ignore")  # type: ignore[arg-type]


def test_identifiability_caveats() -> None:
    one = aa.simulate_logs(TRUTH.with_slots(1), CASCADE, n_sessions=2000, rng=5)
    fit = aa.fit_user_model("cascade", one, n_advertisers=6, n_positions=3)
    assert fit.stderr is None and "not identified" in fit.stderr_reason
    assert sum("is not identified" in c for c in fit.caveats) == 2
    assert fit.n_params == 18
    # PBM: two disconnected groups (ads 0-2 only at positions 0-1; ads 3-5 only at 2)
    rows = [(s, s % 3, s % 2) for s in range(200)] + [(s, 3 + s % 3, 2) for s in range(200, 400)]
    df = pd.DataFrame(rows, columns=["session", "advertiser", "position"])
    df["rank"] = 0
    df["click"] = np.random.default_rng(0).uniform(size=400) < 0.3
    pbm = aa.fit_user_model("pbm", df, n_advertisers=7, n_positions=3)
    assert any("disconnected" in c for c in pbm.caveats)
    assert any("advertisers [6] are never shown" in c for c in pbm.caveats)
    assert pbm.stderr is None and "connected group" in pbm.stderr_reason
    assert [0, 2] in pbm.unidentified.tolist() and [6, 0] in pbm.unidentified.tolist()
    assert pbm.n_params == 6 + 3 - 2


def test_order_mode_is_inferred_from_the_logs() -> None:
    fixed_users = aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8, order="fixed")
    logs = aa.simulate_logs(TRUTH, fixed_users, n_sessions=2000, rng=6)
    assert (logs.groupby("session")["position"].diff().dropna() > 0).all()
    assert aa.fit_user_model("cascade", logs).model.order == "fixed"
    assert aa.fit_user_model("pbm", logs).model.order == "fixed"


def test_order_mode_with_sessions_of_different_lengths() -> None:
    df = pd.DataFrame({"session": [0, 0, 0, 1, 2, 2], "advertiser": [0, 1, 2, 0, 2, 1],
                       "position": [0, 1, 2, 2, 0, 2], "rank": [0, 1, 2, 0, 0, 1],
                       "click": [False] * 6})
    assert as_click_data(df).fixed_order
    assert not as_click_data(df.assign(rank=[0, 2, 1, 0, 0, 1])).fixed_order


def test_pbm_warm_start_from_a_fit_with_unseen_positions() -> None:
    logs = CASCADE_LOGS[CASCADE_LOGS["position"] != 2]
    logs = logs.assign(rank=logs.groupby("session").cumcount())
    first = aa.fit_user_model("pbm", logs, n_advertisers=6, n_positions=3)
    assert np.isnan(first.params["examination"][2])
    again = aa.fit_user_model("pbm", logs, n_advertisers=6, n_positions=3, init=first)
    assert np.isfinite(again.ctr).all()
    assert again.loglik == pytest.approx(first.loglik, abs=1e-6)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="`model` must be one of"):
        aa.fit_user_model("dbn", CASCADE_LOGS)
    with pytest.raises(TypeError, match="`model` must be one of"):
        aa.fit_user_model(3, CASCADE_LOGS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`shrinkage` must be a finite number >= 0"):
        aa.fit_user_model("pbm", CASCADE_LOGS, shrinkage=-1)
    with pytest.raises(ValueError, match="`tol` must be in"):
        aa.fit_user_model("pbm", CASCADE_LOGS, tol=2.0)
    with pytest.raises(ValueError, match="`n_advertisers` = 4"):
        aa.fit_user_model("pbm", CASCADE_LOGS, n_advertisers=4)
    with pytest.raises(ValueError, match="`fixed` must be empty"):
        aa.fit_user_model(aa.Cascade(), CASCADE_LOGS, fixed={"continue_after_skip": 1.0})


def test_to_dict_is_json_friendly() -> None:
    import json

    fit = aa.fit_user_model("pbm", CASCADE_LOGS)
    d = json.loads(json.dumps(fit.to_dict(), allow_nan=True))
    assert d["family"] == "pbm" and len(d["ctr"]) == 6 and d["n_params"] == fit.n_params
