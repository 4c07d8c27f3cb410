"""Click-model likelihoods against brute-force enumeration; gradients; information."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import aigc_auction as aa
from aigc_auction.clicklogs import ClickData, click_probabilities, session_loglik
from aigc_auction.clicklogs.cascade import cascade_information, cascade_loglik_grad
from aigc_auction.clicklogs.mnl import mnl_loglik_grad
from tests.clicklogs_reference import (
    all_patterns,
    cascade_by_recursion,
    cascade_closed_form,
    independent_pattern,
    mnl_pattern,
    random_slate,
)

N, M = 5, 4


def _cascade_cases(rng: np.random.Generator) -> list[tuple[object, object]]:
    """Continuation parameters: interior, the special cases, 0/1 edges, per advertiser."""
    return [
        (float(rng.uniform()), float(rng.uniform())),
        (0.0, 1.0), (1.0, 1.0), (0.0, 0.0), (1.0, 0.0), (0.3, 0.0),
        (rng.uniform(0, 1, N), rng.uniform(0, 1, N)),
        (rng.choice([0.0, 1.0, 0.5], N), rng.choice([0.0, 1.0, 0.5], N)),
    ]


def test_cascade_likelihood_equals_enumeration_and_sums_to_one() -> None:
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(40):
        ctr = rng.uniform(0, 1, (N, M))
        ctr[rng.uniform(size=(N, M)) < 0.1] = rng.choice([0.0, 1.0])  # edge CTRs too
        k = int(rng.integers(1, M + 1))
        adv, pos = random_slate(rng, N, M, k)
        data, pats = all_patterns(adv, pos, N, M)
        for gc, gs in _cascade_cases(rng):
            model = aa.Cascade(continue_after_click=gc, continue_after_skip=gs)
            gca, gsa = model.continuation_params(N)
            p = [float(ctr[a, j]) for a, j in zip(adv, pos, strict=True)]
            g_c, g_s = [float(gca[a]) for a in adv], [float(gsa[a]) for a in adv]
            want = np.array([cascade_by_recursion(p, g_c, g_s, c) for c in pats])
            other = np.array([cascade_closed_form(p, g_c, g_s, c) for c in pats])
            with np.errstate(divide="ignore"):
                got = np.exp(session_loglik(ctr, model, data))
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(other, want, rtol=1e-12, atol=1e-15)
            assert got.sum() == pytest.approx(1.0, abs=1e-12)
            # marginal click probabilities = sums over patterns = the model's own ctr()
            marg = click_probabilities(ctr, model, data)[0]
            brute = np.array([want[[c[r] == 1 for c in pats]].sum() for r in range(k)])
            np.testing.assert_allclose(marg, brute, atol=1e-12)
            assignment = np.full(N, -1)
            assignment[adv] = pos
            pi = model.ctr(aa.Instance(ctr=ctr, slots=k), assignment, pos)
            np.testing.assert_allclose(marg, pi[adv], atol=1e-12)
            checked += 1
    assert checked == 320


@pytest.mark.parametrize("kind", ["mnl", "independent"])
def test_mnl_and_independent_likelihoods_equal_enumeration(kind: str) -> None:
    rng = np.random.default_rng(1)
    for _ in range(60):
        ctr = rng.uniform(0, 0.95, (N, M))
        k = int(rng.integers(1, M + 1))
        adv, pos = random_slate(rng, N, M, k)
        data, pats = all_patterns(adv, pos, N, M)
        p = [float(ctr[a, j]) for a, j in zip(adv, pos, strict=True)]
        if kind == "mnl":
            model: aa.UserModel = aa.MNL()
            want = np.array([mnl_pattern(p, c) for c in pats])
        else:
            model = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)
            want = np.array([independent_pattern(p, c) for c in pats])
        with np.errstate(divide="ignore"):
            got = np.exp(session_loglik(ctr, model, data))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        assert got.sum() == pytest.approx(1.0, abs=1e-12)
        marg = click_probabilities(ctr, model, data)[0]
        brute = np.array([want[[c[r] == 1 for c in pats]].sum() for r in range(k)])
        np.testing.assert_allclose(marg, brute, atol=1e-12)


def test_pbm_is_independent_clicks_on_a_separable_matrix() -> None:
    rng = np.random.default_rng(2)
    a, e = rng.uniform(0, 1, N), rng.uniform(0, 1, M)
    inst = aa.Instance.from_separable(a, e)
    adv, pos = random_slate(rng, N, M, 3)
    data, pats = all_patterns(adv, pos, N, M)
    free = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)
    want = [np.prod([a[i] * e[j] if c else 1 - a[i] * e[j]
                     for i, j, c in zip(adv, pos, pat, strict=True)]) for pat in pats]
    np.testing.assert_allclose(np.exp(session_loglik(inst, free, data)), want, rtol=1e-12)


def _random_data(rng: np.random.Generator, sessions: int, n: int, m: int, k: int) -> ClickData:
    adv = np.argsort(rng.uniform(size=(sessions, n)), axis=1)[:, :k]
    pos = np.argsort(rng.uniform(size=(sessions, m)), axis=1)[:, :k]
    click = rng.uniform(size=(sessions, k)) < 0.3
    short = rng.uniform(size=sessions) < 0.3  # some shorter sessions
    adv[short, -1] = pos[short, -1] = -1
    click[short, -1] = False
    return ClickData(np.arange(sessions), adv, pos, click, n, m)


def test_cascade_gradient_and_information_match_finite_differences() -> None:
    rng = np.random.default_rng(3)
    n, m = 4, 3
    data = _random_data(rng, 400, n, m, 3)
    theta = rng.normal(-0.8, 0.7, n * m)
    a, b = 0.4, 1.1  # logits of gc, gs

    def grad(x: np.ndarray) -> np.ndarray:
        _, g, ga, gb, _ = cascade_loglik_grad(
            x[:-2], float(special.expit(x[-2])), float(special.expit(x[-1])), data)
        return np.concatenate([g, [ga, gb]])

    def value(x: np.ndarray) -> float:
        return cascade_loglik_grad(
            x[:-2], float(special.expit(x[-2])), float(special.expit(x[-1])), data)[0]

    x = np.concatenate([theta, [a, b]])
    h = 1e-6
    fd = np.array([(value(x + h * e) - value(x - h * e)) / (2 * h) for e in np.eye(x.size)])
    np.testing.assert_allclose(grad(x), fd, rtol=1e-6, atol=1e-6)
    hess = np.column_stack([(grad(x + 1e-5 * e) - grad(x - 1e-5 * e)) / 2e-5
                            for e in np.eye(x.size)])
    info = cascade_information(theta, float(special.expit(a)), float(special.expit(b)),
                               data, np.arange(n * m))
    np.testing.assert_allclose(info, -hess, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(info, info.T, atol=1e-9)


def test_mnl_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(4)
    data = _random_data(rng, 400, 4, 3, 3)
    data.click[:] = False
    data.click[np.arange(0, 400, 3), 0] = True  # at most one click per session
    theta = rng.normal(-1.0, 0.5, 12)
    _, g = mnl_loglik_grad(theta, data)
    h = 1e-6
    fd = [(mnl_loglik_grad(theta + h * e, data)[0] - mnl_loglik_grad(theta - h * e, data)[0])
          / (2 * h) for e in np.eye(12)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "model",
    [aa.MNL(), aa.Cascade(), aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8)],
    ids=["mnl", "classic", "general"],
)
def test_simulated_pattern_frequencies_match_the_likelihood(model: aa.UserModel) -> None:
    """The simulator and the likelihood describe the same users (one fixed slate)."""
    ctr = np.array([[0.4, 0.2, 0.3], [0.25, 0.5, 0.1], [0.3, 0.3, 0.6]])
    inst = aa.Instance(ctr=ctr, slots=3)
    assignment, order = np.array([2, 0, 1]), np.array([1, 2, 0])
    logs = aa.simulate_logs(inst, model, n_sessions=20_000,
                            policy=lambda rng: (assignment, order), rng=5)
    assert logs["position"].to_numpy()[:3].tolist() == order.tolist()
    adv = [2, 0, 1]  # the ads at positions 1, 2, 0
    data, pats = all_patterns(adv, order.tolist(), 3, 3)
    with np.errstate(divide="ignore"):
        prob = np.exp(session_loglik(ctr, model, data))
    codes = logs["click"].to_numpy().reshape(-1, 3) @ np.array([4, 2, 1])
    freq = np.bincount(codes, minlength=8) / 20_000
    want = np.array([prob[pats.index(tuple(int(b) for b in f"{c:03b}"))] for c in range(8)])
    se = np.sqrt(want * (1 - want) / 20_000)
    assert np.all(np.abs(freq - want) <= 5 * se + 1e-12)


def test_information_with_per_advertiser_fixed_continuation() -> None:
    """The free ``gs`` block when ``gc`` is fixed per advertiser (used by the stderr)."""
    rng = np.random.default_rng(6)
    n, m = 4, 3
    data = _random_data(rng, 300, n, m, 3)
    theta = rng.normal(-0.8, 0.7, n * m)
    gc = rng.uniform(0.1, 0.9, n)

    def grad(x: np.ndarray) -> np.ndarray:
        _, g, _, gb, _ = cascade_loglik_grad(x[:-1], gc, float(special.expit(x[-1])), data)
        return np.concatenate([g, [gb]])

    x = np.concatenate([theta, [0.7]])
    hess = np.column_stack([(grad(x + 1e-5 * e) - grad(x - 1e-5 * e)) / 2e-5
                            for e in np.eye(x.size)])
    info = cascade_information(theta, gc, float(special.expit(0.7)), data, np.arange(n * m))
    keep = np.r_[np.arange(n * m), n * m + 1]
    np.testing.assert_allclose(info[np.ix_(keep, keep)], -hess, rtol=1e-5, atol=1e-5)
