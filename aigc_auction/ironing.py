"""Ironed virtual values as explicitly monotone piecewise-linear functions.

Myerson's ironed virtual value ``phibar`` is the derivative, on the quantile scale
``q = 1 - F(v)``, of the least concave majorant of the revenue curve
``R(q) = q F^{-1}(1 - q)`` (Myerson 1981). This module computes it once per prior
and stores it as a table, :class:`MonotoneTable`: knots ``x`` in value space with a
left limit and a value at each knot, linear in between, slope 1 beyond the last
knot, ``-inf`` below the first. The table is non-decreasing *by construction* (the
values are checked and repaired when it is built, and evaluation clips every
segment between its end values), and both the allocation (:meth:`MonotoneTable.__call__`)
and the payments (the generalised inverse :meth:`MonotoneTable.inverse`) read the
same table, so the rule they describe is the same monotone function to the last
bit, whatever the prior.

Two builders:

* :func:`iron_piecewise_uniform` -- exact, for histogram (piecewise-uniform)
  priors such as ``scipy.stats.rv_histogram`` and ``scipy.stats.uniform``. On a
  bin of density ``d`` the virtual value is ``2 v - const`` (linear in ``v``) and
  linear in ``q`` with slope ``-2 / d``; a bin of zero mass inside the support (a
  gap) is a point mass of *negative* revenue ``-q (e_hi - e_lo)`` at its quantile.
  The ironed virtual value is then the antitonic (non-increasing) regression of
  that piecewise-linear function with Lebesgue weight, computed exactly by the
  pool-adjacent-violators algorithm with partially pooled end pieces (each
  pooled level is the root of a monotone piecewise-quadratic equation, found to
  round-off). The result is piecewise linear in ``v`` and the table holds it
  exactly.
* :func:`iron_sampled` -- any other prior: the revenue curve is sampled on a
  quantile grid with logarithmically spaced tails (down to ``1e-15`` of mass at
  either end), refined adaptively wherever its concavity is in doubt (the chord
  of a cell must lie between the virtual values at its ends: a narrow low-density
  band, a gap or a rare high mode between two samples breaks that), then ironed
  by the concave hull of the samples. Between samples ``phibar`` is interpolated
  linearly (by a step across cells with no mass). Ironing is then exact up to the
  sampling, i.e. slightly suboptimal in revenue at worst; truthfulness never
  depends on it, because the table is monotone whatever the samples are.

Gaps in the support: values inside a gap keep the level of the values just below
it, so ``phibar`` jumps at the gap's upper end; that is the revenue-maximising
choice among the (equally truthful) ones, since thresholds falling in the gap are
charged at its upper end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

__all__ = ["MonotoneTable", "iron_piecewise_uniform", "iron_sampled"]

_EPS = float(np.finfo(float).eps)
#: Relative size under which a difference between ``phibar`` and ``phi`` (or a
#: dip of the revenue curve below its hull) counts as round-off, not ironing.
IRON_RTOL = 1e-9


def _ordered(z: NDArray[np.float64]) -> NDArray[np.int64]:
    """Integers in the order of the floats ``z`` (adjacent floats differ by 1)."""
    bits = np.asarray(z, dtype=np.float64).view(np.int64)
    return np.where(bits >= 0, bits, np.int64(-(2**63)) - bits)


def _from_ordered(k: NDArray[np.int64]) -> NDArray[np.float64]:
    bits = np.where(k >= 0, k, np.int64(-(2**63)) - k)
    return np.asarray(bits, dtype=np.int64).view(np.float64)


@dataclass(frozen=True, eq=False)
class MonotoneTable:
    """A non-decreasing piecewise-linear function of the value, with jumps.

    Parameters
    ----------
    x : ndarray of shape (N,)
        Strictly increasing knots (``x[0]`` the lowest value of the support).
    left : ndarray of shape (N,)
        Left limit of the function at each knot (``left[0]`` is ignored).
    right : ndarray of shape (N,)
        Value at each knot (right-continuous).
    raw : ndarray of shape (N,), optional
        The un-ironed virtual value at each knot (for reporting ironed flats).

    Notes
    -----
    On ``[x[k], x[k+1])`` the value is ``right[k] + (v - x[k]) * slope[k]`` clipped
    to ``[right[k], left[k+1]]``; beyond ``x[-1]`` it is ``right[-1] + (v - x[-1])``;
    below ``x[0]`` it is ``-inf``. Construction repairs the values into
    ``left[k] <= right[k] <= left[k+1]`` (a running maximum; a no-op up to
    round-off for the builders of this module), and every floating-point
    operation of the evaluation is monotone, so the evaluated function is
    non-decreasing on every float, not only at the knots.

    Examples
    --------
    Linear from 0 to 1 on ``[0, 1]``, flat until 2, a jump to 3 there:

    >>> tab = MonotoneTable([0.0, 1.0, 2.0], [0.0, 1.0, 1.0], [0.0, 1.0, 3.0])
    >>> tab([0.5, 1.5, 2.0, 3.0]).tolist()
    [0.5, 1.0, 3.0, 4.0]
    >>> tab.inverse([1.0, 2.0]).tolist(), float(tab.inverse(1.0, strict=True)[()])
    ([1.0, 2.0], 2.0)
    """

    x: NDArray[np.float64]
    left: NDArray[np.float64]
    right: NDArray[np.float64]
    raw: NDArray[np.float64] | None = None
    _slope: NDArray[np.float64] = field(init=False, repr=False)
    _next_left: NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        x = np.array(self.x, dtype=np.float64)
        left = np.array(self.left, dtype=np.float64)
        right = np.array(self.right, dtype=np.float64)
        if x.ndim != 1 or x.size == 0 or left.shape != x.shape or right.shape != x.shape:
            raise ValueError("`x`, `left` and `right` must be 1-D arrays of one length >= 1")
        if not (np.all(np.isfinite(x)) and np.all(np.diff(x) > 0)):
            raise ValueError("`x` must be finite and strictly increasing")
        left[0] = right[0]
        if not (np.all(np.isfinite(left)) and np.all(np.isfinite(right))):
            raise ValueError("`left` and `right` must be finite")
        both = np.maximum.accumulate(np.column_stack((left, right)).ravel())
        left, right = both[0::2].copy(), both[1::2].copy()
        dx = np.diff(x)
        dy = left[1:] - right[:-1]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            slope = dy / dx
        steep = ~np.isfinite(slope)
        if np.any(steep):  # a rise over a sub-normal width: make it a jump
            left[1:][steep] = right[:-1][steep]
            slope[steep] = 0.0
        nxt = np.append(left[1:], np.inf)
        for name, arr in (("x", x), ("left", left), ("right", right), ("_next_left", nxt),
                          ("_slope", np.append(slope, 1.0))):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.raw is not None:
            raw = np.array(self.raw, dtype=np.float64)
            raw.setflags(write=False)
            object.__setattr__(self, "raw", raw)

    # -- evaluation ------------------------------------------------------------
    def __call__(self, v: ArrayLike) -> NDArray[np.float64]:
        """The function at ``v`` (any shape); ``-inf`` below ``x[0]``, NaN at NaN."""
        v = np.asarray(v, dtype=np.float64)
        k = np.searchsorted(self.x, v, side="right") - 1
        kk = np.maximum(k, 0)
        base = self.right[kk]
        with np.errstate(invalid="ignore"):
            out = base + (v - self.x[kk]) * self._slope[kk]
            out = np.minimum(np.maximum(out, base), self._next_left[kk])
        out = np.where(k < 0, -np.inf, out)
        return np.where(np.isnan(v), np.nan, out)

    def _hits(self, z: NDArray[np.float64], c: NDArray[np.float64], strict: bool
              ) -> NDArray[np.bool_]:
        val = self(z)
        return val > c if strict else val >= c

    def inverse(self, levels: ArrayLike, *, strict: bool = False) -> NDArray[np.float64]:
        """Generalised inverse: the smallest float ``z >= 0`` with ``f(z) >= level``.

        With ``strict``, the smallest with ``f(z) > level``. Exact on floats (the
        answer hits, the float just below it misses), ``inf`` for ``level = inf``.
        """
        c = np.asarray(levels, dtype=np.float64)
        if np.any(np.isnan(c)):
            raise ValueError("`levels` must not contain NaN")
        shape = c.shape
        c = c.ravel()
        out = np.full(c.size, np.inf)
        zero = self._hits(np.zeros(c.size), c, strict)
        out[zero] = 0.0
        todo = np.flatnonzero(~zero & (c < np.inf))
        if todo.size == 0:
            return out.reshape(shape)
        cc = c[todo]
        n = self.x.size
        j = np.searchsorted(self.right, cc, side="right" if strict else "left")
        # bracket (lo misses, hi hits) and an estimate inside it
        lo = np.empty(todo.size)
        hi = np.empty(todo.size)
        est = np.empty(todo.size)
        first = j == 0
        lo[first], hi[first], est[first] = 0.0, self.x[0], self.x[0]
        mid = (j > 0) & (j < n)
        jm = j[mid]
        lo[mid], hi[mid] = np.maximum(self.x[jm - 1], 0.0), self.x[jm]
        with np.errstate(divide="ignore", invalid="ignore"):
            e = self.x[jm - 1] + (cc[mid] - self.right[jm - 1]) / self._slope[jm - 1]
        est[mid] = np.where(np.isfinite(e), e, hi[mid])
        last = j >= n
        e_last = self.x[-1] + (cc[last] - self.right[-1])
        lo[last] = np.maximum(self.x[-1], 0.0)
        hi[last] = np.maximum(np.abs(e_last) * (1 + 1e-12) + 1e-300, lo[last])
        est[last] = e_last
        bad = ~self._hits(hi, cc, strict)  # far continuation: widen until it hits
        while np.any(bad):
            hi[bad] = hi[bad] * 2.0 + 1.0
            bad = ~self._hits(hi, cc, strict) & np.isfinite(hi)
        # the estimate is usually the answer: it hits and the float below misses
        ko_lo, ko_hi = _ordered(lo), _ordered(hi)
        ke = np.clip(_ordered(np.clip(est, lo, hi)), ko_lo + 1, ko_hi)
        h_e = self._hits(_from_ordered(ke), cc, strict)
        h_p = self._hits(_from_ordered(ke - 1), cc, strict)
        ko_hi = np.where(h_p, ke - 1, np.where(h_e, ke, ko_hi))
        ko_lo = np.where(h_p, ko_lo, np.where(h_e, ke - 1, ke))
        # else narrow to a few ulps around it, then bisect on the floats
        act = np.flatnonzero(ko_hi - ko_lo > 1)
        for off in (-8, 8):
            if act.size == 0:
                break
            k = np.clip(ke[act] + off, ko_lo[act], ko_hi[act])
            h = self._hits(_from_ordered(k), cc[act], strict)
            ko_hi[act] = np.where(h & (k < ko_hi[act]), k, ko_hi[act])
            ko_lo[act] = np.where(~h & (k > ko_lo[act]), k, ko_lo[act])
        act = np.flatnonzero(ko_hi - ko_lo > 1)
        while act.size:
            km = ko_lo[act] + (ko_hi[act] - ko_lo[act]) // 2
            h = self._hits(_from_ordered(km), cc[act], strict)
            ko_hi[act[h]] = km[h]
            ko_lo[act[~h]] = km[~h]
            act = act[ko_hi[act] - ko_lo[act] > 1]
        out[todo] = _from_ordered(ko_hi)
        return out.reshape(shape)

    # -- flats (ironed intervals, gap holds) -------------------------------------
    def widen_flats(self, band: ArrayLike) -> MonotoneTable:
        """The table with every value within ``band`` of a flat's level set to that level.

        ``band`` has one entry per flat (as returned by :meth:`flats`). The result
        is ``snap(f)`` with ``snap`` mapping ``[L - band, L + band]`` to ``L`` for
        each flat level ``L``: still non-decreasing, it jumps by about ``band``
        where a widened flat starts and ends, so that no value of the function
        lies within ``band`` of a flat's level without being on the flat.
        Overlapping bands leave the later flat as it is.
        """
        levels, _, _ = self.flats()
        band = np.broadcast_to(np.asarray(band, dtype=np.float64), levels.shape)
        x, left, right = self.x.copy(), self.left.copy(), self.right.copy()
        raw = self.raw.copy() if self.raw is not None else np.full(x.size, np.nan)
        table = self
        last_end = -np.inf
        for lev, t in zip(levels.tolist(), band.tolist(), strict=True):
            a = float(table.inverse(lev - t)[()])
            b = float(table.inverse(lev + t, strict=True)[()])
            if not (a > last_end and np.isfinite(b) and b > a):
                continue
            fa, fb = float(table(np.nextafter(a, -np.inf))), float(table(b))
            keep = (x < a) | (x > b)
            ra = float(np.interp(a, x, raw)) if a >= x[0] else np.nan
            rb = float(np.interp(b, x, raw))
            xs = np.concatenate((x[keep], [a, b]))
            ls = np.concatenate((left[keep], [fa if a > x[0] else lev, lev]))
            rs = np.concatenate((right[keep], [lev, fb]))
            raws = np.concatenate((raw[keep], [ra, rb]))
            order = np.argsort(xs, kind="stable")
            x, left, right, raw = xs[order], ls[order], rs[order], raws[order]
            # the segment after b keeps its line: left limit at the next knot as before
            table = MonotoneTable(x, left, right, raw)
            x, left, right = table.x.copy(), table.left.copy(), table.right.copy()
            last_end = b
        return table

    def flats(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Every maximal interval of positive length on which the function is constant.

        Returns
        -------
        level, z_lo, z_hi : ndarray of shape (F,)
            Sorted by level; ``f(v) == level`` exactly for ``z_lo <= v < z_hi``
            (``z_lo = inverse(level)``, ``z_hi = inverse(level, strict=True)``).
        """
        flat_seg = self._slope[:-1] == 0.0
        flat_seg &= self.right[:-1] == self.left[1:]
        levels = np.unique(self.right[:-1][flat_seg])
        if levels.size == 0:
            e = np.empty(0)
            return e, e.copy(), e.copy()
        z_lo = self.inverse(levels)
        z_hi = self.inverse(levels, strict=True)
        keep = z_hi > z_lo
        return levels[keep], z_lo[keep], z_hi[keep]


