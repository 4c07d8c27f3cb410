"""The MNL table engine of repeated rounds, bit for bit against its first version.

``aigc_auction.steps_mnl`` was rewritten for speed (rows of K pairs as a matrix,
candidate rows planned once per shape, lines filtered before they are built,
optima of many rounds at once). Its outputs must stay exactly what they were:
the first version (plain enumeration of every allocation of the kept pairs,
every line of every live advertiser, the envelope search, a sorted assembly) is
kept here as the reference and every array is compared with ``array_equal``, on
continuous markets and on markets full of ties (equal CTRs, equal bids, zero
bids), where the tie rules (first row in table order, first line among equals)
decide.
"""

from __future__ import annotations

from functools import cache
from itertools import combinations, product

import numpy as np
import pytest
from numpy.typing import NDArray

from aigc_auction import steps_mnl_numba
from aigc_auction.steps import ABOVE_RTOL, StepTable
from aigc_auction.steps_mnl import mnl_optimum, mnl_round_steps


# -- the reference: the first version of aigc_auction.steps_mnl ------------------------
@cache
def _ref_table(m: int, s_max: int, c: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    cols: list[list[int]] = [[-1] * s_max]
    ranks: list[list[int]] = [[-1] * s_max]
    for s in range(1, s_max + 1):
        for cs in combinations(range(m), s):
            for rs in product(range(c), repeat=s):
                cols.append(list(cs) + [-1] * (s_max - s))
                ranks.append(list(rs) + [-1] * (s_max - s))
    col = np.array(cols, dtype=np.int64).reshape(-1, s_max)
    rank = np.array(ranks, dtype=np.int64).reshape(-1, s_max)
    col.setflags(write=False)
    rank.setflags(write=False)
    return col, rank



def _ref_size(m: int, s_max: int, c: int) -> int:
    from math import comb

    return 1 + sum(comb(m, s) * c**s for s in range(1, s_max + 1))



def _ref_lists(w: NDArray[np.float64], b: NDArray[np.float64], k: int, lam_lb: float
           ) -> NDArray[np.int64]:
    n = w.shape[0]
    e = (b[:, None] - lam_lb) * w  # (n, m)
    ok = (b > lam_lb)[:, None] & (w > 0)
    # dominators of (k, j): b_k' >= b_k and e_k'j >= e_kj, ties broken by index
    bb_ge = b[:, None] >= b[None, :]  # [k', k]
    e_ge = e[:, None, :] >= e[None, :, :]  # [k', k, j]
    strict = (b[:, None] > b[None, :])[:, :, None] | (e[:, None, :] > e[None, :, :])
    idx_lt = (np.arange(n)[:, None] < np.arange(n)[None, :])[:, :, None]
    dom = bb_ge[:, :, None] & e_ge & (strict | idx_lt) & ok[:, None, :]
    dom[np.arange(n), np.arange(n), :] = False
    keep = ok & (dom.sum(axis=0) <= k)  # (n, m): fewer than K + 1 dominators
    c = max(int(keep.sum(axis=0).max()), 1)
    order = np.argsort(-np.where(keep, e, -np.inf), axis=0, kind="stable")[:c]  # (c, m)
    lists = np.where(np.take_along_axis(keep, order, axis=0), order, -1)
    return np.ascontiguousarray(lists.T)



def _ref_enumerate(lists: NDArray[np.int64], s_max: int, w: NDArray[np.float64],
               b: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                                NDArray[np.float64], NDArray[np.float64]]:
    m, c = lists.shape
    col, rank = _ref_table(m, s_max, c)
    slot = col >= 0
    ads = np.where(slot, lists[np.maximum(col, 0), np.maximum(rank, 0)], -1)
    valid = ~np.any(slot & (ads < 0), axis=1)
    for s in range(s_max):
        for t in range(s + 1, s_max):
            valid &= ~((ads[:, s] >= 0) & (ads[:, s] == ads[:, t]))
    ads, cols = ads[valid], col[valid]
    used = ads >= 0
    ww = np.where(used, w[np.maximum(ads, 0), np.maximum(cols, 0)], 0.0)
    num = (np.where(used, b[np.maximum(ads, 0)], 0.0) * ww).sum(axis=1)
    return ads, cols, num, ww.sum(axis=1)



def _ref_round_steps(
    odds: NDArray[np.float64], bids: NDArray[np.float64], slots: int,
    upper: NDArray[np.float64],
) -> tuple[StepTable, NDArray[np.int64], float] | None:
    w = np.asarray(odds, dtype=np.float64)
    b = np.asarray(bids, dtype=np.float64)
    n, m = w.shape
    k = int(slots)
    top = np.maximum(np.asarray(upper, dtype=np.float64), b)
    # one table for the auction and the auction without each advertiser: pairs
    # kept above a ratio every such optimum exceeds (the best single pair of any
    # ad but the best one) unless K + 1 others dominate them
    alone = (b[:, None] * w / (1.0 + w)).max(axis=1)
    lam_lb = max(float(np.sort(alone)[-2]) if n > 1 else 0.0, 0.0)
    lam_lb = float(np.nextafter(lam_lb, -np.inf)) if lam_lb > 0 else 0.0
    lists = _ref_lists(w, b, k, lam_lb)
    c = lists.shape[1]
    if c > 10 or _ref_size(m, k, c) > 12_000:
        return None
    ads, cols, num, den = _ref_enumerate(lists, k, w, b)
    ratio = num / (1.0 + den)
    best = int(np.argmax(ratio))
    value = float(ratio[best])
    assign = np.full(n, -1, dtype=np.int64)
    used = ads[best] >= 0
    assign[ads[best][used]] = cols[best][used]
    lam0 = np.full(n, value)
    for i in np.flatnonzero(assign >= 0).tolist():
        lam0[i] = float(np.where((ads == i).any(axis=1), -np.inf, ratio).max())
    # tasks that can be shown somewhere on their range: shown now, or able to beat
    # the optimum without them (an ad is shown only above the optimal ratio)
    live = np.flatnonzero((assign >= 0) | (top > lam0))
    # lines of "i at j plus others' pairs": others' allocations of <= K - 1 pairs
    s_ads, s_cols, s_num, s_den = _ref_enumerate(lists, k - 1, w, b) if k > 1 else (
        np.full((1, 1), -1), np.full((1, 1), -1), np.zeros(1), np.zeros(1))
    n_sub = s_num.size
    t = live.size
    wl = w[live]  # (t, m)
    uses_col = (s_cols[None, :, :] == np.arange(m)[:, None, None]).any(axis=2)  # (m, S)
    has_ad = (s_ads[None, :, :] == live[:, None, None]).any(axis=2)  # (t, S)
    ok = (~uses_col[None, :, :]) & (~has_ad[:, None, :]) & (wl[:, :, None] > 0)
    denom = 1.0 + wl[:, :, None] + s_den[None, None, :]
    slope = np.where(ok, wl[:, :, None] / denom, 0.0).reshape(t, m * n_sub)
    icpt = np.where(ok, s_num[None, None, :] / denom, -np.inf).reshape(t, m * n_sub)
    line_pos = np.repeat(np.arange(m), n_sub)
    before = (np.where(s_cols >= 0, s_cols, m)[None, :, :]
              < np.arange(m)[:, None, None]).sum(axis=2).reshape(-1)  # (m * S,)
    # lines increase in z: one below "not shown" at the top of the range never wins
    top_l = top[live]
    alive = slope * top_l[:, None] + icpt > lam0[live][:, None]
    width = max(int(alive.sum(axis=1).max(initial=0)), 1)
    pick = np.argsort(~alive, axis=1, kind="stable")[:, :width]  # surviving lines first
    got = np.take_along_axis(alive, pick, axis=1)
    slope = np.where(got, np.take_along_axis(slope, pick, axis=1), 0.0)
    icpt = np.where(got, np.take_along_axis(icpt, pick, axis=1), -np.inf)
    # the constant line "not shown" first
    slope = np.concatenate((np.zeros((t, 1)), slope), axis=1)
    icpt = np.concatenate((lam0[live][:, None], icpt), axis=1)
    line_pos = np.concatenate((np.full((t, 1), -1), line_pos[pick]), axis=1)
    line_rank = np.concatenate((np.full((t, 1), -1), before[pick]), axis=1)
    # Eisner-Severance over the table, all live tasks at once
    rows = np.arange(t)
    hi_idx = np.argmax(slope * top_l[:, None] + icpt, axis=1)
    k_task: list[NDArray[np.int64]] = []
    k_c: list[NDArray[np.float64]] = []
    k_line: list[NDArray[np.int64]] = []
    task, lo, hi = rows, np.zeros(t, dtype=np.int64), hi_idx
    while task.size:
        s_lo, s_hi = slope[task, lo], slope[task, hi]
        keep = s_hi > s_lo
        task, lo, hi, s_lo, s_hi = task[keep], lo[keep], hi[keep], s_lo[keep], s_hi[keep]
        if task.size == 0:
            break
        i_lo, i_hi = icpt[task, lo], icpt[task, hi]
        cc = np.clip((i_lo - i_hi) / (s_hi - s_lo), 0.0, top_l[task])
        vals = slope[task] * cc[:, None] + icpt[task]
        mid = np.argmax(vals, axis=1)
        mv = vals[np.arange(task.size), mid]
        ref = np.maximum(s_lo * cc + i_lo, s_hi * cc + i_hi)
        s_mid = slope[task, mid]
        split = ((mv > ref + ABOVE_RTOL * np.maximum(np.abs(mv), np.abs(ref)))
                 & (s_lo < s_mid) & (s_mid < s_hi))
        done = ~split
        k_task.append(task[done])
        k_c.append(cc[done])
        k_line.append(hi[done])
        task = np.concatenate((task[split], task[split]))
        lo, hi = (np.concatenate((lo[split], mid[split])),
                  np.concatenate((mid[split], hi[split])))
    kt = np.concatenate([live[x] for x in k_task]) if k_task else np.empty(0, np.int64)
    kc = np.concatenate(k_c) if k_c else np.empty(0)
    kl_live = np.concatenate(k_task) if k_task else np.empty(0, np.int64)
    kl = np.concatenate(k_line) if k_line else np.empty(0, np.int64)
    # assemble: every advertiser's first step (not shown) at 0, then its kinks
    tasks = np.concatenate((np.arange(n), kt))
    start = np.concatenate((np.zeros(n), kc))
    ctr = np.concatenate((np.zeros(n), slope[kl_live, kl]))
    pos = np.concatenate((np.full(n, -1), line_pos[kl_live, kl]))
    rnk = np.concatenate((np.full(n, -1), line_rank[kl_live, kl]))
    first = np.concatenate((np.zeros(n, dtype=bool), np.ones(kt.size, dtype=bool)))
    order = np.lexsort((first, start, tasks))
    s_task = tasks[order].astype(np.int64)
    s_pos, s_rank = pos[order].astype(np.int64), rnk[order].astype(np.int64)
    s_start, s_ctr = start[order], ctr[order]
    offsets = np.searchsorted(s_task, np.arange(n + 1)).astype(np.int64)
    tab = StepTable(s_task, s_start, s_ctr, s_pos, s_rank, offsets, np.zeros(n, dtype=np.int64))
    current = tab.locate(np.arange(n), b)
    tab = StepTable(s_task, s_start, s_ctr, s_pos, s_rank, offsets, current)
    return tab, assign, value



def _ref_best(w: NDArray[np.float64], b: NDArray[np.float64], k: int,
          assignment: NDArray[np.int64] | None) -> tuple[float, NDArray[np.int64]] | None:
    n, m = w.shape
    alone = (b[:, None] * w / (1.0 + w)).max(axis=1)
    lam_lb = max(float(alone.max()), 0.0)
    if assignment is not None:
        shown = np.flatnonzero(assignment >= 0)
        ww = w[shown, assignment[shown]]
        lam_lb = max(lam_lb, float(np.dot(b[shown], ww) / (1.0 + ww.sum())))
    # an ad is shown only if its bid exceeds the optimum: stay strictly below it
    lam_lb = float(np.nextafter(lam_lb, -np.inf)) if lam_lb > 0 else 0.0
    lists = _ref_lists(w, b, k - 1, lam_lb)
    c = lists.shape[1]
    if c > 10 or _ref_size(m, k, c) > 12_000:
        return None
    ads, cols, num, den = _ref_enumerate(lists, k, w, b)
    ratio = num / (1.0 + den)
    best = int(np.argmax(ratio))
    assign = np.full(n, -1, dtype=np.int64)
    used = ads[best] >= 0
    assign[ads[best][used]] = cols[best][used]
    return float(ratio[best]), assign




# -- the comparisons ---------------------------------------------------------------------
def _market(seed: int) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 22)), int(rng.integers(1, 7))
    k = int(rng.integers(1, m + 1))
    kind = seed % 4
    if kind == 0:
        ctr, b = rng.uniform(0.02, 0.6, (n, m)), rng.uniform(0, 1, n)
    elif kind == 1:  # ties everywhere
        ctr = rng.choice([0.1, 0.2, 0.3, 0.5], (n, m))
        b = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], n)
    elif kind == 2:  # separable
        ctr = np.outer(rng.uniform(0.2, 1, n), 0.5 * 0.7 ** np.arange(m))
        b = rng.uniform(0, 1, n)
    else:  # low rank, bids on a multiplier grid
        z = rng.standard_normal((n, 2)) @ rng.standard_normal((2, m)) / 1.4
        ctr = 1 / (1 + np.exp(1.5 - z))
        b = np.round(rng.integers(0, 21, n) * 0.05, 12) * rng.uniform(0, 1, n)
    b[rng.random(n) < 0.1] = 0.0
    top = b + rng.uniform(0, 1, n) * (seed % 3 > 0)
    odds = ctr / (1.0 - ctr)
    return odds, b, k, top, rng.uniform(0, 1, n)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("block", range(4))
