"""The compiled MNL round table (the ``fast`` extra) against the NumPy engine.

:mod:`aigc_auction.steps_mnl_numba` promises the step tables of
:func:`aigc_auction.steps_mnl.mnl_round_steps` bit for bit: the same kept lists,
the same rows in the same order, the same sums, the same envelope search. Every
array is compared with ``array_equal`` on seeded markets of every shape the
engine takes (continuous, tie-heavy, separable, low-rank, zero bids and zero
CTRs, one advertiser or one position, ``K`` up to 7, tables too large), and
whole repeated auctions are compared row by row.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aigc_auction as aa
from aigc_auction import steps_mnl_numba
from aigc_auction._optional import MissingDependencyError
from aigc_auction.steps_mnl import mnl_round_steps

needs_numba = pytest.mark.skipif(not steps_mnl_numba.available(),
                                 reason="needs numba (the fast extra)")
FIELDS = ("task", "start", "ctr", "position", "rank", "offsets", "current")


def _market(seed: int) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 26))
    m = int(rng.integers(1, 8))
    k = int(rng.integers(1, min(m, 7) + 1))
    kind = seed % 5
    if kind == 0:  # continuous
        ctr = rng.uniform(0, 0.5, (n, m))
        b = rng.uniform(0, 1, n)
    elif kind == 1:  # ties everywhere: CTRs on an eighth grid, bids on a quarter grid
        ctr = rng.integers(0, 4, (n, m)) / 8
        b = rng.integers(0, 4, n) / 4
    elif kind == 2:  # separable
        ctr = np.outer(rng.uniform(0.2, 1, n), 0.6 * 0.7 ** np.arange(m))
        b = rng.uniform(0, 1, n)
    elif kind == 3:  # low rank, bids on a multiplier grid
        z = rng.standard_normal((n, 2)) @ rng.standard_normal((2, m)) / 1.4
        ctr = 1 / (1 + np.exp(1.5 - z))
        b = np.round(rng.integers(0, 21, n) * 0.05, 12)
    else:  # heavy-tailed bids, identical advertisers
        base = rng.uniform(0, 0.6, (max(n // 2, 1), m))
        ctr = base[rng.integers(0, base.shape[0], n)]
        b = rng.pareto(1.5, n)
    b[rng.random(n) < 0.1] = 0.0
    ctr[rng.random((n, m)) < 0.05] = 0.0
    top = b * rng.uniform(0.5, 2.0, n) if seed % 2 else np.full(n, float(b.max()) + 0.5)
    return ctr / (1.0 - ctr), b, k, top


def _assert_same(got, want, where) -> None:
    assert (got is None) == (want is None), where
    if want is None:
        return
    for f in FIELDS:
        assert np.array_equal(getattr(got[0], f), getattr(want[0], f)), (where, f)
    assert np.array_equal(got[1], want[1]), where
    assert got[2] == want[2], where


@needs_numba
@pytest.mark.parametrize("block", range(4))
def test_numba_tables_equal_numpy_bit_for_bit(block: int) -> None:
    tables = 0
    for seed in range(block * 150, (block + 1) * 150):
        odds, b, k, top = _market(seed)
        want = mnl_round_steps(odds, b, k, top, engine="numpy")
        got = mnl_round_steps(odds, b, k, top, engine="numba")
        _assert_same(got, want, seed)
        tables += want is not None
    assert tables > 100  # most markets fit a table; the others agree on None


@needs_numba
@given(st.integers(1, 9), st.integers(1, 4), st.integers(1, 4), st.data())
def test_numba_tables_equal_numpy_on_grid_markets(n, m, k, data) -> None:
    """Small markets on coarse grids: exact ties between rows, lines and kinks."""
    k = min(k, m)
    cells = st.integers(0, 3)
    ctr = np.array(data.draw(st.lists(cells, min_size=n * m, max_size=n * m)),
                   dtype=float).reshape(n, m) / 8
    b = np.array(data.draw(st.lists(cells, min_size=n, max_size=n)), dtype=float) / 4
    top = b + np.array(data.draw(st.lists(cells, min_size=n, max_size=n))) / 4
    odds = ctr / (1 - ctr)
    _assert_same(mnl_round_steps(odds, b, k, top, engine="numba"),
                 mnl_round_steps(odds, b, k, top, engine="numpy"), (n, m, k))


@needs_numba
def test_eight_slots_or_more_run_the_numpy_engine() -> None:
    """Sums of eight or more terms are added pairwise by NumPy: not compiled."""
    rng = np.random.default_rng(3)
    odds = rng.uniform(0, 0.3, (10, 8))
    b = rng.uniform(0, 1, 10)
    assert steps_mnl_numba.mnl_round_steps(odds, b, 8, b) is NotImplemented
    _assert_same(mnl_round_steps(odds, b, 8, b, engine="numba"),
                 mnl_round_steps(odds, b, 8, b, engine="numpy"), "K=8")


@needs_numba
@pytest.mark.parametrize("fmt", [aa.GSP, aa.FirstPrice])
def test_repeated_auctions_identical_under_both_engines(fmt) -> None:
    spec = {"n_advertisers": 12, "n_positions": 4, "slots": 2, "generator": "lowrank",
            "prior": "uniform"}
    bidders = [aa.bidders.Hedge(np.linspace(0, 1, 11), lr=10.0)] * 10 + [
        aa.bidders.Shade(0.7), aa.bidders.BestResponse(np.linspace(0, 1, 11))]
    res = {e: aa.simulate_repeated(fmt(aa.MNL()), bidders, spec, rounds=120, rng=7, engine=e)
           for e in ("numpy", "numba")}
    pd.testing.assert_frame_equal(res["numba"].history, res["numpy"].history, check_exact=True)
    assert np.array_equal(res["numba"].grid_utility, res["numpy"].grid_utility)
    assert np.array_equal(res["numba"].optimal_welfare, res["numpy"].optimal_welfare)
    inst, v = next(iter(aa.repeated.market_sequence(spec, rounds=1, rng=3)))
    bids = {e: aa.learned_bids(fmt(aa.MNL()), bidders, inst, v, burn_in=30, rng=1, engine=e)
            for e in ("numpy", "numba")}
    assert np.array_equal(bids["numba"], bids["numpy"])


def test_engine_is_validated() -> None:
    inst = aa.Instance(ctr=[[0.5], [0.4]])
    market = (inst, np.array([1.0, 0.5]))
    with pytest.raises(ValueError, match="`engine` must be one of 'auto', 'numba', 'numpy'"):
        aa.simulate_repeated(aa.GSP(), aa.bidders.Truthful(), market, rounds=2,
                             engine="fortran")
    with pytest.raises(ValueError, match="`engine` must be one of 'auto', 'numba', 'numpy'"):
        mnl_round_steps(np.ones((2, 1)), np.ones(2), 1, np.ones(2), engine="c")


def test_without_numba_auto_falls_back_and_numba_names_the_extra(monkeypatch) -> None:
    monkeypatch.setattr(steps_mnl_numba, "available", lambda: False)
    monkeypatch.setitem(sys.modules, "numba", None)
    odds, b, k, top = _market(0)
    _assert_same(mnl_round_steps(odds, b, k, top), mnl_round_steps(odds, b, k, top,
                                                                   engine="numpy"), "auto")
    assert steps_mnl_numba.mnl_round_steps(odds, b, k, top) is NotImplemented
    with pytest.raises(MissingDependencyError, match=r"aigc_auction\[fast\]"):
        mnl_round_steps(odds, b, k, top, engine="numba")
    market = (aa.Instance(ctr=[[0.5], [0.4]]), np.array([1.0, 0.5]))
    with pytest.raises(MissingDependencyError, match=r"aigc_auction\[fast\]"):
        aa.simulate_repeated(aa.GSP(), aa.bidders.Truthful(), market, rounds=2,
                             engine="numba")


@needs_numba
def test_without_a_writable_cache_the_kernels_compile_in_memory(monkeypatch) -> None:
    """Numba refuses ``cache=True`` where no folder is writable: no error, no cache.

    A stand-in ``njit`` refuses caching and returns the plain functions, so this
    also runs the kernels as Python: the same tables as NumPy's.
    """
    import numba

    calls = []

    def fake_njit(**options):
        calls.append(options["cache"])
        if options["cache"]:
            raise RuntimeError("cannot cache function: no locator available for file")
        return lambda f: f

    monkeypatch.setattr(numba, "njit", fake_njit)
    monkeypatch.setattr(steps_mnl_numba, "_first_best_line",
                        steps_mnl_numba._first_best_line)
    steps_mnl_numba._kernels.cache_clear()
    try:
        for seed in (1, 2, 5):
            odds, b, k, top = _market(seed)
            _assert_same(steps_mnl_numba.mnl_round_steps(odds, b, k, top),
                         mnl_round_steps(odds, b, k, top, engine="numpy"), seed)
    finally:
        steps_mnl_numba._kernels.cache_clear()
    assert calls == [True, False]