# ---------------------------------------------------------------------------------
# exact ironing of piecewise-uniform priors
# ---------------------------------------------------------------------------------


@dataclass
class _Block:
    """A run of the quantile axis: linear ``phi = a + b q`` (b < 0) or pooled (b = 0).

    ``gaps`` lists the zero-mass value intervals (their point masses of negative
    revenue) that the block contains, with their quantile.
    """

    a: float
    b: float
    u: float
    w: float
    integral: float
    bin: int = -1
    gaps: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def linear(self) -> bool:
        return self.b < 0.0

    def start(self) -> float:
        return self.a + self.b * self.u if self.linear else self.a

    def end(self) -> float:
        return self.a + self.b * self.w if self.linear else self.a

    def part(self, lo: float, hi: float) -> float:
        """Integral of ``phi`` over ``[lo, hi]`` (linear blocks)."""
        return self.a * (hi - lo) + 0.5 * self.b * (hi - lo) * (hi + lo)

    def cut(self, level: float) -> float:
        """The quantile where a linear block's ``phi`` equals ``level`` (clipped)."""
        return min(max((level - self.a) / self.b, self.u), self.w)


def _pool_level(x: _Block | None, mid_int: float, mid_len: float, y: _Block,
                scale: float) -> float:
    """Level ``L`` with ``int (phi - L) = 0`` over tail(x) + middle + head(y)."""

    def phi(level: float) -> float:
        total = mid_int - level * mid_len
        if x is not None:
            u = x.cut(level)
            total += x.part(u, x.w) - level * (x.w - u)
        w = y.cut(level)
        total += y.part(y.u, w) - level * (w - y.u)
        return total

    vals = [y.start(), y.end()]
    if x is not None:
        vals += [x.start(), x.end()]
    if mid_len > 0:
        vals.append(mid_int / mid_len)
    hi = max(vals)
    lo = min(vals)
    span = max(hi - lo, scale, 1.0)
    while phi(lo) < 0:
        lo -= span
        span *= 2.0
    if phi(hi) > 0:  # pragma: no cover - phi(max value) <= 0 always
        raise RuntimeError("ironing: pooled level not bracketed")
    return float(brentq(phi, lo, hi, xtol=4 * _EPS * scale, rtol=4 * _EPS, maxiter=500))


