"""Simulated click logs: a logging policy picks slates, a user model clicks.

The click mechanics are those of the user models: a cascade user reads the
shown ads in order, clicks each with probability ``p`` and reads on with
probability ``gc`` after a click and ``gs`` after a skip (exactly the draw of
:meth:`aigc_auction.Cascade.simulate_clicks`, here vectorised over sessions whose
slates differ); an MNL user clicks shown ad ``k`` with probability
``w_k / (1 + sum w)`` and nothing with probability ``1 / (1 + sum w)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .._validation import check_bids, check_int, check_rng
from ..allocation import check_allocation
from ..batch import run_batch_arrays
from ..instance import Instance
from ..mechanisms import Mechanism
from ..models import MNL, Cascade, UserModel
from .logs import ClickData

__all__ = ["simulate_clicks_on_slates", "simulate_logs", "uniform_slates"]

#: Sessions drawn per vectorised block.
_BLOCK = 1 << 16

Slates = tuple[NDArray[np.int64], NDArray[np.int64]]


def uniform_slates(
    n_advertisers: int, n_positions: int, slots: int, n_sessions: int, *,
    fixed_order: bool, rng: np.random.Generator,
) -> Slates:
    """Uniformly random slates: ``min(slots, n_advertisers)`` distinct ads at distinct positions.

    Returns ``(advertiser, position)``, each of shape ``(n_sessions, k)``, in
    reading order: uniformly random, or increasing position when ``fixed_order``.
    Every matching of ``k`` ads to ``k`` positions is equally likely.
    """
    k = min(slots, n_advertisers)
    adv = np.empty((n_sessions, k), dtype=np.int64)
    pos = np.empty((n_sessions, k), dtype=np.int64)
    for s in range(0, n_sessions, _BLOCK):
        b = min(_BLOCK, n_sessions - s)
        adv[s:s + b] = np.argsort(rng.random((b, n_advertisers)), axis=1)[:, :k]
        pos[s:s + b] = np.argsort(rng.random((b, n_positions)), axis=1)[:, :k]
    if fixed_order:
        pos.sort(axis=1)
    return adv, pos


def simulate_clicks_on_slates(
    instance: Instance, model: UserModel, advertiser: NDArray[np.int64],
    position: NDArray[np.int64], *, rng: np.random.Generator,
) -> NDArray[np.bool_]:
    """Clicks of one user per slate.

    Parameters
    ----------
    instance : Instance
    model : MNL or Cascade
    advertiser, position : ndarray of int, shape (n_sessions, max_rank)
        Slates in reading order, ``-1`` after a slate's end.
    rng : numpy Generator

    Returns
    -------
    ndarray of bool, shape (n_sessions, max_rank)
    """
    shown = advertiser >= 0
    a, j = np.where(shown, advertiser, 0), np.where(shown, position, 0)
    p = np.where(shown, instance.ctr[a, j], 0.0)
    out = np.zeros(advertiser.shape, dtype=bool)
    if isinstance(model, Cascade):
        gc, gs = model.continuation_params(instance.n_advertisers)
        for s in range(0, p.shape[0], _BLOCK):
            sl = slice(s, s + _BLOCK)
            u = rng.random((*p[sl].shape, 2))
            click = u[..., 0] < p[sl]
            go_on = np.where(click, u[..., 1] < gc[a[sl]], u[..., 1] < gs[a[sl]])
            reads = np.ones_like(click)
            reads[:, 1:] = np.cumprod(go_on[:, :-1], axis=1).astype(bool)
            out[sl] = click & reads & shown[sl]
        return out
    if isinstance(model, MNL):
        model.check_instance(instance)
        w = np.where(shown, instance.odds[a, j], 0.0)
        cum = np.cumsum(w, axis=1) / (1.0 + w.sum(axis=1, keepdims=True))
        draw = rng.random((p.shape[0], 1))
        hit = (draw < cum) & shown
        first = hit.argmax(axis=1)
        rows = np.flatnonzero(hit.any(axis=1))
        out[rows, first[rows]] = True
        return out
    raise TypeError(
        f"`model` must be an aigc_auction.MNL or Cascade user model; got {type(model).__name__}"
    )


def _bids(sampler: Any, n: int, n_sessions: int, gen: np.random.Generator) -> NDArray[np.float64]:
    """Bid matrix ``(n_sessions, n)`` from a policy's bid sampler."""
    if hasattr(sampler, "rvs"):
        b = np.asarray(sampler.rvs(size=(n_sessions, n), random_state=gen), dtype=np.float64)
    elif callable(sampler):
        b = np.asarray(sampler(gen, n_sessions), dtype=np.float64)
    else:
        return np.tile(check_bids(sampler, n, "policy bids"), (n_sessions, 1))
    if b.shape != (n_sessions, n) or not np.all(np.isfinite(b)) or np.any(b < 0):
        raise ValueError(
            f"`policy` bid sampler must return finite non-negative bids of shape "
            f"({n_sessions}, {n}); got shape {b.shape}"
        )
    return b


