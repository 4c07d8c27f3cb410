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

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

__all__ = ["VirtualValue", "check_prior"]

#: Quantile grid size used to detect irregularity and to iron.
GRID_SIZE = 4097


def check_prior(prior: Any, name: str = "prior") -> Any:
    """Check that ``prior`` looks like a frozen scipy.stats continuous distribution."""
    missing = [a for a in ("pdf", "sf", "ppf", "cdf") if not callable(getattr(prior, a, None))]
    if missing:
        raise TypeError(
            f"`{name}` must be a frozen scipy.stats continuous distribution with "
            f"pdf, sf, cdf and ppf methods; got {type(prior).__name__} without {missing}"
        )
    return prior


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
        ``inf {v >= 0 : phibar(v) > level}``, to within two ulps (Brent's method
        for regular priors, then bisection; ``phibar`` is monotone). ``inf`` if no
        value reaches it.
        """

        def hit(z: float) -> bool:
            val = float(self(z))
            return val >= level if inclusive else val > level

        lo = 0.0
        if hit(lo):
            return 0.0
        hi = max(1.0, float(self.prior.ppf(0.5)))
        for _ in range(2100):
            if hit(hi):
                break
            lo, hi = hi, hi * 2.0
            if not np.isfinite(hi):
                return float("inf")
        else:  # pragma: no cover - needs an absurd level
            return float("inf")
        if self.regular:
            # phi is monotone and (for a continuous prior) continuous: Brent's method
            # finds the crossing in a few steps; it then narrows the bisection below.
            f_lo, f_hi = float(self(lo)) - level, float(self(hi)) - level
            if np.isfinite(f_lo) and f_lo < 0.0 < f_hi:
                z = float(brentq(lambda x: float(self(x)) - level, lo, hi,
                                 xtol=1e-300, rtol=4 * np.finfo(float).eps))
                step = 8.0 * np.finfo(float).eps * max(abs(z), np.finfo(float).tiny)
                if lo < z - step and not hit(z - step):
                    lo = z - step
                if z + step < hi and hit(z + step):
                    hi = z + step
        xtol = 2.0 * np.finfo(float).eps * max(hi, np.finfo(float).tiny)
        while hi - lo > xtol:
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            if hit(mid):
                hi = mid
            else:
                lo = mid
        return hi

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