def _pav(pieces: list[_Block], scale: float) -> list[_Block]:
    """Pool adjacent violators on linear pieces and gap point masses (in q order).

    A new linear piece whose start exceeds the end of the block before it starts a
    pool: the pool takes the head of the new piece where ``phi`` is above the
    pooled level, every block before it whose end is below the level (whole), and
    the tail of the first linear block that is not wholly below it.
    """
    stack: list[_Block] = []
    for piece in pieces:
        if not piece.linear or not stack or stack[-1].end() >= piece.start():
            stack.append(piece)  # point masses (level -inf) never violate on entry
            continue
        y = piece
        mid_int, mid_len = 0.0, 0.0
        mid_gaps: list[tuple[float, float, float]] = []
        start = y.u
        x: _Block | None = stack.pop()  # the violator: at least partly pooled
        while True:
            if x is not None and not x.linear:  # pooled block or point mass: whole
                mid_int += x.integral
                mid_len += x.w - x.u
                mid_gaps = x.gaps + mid_gaps
                start = x.u
                x = None
            level = _pool_level(x, mid_int, mid_len, y, scale)
            if x is not None:
                if x.cut(level) > x.u:
                    break  # x's tail only: the pool stops inside x
                mid_int += x.part(x.u, x.w)
                mid_len += x.w - x.u
                start = x.u
                x = None
            if stack and stack[-1].end() < level:
                x = stack.pop()
                continue
            break
        if x is not None:
            start = x.cut(level)
            stack.append(_Block(x.a, x.b, x.u, start, x.part(x.u, start), x.bin))
        w = y.cut(level)
        stack.append(_Block(level, 0.0, start, w, level * (w - start), gaps=mid_gaps))
        if w < y.w:
            stack.append(_Block(y.a, y.b, w, y.w, y.part(w, y.w), y.bin))
    return stack


