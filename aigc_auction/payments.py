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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .exceptions import SolverError

if TYPE_CHECKING:
    from .virtual_values import VirtualValue

__all__ = [
    "Line",
    "clip_roundoff",
    "envelope_breakpoints",
    "kink_jumps",
    "monotone_payment",
    "payment_from_jumps",
]

#: A decrease of the CTR curve over a bid interval wider than this (relative to the
#: bid) means the rule is not monotone; narrower ones are floating-point tie windows.
MONOTONE_RTOL = 1e-9
#: A payment outside ``[0, b * ctr]`` by less than this (relative to its scale) is
#: round-off and is clipped; anything further raises :class:`SolverError`.
ROUNDOFF_RTOL = 1e-10
#: An envelope kink within this (relative to the auction's largest coefficient) of
#: the level of a flat of ``phibar`` -- or within the flat's band
#: (:data:`aigc_auction.virtual_values.FLAT_BAND_RTOL`) -- is that flat's tie (see
#: :func:`kink_jumps`): kinks are intersections of lines, located to round-off.
SNAP_RTOL = 1e-12


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
    """Payments checked to lie in ``[0, cap]``, round-off clipped.

    A payment within ``ROUNDOFF_RTOL * |scale|`` (purely relative: markets with
    bids of 1e-9 are checked as finely as markets with bids of 1e9) below 0 or
    above ``cap`` is set to the bound.

    Raises
    ------
    SolverError
        If a payment is further outside: a truthful, individually rational rule
        never charges that, so the allocation solver (or the rule's monotonicity)
        failed, and no clip may hide it.
    """
    t = np.asarray(t, dtype=float)
    cap = np.asarray(cap, dtype=float)
    tol = ROUNDOFF_RTOL * np.abs(np.asarray(scale, dtype=float)) + 1e-300
    bad = ~((t >= -tol) & (t <= cap + tol))
    if np.any(bad):
        k = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
        raise SolverError(
            f"payment {float(t[k])!r} lies outside [0, {float(np.broadcast_to(cap, t.shape)[k])!r}]"
            " (the bid times the CTR) by more than round-off: the allocation is not "
            "optimal or not monotone in the bid, so no truthful payment exists"
        )
    t = np.where(t < 0.0, 0.0, t)
    return np.asarray(np.minimum(t, cap), dtype=np.float64)


