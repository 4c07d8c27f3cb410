r"""MNL users on click logs: the multinomial-logit likelihood with the no-click option.

A session shows the pairs ``S`` with weights ``w = p / (1 - p)``; at most one ad
is clicked:

.. math::

    P(\text{click on } k) = \frac{w_k}{1 + \sum_{l \in S} w_l}, \qquad
    P(\text{no click}) = \frac{1}{1 + \sum_{l \in S} w_l}.

On the logit scale ``theta = log w = logit p`` the log-likelihood
``sum_s [theta_{clicked(s)} - log(1 + sum_{l in S_s} exp theta_l)]`` is concave
(a conditional logit with an outside option); its gradient for pair ``k`` is
``clicks_k - sum_s 1[k in S_s] pi_{s,k}`` with ``pi`` the click probabilities
above. The fit maximises it (plus the optional shrinkage prior) by L-BFGS-B over
the logits of the shown pairs. Sessions with two or more clicks are impossible
(log-likelihood ``-inf``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from ._numeric import (
    LOGIT_BOUND,
    FamilyFit,
    clip_prob,
    lbfgs,
    log1m_expit,
    log_expit,
    logit,
    pooled_rate,
)
from .logs import ClickData, RankBlock

__all__ = ["fit_mnl", "mnl_click_probabilities", "mnl_loglik_grad", "mnl_session_loglik"]


def _session_terms(
    theta: NDArray[np.float64], blk: RankBlock
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Session log-likelihoods ``(S,)`` and click probabilities ``pi`` ``(R, S)``.

    ``theta`` holds the pair logits plus the dummy entry ``-inf`` (weight 0).
    """
    th = theta[blk.pair]
    with np.errstate(over="ignore"):
        w = np.exp(th)
    denom = 1.0 + w.sum(axis=0)
    clicked = np.where(blk.click, th, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore"):
        ll = clicked - np.log(denom)
    ll[blk.n_clicks > 1] = -np.inf
    w /= denom
    return ll, w


def _logits(ctr: ArrayLike) -> NDArray[np.float64]:
    """Pair logits ``log(p / (1 - p))`` plus the dummy ``-inf``."""
    p = np.asarray(ctr, dtype=np.float64).ravel()
    if np.any(p >= 1.0):
        raise ValueError("`ctr` must be below 1 under the MNL model (weight p / (1 - p))")
    with np.errstate(divide="ignore"):
        return np.append(np.log(p) - np.log1p(-p), -np.inf)


def mnl_session_loglik(ctr: ArrayLike, data: ClickData) -> NDArray[np.float64]:
    """Log-likelihood of every session under MNL users (``-inf`` for two clicks).

    Parameters
    ----------
    ctr : array_like of shape (n_advertisers, n_positions)
        Standalone click probabilities in ``[0, 1)``.
    data : ClickData

    Returns
    -------
    ndarray of shape (n_sessions,)
    """
    theta = _logits(ctr)
    return np.concatenate([_session_terms(theta, b)[0] for b in data.blocks])


def mnl_click_probabilities(ctr: ArrayLike, data: ClickData) -> NDArray[np.float64]:
    """Click probability ``w_k / (1 + sum w)`` of every shown ad, shape (n_sessions, max_rank)."""
    theta = _logits(ctr)
    return np.concatenate([_session_terms(theta, b)[1].T for b in data.blocks])


def mnl_loglik_grad(
    theta: NDArray[np.float64], data: ClickData
) -> tuple[float, NDArray[np.float64]]:
    """Total log-likelihood and its gradient in the pair logits ``theta`` (flat)."""
    th = np.append(theta, -np.inf)
    size = th.size
    total, grad = 0.0, np.zeros(size)
    for blk in data.blocks:
        ll, pi = _session_terms(th, blk)
        total += float(ll.sum())
        grad -= np.bincount(blk.pair.ravel(), weights=pi.ravel(), minlength=size)
    _, clicks = data.pair_counts
    return total, grad[:-1] + clicks.ravel()


def fit_mnl(
    data: ClickData,
    *,
    shrinkage: float = 0.0,
    init: tuple[NDArray[np.float64], dict[str, Any]] | None = None,
    tol: float = 1e-9,
    max_iter: int = 2000,
) -> FamilyFit:
    """Maximum-likelihood (or MAP with ``shrinkage``) MNL fit.

    Parameters
    ----------
    data : ClickData
        Sessions with at most one click (the caller drops or rejects the others).
    shrinkage : float
        Beta-prior strength (:mod:`._numeric`).
    init : (ctr, params), optional
        Warm start.
    tol, max_iter : float, int
        L-BFGS-B stopping rules (:func:`._numeric.lbfgs`).

    Returns
    -------
    FamilyFit
        No scalar parameters, so ``stderr`` is ``None``.
    """
    n, m = data.n_advertisers, data.n_positions
    imp, clk = (a.ravel() for a in data.pair_counts)
    active = np.flatnonzero(imp > 0)
    p0 = pooled_rate(data)
    theta = np.full(n * m, float(logit(p0)))
    if init is not None:
        theta[active] = logit(np.asarray(init[0]).ravel()[active])
    else:
        theta[active] = logit((clk[active] + p0) / (imp[active] + 1.0))
    total = float(data.n_sessions)

    def objective(x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        th = theta.copy()
        th[active] = x
        ll, g = mnl_loglik_grad(th, data)
        g = g[active]
        if shrinkage > 0:
            ll += shrinkage * float(np.sum(p0 * log_expit(x) + (1 - p0) * log1m_expit(x)))
            g += shrinkage * (p0 - special.expit(x))
        return -ll / total, -g / total

    res = lbfgs(objective, theta[active].copy(), tol=tol, max_iter=max_iter)
    theta[active] = res.x
    loglik = mnl_loglik_grad(theta, data)[0]
    caveats: list[str] = []
    at_bound = int(np.sum(np.abs(res.x) >= LOGIT_BOUND - 1e-6))
    if at_bound:
        caveats.append(
            f"{at_bound} pairs have a fitted CTR at the bound of the parameter space "
            "(never clicked when shown; maximum likelihood is 0)"
        )
    if not res.converged:
        caveats.append(f"L-BFGS-B stopped before convergence: {res.message}")
    unident = np.flatnonzero(imp == 0)
    return FamilyFit(
        ctr=np.asarray(clip_prob(special.expit(theta)).reshape(n, m)),
        params={},
        loglik=loglik,
        n_params=int(active.size),
        converged=res.converged,
        n_iter=res.n_iter,
        unidentified=np.stack(np.unravel_index(unident, (n, m)), axis=1).astype(np.int64),
        stderr=None,
        stderr_reason="the MNL family has no scalar parameters",
        caveats=caveats,
    )