def iron_piecewise_uniform(edges: ArrayLike, masses: ArrayLike) -> tuple[MonotoneTable, bool]:
    """Exact ironed virtual value of a histogram prior.

    Parameters
    ----------
    edges : array_like of shape (B + 1,)
        Strictly increasing bin edges.
    masses : array_like of shape (B,)
        Probability of each bin (non-negative; normalised here). Zero-mass bins
        inside the support are gaps.

    Returns
    -------
    table : MonotoneTable
        ``phibar`` exactly (piecewise linear in the value, to round-off).
    regular : bool
        Whether no ironing was needed (``phibar == phi``).

    Examples
    --------
    Mass 0.6 on [0, 1], a gap on (1, 2), mass 0.4 on [2, 3]: no value below the gap
    is worth serving, so the reserve is the gap's upper end, 2.

    >>> table, regular = iron_piecewise_uniform([0, 1, 2, 3], [0.6, 0.0, 0.4])
    >>> regular, float(table.inverse(0.0)[()]), float(table(2.5))
    (False, 2.0, 2.0)
    """
    e = np.asarray(edges, dtype=np.float64)
    m = np.asarray(masses, dtype=np.float64)
    if e.ndim != 1 or m.shape != (e.size - 1,) or m.size == 0:
        raise ValueError("`edges` must have one more entry than `masses`")
    if not (np.all(np.isfinite(e)) and np.all(np.diff(e) > 0)):
        raise ValueError("`edges` must be finite and strictly increasing")
    if not (np.all(np.isfinite(m)) and np.all(m >= 0) and m.sum() > 0):
        raise ValueError("`masses` must be finite, non-negative and not all 0")
    m = m / m.sum()
    pos = np.flatnonzero(m > 0)
    e = e[pos[0]: pos[-1] + 2]
    m = m[pos[0]: pos[-1] + 1]
    nb = m.size
    above = np.concatenate((np.cumsum(m[::-1])[::-1][1:], [0.0]))  # mass above bin k
    q_lo = above  # quantile at the bin's top edge
    q_hi = np.minimum(above + m, 1.0)  # ... at its bottom edge
    q_hi[0] = 1.0
    dens = m / np.diff(e)
    scale = float(max(abs(e[0]), abs(e[-1]), 1e-300))
    pieces: list[_Block] = []
    k = nb - 1
    while k >= 0:
        if m[k] > 0:
            # phi(q) = e_k + (S_k - 2 q) / d_k with S_k = q_hi (mass above e_k)
            a = e[k] + q_hi[k] / dens[k]
            b = -2.0 / dens[k]
            pieces.append(_Block(a, b, q_lo[k], q_hi[k], 0.0, k))
            pieces[-1].integral = pieces[-1].part(q_lo[k], q_hi[k])
            k -= 1
            continue
        top = e[k + 1]
        while m[k] == 0:
            k -= 1
        q = q_lo[k]  # the gap (e[k+1], top) sits at this quantile
        pieces.append(_Block(-np.inf, 0.0, q, q, -q * (top - e[k + 1]),
                             gaps=[(q, float(e[k + 1]), float(top))]))
    blocks = _pav(pieces, scale)

    def value_at(q: float, bin_: int) -> float:
        if q == q_lo[bin_]:
            return float(e[bin_ + 1])
        if q == q_hi[bin_]:
            return float(e[bin_])
        return float(e[bin_] + (q_hi[bin_] - q) / dens[bin_])

    def locate(q: float, side: str) -> int:
        # the positive bin containing quantile q, from above ("up") or below ("down")
        bins = np.flatnonzero((q_lo <= q) & (q <= q_hi) & (m > 0))
        return int(bins[0] if side == "down" else bins[-1])

    segs: list[tuple[float, float, float, float, float, float]] = []
    for blk in blocks:
        if blk.u == blk.w and not blk.gaps:
            continue
        if blk.linear:
            k = blk.bin
            v_hi, v_lo = value_at(blk.u, k), value_at(blk.w, k)
            off = e[k] + q_hi[k] / dens[k]
            y_lo, y_hi = 2.0 * v_lo - off, 2.0 * v_hi - off
            segs.append((v_lo, v_hi, y_lo, y_hi, y_lo, y_hi))
            continue
        gap_q = {g[0]: g for g in blk.gaps}
        # the block holds the quantiles (u, w): its values run from v(w-) up to
        # v(u+), plus the gaps (zero-mass value ranges) it contains
        v_hi = gap_q[blk.u][2] if blk.u in gap_q else value_at(blk.u, locate(blk.u, "down"))
        v_lo = gap_q[blk.w][1] if blk.w in gap_q else value_at(blk.w, locate(blk.w, "up"))
        if blk.u == 0.0:
            v_hi = float(e[-1])
        if blk.w >= 1.0:
            v_lo = float(e[0])
        r_lo = _raw_hist(v_lo, e, m, dens, q_hi)
        r_hi = _raw_hist(v_hi, e, m, dens, q_hi)
        segs.append((v_lo, v_hi, blk.a, blk.a, r_lo, r_hi))
    segs = sorted((sg for sg in segs if sg[1] > sg[0]), key=lambda sg: (sg[0], sg[1]))
    # knots: every segment's lower end, and the top; adjacent segments tile the
    # support (each one starts where the previous one ends)
    x_arr = np.array([sg[0] for sg in segs] + [segs[-1][1]])
    right = np.array([sg[2] for sg in segs] + [segs[-1][3]])
    left = np.array([segs[0][2]] + [sg[3] for sg in segs])
    raw = np.array([sg[4] for sg in segs] + [_raw_hist(segs[-1][1], e, m, dens, q_hi)])
    keep = np.append(np.diff(x_arr) > 0, True)
    table = MonotoneTable(x_arr[keep], left[keep], right[keep], raw[keep])
    regular = all(blk.linear for blk in blocks)
    return table, regular


