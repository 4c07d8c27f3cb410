"""Bidding strategies: update rules, reproducible streams, parameter checks."""

from __future__ import annotations

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.bidders import (
    BestResponse,
    Feedback,
    Hedge,
    Shade,
    Truthful,
    available_bidders,
    copy_streams,
    get_bidder,
)


def fb(n: int, grid_utility: np.ndarray | None = None, utility: float = 0.0) -> Feedback:
    v = np.ones(n)
    return Feedback(v, v, np.full(n, 1.0), np.full(n, 1.0 - utility), grid_utility)


def test_truthful_and_shade() -> None:
    st = Truthful().init(3, rng=0)
    np.testing.assert_array_equal(Truthful().bid(st, [0.1, 0.5, 2.0]), [0.1, 0.5, 2.0])
    s = Shade(0.25)
    np.testing.assert_array_equal(s.bid(s.init(2), [0.4, 0.8]), [0.1, 0.2])
    s.update(st, fb(3))  # nothing to learn
    assert Truthful() != Shade(1.0) and Shade(1.0) == Shade(1)  # identity: class and params
    assert Truthful().feedback == "none" and Shade(0.5).feedback == "none"


def test_hedge_full_information_is_exponential_weights() -> None:
    grid = np.array([0.0, 0.5, 1.0])
    h = Hedge(grid, lr=2.0)
    st = h.init(2, rng=1)
    u1 = np.array([[0.1, 0.3, 0.0], [0.0, 0.0, 0.2]])
    u2 = np.array([[0.2, 0.1, 0.0], [0.1, 0.0, 0.0]])
    h.update(st, fb(2, u1))
    h.update(st, fb(2, u2))
    s = u1 + u2
    want = np.exp(2.0 * s) / np.exp(2.0 * s).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(h.probabilities(st), want, rtol=1e-12)
    # bids are grid multipliers times values, drawn with these probabilities
    draws = np.array([h.bid(st, [1.0, 1.0]) for _ in range(4000)])
    for c in range(2):
        freq = [(draws[:, c] == m).mean() for m in grid]
        np.testing.assert_allclose(freq, want[c], atol=0.03)
    with pytest.raises(ValueError, match="grid_utility"):
        h.update(st, fb(2))


def test_hedge_bandit_importance_weighting_and_exploration() -> None:
    h = Hedge([0.5, 1.0], lr=1.0, feedback="bandit", explore=0.2)
    assert h.feedback == "bandit"
    st = h.init(1, rng=3)
    p0 = h.probabilities(st)
    np.testing.assert_allclose(p0, [[0.5, 0.5]])
    bid = h.bid(st, [1.0])
    k = int(bid[0] == 1.0)
    h.update(st, fb(1, utility=0.3))
    score = np.zeros(2)
    score[k] = 0.3 / 0.5
    np.testing.assert_allclose(st.arrays["score"][0], score)
    # exploration keeps every multiplier at least explore / G likely
    st.arrays["score"][0] = [100.0, -100.0]
    assert h.probabilities(st)[0, 1] == pytest.approx(0.1)


def test_best_response_window_and_follow_the_leader() -> None:
    grid = [0.2, 0.6, 1.0]
    br1 = BestResponse(grid)  # myopic
    ftl = BestResponse(grid, window=None)
    s1, s2 = br1.init(1), ftl.init(1)
    assert br1.bid(s1, [1.0]).tolist() == [1.0]  # start: truthful
    for u in ([0.0, 0.5, 0.0], [0.3, 0.0, 0.0]):
        for b, s in ((br1, s1), (ftl, s2)):
            b.update(s, fb(1, np.array([u])))
    assert br1.bid(s1, [2.0]).tolist() == [0.4]  # last round: 0.2 best
    assert ftl.bid(s2, [2.0]).tolist() == [1.2]  # all rounds: 0.6 best (0.5 > 0.3)
    br2 = BestResponse(grid, window=2)
    s3 = br2.init(1)
    for u in ([0.0, 0.5, 0.0], [0.3, 0.0, 0.0], [0.3, 0.0, 0.0]):
        br2.update(s3, fb(1, np.array([u])))
    assert br2.multipliers(s3).tolist() == [0.2]  # the first round left the window
    tie = BestResponse(grid)
    st = tie.init(1)
    tie.update(st, fb(1, np.array([[0.1, 0.1, 0.1]])))
    assert tie.multipliers(st).tolist() == [0.2]  # ties: the lowest multiplier


def test_streams_are_per_copy_and_reproducible() -> None:
    a = [g.random() for g in copy_streams(7, 3)]
    b = [g.random() for g in copy_streams(np.random.SeedSequence(7), 3)]
    assert a == b and len(set(a)) == 3
    h = Hedge(np.linspace(0, 1, 5), lr=1.0)
    seqs = np.random.SeedSequence(11).spawn(2)
    together = h.init(2, rng=seqs)
    alone = h.init(1, rng=[seqs[1]])
    x = np.array([h.bid(together, [1.0, 1.0])[1] for _ in range(300)])
    y = np.array([h.bid(alone, [1.0])[0] for _ in range(300)])
    np.testing.assert_array_equal(x, y)  # copy 1's draws do not depend on copy 0


def test_registry_and_errors() -> None:
    assert available_bidders() == ["best_response", "hedge", "shade", "truthful"]
    assert get_bidder("shade", factor=0.5) == Shade(0.5)
    assert hash(Hedge([0.5, 1.0], 1.0)) == hash(Hedge(np.array([0.5, 1.0]), 1.0))
    assert repr(BestResponse([0.5, 1.0])) == "BestResponse(grid=[0.5, 1.0], window=1, start=1.0)"
    with pytest.raises(ValueError, match="`bidder` must be one of"):
        get_bidder("gsp")
    with pytest.raises(TypeError, match="bad parameters for bidder 'hedge'"):
        get_bidder("hedge", grid=[1.0])
    with pytest.raises(ValueError, match="`factor`"):
        Shade(-1.0)
    with pytest.raises(TypeError, match="`factor`"):
        Shade("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`lr`"):
        Hedge([0.5], lr=0.0)
    with pytest.raises(ValueError, match="`feedback`"):
        Hedge([0.5], lr=1.0, feedback="partial")
    with pytest.raises(ValueError, match="`explore`"):
        Hedge([0.5], lr=1.0, explore=2.0)
    with pytest.raises(ValueError, match="`grid` must be strictly increasing"):
        BestResponse([1.0, 0.5])
    with pytest.raises(ValueError, match="`grid` must hold non-negative"):
        BestResponse([-1.0, 0.5])
    with pytest.raises(ValueError, match="`window`"):
        BestResponse([0.5], window=0)
    with pytest.raises(ValueError, match="`values` must have shape"):
        Truthful().bid(Truthful().init(2), [1.0])
    with pytest.raises(ValueError, match="`rng` must be one seed or one per copy"):
        Truthful().init(2, rng=[1])
    with pytest.raises(TypeError, match="`rng`"):
        Truthful().init(1, rng="seed")
    with pytest.raises(ValueError, match="`n`"):
        Truthful().init(0)
    assert isinstance(aa.bidders.Hedge([0.5], 1.0), aa.bidders.Bidder)