def test_round_steps_and_optima_equal_the_first_version(block: int, engine: str) -> None:
    if engine == "numba" and not steps_mnl_numba.available():
        pytest.skip("needs numba (the fast extra)")
    from aigc_auction.steps_mnl import mnl_optima

    fields = ("task", "start", "ctr", "position", "rank", "offsets", "current")
    compared = 0
    for seed in range(block * 120, (block + 1) * 120):
        odds, b, k, top, v = _market(seed)
        want = _ref_round_steps(odds, b, k, top)
        got = mnl_round_steps(odds, b, k, top, engine=engine)
        assert (got is None) == (want is None), seed
        assign = np.full(b.size, -1)
        if want is not None:
            assert got is not None
            for f in fields:
                assert np.array_equal(getattr(got[0], f), getattr(want[0], f)), (seed, f)
            assert np.array_equal(got[1], want[1]) and got[2] == want[2], seed
            assign = want[1]
            compared += 1
        ref = _ref_best(odds, v, k, assign)
        want_v = None if ref is None else ref[0]
        assert mnl_optimum(odds, v, k, assignment=assign) == want_v, seed
        batch = mnl_optima(odds[None], v[None], k, assign[None])[0]
        assert (np.isnan(batch) if want_v is None else batch == want_v), seed
    assert compared > 80