def _raw_hist(v: float, e: NDArray[np.float64], m: NDArray[np.float64],
              dens: NDArray[np.float64], q_hi: NDArray[np.float64]) -> float:
    """Un-ironed ``phi(v)`` of the histogram (right-continuous; ``-inf`` in gaps)."""
    k = int(np.searchsorted(e, v, side="right")) - 1
    if k >= m.size:
        return float(v)
    if m[k] == 0:
        return -np.inf
    sf = q_hi[k] - dens[k] * (v - e[k])
    return float(v - sf / dens[k])


# ---------------------------------------------------------------------------------
# sampled ironing of any other prior
# ---------------------------------------------------------------------------------

#: Smallest quantile cell that refinement splits.
Q_FLOOR = 1e-12
#: Tail quantiles sampled besides the uniform grid: 10**-t for t in this range.
TAIL_EXPONENTS = np.arange(2.0, 15.01, 0.25)
#: Interpolation accuracy sought (relative) where the virtual value is positive.
ACCURACY_RTOL = 1e-9
#: A cell is a gap (held constant, not interpolated) if it carries less than 1e-6
#: of the mass its end densities promise, and they promise more than this.
GAP_MIN_MASS = 1e-9

_Samples = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                 NDArray[np.float64]]


def _sample_v(prior: Any, v: NDArray[np.float64]) -> _Samples:
    """``(q, v, pdf, phi)`` at the values ``v`` (``q = sf(v)``)."""
    v = v[np.isfinite(v)]
    with np.errstate(all="ignore"):
        q = np.asarray(prior.sf(v), dtype=np.float64)
        f = np.asarray(prior.pdf(v), dtype=np.float64)
        phi = np.where(q <= 0, v, np.where(f > 0, v - q / f, -np.inf))
    good = np.isfinite(q) & np.isfinite(f)
    return q[good], v[good], f[good], np.asarray(phi, dtype=np.float64)[good]


