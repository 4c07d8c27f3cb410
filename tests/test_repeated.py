"""Repeated auctions: realised outcomes and counterfactual utilities against the mechanisms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import aigc_auction as aa
from aigc_auction.bidders import BestResponse, Hedge, Shade, Truthful

from .test_formats import MARKOV, NO_EXT

SPEC = {"n_advertisers": 5, "n_positions": 3, "slots": 2, "generator": "lowrank"}


def markets(seed: int, rounds: int, n: int = 5) -> list[tuple[aa.Instance, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(aa.Instance(ctr=rng.uniform(0.02, 0.8, (n, 3)), slots=2), rng.uniform(0, 1, n))
            for _ in range(rounds)]


@pytest.mark.parametrize(
    ("mech", "n_rounds"),
    [(aa.GSP(aa.MNL()), 6), (aa.FirstPrice(aa.MNL()), 4), (aa.VCG(aa.MNL()), 4),
     (aa.GSP(aa.Cascade()), 3), (aa.GSP(MARKOV, solver="brute_force"), 2),
     (aa.FirstPrice(NO_EXT), 2)],
    ids=str,
)
def test_history_and_counterfactuals_equal_rerunning_the_mechanism(
    mech: aa.Mechanism, n_rounds: int
) -> None:
    mk = markets(7, n_rounds)
    grid = np.array([0.0, 0.3, 0.6, 0.9, 1.2])
    bidders = [Hedge(grid, lr=5.0), Shade(0.7), BestResponse(grid), Truthful(), Shade(0.4)]
    res = aa.simulate_repeated(mech, bidders, mk, rounds=n_rounds, rng=3, grid=grid)
    h = res.history
    assert len(h) == 5 * n_rounds
    for t, (inst, v) in enumerate(mk):
        row = h[h["round"] == t].sort_values("bidder")
        bids = row["bid"].to_numpy()
        out = mech.run(inst, bids)
        np.testing.assert_array_equal(row["position"], out.assignment)
        np.testing.assert_array_equal(row["rank"], out.rank)
        np.testing.assert_allclose(row["ctr"], out.ctr, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(row["payment"], out.payments, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(row["utility"], v * out.ctr - out.payments, atol=1e-12)
        assert res.optimal_welfare[t] == pytest.approx(
            aa.VCG(mech.model, solver=mech.solver).run(inst, v).welfare, rel=1e-12)
        for i in range(5):
            for k, m in enumerate(grid):
                bb = bids.copy()
                bb[i] = m * v[i]
                o = mech.run(inst, bb)
                assert res.grid_utility[t, i, k] == pytest.approx(
                    v[i] * o.ctr[i] - o.payments[i], rel=1e-9, abs=1e-12), (t, i, m)


def test_summary_by_definition() -> None:
    res = aa.simulate_repeated(aa.GSP(), Hedge(aa.repeated.DEFAULT_GRID, lr=20.0), SPEC,
                               rounds=40, rng=1)
    s = res.summary(burn_in=10)
    h = res.history[res.history["round"] >= 10]
    assert s.rounds == 30
    assert s.revenue == pytest.approx(h["payment"].sum() / 30)
    assert s.welfare == pytest.approx((h["value"] * h["ctr"]).sum() / 30)
    assert s.efficiency == pytest.approx(s.welfare / s.optimal_welfare)
    assert 0 < s.efficiency <= 1 + 1e-12
    gu = res.grid_utility[10:].sum(axis=0)
    realised = h.groupby("bidder")["utility"].sum().to_numpy()
    np.testing.assert_allclose(s.regret, gu.max(axis=1) - realised)
    np.testing.assert_array_equal(s.best_multiplier, res.grid[gu.argmax(axis=1)])
    assert s.to_frame().shape == (5, 4) and s.to_dict()["rounds"] == 30
    assert "efficiency" in repr(s)


def test_reproducible_and_independent_of_grouping() -> None:
    h = Hedge(np.linspace(0, 1, 11), lr=10.0)
    a = aa.simulate_repeated(aa.FirstPrice(), h, SPEC, rounds=15, rng=5).history
    b = aa.simulate_repeated(aa.FirstPrice(), h, SPEC, rounds=15, rng=5).history
    assert a.equals(b)
    # advertiser 4 switches from a Truthful group to a Shade(1.0) group: same bids,
    # and advertiser 0's Hedge stream (its own SeedSequence child) is unchanged
    c = aa.simulate_repeated(aa.FirstPrice(), [h, h, h, h, Truthful()], SPEC, rounds=15, rng=5)
    d = aa.simulate_repeated(aa.FirstPrice(), [h, h, h, h, Shade(1.0)], SPEC, rounds=15, rng=5)
    np.testing.assert_array_equal(c.history["bid"], d.history["bid"])
    assert not a.equals(aa.simulate_repeated(aa.FirstPrice(), h, SPEC, rounds=15,
                                             rng=6).history)


def test_full_information_hedge_has_vanishing_regret() -> None:
    """Fixed opponents: Hedge's regret per round shrinks like sqrt(log G / T)."""
    grid = np.linspace(0, 1, 11)
    lr = 40.0
    strategies = [Hedge(grid, lr=lr), Shade(0.6), Shade(0.8), Shade(0.5), Shade(0.9)]
    res = aa.simulate_repeated(aa.GSP(), strategies, SPEC, rounds=400, rng=2, grid=grid)
    early = res.summary().regret_per_round[0]
    late = res.summary(burn_in=200).regret_per_round[0]
    assert late < 0.01
    assert late <= early + 1e-12


