"""Textbook equilibria: first price v/2 and revenue 1/3; GSP's lowest envy-free = VCG."""

from __future__ import annotations

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.equilibrium import (
    best_response_dynamics,
    equilibrium_check,
    profile_outcomes,
    utility_table,
)

from .test_formats import NO_EXT

P = 0.5  # one slot with standalone CTR 0.5 under MNL: a single item shown with prob 0.5


def uniform_pairs(n_grid: int) -> list[tuple[aa.Instance, np.ndarray]]:
    """Product quadrature of two i.i.d. U[0, 1] values (one shared instance).

    The two bidders' nodes are offset (k + 2/3) / N and (k + 1/3) / N so that
    equal multipliers never tie exactly: a tie is decided by the solver's index
    order, which a continuous prior never sees.
    """
    inst = aa.Instance(ctr=[[P], [P]])
    v0 = (np.arange(n_grid) + 2 / 3) / n_grid
    v1 = (np.arange(n_grid) + 1 / 3) / n_grid
    return [(inst, np.array([a, b])) for a in v0 for b in v1]


def test_first_price_two_uniform_bidders_bid_half_and_raise_one_third() -> None:
    markets = uniform_pairs(30)
    grid = np.round(np.linspace(0.0, 1.0, 21), 12)  # resolution 0.05
    res = best_response_dynamics(aa.FirstPrice(), markets, grid=grid)
    assert res.converged and res.passes == 2
    np.testing.assert_array_equal(res.multipliers, [0.5, 0.5])
    assert res.epsilon < 1e-3
    assert res.path[0].tolist() == [1.0, 1.0]
    rev = profile_outcomes(aa.FirstPrice(), markets, res.multipliers)["revenue"] / P
    assert rev == pytest.approx(1 / 3, abs=1e-3)
    # revenue equivalence: second price (VCG) at truthful bids raises the same
    vcg = profile_outcomes(aa.VCG(), markets, [1.0, 1.0])["revenue"] / P
    assert vcg == pytest.approx(1 / 3, abs=1e-3)
    # v/2 is a best response to v/2 on the grid: the utility curve peaks there
    table = utility_table(aa.FirstPrice(), markets, [0.5, 0.5], grid)
    assert grid[np.argmax(table[1])] == 0.5 and grid[np.argmax(table[0])] == 0.5


def test_first_price_finer_grid_stays_within_resolution() -> None:
    """On a 0.02 grid the quadrature's utility differences (~1e-4) make the
    dynamics hop between neighbours of 1/2; every profile visited is a 1e-3
    equilibrium within one grid step of v/2."""
    markets = uniform_pairs(30)
    grid = np.round(np.linspace(0.0, 1.0, 51), 12)
    res = best_response_dynamics(aa.FirstPrice(), markets, grid=grid, max_passes=6)
    assert np.all(np.abs(res.path[1:] - 0.5) <= 0.02 + 1e-12)
    assert res.epsilon < 1e-3


def eos_lowest_envy_free_bids(alpha: np.ndarray, beta: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The lowest envy-free equilibrium of separable GSP (EOS 2007, Varian 2007).

    The ad ranked k+1 bids so that the ad ranked k pays exactly its VCG payment.
    """
    n, k_slots = len(v), min(len(v), len(beta))
    rank = np.argsort(-(alpha * v), kind="stable")
    s = np.append((alpha * v)[rank], 0.0)
    b_ext = np.append(beta[:k_slots], 0.0)
    bids = v.copy()
    for k in range(k_slots):
        vcg_k = sum((b_ext[l_] - b_ext[l_ + 1]) * s[l_ + 1] for l_ in range(k, k_slots))
        if k + 1 < n:
            nxt = rank[k + 1]
            bids[nxt] = vcg_k / (beta[k] * alpha[nxt])
    return bids


def test_gsp_lowest_envy_free_equilibrium_has_vcg_revenue() -> None:
    gsp, vcg = aa.GSP(NO_EXT), aa.VCG(NO_EXT)
    grid = np.round(np.linspace(0.0, 1.5, 151), 12)
    for seed in range(8):
        rng = np.random.default_rng(seed)
        n, m = int(rng.integers(3, 6)), int(rng.integers(2, 4))
        alpha = rng.uniform(0.3, 1.0, n)
        beta = np.sort(rng.uniform(0.1, 0.9, m))[::-1]
        inst = aa.Instance.from_separable(alpha, beta)
        v = rng.uniform(0.2, 1.0, n)
        bids = eos_lowest_envy_free_bids(alpha, beta, v)
        assert np.all(bids <= v + 1e-15)
        out_g, out_v = gsp.run(inst, bids), vcg.run(inst, v)
        np.testing.assert_array_equal(out_g.assignment, out_v.assignment)  # efficient
        np.testing.assert_allclose(out_g.payments, out_v.payments, rtol=1e-9, atol=1e-14)
        check = equilibrium_check(gsp, (inst, v), bids / v, grid=grid)
        assert check.epsilon <= 1e-12, (seed, check)
        assert check.is_equilibrium(1e-9)


def test_gsp_best_response_dynamics_reaches_an_epsilon_equilibrium() -> None:
    gsp, vcg = aa.GSP(NO_EXT), aa.VCG(NO_EXT)
    grid = np.round(np.linspace(0.0, 1.0, 51), 12)
    for seed in range(3):
        rng = np.random.default_rng(100 + seed)
        alpha = rng.uniform(0.3, 1.0, 4)
        beta = np.array([0.6, 0.35, 0.2])
        inst = aa.Instance.from_separable(alpha, beta)
        v = rng.uniform(0.2, 1.0, 4)
        res = best_response_dynamics(gsp, (inst, v), grid=grid)
        assert res.converged and res.epsilon < 1e-3
        # envy-free equilibria raise at least VCG; the grid's own equilibrium is
        # reported, and its revenue is never below VCG's by more than a grid step
        rev = profile_outcomes(gsp, (inst, v), res.multipliers)["revenue"]
        assert rev >= vcg.run(inst, v).revenue - 0.02 * float(v.max())


def test_equilibrium_input_errors() -> None:
    mkt = (aa.Instance(ctr=[[0.5], [0.5]]), np.array([1.0, 0.5]))
    with pytest.raises(ValueError, match="allocate by reported welfare"):
        equilibrium_check(aa.Myerson(prior=__import__("scipy.stats").stats.uniform()), mkt,
                          [1.0, 1.0], grid=[0.5, 1.0])
    with pytest.raises(ValueError, match="`multipliers` must have shape"):
        equilibrium_check(aa.GSP(), mkt, [1.0], grid=[0.5, 1.0])
    with pytest.raises(ValueError, match="`grid` must be strictly increasing"):
        utility_table(aa.GSP(), mkt, [1.0, 1.0], [1.0, 0.5])
    with pytest.raises(TypeError, match="`market`"):
        best_response_dynamics(aa.GSP(), "market", grid=[0.5, 1.0])
    with pytest.raises(ValueError, match="at least one"):
        best_response_dynamics(aa.GSP(), [], grid=[0.5, 1.0])
