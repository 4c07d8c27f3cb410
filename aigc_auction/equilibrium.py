"""Equilibria of non-truthful formats on a grid of bid multipliers.

A *profile* gives every advertiser ``i`` a bid multiplier ``m_i``: it bids
``m_i * v_i`` whatever its value, the linear strategies in which the textbook
equilibria live. A *market* is one ``(Instance, values)`` pair (complete
information) or a list of them, whose average stands for the expectation over
values (Bayesian games: e.g. a quadrature grid of value profiles).

* :func:`utility_table` -- every advertiser's expected utility for every
  multiplier of a grid, the others keeping their multipliers. It is computed
  from exact own-bid step functions (:func:`aigc_auction.steps.batch_steps`), all
  markets and advertisers in one batched envelope search, not by rerunning the
  auction per grid bid.
* :func:`equilibrium_check` -- the largest gain any advertiser gets from a
  unilateral deviation on the grid: the profile is an epsilon-equilibrium (of
  the grid game) for every ``epsilon`` at least that.
* :func:`best_response_dynamics` -- advertisers take turns switching to a best
  multiplier until nobody wants to move.

Textbook cases (tests): first price with two bidders i.i.d. U[0, 1] and one
slot has the symmetric equilibrium ``b = v / 2`` and revenue ``1/3``; GSP with
separable CTRs and no externalities has the lowest envy-free equilibrium of
Edelman, Ostrovsky & Schwarz (2007) and Varian (2007), whose payments are the
VCG payments at truthful bids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_bids, check_int
from .bidders import check_grid
from .instance import Instance
from .mechanisms import Mechanism
from .models import MNL
from .steps import Rule, batch_steps, step_kernel, step_rule

__all__ = [
    "BestResponseResult",
    "EquilibriumCheck",
    "best_response_dynamics",
    "equilibrium_check",
    "profile_outcomes",
    "utility_table",
]

Market = tuple[Instance, NDArray[np.float64]]


def _markets(market: Any) -> list[Market]:
    if isinstance(market, tuple) and len(market) == 2 and isinstance(market[0], Instance):
        pairs = [market]
    elif isinstance(market, Sequence) and not isinstance(market, str | bytes):
        pairs = list(market)
    else:
        raise TypeError(
            "`market` must be an (Instance, values) pair or a sequence of them; "
            f"got {type(market).__name__}"
        )
    if not pairs:
        raise ValueError("`market` must hold at least one (Instance, values) pair")
    out = []
    for p in pairs:
        if not (isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], Instance)):
            raise TypeError(f"`market` entries must be (Instance, values) pairs; got {p!r:.80}")
        out.append((p[0], check_bids(p[1], p[0].n_advertisers, "values")))
    n = out[0][0].n_advertisers
    if any(inst.n_advertisers != n for inst, _ in out):
        raise ValueError("every market must have the same number of advertisers")
    return out


def _profile(multipliers: ArrayLike, n: int) -> NDArray[np.float64]:
    return check_bids(multipliers, n, "multipliers")


def _check_mechanism(mechanism: Mechanism) -> Rule:
    if not isinstance(mechanism, Mechanism):
        raise TypeError(
            f"`mechanism` must be an aigc_auction.Mechanism; got {type(mechanism).__name__}"
        )
    rule = step_rule(mechanism)
    if rule is None:
        raise ValueError(
            "`mechanism` must allocate by reported welfare (GSP, FirstPrice, VCG) with an "
            f"exact or maximal-in-range solver; got {mechanism!r}"
        )
    return rule


def _tables(
    mechanism: Mechanism, markets: list[Market], m: NDArray[np.float64],
    who: NDArray[np.int64], grid: NDArray[np.float64] | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean utility at the profile (len(who),) and per grid multiplier (len(who), G)."""
    rule = _check_mechanism(mechanism)
    kernel = step_kernel(mechanism)
    g = np.zeros(0) if grid is None else grid
    top = max(float(g.max(initial=0.0)), float(m.max()))
    own_sum = np.zeros(who.size)
    grid_sum = np.zeros((who.size, g.size))
    groups: dict[tuple[int, int, int], list[int]] = {}
    for s, (inst, _) in enumerate(markets):
        groups.setdefault((*inst.shape, inst.slots), []).append(s)
    for (_, _, slots), idx in groups.items():
        insts = [markets[s][0] for s in idx]
        values = np.stack([markets[s][1] for s in idx])  # (S, n)
        bids = values * m[None, :]
        s_n = len(idx)
        shared = all(x is insts[0] for x in insts)
        ctr = insts[0].ctr if shared else np.repeat(np.stack([x.ctr for x in insts]),
                                                    who.size, axis=0)
        data = kernel.prepare(mechanism.model, ctr)
        t_bids = np.repeat(bids, who.size, axis=0)  # task = (market, advertiser)
        t_who = np.tile(who, s_n)
        t_val = values[np.repeat(np.arange(s_n), who.size), t_who]
        tab = batch_steps(kernel, data, slots, t_bids, t_who, top * t_val,
                          ratio_screen=isinstance(mechanism.model, MNL))
        k = tab.current
        u_own = t_val * tab.ctr[k] - tab.payment(rule, k, t_bids[np.arange(t_who.size), t_who])
        own_sum += u_own.reshape(s_n, who.size).sum(axis=0)
        if g.size:
            z = (t_val[:, None] * g[None, :]).ravel()
            tasks = np.repeat(np.arange(t_who.size), g.size)
            steps = tab.locate_exact(kernel, data.take(np.arange(t_who.size)), slots, t_bids,
                                     t_who, tasks, z)
            u = np.repeat(t_val, g.size) * tab.ctr[steps] - tab.payment(rule, steps, z)
            grid_sum += u.reshape(s_n, who.size, g.size).sum(axis=0)
    total = len(markets)
    return own_sum / total, grid_sum / total


