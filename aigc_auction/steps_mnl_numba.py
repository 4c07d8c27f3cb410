"""The MNL round table of :mod:`aigc_auction.steps_mnl`, compiled with Numba.

:func:`aigc_auction.steps_mnl.mnl_round_steps` spends a repeated-auction round in
about 350 small NumPy operations, each a few microseconds of dispatch whatever
its size; the work itself is a few thousand scalar operations. This module does
the same work in two compiled loops: the same kept lists, the same table rows
in the same order, the same sums in the same order, the same envelope search
(the segments of each level in the same order, the same relative tolerance),
so the step table it returns is **bit for bit** the one the NumPy engine
returns (tested on random and tie-heavy rounds). It needs the optional
dependency Numba (``pip install aigc_auction[fast]``); without it,
:func:`available` is False and the NumPy engine runs.

Only tables whose sums the NumPy engine adds left to right (``K < 8``) are
compiled; :func:`mnl_round_steps` returns ``NotImplemented`` for the others,
and ``None`` where the NumPy engine returns ``None`` (table too large).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["available", "mnl_round_steps", "require_numba"]


@cache
def available() -> bool:
    """Whether Numba is installed (the compiled engine can run).

    Only looks for the package: Numba itself is imported, and the kernels
    compiled (about 10 s once, then loaded from Numba's on-disk cache in a
    fraction of a second), at the first round that uses them.
    """
    return importlib.util.find_spec("numba") is not None


def require_numba() -> None:
    """Raise :class:`~aigc_auction._optional.MissingDependencyError` naming the
    ``fast`` extra unless Numba is installed."""
    from ._optional import require

    require("numba", extra="fast", purpose="engine='numba'")


def _lists_impl(w: Any, b: Any, k: int) -> Any:  # pragma: no cover
    """The bound ``lam_lb`` and the lists of ``steps_mnl.mnl_round_steps``: kept
    ads per position, ``-1`` padded, by decreasing ``(b - lam_lb) w``; a pair
    with more than ``k`` dominators is dropped."""
    n, m = w.shape
    # the second best single pair of an ad, one float lower
    first = 0.0
    second = 0.0
    for a in range(n):
        alone = -np.inf
        for j in range(m):
            alone = max(alone, b[a] * w[a, j] / (1.0 + w[a, j]))
        if alone > first:
            second = first
            first = alone
        elif alone > second:
            second = alone
    lam_lb = np.nextafter(second, -np.inf) if second > 0 else 0.0
    r = 0
    cand = np.empty(n, np.int64)
    for a in range(n):
        if b[a] > lam_lb:
            cand[r] = a
            r += 1
    if r == 0:
        return lam_lb, np.full((m, 1), -1, np.int64)
    keep = np.zeros((m, r), np.bool_)
    count = np.zeros(m, np.int64)
    for j in range(m):
        for x in range(r):
            kx = cand[x]
            if not w[kx, j] > 0:
                continue
            ex = (b[kx] - lam_lb) * w[kx, j]
            dom = 0
            for y in range(r):
                ky = cand[y]
                if y == x or not w[ky, j] > 0:
                    continue
                ey = (b[ky] - lam_lb) * w[ky, j]
                if b[ky] >= b[kx] and ey >= ex and (b[ky] > b[kx] or y < x or ey > ex):
                    dom += 1
            if dom <= k:
                keep[j, x] = True
                count[j] += 1
    c = max(count.max(), 1)
    out = np.full((m, c), -1, np.int64)
    key = np.empty(r)
    for j in range(m):
        # a stable sort of the kept ads by -e (insertion: lists are short)
        s = 0
        for x in range(r):
            if not keep[j, x]:
                continue
            kx = cand[x]
            v = -((b[kx] - lam_lb) * w[kx, j])
            p = s
            while p > 0 and key[p - 1] > v:
                key[p] = key[p - 1]
                out[j, p] = out[j, p - 1]
                p -= 1
            key[p] = v
            out[j, p] = kx
            s += 1
    return lam_lb, out


def _first_best_line_impl(slope: Any, icpt: Any, nl: int, z: float
                          ) -> tuple[int, float]:  # pragma: no cover
    """The first of lines ``0 .. nl - 1`` highest at ``z``, and its value."""
    best = 0
    value = slope[0] * z + icpt[0]
    for q in range(1, nl):
        v = slope[q] * z + icpt[q]
        if v > value:
            value = v
            best = q
    return best, value


_first_best_line: Any = _first_best_line_impl  # compiled by _kernels()


def _round_impl(w: Any, b: Any, k: int, top: Any, lists: Any, low_flat: Any,
                n_top: int, lam_lb: float, rtol: float) -> Any:  # pragma: no cover
    """The table, the optimum, the optimum without each shown ad and every
    advertiser's envelope, as ``steps_mnl.mnl_round_steps`` computes them."""
    n, m = w.shape
    c = lists.shape[1]
    mc = m * c
    width = low_flat.shape[0]
    size = mc + width
    ad = np.empty(size, np.int64)
    col = np.full(size, -1, np.int64)
    pw = np.zeros(size)
    px = np.zeros(size)
    for j in range(m):
        for q in range(c):
            e = j * c + q
            a = lists[j, q]
            ad[e] = a
            col[e] = j
            if a >= 0:
                pw[e] = w[a, j]
                px[e] = b[a] * pw[e]
    for u in range(width):
        ad[mc + u] = n + u
    # rows of fewer than K pairs: valid ones (entries present, ads distinct) in order
    n_low = low_flat.shape[1]
    rows = np.empty(n_low, np.int64)
    s_num = np.empty(n_low)
    s_den = np.empty(n_low)
    ratio = np.empty(n_low)
    size_of = np.empty(n_low, np.int64)  # pairs in the row
    last_of = np.empty(n_low, np.int64)  # its last column (-1: empty)
    nv = 0
    for r in range(n_low):
        ok = True
        for u in range(width):
            au = ad[low_flat[u, r]]
            if au < 0:
                ok = False
            for v in range(u):
                if ad[low_flat[v, r]] == au:
                    ok = False
        if not ok:
            continue
        e0 = low_flat[0, r]
        num = px[e0]
        den = pw[e0]
        for u in range(1, width):
            num += px[low_flat[u, r]]
            den += pw[low_flat[u, r]]
        rows[nv] = r
        size_of[nv] = 0
        last_of[nv] = -1
        for u in range(width):
            cu = col[low_flat[u, r]]
            if cu >= 0:
                size_of[nv] += 1
                last_of[nv] = max(last_of[nv], cu)
        s_num[nv] = num
        s_den[nv] = den
        ratio[nv] = num / (1.0 + den)
        nv += 1
    # rows of K pairs: a base (a row of K - 1 pairs; the empty row if K = 1) and
    # one entry right of its last column. Only rows that can reach lam_lb, below
    # every optimum met here, are built: S + q has a ratio above lam iff
    # (N - lam D) + (px_q - lam pw_q) > lam (with a slack far above round-off)
    slack = 1e-9 * b.max() * (1.0 + k * w.max())
    floor = lam_lb - slack
    e_right = np.full(m + 1, -np.inf)  # the largest px - lam_lb pw from column j on
    for j in range(m - 1, -1, -1):
        e_right[j] = e_right[j + 1]
        for q in range(j * c, j * c + c):
            if ad[q] >= 0:
                e_right[j] = max(e_right[j], px[q] - lam_lb * pw[q])
    t_base = np.empty(n_top, np.int64)
    t_ext = np.empty(n_top, np.int64)
    t_ratio = np.empty(n_top)
    nt = 0
    best_top = -1
    t_best = -np.inf
    for s in range(nv):
        r = rows[s]
        if size_of[s] != k - 1 or last_of[s] >= m - 1:
            continue
        h = s_num[s] - lam_lb * s_den[s]
        if h + e_right[last_of[s] + 1] < floor:
            continue
        for q in range((last_of[s] + 1) * c, mc):
            a = ad[q]
            if a < 0 or h + (px[q] - lam_lb * pw[q]) < floor:
                continue
            clash = False
            for u in range(k - 1):
                if ad[low_flat[u, r]] == a:
                    clash = True
            if clash:
                continue
            num = s_num[s] + px[q]
            den = s_den[s] + pw[q]
            den += 1.0
            val = num / den
            t_base[nt] = s
            t_ext[nt] = q
            t_ratio[nt] = val
            better = val > t_best
            if not better and val == t_best:  # the first in table order:
                diff = 0                      # columns, then ranks
                for part in range(2):
                    for u in range(k):
                        ea = low_flat[u, r] if u < k - 1 else q
                        eb = low_flat[u, rows[t_base[best_top]]] if u < k - 1 \
                            else t_ext[best_top]
                        ka = col[ea] if part == 0 else ea - col[ea] * c
                        kb = col[eb] if part == 0 else eb - col[eb] * c
                        if ka != kb:
                            diff = -1 if ka < kb else 1
                            break
                    if diff != 0:
                        break
                better = diff < 0
            if better:
                t_best = val
                best_top = nt
            nt += 1
    # the optimum: the first best row of fewer pairs, else the first best of K
    value = -np.inf
    best_low = -1
    for s in range(nv):
        if ratio[s] > value:
            value = ratio[s]
            best_low = s
    assign = np.full(n, -1, np.int64)
    if t_best > value:
        value = t_best
        for u in range(k - 1):
            e = low_flat[u, rows[t_base[best_top]]]
            assign[ad[e]] = col[e]
        assign[ad[t_ext[best_top]]] = col[t_ext[best_top]]
    else:
        for u in range(width):
            e = low_flat[u, rows[best_low]]
            if e < mc:
                assign[ad[e]] = col[e]
    # the optimum without each shown ad
    lam0 = np.full(n, value)
    for a in range(n):
        if assign[a] < 0:
            continue
        out = -np.inf
        for s in range(nv):
            if ratio[s] <= out:
                continue
            has = False
            for u in range(width):
                if ad[low_flat[u, rows[s]]] == a:
                    has = True
            if not has:
                out = ratio[s]
        for x in range(nt):
            if t_ratio[x] <= out:
                continue
            has = ad[t_ext[x]] == a
            for u in range(k - 1):
                if ad[low_flat[u, rows[t_base[x]]]] == a:
                    has = True
            if not has:
                out = t_ratio[x]
        lam0[a] = out
    # every advertiser's envelope over "i at j plus a row of fewer than K pairs"
    tol = 1e-9 * (b.max() + top.max()) * (1.0 + (k + 1) * w.max())
    cap = m * nv + 1
    slope = np.empty(cap)
    icpt = np.empty(cap)
    l_pos = np.empty(cap, np.int64)
    l_row = np.empty(cap, np.int64)
    kink_c = np.empty(16)
    kink_line_pos = np.empty(16, np.int64)
    kink_line_rank = np.empty(16, np.int64)
    kink_ctr = np.empty(16)
    per = np.zeros(n, np.int64)
    total = 0
    current_off = np.zeros(n, np.int64)
    # the gain N - lam D of each row at the optimum (lam of every ad not shown)
    gain_at = np.empty(nv)
    for s in range(nv):
        gain_at[s] = s_num[s] - value * s_den[s]
    gain = np.empty(nv)
    # a level has at most as many segments as a task has lines, a task as many
    # kinks: buffers grown to the most lines of a task (large buffers cost page
    # faults every call)
    room = 64
    seg = np.empty((6, 2 * room))
    nxt = np.empty((6, 2 * room))
    halves = np.empty((6, room))
    kc_task = np.empty(room)
    kl_task = np.empty(room, np.int64)
    for i in range(n):
        lam = lam0[i]
        tp = top[i]
        if not (assign[i] >= 0 or tp > lam):
            continue
        if assign[i] >= 0:
            for s in range(nv):
                gain[s] = s_num[s] - lam * s_den[s]
        else:
            gain[:] = gain_at
        g_max = gain.max()
        slope[0] = 0.0
        icpt[0] = lam
        nl = 1
        for j in range(m):
            wij = w[i, j]
            if wij <= 0:
                continue
            need = lam * (1.0 + wij) - tp * wij
            need -= tol
            if not g_max > need:  # no row gains enough here
                continue
            for s in range(nv):
                if not gain[s] > need:
                    continue
                r = rows[s]
                clash = False  # the row holds ad i, or a pair in column j
                for u in range(width):
                    e = low_flat[u, r]
                    if ad[e] == i or col[e] == j:
                        clash = True
                if clash:
                    continue
                denom = 1.0 + wij + s_den[s]
                sl = wij / denom
                ic = s_num[s] / denom
                if not sl * tp + ic > lam:
                    continue
                slope[nl] = sl
                icpt[nl] = ic
                l_pos[nl] = j
                l_row[nl] = s
                nl += 1
        hi = _first_best_line(slope, icpt, nl, tp)[0]
        if not slope[hi] > 0.0:
            continue
        if nl > room:
            room = max(2 * room, nl)
            seg = np.empty((6, 2 * room))
            nxt = np.empty((6, 2 * room))
            halves = np.empty((6, room))
            kc_task = np.empty(room)
            kl_task = np.empty(room, np.int64)
        # Eisner-Severance, level by level: a level's kinks in segment order, the
        # next level its lower halves, then its upper halves
        n_seg = 1
        seg[0, 0] = 0.0
        seg[1, 0] = hi
        seg[2, 0] = 0.0
        seg[3, 0] = slope[hi]
        seg[4, 0] = lam
        seg[5, 0] = icpt[hi]
        nk = 0
        while n_seg:
            n_half = 0
            for g in range(n_seg):
                lo_l, hi_l = int(seg[0, g]), int(seg[1, g])
                s_lo, s_hi, i_lo, i_hi = seg[2, g], seg[3, g], seg[4, g], seg[5, g]
                cc = (i_lo - i_hi) / (s_hi - s_lo)
                cc = min(max(cc, 0.0), tp)
                mid, mv = _first_best_line(slope, icpt, nl, cc)
                ref = max(s_lo * cc + i_lo, s_hi * cc + i_hi)
                s_mid = slope[mid]
                if (mv > ref + rtol * max(abs(mv), abs(ref))
                        and s_lo < s_mid and s_mid < s_hi):
                    halves[0, n_half] = lo_l
                    halves[1, n_half] = mid
                    halves[2, n_half] = s_lo
                    halves[3, n_half] = hi_l
                    halves[4, n_half] = i_lo
                    halves[5, n_half] = i_hi
                    n_half += 1
                else:
                    kc_task[nk] = cc
                    kl_task[nk] = hi_l
                    nk += 1
            for h in range(n_half):  # lower halves (lo, mid)
                mid = int(halves[1, h])
                nxt[0, h] = halves[0, h]
                nxt[1, h] = mid
                nxt[2, h] = halves[2, h]
                nxt[3, h] = slope[mid]
                nxt[4, h] = halves[4, h]
                nxt[5, h] = icpt[mid]
            for h in range(n_half):  # upper halves (mid, hi)
                mid = int(halves[1, h])
                hi_l = int(halves[3, h])
                nxt[0, n_half + h] = mid
                nxt[1, n_half + h] = hi_l
                nxt[2, n_half + h] = slope[mid]
                nxt[3, n_half + h] = slope[hi_l]
                nxt[4, n_half + h] = icpt[mid]
                nxt[5, n_half + h] = halves[5, h]
            seg, nxt = nxt, seg
            n_seg = 2 * n_half
        # this advertiser's kinks by bid, a stable sort (kinks at one bid in the
        # order found)
        for x in range(1, nk):
            vc, vl = kc_task[x], kl_task[x]
            p = x
            while p > 0 and kc_task[p - 1] > vc:
                kc_task[p] = kc_task[p - 1]
                kl_task[p] = kl_task[p - 1]
                p -= 1
            kc_task[p] = vc
            kl_task[p] = vl
        if total + nk > kink_c.size:
            grow = max(2 * kink_c.size, total + nk)
            kink_c = np.concatenate((kink_c[:total], np.empty(grow - total)))
            kink_ctr = np.concatenate((kink_ctr[:total], np.empty(grow - total)))
            kink_line_pos = np.concatenate((kink_line_pos[:total],
                                            np.empty(grow - total, np.int64)))
            kink_line_rank = np.concatenate((kink_line_rank[:total],
                                             np.empty(grow - total, np.int64)))
        below = 0
        for x in range(nk):
            q = kl_task[x]
            j = l_pos[q]
            r = rows[l_row[q]]
            rank = 0
            for u in range(width):
                cu = col[low_flat[u, r]]
                if cu >= 0 and cu < j:
                    rank += 1
            kink_c[total + x] = kc_task[x]
            kink_ctr[total + x] = slope[q]
            kink_line_pos[total + x] = j
            kink_line_rank[total + x] = rank
            if kc_task[x] <= b[i] and b[i] > 0:
                below += 1
        per[i] = nk
        current_off[i] = below
        total += nk
    # the step table: each advertiser's first step (not shown) then its kinks
    steps = n + total
    offsets = np.zeros(n + 1, np.int64)
    for i in range(n):
        offsets[i + 1] = offsets[i] + per[i] + 1
    s_task = np.empty(steps, np.int64)
    s_start = np.zeros(steps)
    s_ctr = np.zeros(steps)
    s_pos = np.full(steps, -1, np.int64)
    s_rank = np.full(steps, -1, np.int64)
    current = np.empty(n, np.int64)
    x = 0
    for i in range(n):
        o = offsets[i]
        s_task[o] = i
        for y in range(per[i]):
            s_task[o + 1 + y] = i
            s_start[o + 1 + y] = kink_c[x]
            s_ctr[o + 1 + y] = kink_ctr[x]
            s_pos[o + 1 + y] = kink_line_pos[x]
            s_rank[o + 1 + y] = kink_line_rank[x]
            x += 1
        current[i] = o + current_off[i]
    return assign, value, s_task, s_start, s_ctr, s_pos, s_rank, offsets, current


