"""Myerson virtual values, ironed on the quantile scale when the prior is irregular.

For a value distribution ``F`` with density ``f`` the virtual value is
``phi(v) = v - (1 - F(v)) / f(v)`` (Myerson 1981). It is the derivative of the
revenue curve ``R(q) = q * F^{-1}(1 - q)`` with respect to the quantile
``q = 1 - F(v)``. When ``phi`` is non-decreasing (a *regular* prior) it is used
as is. Otherwise it is *ironed*: ``R`` is replaced by its concave hull on a fine
quantile grid and, on every interval where the hull lies above ``R``, ``phi`` is
replaced by the hull's constant slope there.

Outside the support: a value above it has ``phi(v) = v`` (no more mass to lose),
a value below it has ``phi(v) = -inf`` (never worth serving).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .priors import check_prior

__all__ = ["VirtualValue", "check_prior"]

#: Quantile grid size used to detect irregularity and to iron.
GRID_SIZE = 4097


@dataclass(frozen=True, eq=False)
class VirtualValue:
    """The (ironed) virtual-value function of one prior.

    Parameters
    ----------
    prior : frozen scipy.stats continuous distribution
    grid_size : int, default 4097
        Quantile grid used to check regularity and, if needed, to iron.

    Attributes
    ----------
    regular : bool
        Whether ``phi`` was found non-decreasing on the grid (then ``phibar = phi``).
    ironed : list of (float, float, float)
        The ironed value intervals ``(v_low, v_high, level)``.

    Examples
    --------
    >>> from scipy import stats
    >>> vv = VirtualValue(stats.uniform(0, 1))
    >>> vv.regular, float(vv(0.75)), float(vv.reserve())
    (True, 0.5, 0.5)
    """

    prior: Any
    grid_size: int = GRID_SIZE
    regular: bool = field(init=False)
    ironed: tuple[tuple[float, float, float], ...] = field(init=False)

    def __post_init__(self) -> None:
        check_prior(self.prior)
        q = np.linspace(0.0, 1.0, self.grid_size)[1:-1]
        v = np.asarray(self.prior.ppf(1.0 - q), dtype=float)
        phi = self.raw(v)
        ok = np.isfinite(phi)
        # phi as a function of q must be non-increasing (v decreases in q)
        regular = bool(np.all(np.diff(phi[ok]) <= 1e-9 * (1.0 + np.abs(phi[ok][:-1]))))
        object.__setattr__(self, "regular", regular)
        ends = (float(self.prior.ppf(1.0)), float(self.prior.ppf(0.0)))
        object.__setattr__(self, "ironed", () if regular else _iron(q, v, ends))

    def raw(self, v: ArrayLike) -> NDArray[np.float64]:
        """Un-ironed virtual value ``v - sf(v) / pdf(v)``."""
        v = np.asarray(v, dtype=float)
        pdf = np.asarray(self.prior.pdf(v), dtype=float)
        sf = np.asarray(self.prior.sf(v), dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = v - sf / pdf
        out = np.where(pdf > 0, out, np.where(sf <= 0, v, -np.inf))
        return np.asarray(out, dtype=float)

    def __call__(self, v: ArrayLike) -> NDArray[np.float64]:
        """Ironed virtual value ``phibar(v)`` (non-decreasing in ``v``)."""
        v = np.asarray(v, dtype=float)
        out = self.raw(v)
        for lo, hi, level in self.ironed:
            # constant on the interval; clipped beside it so phibar stays monotone
            out = np.where((v >= lo) & (v <= hi), level, out)
            out = np.where(v < lo, np.minimum(out, level), out)
            out = np.where(v > hi, np.maximum(out, level), out)
        return out

    def reserve(self) -> float:
        """The monopoly reserve ``inf {v : phibar(v) >= 0}``."""
        return self.threshold(0.0, inclusive=True)

    def threshold(self, level: float, *, inclusive: bool) -> float:
        """The smallest value whose virtual value reaches ``level``.

        ``inf {v >= 0 : phibar(v) >= level}`` (``inclusive``) or
        ``inf {v >= 0 : phibar(v) > level}``, to within two ulps; the scalar form
        of :meth:`thresholds`. ``inf`` if no value reaches it.
        """
        return float(self.thresholds(np.array([float(level)]), inclusive=inclusive)[0])

    def thresholds(self, levels: ArrayLike, *, inclusive: bool) -> NDArray[np.float64]:
        """The smallest values whose virtual values reach ``levels`` (vectorised).

        ``inf {v >= 0 : phibar(v) >= level}`` (``inclusive``) or
        ``inf {v >= 0 : phibar(v) > level}`` for every level, to within two ulps:
        the bracket doubles until it holds the crossing, false-position steps narrow
        it for regular priors (:func:`_narrow`), bisection finishes. ``inf`` where no
        value reaches the level.

        Examples
        --------
        >>> from scipy import stats
        >>> vv = VirtualValue(stats.uniform(0, 1))
        >>> vv.thresholds(np.array([0.0, 0.5]), inclusive=True).round(12).tolist()
        [0.5, 0.75]
        """
        def hit(z: NDArray[np.float64], lev: NDArray[np.float64]) -> NDArray[np.bool_]:
            val = np.asarray(self(z), dtype=float)
            return val >= lev if inclusive else val > lev

        levels = np.asarray(levels, dtype=float)
        out = np.zeros(levels.shape)
        todo = np.flatnonzero(~hit(np.zeros(levels.shape), levels))
        lo = np.zeros(todo.size)
        hi = np.full(todo.size, max(1.0, float(self.prior.ppf(0.5))))
        lev = levels[todo]
        grow = np.ones(todo.size, dtype=bool)
        for _ in range(2100):
            idx = np.flatnonzero(grow)
            if idx.size == 0:
                break
            h = hit(hi[idx], lev[idx])
            grow[idx[h]] = False
            up = idx[~h]
            lo[up], hi[up] = hi[up], hi[up] * 2.0
            grow[up[~np.isfinite(hi[up])]] = False
        eps = np.finfo(float).eps
        if self.regular:
            _narrow(self, lo, hi, lev, hit)
        active = np.flatnonzero(np.isfinite(hi))
        while active.size:
            mid = 0.5 * (lo[active] + hi[active])
            ok = (hi[active] - lo[active] > 2.0 * eps * np.maximum(hi[active], 1e-308)) & (
                mid > lo[active]) & (mid < hi[active])
            active, mid = active[ok], mid[ok]
            if active.size == 0:
                break
            h = hit(mid, lev[active])
            hi[active[h]] = mid[h]
            lo[active[~h]] = mid[~h]
        out[todo] = hi
        return out

    def get_params(self) -> dict[str, Any]:
        return {"prior": self.prior, "grid_size": self.grid_size}


def _iron(
    q: NDArray[np.float64], v: NDArray[np.float64], ends: tuple[float, float]
) -> tuple[tuple[float, float, float], ...]:
    """Intervals where the concave hull of ``R(q) = q v(q)`` lies above ``R``.

    ``ends`` are the support's upper and lower ends (values at q = 0 and q = 1).
    """
    qq = np.concatenate(([0.0], q, [1.0]))
    vv = np.concatenate(([ends[0]], v, [ends[1]]))
    r = qq * np.where(np.isfinite(vv), vv, 0.0)
    r[0] = 0.0  # q * v(q) -> 0 as q -> 0 for a prior with a finite mean
    hull = [0]
    for k in range(1, len(qq)):  # upper hull, monotone chain
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (r[b] - r[a]) * (qq[k] - qq[a]) <= (r[k] - r[a]) * (qq[b] - qq[a]):
                hull.pop()
            else:
                break
        hull.append(k)
    out = []
    for a, b in pairwise(hull):
        if b - a > 1:  # skipped grid points: hull strictly above R there
            level = (r[b] - r[a]) / (qq[b] - qq[a])
            out.append((float(vv[b]), float(vv[a]), float(level)))
    return tuple(sorted(out))


def _narrow(
    vv: VirtualValue,
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    lev: NDArray[np.float64],
    hit: Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.bool_]],
    steps: int = 8,
) -> None:
    """Shrink the brackets ``[lo, hi]`` in place around the crossing of ``phibar``.

    Illinois false-position steps estimate the crossing ``r`` (the trial point
    with the smallest ``|phibar - level|``; ``phibar`` of a regular prior is
    continuous, so they converge superlinearly); the points ``r -/+ 4 ulp`` then
    pin the bracket. Every trial point lies strictly inside
    its bracket and replaces the end whose ``hit`` value it shares, so the
    invariant "``lo`` misses, ``hi`` hits" of the bisection that follows holds
    whatever the estimates are: this only saves that bisection its ~50 halvings.
    """
    ok = np.flatnonzero(np.isfinite(hi))
    if ok.size == 0:
        return
    f_lo = np.asarray(vv(lo[ok]), dtype=float) - lev[ok]
    f_hi = np.asarray(vv(hi[ok]), dtype=float) - lev[ok]
    side = np.zeros(ok.size, dtype=np.int8)  # which end moved last (Illinois)
    best = np.where(np.abs(f_lo) < np.abs(f_hi), lo[ok], hi[ok])  # estimate of r
    f_best = np.minimum(np.abs(f_lo), np.abs(f_hi))
    for _ in range(steps):
        a, b = lo[ok], hi[ok]
        with np.errstate(all="ignore"):
            z = b - f_hi * (b - a) / (f_hi - f_lo)
        z = np.where(np.isfinite(z) & (z > a) & (z < b), z, 0.5 * (a + b))
        inside = (z > a) & (z < b)
        if not inside.any():
            break
        h = hit(z, lev[ok])
        fz = np.asarray(vv(z), dtype=float) - lev[ok]
        closer = inside & (np.abs(fz) < f_best)
        best = np.where(closer, z, best)
        f_best = np.where(closer, np.abs(fz), f_best)
        # z replaces the end it agrees with; Illinois halves the other end's value
        # when the same end is replaced twice in a row (no stagnation)
        f_lo = np.where(inside & ~h, fz, np.where(inside & h & (side == 1), 0.5 * f_lo, f_lo))
        f_hi = np.where(inside & h, fz, np.where(inside & ~h & (side == -1), 0.5 * f_hi, f_hi))
        lo[ok] = np.where(inside & ~h, z, a)
        hi[ok] = np.where(inside & h, z, b)
        side = np.where(inside, np.where(h, 1, -1), side).astype(np.int8)
        if np.all(f_best <= 8.0 * np.finfo(float).eps * np.maximum(1.0, np.abs(lev[ok]))):
            break  # every estimate is as good as round-off allows
    step = 4.0 * np.finfo(float).eps * np.maximum(np.abs(best), np.finfo(float).tiny)
    for zz in (best - step, best + step):
        a, b = lo[ok], hi[ok]
        inside = (zz > a) & (zz < b)
        h = hit(np.where(inside, zz, b), lev[ok])
        lo[ok] = np.where(inside & ~h, zz, a)
        hi[ok] = np.where(inside & h, zz, b)