def test_myerson_runs_through_the_black_box_path() -> None:
    mech = aa.Myerson(aa.MNL(), prior=stats.uniform(0, 1))
    mk = markets(2, 2, n=3)
    res = aa.simulate_repeated(mech, Truthful(), mk, rounds=2, rng=0, grid=[0.5, 1.0])
    for t, (inst, v) in enumerate(mk):
        out = mech.run(inst, v)
        row = res.history[res.history["round"] == t]
        np.testing.assert_allclose(row["payment"], out.payments)
    # truthful bidding is dominant: no grid multiplier beats bidding the value
    assert np.all(res.summary().regret <= 1e-9)


def test_market_forms_and_learned_bids() -> None:
    inst, v = markets(4, 1)[0]
    fixed = aa.simulate_repeated(aa.GSP(), Truthful(), (inst, v), rounds=3)
    assert (fixed.history["value"].to_numpy().reshape(3, 5) == v).all()
    calls = aa.simulate_repeated(aa.GSP(), Truthful(), lambda g: (inst, v * g.uniform()),
                                 rounds=3, rng=0)
    assert calls.history["round"].max() == 2
    strategies = [BestResponse(np.linspace(0, 1, 11))] + [Shade(0.5)] * 4
    bids = aa.learned_bids(aa.FirstPrice(), strategies, inst, v, burn_in=3, rng=0)
    res = aa.simulate_repeated(aa.FirstPrice(), strategies, (inst, v), rounds=4, rng=0)
    np.testing.assert_array_equal(bids, res.history[res.history["round"] == 3]["bid"])
    np.testing.assert_array_equal(
        aa.learned_bids(aa.GSP(), Truthful(), inst, v, burn_in=0), v)


def test_input_errors() -> None:
    inst, v = markets(4, 1)[0]
    with pytest.raises(TypeError, match="`mechanism`"):
        aa.simulate_repeated("gsp", Truthful(), (inst, v), rounds=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`bidders` must be one strategy or one per"):
        aa.simulate_repeated(aa.GSP(), [Truthful()] * 2, (inst, v), rounds=2)
    with pytest.raises(TypeError, match="`bidders` must be Bidder"):
        aa.simulate_repeated(aa.GSP(), [Truthful()] * 4 + ["x"], (inst, v), rounds=2)
    with pytest.raises(TypeError, match="`market`"):
        aa.simulate_repeated(aa.GSP(), Truthful(), 3, rounds=2)
    with pytest.raises(ValueError, match="ran out"):
        aa.simulate_repeated(aa.GSP(), Truthful(), [(inst, v)], rounds=2)
    with pytest.raises(ValueError, match="same number of advertisers"):
        aa.simulate_repeated(aa.GSP(), Truthful(), [(inst, v), markets(1, 1, n=4)[0]],
                             rounds=2)
    with pytest.raises(ValueError, match="`rounds`"):
        aa.simulate_repeated(aa.GSP(), Truthful(), (inst, v), rounds=0)
    with pytest.raises(ValueError, match="`values`"):
        aa.simulate_repeated(aa.GSP(), Truthful(), (inst, -v), rounds=1)
    with pytest.raises(ValueError, match="`burn_in`"):
        aa.simulate_repeated(aa.GSP(), Truthful(), (inst, v), rounds=2).summary(burn_in=5)
    with pytest.raises(ValueError, match="`grid`"):
        aa.simulate_repeated(aa.GSP(), Truthful(), (inst, v), rounds=1, grid=[1.0, 0.0])


def test_markets_of_a_spec_are_scipy_draws_bit_for_bit() -> None:
    """A spec's markets (drawn every round, so their draws skip per-call overhead)
    are exactly the generator plus SciPy's own ``rvs``, for several priors."""
    from aigc_auction import generators as gen

    for prior, extra in [("uniform", {}), ("uniform", {"prior_loc": 0.5, "prior_scale": 2.0}),
                         ("expon", {})]:
        spec = {"n_advertisers": 6, "n_positions": 3, "slots": 2, "generator": "lowrank",
                "rank": 3, "prior": prior, **extra}
        got = aa.repeated.market_sequence(spec, rounds=4, rng=11)
        frozen = gen.value_prior(prior, loc=extra.get("prior_loc", 0.0),
                                 scale=extra.get("prior_scale", 1.0))
        g = np.random.default_rng(aa.repeated._streams(11)[0])
        for inst, values in got:
            ctr = np.minimum(gen.lowrank_ctr(6, 3, rank=3, rng=g), gen.CTR_CEILING)
            want = np.maximum(frozen.rvs(size=6, random_state=g), 0.0)
            np.testing.assert_array_equal(inst.ctr, ctr)
            np.testing.assert_array_equal(values, want)
    # settings are validated once per distinct value and type: 2.0 is still refused
    gen.lowrank_ctr(3, 2, rank=2, rng=0)
    with pytest.raises(TypeError, match="`rank` must be an integer"):
        gen.lowrank_ctr(3, 2, rank=2.0, rng=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`bias`"):
        gen.lowrank_ctr(3, 2, bias=float("nan"), rng=0)