@cache
def _kernels() -> tuple[Any, Any]:
    """The two loops compiled (imports Numba: a broken install raises here).

    Compiled code is cached on disk (next to this file, else in the user's cache
    folder); where no folder is writable Numba refuses to cache, and the kernels
    are compiled in memory, once per process.
    """
    from numba import njit

    global _first_best_line
    try:
        jit = njit(cache=True, nogil=True, error_model="numpy")
        _first_best_line = jit(_first_best_line_impl)  # called by _round_impl
        return jit(_lists_impl), jit(_round_impl)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        jit = njit(cache=False, nogil=True, error_model="numpy")
        _first_best_line = jit(_first_best_line_impl)
        return jit(_lists_impl), jit(_round_impl)


def mnl_round_steps(
    odds: NDArray[np.float64], bids: NDArray[np.float64], slots: int,
    upper: NDArray[np.float64],
) -> Any:
    """:func:`aigc_auction.steps_mnl.mnl_round_steps`, compiled; the same result.

    Returns ``NotImplemented`` where this engine does not apply (``K >= 8``, or
    Numba not installed): the caller then runs the NumPy engine.
    """
    from .steps import ABOVE_RTOL, StepTable
    from .steps_mnl import _SEQUENTIAL, MAX_LIST, MAX_TABLE, _plan

    k = int(slots)
    if k >= _SEQUENTIAL or not available():
        return NotImplemented
    lists_nb, round_nb = _kernels()
    w = np.ascontiguousarray(odds, dtype=np.float64)
    b = np.ascontiguousarray(bids, dtype=np.float64)
    m = w.shape[1]
    top = np.maximum(np.asarray(upper, dtype=np.float64), b)
    lam_lb, lists = lists_nb(w, b, k)
    c = lists.shape[1]
    sizes = _sizes(m, k, c)
    if c > MAX_LIST or sizes[1] > MAX_TABLE:
        return None
    assign, value, *arrays = round_nb(w, b, k, top, lists, _plan(m, k, c).flat,
                                       sizes[1] - sizes[0], lam_lb, ABOVE_RTOL)
    return StepTable(*arrays), assign, float(value)


@cache
def _sizes(m: int, k: int, c: int) -> tuple[int, int]:
    """Rows of at most ``K - 1`` and of at most ``K`` pairs in the table."""
    from .steps_mnl import _size

    return _size(m, k - 1, c), _size(m, k, c)
