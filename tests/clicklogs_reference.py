"""Slow, independent reference implementations for the click-log tests.

Written from the generative descriptions (not from the package's vectorised
code): the probability of a click pattern is computed by recursing over the
user's decisions, and again from the closed form with the tail factors
``N_L`` and ``M_r``.
"""

from __future__ import annotations

from itertools import product

import numpy as np
from numpy.typing import NDArray

from aigc_auction.clicklogs import ClickData


def cascade_by_recursion(
    p: list[float], gc: list[float], gs: list[float], clicks: tuple[int, ...]
) -> float:
    """P(clicks) for a cascade user reading ranks 0..k-1, by recursion over decisions."""
    k = len(p)

    def from_rank(r: int) -> float:  # P(clicks[r:] | rank r is read)
        here = p[r] if clicks[r] else 1.0 - p[r]
        if r == k - 1:
            return here
        g = gc[r] if clicks[r] else gs[r]
        stop = (1.0 - g) if not any(clicks[r + 1:]) else 0.0
        return here * (g * from_rank(r + 1) + stop)

    return from_rank(0)


def cascade_closed_form(
    p: list[float], gc: list[float], gs: list[float], clicks: tuple[int, ...]
) -> float:
    """The closed form: prefix up to the last click ``L`` times the tail factor ``N_L``."""
    k = len(p)
    last = max((r for r in range(k) if clicks[r]), default=-1)
    m = [1.0] * k  # M_r: no click after rank r, given rank r was read and skipped
    for r in range(k - 2, -1, -1):
        m[r] = (1.0 - gs[r]) + gs[r] * (1.0 - p[r + 1]) * m[r + 1]
    if last == -1:
        return (1.0 - p[0]) * m[0]
    prefix = 1.0
    for r in range(last + 1):
        prefix *= p[r] if clicks[r] else 1.0 - p[r]
        if r < last:
            prefix *= gc[r] if clicks[r] else gs[r]
    if last == k - 1:
        return prefix
    tail = (1.0 - gc[last]) + gc[last] * (1.0 - p[last + 1]) * m[last + 1]
    return prefix * tail


def mnl_pattern(p: list[float], clicks: tuple[int, ...]) -> float:
    """P(clicks) for an MNL user: at most one click, weights p / (1 - p)."""
    w = [q / (1.0 - q) for q in p]
    if sum(clicks) > 1:
        return 0.0
    if sum(clicks) == 0:
        return 1.0 / (1.0 + sum(w))
    return w[clicks.index(1)] / (1.0 + sum(w))


def independent_pattern(p: list[float], clicks: tuple[int, ...]) -> float:
    """P(clicks) with independent clicks."""
    return float(np.prod([q if c else 1.0 - q for q, c in zip(p, clicks, strict=True)]))


def all_patterns(
    advertiser: list[int], position: list[int], n: int, m: int
) -> tuple[ClickData, list[tuple[int, ...]]]:
    """A ClickData with one session per click pattern of one slate."""
    pats = list(product((0, 1), repeat=len(advertiser)))
    s = len(pats)
    data = ClickData(
        np.arange(s), np.tile(advertiser, (s, 1)), np.tile(position, (s, 1)),
        np.array(pats, dtype=bool), n, m,
    )
    return data, pats


def random_slate(
    rng: np.random.Generator, n: int, m: int, k: int
) -> tuple[list[int], list[int]]:
    """``k`` distinct advertisers at ``k`` distinct positions, in reading order."""
    return (rng.choice(n, k, replace=False).tolist(), rng.choice(m, k, replace=False).tolist())


def as_float_list(values: NDArray[np.float64]) -> list[float]:
    return [float(v) for v in values]