def utility_table(
    mechanism: Mechanism, market: Any, multipliers: ArrayLike, grid: ArrayLike,
) -> NDArray[np.float64]:
    """Expected utility of every advertiser for every grid multiplier, others fixed.

    Parameters
    ----------
    mechanism : Mechanism
        GSP, FirstPrice or VCG with an exact or maximal-in-range solver.
    market : (Instance, values) or sequence of them
        Markets averaged with equal weights (same number of advertisers).
    multipliers : array_like of shape (n,)
        The profile: advertiser ``i`` bids ``multipliers[i] * v_i``.
    grid : array_like of shape (G,)
        Candidate multipliers of a deviation.

    Returns
    -------
    ndarray of shape (n, G)
        ``U[i, k]``: mean utility of ``i`` bidding ``grid[k] * v_i``.

    Examples
    --------
    First price, one slot, values 1 and 0.5, the second bidder bids half:

    >>> import numpy as np, aigc_auction as aa
    >>> from aigc_auction.equilibrium import utility_table
    >>> mkt = (aa.Instance(ctr=[[0.5], [0.5]]), np.array([1.0, 0.5]))
    >>> utility_table(aa.FirstPrice(), mkt, [1.0, 0.5], [0.2, 0.3, 1.0])[0].round(3)
    array([0.  , 0.35, 0.  ])
    """
    pairs = _markets(market)
    n = pairs[0][0].n_advertisers
    _, table = _tables(mechanism, pairs, _profile(multipliers, n), np.arange(n),
                       check_grid(grid))
    return table


@dataclass(frozen=True, eq=False)
class EquilibriumCheck:
    """How far a multiplier profile is from an equilibrium of the grid game.

    Attributes
    ----------
    epsilon : float
        Largest unilateral gain ``max_i (max_k U[i, k] - u_i)``, at least 0: the
        profile is an epsilon-equilibrium for every epsilon at or above it.
    bidder : int
        Who gains it.
    deviation : float
        The multiplier achieving it.
    utility : ndarray of shape (n,)
        Expected utility of every advertiser at the profile.
    gains : ndarray of shape (n,)
        Each advertiser's best gain (may be negative: the profile beats the grid).
    """

    epsilon: float
    bidder: int
    deviation: float
    utility: NDArray[np.float64]
    gains: NDArray[np.float64]

    def is_equilibrium(self, eps: float = 1e-3) -> bool:
        """Whether no advertiser gains more than ``eps`` by a grid deviation."""
        return bool(self.epsilon <= eps)


def equilibrium_check(
    mechanism: Mechanism, market: Any, multipliers: ArrayLike, *, grid: ArrayLike,
) -> EquilibriumCheck:
    """The largest unilateral gain from the profile ``multipliers`` on ``grid``.

    Parameters
    ----------
    mechanism, market, multipliers, grid
        As in :func:`utility_table`.

    Returns
    -------
    EquilibriumCheck

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> from aigc_auction.equilibrium import equilibrium_check
    >>> mkt = (aa.Instance(ctr=[[0.5], [0.5]]), np.array([1.0, 0.46]))
    >>> res = equilibrium_check(aa.FirstPrice(), mkt, [0.6, 0.5], grid=np.linspace(0, 1, 21))
    >>> res.bidder, res.deviation, round(res.epsilon, 3)
    (0, 0.25, 0.175)
    """
    pairs = _markets(market)
    n = pairs[0][0].n_advertisers
    m = _profile(multipliers, n)
    g = check_grid(grid)
    own, table = _tables(mechanism, pairs, m, np.arange(n), g)
    best = np.argmax(table, axis=1)
    gains = table[np.arange(n), best] - own
    i = int(np.argmax(gains))
    return EquilibriumCheck(max(float(gains[i]), 0.0), i, float(g[best[i]]), own, gains)