def _mechanism_slates(
    instance: Instance, mechanism: Mechanism, sampler: Any, n_sessions: int,
    gen: np.random.Generator,
) -> Slates:
    bids = _bids(sampler, instance.n_advertisers, n_sessions, gen)
    res = run_batch_arrays(mechanism, instance, bids)
    # inv[s, j]: the ad at position j in session s; the extra last column (-1) is
    # what an unused slot (order -1) picks
    inv = np.full((n_sessions, instance.n_positions + 1), -1, dtype=np.int64)
    rows, ads = np.nonzero(res.assignment >= 0)
    inv[rows, res.assignment[rows, ads]] = ads
    return inv[np.arange(n_sessions)[:, None], res.order], res.order


def _callable_slates(
    instance: Instance, policy: Callable[[np.random.Generator], Any], n_sessions: int,
    gen: np.random.Generator,
) -> Slates:
    k = instance.slots
    adv = np.full((n_sessions, k), -1, dtype=np.int64)
    pos = np.full((n_sessions, k), -1, dtype=np.int64)
    for s in range(n_sessions):
        got = policy(gen)
        if not isinstance(got, tuple) or len(got) != 2:
            raise TypeError(
                "`policy` must return a tuple (assignment, order); "
                f"got {type(got).__name__} for session {s}"
            )
        a, o = check_allocation(instance, got[0], got[1])
        inv = np.full(instance.n_positions, -1, dtype=np.int64)
        inv[a[a >= 0]] = np.flatnonzero(a >= 0)
        adv[s, : o.size], pos[s, : o.size] = inv[o], o
    return adv, pos


def simulate_logs(
    instance: Instance,
    model: UserModel,
    *,
    n_sessions: int,
    policy: Any = None,
    rng: Any = None,
) -> pd.DataFrame:
    """Click logs of simulated users: one row per shown ad per session.

    Parameters
    ----------
    instance : Instance
        The true CTR matrix; ``instance.slots`` ads are shown per session (by the
        default policy).
    model : MNL or Cascade
        The true user model. A position-based model (PBM, ``p[i, j] = a_i e_j``,
        independent clicks) is ``Cascade(continue_after_click=1,
        continue_after_skip=1)`` on ``Instance.from_separable(a, e)``.
    n_sessions : int
        Number of sessions (>= 1).
    policy : None, (Mechanism, bids) or callable, optional
        The logging policy. ``None``: uniformly random slates of
        ``min(slots, n_advertisers)`` distinct ads at distinct positions, read in a
        uniformly random order, or in position order under
        ``Cascade(order="fixed")``. ``(mechanism, bids)``: every session runs an
        auction on ``instance`` with bids from ``bids`` — a frozen ``scipy.stats``
        distribution (i.i.d. bids), a callable ``f(rng, n_sessions)`` returning an
        array ``(n_sessions, n_advertisers)``, or one fixed bid vector — and shows
        its allocation in its reading order (sessions showing nothing leave no
        rows). A callable ``policy(rng) -> (assignment, order)`` is called once
        per session (``order=None``: index order).
    rng : None, int, SeedSequence or Generator, optional
        Randomness (:func:`numpy.random.default_rng`); the same seed gives the
        same log.

    Returns
    -------
    pandas.DataFrame
        Columns ``session``, ``advertiser``, ``position``, ``rank`` (reading rank
        from 0), ``click`` (bool), sorted by session and rank.

    Raises
    ------
    TypeError
        If ``model`` is not an MNL or Cascade model or ``policy`` has a wrong type.
    ValueError
        If ``n_sessions < 1``, the instance is outside the model's domain, or a
        policy returns an infeasible allocation.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.3], [0.1, 0.6]], slots=2)
    >>> logs = aa.simulate_logs(inst, aa.Cascade(), n_sessions=3, rng=0)
    >>> list(logs.columns), len(logs)
    (['session', 'advertiser', 'position', 'rank', 'click'], 6)
    >>> int(logs.groupby("session")["click"].sum().max()) <= 1   # classic cascade
    True
    """
    if not isinstance(instance, Instance):
        raise TypeError(
            f"`instance` must be an aigc_auction.Instance; got {type(instance).__name__}"
        )
    if not isinstance(model, MNL | Cascade):
        raise TypeError(
            f"`model` must be an aigc_auction.MNL or Cascade user model; got {model!r}"
        )
    model.check_instance(instance)
    sessions = check_int(n_sessions, "n_sessions", low=1)
    gen = check_rng(rng)
    if policy is None:
        fixed = isinstance(model, Cascade) and model.order == "fixed"
        adv, pos = uniform_slates(instance.n_advertisers, instance.n_positions, instance.slots,
                                  sessions, fixed_order=fixed, rng=gen)
    elif isinstance(policy, tuple) and len(policy) == 2 and isinstance(policy[0], Mechanism):
        adv, pos = _mechanism_slates(instance, policy[0], policy[1], sessions, gen)
    elif callable(policy) and not isinstance(policy, Mechanism):
        adv, pos = _callable_slates(instance, policy, sessions, gen)
    else:
        raise TypeError(
            "`policy` must be None, a tuple (Mechanism, bids) or a callable "
            f"rng -> (assignment, order); got {type(policy).__name__}"
        )
    click = simulate_clicks_on_slates(instance, model, adv, pos, rng=gen)
    data = ClickData(np.arange(sessions, dtype=np.int64), adv, pos, click,
                     instance.n_advertisers, instance.n_positions)
    return data.to_frame()