def _sample_q(prior: Any, q: NDArray[np.float64]) -> _Samples:
    """Samples at the quantiles ``q`` (their values by ``isf``, else ``ppf(1 - q)``)."""
    isf = getattr(prior, "isf", None)
    with np.errstate(all="ignore"):
        v = np.asarray(isf(q) if callable(isf) else prior.ppf(1.0 - q), dtype=np.float64)
    return _sample_v(prior, v)


def _merge(parts: list[_Samples]) -> _Samples:
    q, v, f, phi = (np.concatenate([p[i] for p in parts]) for i in range(4))
    order = np.argsort(-v, kind="stable")  # value decreasing = quantile increasing
    q, v, f, phi = q[order], v[order], f[order], phi[order]
    keep = np.append(True, np.diff(v) < 0)
    q, v, f, phi = q[keep], v[keep], f[keep], phi[keep]
    q = np.minimum.accumulate(q[::-1])[::-1]  # sf non-increasing in v, up to round-off
    q = np.clip(q, 0.0, 1.0)
    return q, v, f, phi


def _doubt(q: NDArray[np.float64], v: NDArray[np.float64], phi: NDArray[np.float64]
           ) -> NDArray[np.bool_]:
    """Cells whose chord is inconsistent with a concave revenue curve.

    For a concave ``R`` the chord slope of a cell lies between the virtual values
    at its ends (``phi(q_k) >= chord >= phi(q_{k+1})``); a gap, a narrow
    low-density band or a high mode inside the cell breaks that.
    """
    r = q * v
    dq = np.diff(q)
    with np.errstate(all="ignore"):
        chord = np.diff(r) / dq
        # r known to ~eps relative, q to ~eps absolute (sf near 1)
        noise = 16 * _EPS * (np.abs(r[:-1]) + np.abs(r[1:]) + np.abs(np.diff(r))) / dq
        tol = IRON_RTOL * (np.abs(phi[:-1]) + np.abs(phi[1:]) + np.abs(chord)) + noise
        bad = (chord > phi[:-1] + tol) | (chord < phi[1:] - tol) | (phi[1:] > phi[:-1] + tol)
    bad |= ~np.isfinite(phi[:-1]) | ~np.isfinite(phi[1:])
    return bad & (dq > Q_FLOOR)


