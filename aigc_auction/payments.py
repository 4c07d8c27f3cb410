"""Exact threshold (Myerson) payments.

For an allocation rule whose click probability ``pi_i(z)`` is non-decreasing in
advertiser ``i``'s own bid ``z``, the unique truthful payment with ``t_i(0) = 0``
is Myerson's

    t_i(b) = b pi_i(b) - integral_0^b pi_i(z) dz = sum_k z_k (pi_k - pi_{k-1}),

a sum over the jumps of the step function ``pi_i(z)``, ``z_k`` the bid at which
the ``k``-th jump happens. Two ways to find the jumps exactly:

* :func:`envelope_breakpoints` for rules that maximise ``sum_k c_k pi_k`` (exact
  solvers, maximal-in-range ones): as a function of ``i``'s own coefficient ``c``
  the optimum is the upper envelope of the lines ``c a_A + B_A`` of the
  allocations ``A``; its kinks are found by intersecting lines and re-solving at
  each intersection (Eisner & Severance 1976), one solve per kink plus one per
  line, with no grid.
* :func:`monotone_payment` for any monotone rule given as a black box: every
  jump is located by bisection to adjacent floating-point numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Line",
    "clip_roundoff",
    "envelope_breakpoints",
    "monotone_payment",
    "payment_from_jumps",
]

#: A decrease of the CTR curve over a bid interval wider than this (relative to the
#: bid) means the rule is not monotone; narrower ones are floating-point tie windows.
MONOTONE_RTOL = 1e-9


@dataclass(frozen=True)
class Line:
    """The objective of one allocation as a function of one coefficient ``c``.

    ``value(c) = slope * c + intercept``; ``slope`` is the advertiser's CTR.
    ``tag`` identifies the allocation (e.g. ``tuple(assignment) + tuple(order)``).
    """

    slope: float
    intercept: float
    tag: object = None

    def __call__(self, c: float) -> float:
        return self.slope * c + self.intercept


def _above(value: float, ref: float) -> bool:
    # purely relative (like solvers.common.nonnegligible_gain): markets with tiny
    # values are compared as finely as markets with large ones
    return value > ref + 1e-12 * max(abs(value), abs(ref))


def envelope_breakpoints(
    best_line: Callable[[float], Line], c_max: float, *, c_min: float = 0.0
) -> list[tuple[float, float]]:
    """Kinks of the upper envelope ``f(c) = max_A (a_A c + B_A)`` on ``[c_min, c_max]``.

    Parameters
    ----------
    best_line : callable
        ``best_line(c)`` returns the :class:`Line` of an allocation optimal when the
        coefficient is ``c``.
    c_max : float
        Right end (the advertiser's own coefficient).
    c_min : float, default 0
        Left end (coefficients ``<= 0`` are never shown, so ``pi = 0`` there).

    Returns
    -------
    list of (float, float)
        ``(c_k, slope_k)`` sorted by ``c_k``: from ``c_k`` on the envelope's slope is
        ``slope_k`` (up to the next kink). The slope left of the first kink is the
        slope of ``best_line(c_min)``.

    Examples
    --------
    One line ``c`` (slope 1) against a constant 0.5: the kink is at 0.5.

    >>> lines = [Line(0.0, 0.5, "a"), Line(1.0, 0.0, "b")]
    >>> envelope_breakpoints(lambda c: max(lines, key=lambda l: l(c)), 2.0)
    [(0.5, 1.0)]
    """
    left, right = best_line(c_min), best_line(c_max)
    out: list[tuple[float, float]] = []
    # explicit stack instead of recursion: (left line, right line)
    stack = [(left, right)]
    seen = 0
    while stack:
        lo, hi = stack.pop()
        if hi.slope <= lo.slope:
            continue
        seen += 1
        if seen > 100_000:  # pragma: no cover - a non-exact rule
            raise RuntimeError("envelope search did not terminate; is the rule exact?")
        c = (lo.intercept - hi.intercept) / (hi.slope - lo.slope)
        c = min(max(c, c_min), c_max)
        mid = best_line(c)
        ref = max(lo(c), hi(c))
        if (
            _above(mid(c), ref)
            and lo.slope < mid.slope < hi.slope
            and mid.tag not in (lo.tag, hi.tag)
        ):
            stack.append((mid, hi))
            stack.append((lo, mid))
        else:
            out.append((c, hi.slope))
    out.sort()
    return out


def payment_from_jumps(jumps: list[tuple[float, float]], base: float = 0.0) -> float:
    """``sum_k z_k (pi_k - pi_{k-1})`` for jumps ``(z_k, pi_k)``, ``pi_{-1} = base``."""
    total, prev = 0.0, base
    for z, pi in jumps:
        total += z * (pi - prev)
        prev = pi
    return total


def monotone_payment(
    ctr_at: Callable[[float], float], bid: float, *, lower: float = 0.0
) -> float:
    """Myerson payment of a monotone black-box rule, with jumps found by bisection.

    Parameters
    ----------
    ctr_at : callable
        ``ctr_at(z)``: the advertiser's click probability when it bids ``z`` (others
        fixed). Must be a non-decreasing step function of ``z``.
    bid : float
        The advertiser's bid.
    lower : float, default 0
        A bid at or below which the advertiser is never shown.

    Returns
    -------
    float
        ``bid * ctr_at(bid) - integral_lower^bid ctr_at(z) dz``, each jump located to
        within two ulps of ``bid`` (no quadrature grid).

    Raises
    ------
    ValueError
        If the CTR decreases over a bid interval wider than ``MONOTONE_RTOL * bid``.

    Examples
    --------
    A second-price item: shown (ctr 1) once the bid exceeds 0.3.

    >>> monotone_payment(lambda z: float(z > 0.3), 0.8)
    0.3
    """
    jumps: list[tuple[float, float]] = []
    # Bisect down to ~2 ulp of the bid: the payment is then exact to round-off
    # (error <= 2 eps * bid * ctr), without ~1000 halvings towards a threshold at 0.
    scale = max(abs(bid), np.finfo(float).tiny)
    xtol = 2.0 * np.finfo(float).eps * scale
    stack = [(lower, bid, ctr_at(lower), ctr_at(bid))]
    while stack:
        lo, hi, plo, phi_ = stack.pop()
        if phi_ == plo:
            continue
        if phi_ < plo and hi - lo > MONOTONE_RTOL * scale:
            raise ValueError(
                f"allocation rule is not monotone: ctr {plo} at bid {lo} but {phi_} at {hi}"
            )
        mid = 0.5 * (lo + hi)
        if hi - lo <= xtol or mid <= lo or mid >= hi:
            # located; a decrease this narrow is a floating-point tie window, and
            # integration by parts stays exact if it is kept as a negative jump
            jumps.append((hi, phi_ - plo))
            continue
        pm = ctr_at(mid)
        stack.append((mid, hi, pm, phi_))
        stack.append((lo, mid, plo, pm))
    return float(np.sum([z * d for z, d in jumps])) if jumps else 0.0


def clip_roundoff(t: ArrayLike, cap: ArrayLike, scale: ArrayLike) -> NDArray[np.float64]:
    """Clip payments into ``[0, cap]`` where they are outside only by round-off.

    A payment within ``1e-12 * max(1, |scale|)`` below 0 or above ``cap`` is set to
    the bound; anything further out is left alone, so real errors stay visible.
    """
    t = np.asarray(t, dtype=float)
    cap = np.asarray(cap, dtype=float)
    tol = 1e-12 * np.maximum(1.0, np.abs(np.asarray(scale, dtype=float)))
    t = np.where((t < 0.0) & (t >= -tol), 0.0, t)
    return np.where((t > cap) & (t <= cap + tol), cap, t)