@dataclass(frozen=True, eq=False)
class BestResponseResult:
    """What :func:`best_response_dynamics` returns.

    Attributes
    ----------
    multipliers : ndarray of shape (n,)
        The final profile.
    converged : bool
        Whether a full pass changed nobody's multiplier.
    passes : int
        Passes over the advertisers made.
    path : ndarray of shape (passes + 1, n)
        The profile after each pass (row 0: the start).
    check : EquilibriumCheck
        :func:`equilibrium_check` of the final profile on the same grid.
    """

    multipliers: NDArray[np.float64]
    converged: bool
    passes: int
    path: NDArray[np.float64]
    check: EquilibriumCheck

    @property
    def epsilon(self) -> float:
        """``check.epsilon``."""
        return self.check.epsilon


def best_response_dynamics(
    mechanism: Mechanism,
    market: Any,
    *,
    grid: ArrayLike,
    start: ArrayLike | None = None,
    max_passes: int = 100,
) -> BestResponseResult:
    """Sequential best responses on a multiplier grid until nobody moves.

    In each pass, advertisers ``0, 1, ..., n-1`` in turn switch to a multiplier
    of ``grid`` maximising their expected utility (:func:`utility_table`) given
    the current multipliers of the others; an advertiser whose current
    multiplier is already a best response keeps it, otherwise ties go to the
    lowest multiplier. The dynamics stop after a pass without a change (a pure
    equilibrium of the grid game) or after ``max_passes``.

    Parameters
    ----------
    mechanism : Mechanism
        GSP, FirstPrice or VCG with an exact or maximal-in-range solver.
    market : (Instance, values) or sequence of them
    grid : array_like of shape (G,)
    start : array_like of shape (n,), optional
        Initial multipliers (default: truthful, all 1).
    max_passes : int, default 100

    Returns
    -------
    BestResponseResult

    Examples
    --------
    First price, one slot, values 1 and 0.46 (complete information): the high
    bidder shades down to the first grid bid above the other's value.

    >>> import numpy as np, aigc_auction as aa
    >>> from aigc_auction.equilibrium import best_response_dynamics
    >>> mkt = (aa.Instance(ctr=[[0.5], [0.5]]), np.array([1.0, 0.46]))
    >>> res = best_response_dynamics(aa.FirstPrice(), mkt, grid=np.linspace(0, 1, 21))
    >>> res.multipliers.tolist(), res.converged, res.epsilon
    ([0.5, 1.0], True, 0.0)
    """
    pairs = _markets(market)
    n = pairs[0][0].n_advertisers
    g = check_grid(grid)
    m = np.ones(n) if start is None else _profile(start, n).copy()
    passes_max = check_int(max_passes, "max_passes", low=1)
    path = [m.copy()]
    converged = False
    passes = 0
    while passes < passes_max:
        passes += 1
        changed = False
        for i in range(n):
            own, table = _tables(mechanism, pairs, m, np.array([i]), g)
            row = table[0]
            best = float(row.max())
            tol = 1e-12 * max(abs(best), 1e-300)
            if own[0] >= best - tol:
                continue  # the current multiplier is already a best response
            k = int(np.flatnonzero(row >= best - tol)[0])
            if g[k] != m[i]:
                m[i] = g[k]
                changed = True
        path.append(m.copy())
        if not changed:
            converged = True
            break
    check = equilibrium_check(mechanism, pairs, m, grid=g)
    return BestResponseResult(m, converged, passes, np.array(path), check)


def profile_outcomes(
    mechanism: Mechanism, market: Any, multipliers: ArrayLike
) -> dict[str, float]:
    """Mean revenue and welfare (at the true values) of a multiplier profile.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> from aigc_auction.equilibrium import profile_outcomes
    >>> mkt = (aa.Instance(ctr=[[0.5], [0.5]]), np.array([1.0, 0.5]))
    >>> profile_outcomes(aa.FirstPrice(), mkt, [0.6, 1.0])
    {'revenue': 0.3, 'welfare': 0.5}
    """
    pairs = _markets(market)
    n = pairs[0][0].n_advertisers
    m = _profile(multipliers, n)
    rev = wel = 0.0
    for inst, v in pairs:
        out = mechanism.run(inst, m * v)
        rev += out.revenue
        wel += float(np.dot(v, out.ctr))
    return {"revenue": rev / len(pairs), "welfare": wel / len(pairs)}