def _upper_hull(q: NDArray[np.float64], r: NDArray[np.float64], tol: float) -> NDArray[np.int64]:
    """Indices of the upper concave hull of the points ``(q, r)`` (``q`` non-decreasing).

    Andrew's monotone chain; a point within ``tol`` of a chord counts as under it,
    and of points with one quantile (inside a gap) only the highest is kept.
    """
    ql, rl = q.tolist(), r.tolist()
    hull: list[int] = []
    for k in range(len(ql)):
        qk, rk = ql[k], rl[k]
        if hull and qk <= ql[hull[-1]]:
            if rk <= rl[hull[-1]]:
                continue
            hull.pop()
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if rl[b] <= rl[a] + (rk - rl[a]) * (ql[b] - ql[a]) / (qk - ql[a]) + tol:
                hull.pop()
            else:
                break
        hull.append(k)
    return np.array(hull, dtype=np.int64)


def _pav_discrete(y: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Weighted antitonic (non-increasing) regression of ``y``."""
    vals: list[float] = []
    wts: list[float] = []
    cnt: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist(), strict=True):
        vals.append(yi)
        wts.append(wi)
        cnt.append(1)
        while len(vals) >= 2 and vals[-2] < vals[-1]:
            tw = wts[-2] + wts[-1]
            vals[-2] = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / tw
            wts[-2] = tw
            cnt[-2] += cnt[-1]
            vals.pop()
            wts.pop()
            cnt.pop()
    return np.repeat(np.array(vals), cnt)


def iron_sampled(prior: Any, grid_size: int = 4097, *, max_points: int | None = None
                 ) -> tuple[MonotoneTable, bool]:
    """Ironed virtual value of any prior from adaptive samples of its revenue curve.

    Parameters
    ----------
    prior : frozen scipy.stats distribution (``sf``, ``pdf`` and ``isf`` or ``ppf``)
    grid_size : int, default 4097
        Quantile grid (``isf``) and half as many equally spaced values (``sf`` and
        ``pdf`` only); log-spaced tails and refinement points are added.
    max_points : int, optional
        Budget of samples (default ``8 * grid_size``).

    Returns
    -------
    table : MonotoneTable
    regular : bool
        Whether no ironing beyond round-off was needed.

    Notes
    -----
    Each round computes the concave hull of the samples of ``R`` and bisects (in
    value) three kinds of cells: those whose chord is inconsistent with a concave
    revenue curve (:func:`_doubt`) *and* that could hide a point above the hull
    (``R <= q_{k+1} v_k`` on the cell, since ``v`` decreases in ``q``), down to
    quantile cells of ``Q_FLOOR``; those where an ironed stretch meets the curve
    (one end under the hull), to locate the tangency; and, off the ironed
    stretches, those where a positive virtual value is interpolated less
    accurately than ``ACCURACY_RTOL`` (relative; ``h^2 |phi''| / 8``, worst
    first), until the budget is spent. The samples are
    then ironed by the concave hull of the revenue curve (dips deeper than
    ``IRON_RTOL`` of its maximum), and the virtual values at the samples repaired
    into a non-increasing sequence in quantile by weighted pool-adjacent-violators.

    Examples
    --------
    >>> from scipy import stats
    >>> table, regular = iron_sampled(stats.expon())   # phi(v) = v - 1
    >>> regular, round(float(table(2.5)), 9), round(float(table.inverse(0.0)[()]), 9)
    (True, 1.5, 1.0)
    """
    budget = max_points if max_points is not None else 8 * grid_size
    tails = 10.0 ** -TAIL_EXPONENTS
    q0 = np.linspace(0.0, 1.0, max(grid_size // 4, 2) + 1)
    first = _merge([_sample_q(prior, np.unique(np.concatenate((q0, tails, 1.0 - tails))))])
    if first[0].size < 2:
        raise ValueError("`prior` has fewer than two distinct quantiles; cannot iron it")
    lo_v, hi_v = first[1][-1], float(np.interp(1e-6, first[0], first[1]))
    parts = [first]
    if hi_v > lo_v:
        parts.append(_sample_v(prior, np.linspace(lo_v, hi_v, grid_size)))
    q, v, f, phi = _merge(parts)
    doubt_room = 2 * grid_size  # the rest of the budget refines interpolation
    for _ in range(80):
        room = budget - q.size
        if room <= 0:
            break
        r = q * v
        tol_r = IRON_RTOL * float(np.max(np.abs(r)))
        hull = _upper_hull(q, r, 16 * _EPS * float(np.max(np.abs(r))))
        h = np.interp(q, q[hull], r[hull])
        # a cell can hide a point above the hull only if R's bound on it, q_{k+1} v_k
        # (v decreases in q), exceeds the hull there: only those are worth splitting
        could_rise = q[1:] * v[:-1] > np.minimum(h[:-1], h[1:]) + tol_r
        below = h - r > tol_r
        # cells where an ironed stretch meets the curve hold the tangency: locate it
        wide = -np.diff(v) > 1e-12 * np.abs(v[:-1])
        resolved = np.diff(q) > 8 * _EPS * q[1:]  # quantiles still apart in floating point
        ends = (below[:-1] != below[1:]) & (-np.diff(v) > 1e-9 * np.abs(v[:-1])) & resolved
        doubt = np.flatnonzero((_doubt(q, v, phi) & could_rise) | ends)[:max(doubt_room, 0)]
        # interpolation accuracy matters where phibar = phi: off the ironed stretches
        free = ~below[:-1] & ~below[1:] & (np.maximum(phi[:-1], phi[1:]) > 0)
        err = _interpolation_error(v, phi)
        coarse = np.flatnonzero(free & (err > ACCURACY_RTOL) & wide)
        coarse = np.setdiff1d(coarse[np.argsort(-err[coarse], kind="stable")], doubt,
                              assume_unique=True)
        cells = np.concatenate((doubt, coarse))[:room]
        if cells.size == 0:
            break
        doubt_room -= doubt.size
        new = _sample_v(prior, 0.5 * (v[cells] + v[cells + 1]))
        q, v, f, phi = _merge([(q, v, f, phi), new])
    return _iron_samples(q, v, f, phi)


def _interpolation_error(v: NDArray[np.float64], phi: NDArray[np.float64]
                         ) -> NDArray[np.float64]:
    """Estimated relative error of linear interpolation on each cell (``h^2 |phi''| / 8``)."""
    h = -np.diff(v)  # v decreasing
    with np.errstate(all="ignore"):
        slope = -np.diff(phi) / h
        curv = np.zeros(v.size)
        curv[1:-1] = 2.0 * np.abs(np.diff(slope)) / (h[:-1] + h[1:])
        cell = np.maximum(curv[:-1], curv[1:]) * h * h / 8.0
        scale = np.maximum(np.maximum(np.abs(phi[:-1]), np.abs(phi[1:])), np.abs(v[:-1]))
        out = cell / scale
    return np.where(np.isfinite(out), out, 0.0)


def _iron_samples(q: NDArray[np.float64], v: NDArray[np.float64], f: NDArray[np.float64],
                  phi: NDArray[np.float64]) -> tuple[MonotoneTable, bool]:
    """Hull ironing and monotone repair of the samples; the table in value order."""
    r = q * v
    rscale = float(np.max(np.abs(r))) if r.size else 1.0
    tol = IRON_RTOL * rscale
    hull = _upper_hull(q, r, 0.0 if rscale == 0 else 16 * _EPS * rscale)
    y = phi.copy()
    # zero-density samples (gap edges, the bottom of the support): any finite
    # value below the next one keeps the function monotone
    fin = np.isfinite(y)
    if not np.all(fin):
        idx = np.flatnonzero(fin)
        if idx.size == 0:
            raise ValueError("`prior` has no sample with positive density; cannot iron it")
        nxt = np.searchsorted(idx, np.arange(y.size))  # next finite towards the top
        prev_fin = y[idx[np.clip(nxt - 1, 0, idx.size - 1)]]
        y = np.where(fin, y, prev_fin - np.maximum(1.0, np.abs(prev_fin)))
    ironed_any = False
    for a, b in pairwise(hull.tolist()):
        if b - a < 2:
            continue
        inner = np.arange(a + 1, b)
        chord = r[a] + (r[b] - r[a]) * (q[inner] - q[a]) / (q[b] - q[a])
        # quantiles are known to ~eps absolute (sf near 1): the chord's fractions
        # carry that error relative to the cell
        noise = abs(r[b] - r[a]) * 4 * _EPS / (q[b] - q[a])
        if np.max(chord - r[inner]) > tol + noise:
            y[inner] = (r[b] - r[a]) / (q[b] - q[a])
            ironed_any = True
    w = np.empty(q.size)
    w[1:-1] = 0.5 * (q[2:] - q[:-2])
    w[0], w[-1] = 0.5 * (q[1] - q[0]), 0.5 * (q[-1] - q[-2])
    w = np.maximum(w, 1e-300)
    y_fit = _pav_discrete(y, w)
    yscale = max(float(np.max(np.abs(y_fit))), float(v[0] - v[-1]), 1e-300)
    if np.max(np.abs(y_fit - y)) > IRON_RTOL * yscale:
        ironed_any = True
    # value order; a cell carrying almost no mass over a long value range is a gap:
    # hold the lower value across it (a step) instead of interpolating
    xv, yv, fv, qv, rawv = v[::-1], y_fit[::-1], f[::-1], q[::-1], phi[::-1]
    left = yv.copy()
    mass = -np.diff(qv)
    with np.errstate(all="ignore"):
        expected = np.diff(xv) * np.maximum(fv[:-1], fv[1:])  # what the densities promise
    gap = (mass < 1e-6 * expected) & (expected > GAP_MIN_MASS)
    left[1:][gap] = yv[:-1][gap]
    return MonotoneTable(xv, left, yv, rawv), not ironed_any