def kink_jumps(
    task: NDArray[np.int64],
    level: NDArray[np.float64],
    slope: NDArray[np.float64],
    adv: NDArray[np.int64],
    vvs: Sequence[VirtualValue],
    scale: NDArray[np.float64],
    tie_slope: Callable[[NDArray[np.int64], NDArray[np.float64]], NDArray[np.float64]],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Bid-space jumps of Myerson CTR curves from their coefficient-space kinks.

    The CTR of an advertiser as a function of its own bid ``z`` is
    ``g(phibar(z))``, ``g`` the step function of its own coefficient found by
    :func:`envelope_breakpoints`. A kink of ``g`` at ``c`` is reached at the bid
    ``phibar^{-1}(c)`` -- unless ``phibar`` is *flat* at level ``c`` (ironing, a
    gap, a tie on an ironed interval): then every bid on the flat has coefficient
    exactly ``c``, and the CTR there is whatever the allocation rule picks at
    that coefficient. This is the **tie rule**: bids on one flat are not told
    apart (a bid-independent priority: the solver's deterministic choice for the
    coefficient vector, which is the same for every bid on the flat), and the
    payment asks the rule at exactly that coefficient vector, so allocation and
    payment agree by construction.

    Kinks are located to round-off only, so a kink within ``SNAP_RTOL * scale``
    of a flat's level, or within the flat's band (virtual values that close to
    the level are set to it), is that flat's tie. All kinks of one task snapping to one
    flat form a group: with ``s_left`` the CTR before the group, ``s_right`` after
    it and ``s_tie = tie_slope(...)`` the CTR the rule gives at the level itself,
    the group contributes the jumps ``(z_lo, s_tie - s_left)`` and
    ``(z_hi, s_right - s_tie)`` at the flat's ends. Other kinks jump at the
    inclusive threshold (a kink at ``c <= 0`` at the strict threshold of 0: a
    coefficient of 0 is never shown).

    Parameters
    ----------
    task : ndarray of int, shape (K,)
        Task (advertiser of one auction) of each kink; sorted, and the kinks of a
        task sorted by level.
    level, slope : ndarray of shape (K,)
        Kink coefficient ``c`` and the CTR from ``c`` on.
    adv : ndarray of int, shape (K,)
        Advertiser of each kink (indexes ``vvs``).
    vvs : sequence of VirtualValue
    scale : ndarray of shape (K,)
        The largest coefficient magnitude of each kink's auction.
    tie_slope : callable
        ``tie_slope(kinks, levels)``: the advertiser's CTR when its own
        coefficient is set to ``levels`` in the auction of each listed kink.

    Returns
    -------
    task, z, dctr : ndarray of shape (J,)
        The jumps (bid, CTR increase), in task order; each task's payment is
        ``sum(z * dctr)`` over its jumps.

    Raises
    ------
    SolverError
        If the rule's choice at a tie lies outside the CTRs on either side of it
        (the rule is not monotone there).

    Examples
    --------
    An ironed flat at level 0.068 between the bids 0.659 and 1.534; the CTR jumps
    from 0 to 0.5 at that level. If the rule gives the tie to a rival, the jump
    is charged at the flat's right end; if to this advertiser, at its left end.

    >>> import aigc_auction as aa
    >>> from scipy import stats
    >>> vv = aa.VirtualValue(stats.rv_histogram(
    ...     ([0.8, 0.005, 0.195], [0.0, 1.0, 1.5, 3.0]), density=False))
    >>> (level,), _, _ = vv.flats
    >>> one = np.zeros(1, dtype=np.int64)
    >>> for tie in (0.0, 0.5):
    ...     _, z, d = kink_jumps(one, np.array([level]), np.array([0.5]), one, [vv],
    ...                          np.array([1.0]), lambda k, c: np.full(k.size, tie))
    ...     print(z.round(4).tolist(), d.tolist())
    [0.6591, 1.5341] [0.0, 0.5]
    [0.6591, 1.5341] [0.5, 0.0]
    """
    task = np.asarray(task, dtype=np.int64)
    c = np.asarray(level, dtype=np.float64)
    s = np.asarray(slope, dtype=np.float64)
    k = c.size
    first = np.ones(k, dtype=bool)
    first[1:] = task[1:] != task[:-1]
    prev = np.concatenate(([0.0], s[:-1]))
    prev[first] = 0.0
    pos = c > 0
    lev = np.where(pos, c, 0.0)
    flat = np.full(k, -1, dtype=np.int64)
    grp = np.full(k, -1, dtype=np.int64)  # which vv group (to read the flats back)
    groups = _vv_groups(vvs)
    tol = SNAP_RTOL * np.maximum(np.abs(scale), np.abs(lev))
    z = np.empty(k)
    flats = []
    for g, (vv, cols) in enumerate(groups):
        flats.append(vv.flats)
        sel = np.flatnonzero(np.isin(adv, cols))
        if sel.size == 0:
            continue
        flat[sel] = vv.flat_index(lev[sel], tol[sel])
        grp[sel] = g
        z[sel] = vv.thresholds(lev[sel], inclusive=True)
        strict = sel[~pos[sel]]
        z[strict] = vv.thresholds(lev[strict], inclusive=False)
    snapped = flat >= 0
    # runs of consecutive kinks of one task on one flat
    new_run = first | (flat != np.concatenate(([-2], flat[:-1]))) | ~snapped
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], k) - 1
    run_snapped = snapped[starts]
    out_t: list[NDArray[np.int64]] = []
    out_z: list[NDArray[np.float64]] = []
    out_d: list[NDArray[np.float64]] = []
    plain = np.flatnonzero(~snapped)
    # one entry per plain kink, two per snapped run; ordered by kink position
    order_key: list[NDArray[np.float64]] = []
    out_t.append(task[plain])
    out_z.append(z[plain])
    out_d.append(s[plain] - prev[plain])
    order_key.append(plain.astype(np.float64))
    rs, re_ = starts[run_snapped], ends[run_snapped]
    if rs.size:
        f_lev = np.empty(rs.size)
        f_lo = np.empty(rs.size)
        f_hi = np.empty(rs.size)
        for g in np.unique(grp[rs]):
            m = grp[rs] == g
            lv, zl, zh = flats[g]
            f_lev[m], f_lo[m], f_hi[m] = lv[flat[rs[m]]], zl[flat[rs[m]]], zh[flat[rs[m]]]
        s_left, s_right = prev[rs], s[re_]
        s_tie = np.asarray(tie_slope(rs, f_lev), dtype=np.float64)
        lo_b, hi_b = np.minimum(s_left, s_right), np.maximum(s_left, s_right)
        slack = ROUNDOFF_RTOL * np.maximum(np.abs(hi_b), 1e-300)
        if np.any((s_tie < lo_b - slack) | (s_tie > hi_b + slack)):
            raise SolverError(
                "the allocation at a tie on a flat of the ironed virtual value gives a "
                "CTR outside the CTRs on either side of it: the rule is not monotone"
            )
        out_t += [task[rs], task[rs]]
        out_z += [f_lo, f_hi]
        out_d += [s_tie - s_left, s_right - s_tie]
        order_key += [rs.astype(np.float64), rs.astype(np.float64) + 0.5]
    key = np.concatenate(order_key)
    order = np.argsort(key, kind="stable")
    return (np.concatenate(out_t)[order], np.concatenate(out_z)[order],
            np.concatenate(out_d)[order])


def _vv_groups(vvs: Sequence[VirtualValue]) -> list[tuple[VirtualValue, NDArray[np.int64]]]:
    """Distinct virtual-value objects and the advertisers using each."""
    seen: dict[int, tuple[VirtualValue, list[int]]] = {}
    for i, vv in enumerate(vvs):
        seen.setdefault(id(vv), (vv, []))[1].append(i)
    return [(vv, np.array(cols, dtype=np.int64)) for vv, cols in seen.values()]
