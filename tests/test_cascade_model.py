"""The cascade user model: click probabilities, reading orders, simulation, inputs."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.models.cascade import optimal_reading_order, reading_order_key


def test_ctr_matches_the_formula_by_hand() -> None:
    inst = aa.Instance(ctr=[[0.5, 0.2, 0.1], [0.4, 0.4, 0.3], [0.3, 0.6, 0.9]])
    gc, gs = np.array([0.2, 0.5, 0.0]), np.array([0.9, 1.0, 0.7])
    model = aa.Cascade(continue_after_click=gc, continue_after_skip=gs)
    # ad 2 at 0, ad 0 at 2, ad 1 at 1; read 1, 0, 2 (positions)
    pi = model.ctr(inst, [2, 1, 0], [1, 0, 2])
    q1 = 0.4 * 0.5 + 0.6 * 1.0  # ad 1 at position 1
    q2 = 0.3 * 0.0 + 0.7 * 0.7  # ad 2 at position 0
    np.testing.assert_allclose(pi, [0.1 * q1 * q2, 0.4, 0.3 * q1], rtol=1e-15)


def test_order_none_is_index_order_in_both_modes() -> None:
    inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    for mode in ("optimized", "fixed"):
        model = aa.Cascade(order=mode)
        np.testing.assert_array_equal(model.ctr(inst, [1, 0]), model.ctr(inst, [1, 0], [0, 1]))


def test_fixed_mode_rejects_a_non_increasing_order() -> None:
    inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    with pytest.raises(ValueError, match="`order` must be increasing"):
        aa.Cascade(order="fixed").ctr(inst, [0, 1], [1, 0])
    with pytest.raises(ValueError, match="infeasible allocation"):
        aa.Cascade().ctr(inst, [0, 0])


def test_special_cases() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, (4, 4))
    inst = aa.Instance(ctr=p)
    a = np.array([2, 0, 3, 1])
    # no externalities: pi = p
    free = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)
    np.testing.assert_allclose(free.ctr(inst, a), p[np.arange(4), a])
    # classic cascade: reach is the probability of no click before
    pi = aa.Cascade().ctr(inst, a)
    seen = a.argsort()  # ads by position = reading order
    reach = np.cumprod(np.r_[1.0, 1.0 - p[seen, a[seen]]][:-1])
    np.testing.assert_allclose(pi[seen], p[seen, a[seen]] * reach)
    # Markovian: q = g_i whatever the click
    g = rng.uniform(0, 1, 4)
    pi = aa.Cascade(continue_after_click=g, continue_after_skip=g).ctr(inst, a)
    reach = np.cumprod(np.r_[1.0, g[seen]][:-1])
    np.testing.assert_allclose(pi[seen], p[seen, a[seen]] * reach)


def test_optimal_reading_order_beats_every_permutation() -> None:
    rng = np.random.default_rng(1)
    for _ in range(100):
        k = int(rng.integers(1, 6))
        a = rng.uniform(0, 1, k) * (rng.random(k) > 0.1)
        q = np.where(rng.random(k) < 0.2, 1.0, rng.uniform(0, 1, k))
        pos = rng.permutation(8)[:k]
        order = optimal_reading_order(a, q, pos)
        where = {int(j): t for t, j in enumerate(pos)}

        def value(seq: list[int], a: np.ndarray = a, q: np.ndarray = q) -> float:
            return float(np.dot(a[seq], np.cumprod(np.r_[1.0, q[seq]][:-1])))

        best = max(value(list(s)) for s in permutations(range(k)))
        assert value([where[int(j)] for j in order]) >= best - 1e-12


def test_reading_order_ties_and_q_equal_one() -> None:
    key = reading_order_key([0.0, -1.0, 2.0, 0.5], [1.0, 1.0, 1.0, 0.5])
    np.testing.assert_array_equal(key, [0.0, -np.inf, np.inf, 1.0])
    # equal keys: increasing position index
    assert optimal_reading_order([0.2, 0.2, 0.2], [0.5, 0.5, 0.5], [4, 1, 3]).tolist() == [1, 3, 4]
    with pytest.raises(ValueError, match="same length"):
        optimal_reading_order([0.2], [0.5, 0.5], [0, 1])


def test_reading_order_method() -> None:
    inst = aa.Instance(ctr=[[0.5, 0.2, 0.3], [0.4, 0.4, 0.1]])
    coef = np.array([0.1, 1.0])
    assert aa.Cascade().reading_order(inst, [2, 0], coef).tolist() == [0, 2]
    assert aa.Cascade(order="fixed").reading_order(inst, [2, 0], coef).tolist() == [0, 2]
    assert aa.Cascade().reading_order(inst, [0, 2], coef).tolist() == [2, 0]
    assert aa.Cascade(order="fixed").reading_order(inst, [0, 2], coef).tolist() == [0, 2]
    with pytest.raises(ValueError, match="`coef` must have shape"):
        aa.Cascade().reading_order(inst, [0, 2], [1.0])


@pytest.mark.parametrize("mode", ["optimized", "fixed"])
def test_simulated_click_rates_converge_to_ctr(mode: str) -> None:
    rng = np.random.default_rng(2)
    inst = aa.Instance(ctr=rng.uniform(0.1, 0.9, (5, 4)), slots=4)
    model = aa.Cascade(
        continue_after_click=rng.uniform(0, 1, 5),
        continue_after_skip=rng.uniform(0.5, 1, 5),
        order=mode,
    )
    a = np.array([3, -1, 0, 2, 1])
    order = [0, 1, 2, 3] if mode == "fixed" else [2, 0, 3, 1]
    pi = model.ctr(inst, a, order)
    n_users = 200_000
    rates = model.simulate_clicks(inst, a, order, n_users=n_users, rng=3)
    sigma = np.sqrt(pi * (1 - pi) / n_users)
    assert np.all(np.abs(rates - pi) <= 5 * sigma + 1e-12)
    assert rates[1] == 0.0
    # more users, closer (the error shrinks like 1 / sqrt(n_users))
    few = model.simulate_clicks(inst, a, order, n_users=2_000, rng=3)
    assert np.abs(few - pi).max() > np.abs(rates - pi).max()


def test_simulation_is_reproducible_and_checks_inputs() -> None:
    inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    model = aa.Cascade()
    r1 = model.simulate_clicks(inst, [0, 1], n_users=1000, rng=np.random.default_rng(5))
    r2 = model.simulate_clicks(inst, [0, 1], n_users=1000, rng=5)
    np.testing.assert_array_equal(r1, r2)
    assert model.simulate_clicks(inst, [-1, -1], n_users=10, rng=0).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="`n_users`"):
        model.simulate_clicks(inst, [0, 1], n_users=0)
    with pytest.raises(TypeError, match="`rng`"):
        model.simulate_clicks(inst, [0, 1], n_users=10, rng="seed")


def test_parameter_validation() -> None:
    with pytest.raises(ValueError, match="`continue_after_click` must have entries in"):
        aa.Cascade(continue_after_click=1.5)
    with pytest.raises(ValueError, match="`continue_after_skip` must not contain NaN"):
        aa.Cascade(continue_after_skip=[0.5, np.nan])
    with pytest.raises(TypeError, match="`continue_after_click` must be a numeric array"):
        aa.Cascade(continue_after_click=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`continue_after_skip` must be a scalar or"):
        aa.Cascade(continue_after_skip=[[0.5]])
    with pytest.raises(TypeError, match="`continue_after_click`"):
        aa.Cascade(continue_after_click="high")
    with pytest.raises(ValueError, match="`order` must be one of"):
        aa.Cascade(order="random")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`order`"):
        aa.Cascade(order=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        aa.Cascade(0.0)  # type: ignore[misc]  # keyword-only
    model = aa.Cascade(continue_after_click=[0.1, 0.2, 0.3])
    inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    with pytest.raises(ValueError, match=r"`continue_after_click` must be a scalar or have one"):
        model.ctr(inst, [0, 1])
    with pytest.raises(TypeError, match="`instance`"):
        model.ctr([[0.5]], [0])  # type: ignore[arg-type]


def test_params_equality_and_registry() -> None:
    model = aa.Cascade(continue_after_click=[0.1, 0.2], order="fixed")
    params = model.get_params()
    assert params["order"] == "fixed" and params["continue_after_skip"] == 1.0
    np.testing.assert_array_equal(params["continue_after_click"], [0.1, 0.2])
    assert model == aa.Cascade(**params)
    assert model != aa.Cascade()
    assert aa.get_model("cascade") == aa.Cascade()
    assert "cascade" in aa.available_models()
    assert repr(aa.Cascade()) == (
        "Cascade(continue_after_click=0.0, continue_after_skip=1.0, order='optimized')"
    )
    assert aa.Cascade.order_sensitive
