r"""Cascade users on click logs: session likelihood with latent stopping, gradient, fit.

A session shows ads at reading ranks ``0..k-1`` with click probabilities ``p_r``
(the CTR of the pair at rank ``r``) and clicks ``c_r``. The user reads rank 0,
clicks with probability ``p_r``, then reads on with probability ``g_r``
(``gc`` after a click, ``gs`` after a skip). The last rank read, ``T``, is not
observed: it is at least the last clicked rank ``L`` (``-1`` without clicks). For
``t >= max(L, 0)``

.. math::

    P(T = t, c) = \prod_{r \le t} p_r^{c_r} (1 - p_r)^{1 - c_r}
                  \prod_{r < t} g_r \cdot (1 - g_t)^{[t < k - 1]},

and the session likelihood is ``P(c) = sum_t P(T = t, c)``; this equals the
closed form with the tail factors ``N_L`` and ``M_r`` (``docs/clicklogs.md``). The
posterior ``w_t = P(T = t | c)`` gives the read probabilities
``rho_r = P(T >= r | c)`` and, by Fisher's identity, the gradient on the logit
scale: ``rho_r (c_r - p_r)`` for the pair at rank ``r``, and
``rho_{r+1} - g_r rho_r`` for the continuation parameter used after rank ``r``.
The observed information follows from Louis' identity (complete-data curvature
minus the posterior variance of the complete-data score). Everything is
vectorised over sessions (blocks of :data:`~._numeric.CHUNK`), looping only
over ranks.

The fit maximises the likelihood (plus the optional shrinkage prior) over the
logits of every shown pair's CTR and of the free continuation probabilities by
L-BFGS-B (:func:`._numeric.lbfgs`).
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
    split_chunks,
)
from .logs import ClickData

__all__ = [
    "cascade_click_probabilities",
    "cascade_information",
    "cascade_loglik_grad",
    "cascade_session_loglik",
    "fit_cascade",
]

#: Largest number of free parameters for which the dense information matrix is built.
MAX_INFO_PARAMS = 4000
_SCALARS = ("continue_after_click", "continue_after_skip")

Cont = float | NDArray[np.float64]


def _per_rank(value: Cont, adv: NDArray[np.int64]) -> Cont:
    """A continuation parameter (scalar or one per advertiser) at every rank."""
    return value if np.ndim(value) == 0 else np.asarray(value)[adv]


def _log_pair(prob: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(log p, log(1 - p))`` of probabilities that may be exactly 0 or 1."""
    p = np.asarray(prob, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(p), np.log1p(-p)


def _posterior(
    ch: ClickData,
    lp: NDArray[np.float64],
    l1p: NDArray[np.float64],
    lg: tuple[Cont, Cont, Cont, Cont],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Session log-likelihoods and the posterior ``w[s, t] = P(T = t | clicks)``.

    ``lp``, ``l1p``: log CTR and log(1 - CTR) of every pair (flat, ``n * m``);
    ``lg``: ``(log gc, log(1 - gc), log gs, log(1 - gs))``, scalars or per advertiser.
    Impossible sessions get ``-inf`` and an all-zero posterior row.
    """
    pair, click, shown, nxt = ch.pair, ch.click, ch.shown, ch.has_next
    adv = np.where(shown, ch.advertiser, 0)
    lgc, l1gc, lgs, l1gs = (_per_rank(v, adv) for v in lg)
    logf = np.where(click, lp[pair], l1p[pair])
    logf[~shown] = 0.0
    log_j = np.cumsum(logf, axis=1)
    if ch.max_rank > 1:
        cont = np.where(nxt, np.where(click, lgc, lgs), 0.0)
        log_j[:, 1:] += np.cumsum(cont[:, :-1], axis=1)
    log_j += np.where(nxt, np.where(click, l1gc, l1gs), 0.0)
    valid = shown & (np.arange(ch.max_rank) >= ch.last_click[:, None])
    log_j = np.where(valid, log_j, -np.inf)
    top = log_j.max(axis=1)
    ok = np.isfinite(top)
    shift = np.where(ok, top, 0.0)
    e = np.exp(log_j - shift[:, None])
    tot = e.sum(axis=1)
    with np.errstate(divide="ignore"):
        ll = np.where(ok, shift + np.log(np.where(ok, tot, 1.0)), -np.inf)
    return ll, e / np.where(ok, tot, 1.0)[:, None]


def _reads(w: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``rho[s, r] = P(T >= r)`` and ``rho_next[s, r] = rho[s, r + 1]`` (0 at the end)."""
    rho = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
    nxt = np.zeros_like(rho)
    nxt[:, :-1] = rho[:, 1:]
    return rho, nxt


def _log_cont(gc: Cont, gs: Cont) -> tuple[Cont, Cont, Cont, Cont]:
    with np.errstate(divide="ignore"):
        return (np.log(gc), np.log1p(-np.asarray(gc)), np.log(gs), np.log1p(-np.asarray(gs)))


def cascade_session_loglik(
    ctr: ArrayLike, continue_after_click: Cont, continue_after_skip: Cont, data: ClickData
) -> NDArray[np.float64]:
    """Log-likelihood of every session under cascade users.

    Parameters
    ----------
    ctr : array_like of shape (n_advertisers, n_positions)
        Click probability of each pair when read, in ``[0, 1]``.
    continue_after_click, continue_after_skip : float or ndarray of shape (n_advertisers,)
        ``gc`` and ``gs`` in ``[0, 1]``.
    data : ClickData

    Returns
    -------
    ndarray of shape (n_sessions,)
        ``log P(clicks of the session)``; ``-inf`` for a session these parameters
        cannot produce.
    """
    lp, l1p = _log_pair(np.asarray(ctr, dtype=np.float64).ravel())
    lg = _log_cont(continue_after_click, continue_after_skip)
    return np.concatenate([_posterior(ch, lp, l1p, lg)[0] for ch in split_chunks(data)])


def cascade_click_probabilities(
    ctr: ArrayLike, continue_after_click: Cont, continue_after_skip: Cont, data: ClickData
) -> NDArray[np.float64]:
    """Marginal click probability of every shown ad: ``p_r prod_{u<r} q_u``.

    ``q_u = p_u gc_u + (1 - p_u) gs_u`` is the probability of reading on after
    rank ``u``. Returns an array of shape ``(n_sessions, max_rank)``, 0 after a
    session's end.
    """
    p = np.asarray(ctr, dtype=np.float64).ravel()[data.pair] * data.shown
    adv = np.where(data.shown, data.advertiser, 0)
    gc, gs = _per_rank(continue_after_click, adv), _per_rank(continue_after_skip, adv)
    q = p * gc + (1.0 - p) * gs
    reach = np.ones_like(p)
    reach[:, 1:] = np.cumprod(q[:, :-1], axis=1)
    return np.asarray(p * reach, dtype=np.float64)


def cascade_loglik_grad(
    theta: NDArray[np.float64], gc: float, gs: float, chunks: list[ClickData]
) -> tuple[float, NDArray[np.float64], float, float, NDArray[np.float64]]:
    """Total log-likelihood and its gradient on the logit scale.

    Parameters
    ----------
    theta : ndarray of shape (n * m,)
        Logits of the pair CTRs (flat).
    gc, gs : float
        Continuation probabilities (scalars here).
    chunks : list of ClickData

    Returns
    -------
    loglik : float
    grad_theta : ndarray of shape (n * m,)
    grad_logit_gc, grad_logit_gs : float
    reads : ndarray of shape (n * m,)
        Expected number of times each pair was read (posterior).
    """
    lp, l1p = log_expit(theta), log1m_expit(theta)
    p = special.expit(theta)
    lg = _log_cont(gc, gs)
    size = theta.size
    total, g_theta, reads = 0.0, np.zeros(size), np.zeros(size)
    ga = gb = 0.0
    for ch in chunks:
        ll, w = _posterior(ch, lp, l1p, lg)
        total += float(ll.sum())
        rho, rho_next = _reads(w)
        sel = ch.shown
        pr = ch.pair[sel]
        g_theta += np.bincount(pr, weights=rho[sel] * (ch.click[sel] - p[pr]), minlength=size)
        reads += np.bincount(pr, weights=rho[sel], minlength=size)
        ta = ch.click & ch.has_next
        tb = ~ch.click & ch.has_next
        ga += float((rho_next[ta] - gc * rho[ta]).sum())
        gb += float((rho_next[tb] - gs * rho[tb]).sum())
    return total, g_theta, ga, gb, reads


def cascade_information(
    theta: NDArray[np.float64], gc: float, gs: float, chunks: list[ClickData],
    active: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Observed information (minus the Hessian of the log-likelihood) by Louis' identity.

    Parameters
    ----------
    theta : ndarray of shape (n * m,)
        Pair logits.
    gc, gs : float
    chunks : list of ClickData
    active : ndarray of int
        The pairs (flat indices) whose logits are parameters.

    Returns
    -------
    ndarray of shape (len(active) + 2, len(active) + 2)
        Over ``[theta[active]..., logit(gc), logit(gs)]``.
    """
    p_all = special.expit(theta)
    lp, l1p = log_expit(theta), log1m_expit(theta)
    lg = _log_cont(gc, gs)
    na = active.size
    where = np.full(theta.size, na + 2, dtype=np.int64)  # inactive -> dummy index
    where[active] = np.arange(na)
    q = na + 3
    out = np.zeros(q * q)
    for ch in chunks:
        _, w = _posterior(ch, lp, l1p, lg)
        rho, _ = _reads(w)
        r = ch.max_rank
        le = np.arange(r)[None, :] <= np.arange(r)[:, None]  # [t, r]: r <= t
        lt = np.arange(r)[None, :] < np.arange(r)[:, None]  # [t, r]: r < t
        p = p_all[ch.pair] * ch.shown
        cmp = (ch.click - p) * ch.shown
        ta = (ch.click & ch.has_next).astype(np.float64)
        tb = (~ch.click & ch.has_next).astype(np.float64)
        s_theta = cmp[:, None, :] * le[None]
        s_a = np.einsum("sr,tr->st", ta, le * (lt - gc))
        s_b = np.einsum("sr,tr->st", tb, le * (lt - gs))
        s = np.concatenate([s_theta, s_a[..., None], s_b[..., None]], axis=2)
        mean = np.einsum("st,std->sd", w, s)
        info = -np.einsum("st,std,ste->sde", w, s, s)
        info += mean[:, :, None] * mean[:, None, :]
        d = np.arange(r)
        info[:, d, d] += rho * p * (1.0 - p)
        info[:, r, r] += gc * (1.0 - gc) * (ta * rho).sum(axis=1)
        info[:, r + 1, r + 1] += gs * (1.0 - gs) * (tb * rho).sum(axis=1)
        idx = np.empty((ch.n_sessions, r + 2), dtype=np.int64)
        idx[:, :r] = np.where(ch.shown, where[ch.pair], na + 2)
        idx[:, r], idx[:, r + 1] = na, na + 1
        flat = idx[:, :, None] * q + idx[:, None, :]
        out += np.bincount(flat.ravel(), weights=info.ravel(), minlength=q * q)
    return out.reshape(q, q)[: na + 2, : na + 2]


def _stderr(
    info: NDArray[np.float64], keep: NDArray[np.bool_], scalar_pos: dict[str, int],
    values: dict[str, float],
) -> tuple[dict[str, float] | None, str]:
    """Standard errors of the free scalars (probability scale) from the information."""
    sub = info[np.ix_(keep, keep)]
    try:
        chol = np.linalg.cholesky(sub)
    except np.linalg.LinAlgError:
        return None, ("the observed information is not positive definite at the fit "
                      "(a parameter is not identified by these logs)")
    kept = np.flatnonzero(keep)
    out: dict[str, float] = {}
    for name, col in scalar_pos.items():
        e = np.zeros(kept.size)
        e[int(np.searchsorted(kept, col))] = 1.0
        z = np.linalg.solve(chol, e)
        g = values[name]
        out[name] = float(g * (1.0 - g) * np.sqrt(z @ z))
    return out, ""


def fit_cascade(
    data: ClickData,
    *,
    continue_after_click: Cont | None = None,
    continue_after_skip: Cont | None = None,
    shrinkage: float = 0.0,
    init: tuple[NDArray[np.float64], dict[str, Any]] | None = None,
    tol: float = 1e-9,
    max_iter: int = 2000,
) -> FamilyFit:
    """Maximum-likelihood (or MAP with ``shrinkage``) cascade fit.

    Parameters
    ----------
    data : ClickData
        Sessions the family can produce (the caller drops or rejects the others).
    continue_after_click, continue_after_skip : float or ndarray, optional
        A value fixes the parameter (scalar or one per advertiser); ``None`` fits
        it (one scalar).
    shrinkage : float
        Beta-prior strength (:mod:`._numeric`).
    init : (ctr, params), optional
        Warm start: a CTR matrix and a dict with the continuation parameters.
    tol, max_iter : float, int
        L-BFGS-B stopping rules (:func:`._numeric.lbfgs`).

    Returns
    -------
    FamilyFit
    """
    n, m = data.n_advertisers, data.n_positions
    chunks = split_chunks(data)
    imp, clk = (a.ravel() for a in data.pair_counts)
    active = np.flatnonzero(imp > 0)
    p0 = pooled_rate(data)
    theta = np.full(n * m, float(logit(p0)))
    fixed = {"continue_after_click": continue_after_click,
             "continue_after_skip": continue_after_skip}
    free = [k for k in _SCALARS if fixed[k] is None]
    if init is not None:
        theta[active] = logit(np.asarray(init[0]).ravel()[active])
        start = {k: init[1].get(k, 0.5) for k in free}
    else:
        theta[active] = logit((clk[active] + p0) / (imp[active] + 1.0))
        start = dict.fromkeys(free, 0.5)
    x0 = np.concatenate([theta[active], logit([float(np.mean(start[k])) for k in free])])
    total = float(data.n_sessions)

    def unpack(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], dict[str, Any]]:
        th = theta.copy()
        th[active] = x[: active.size]
        vals = dict(fixed)
        for k, v in zip(free, x[active.size:], strict=True):
            vals[k] = float(special.expit(v))
        return th, vals

    def objective(x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        th, v = unpack(x)
        ll, g_th, ga, gb, _ = cascade_loglik_grad(
            th, v["continue_after_click"], v["continue_after_skip"], chunks)
        if shrinkage > 0:
            pa = special.expit(th[active])
            ll += shrinkage * float(np.sum(p0 * log_expit(th[active])
                                           + (1 - p0) * log1m_expit(th[active])))
            g_th[active] += shrinkage * (p0 - pa)
        g_scalar = {"continue_after_click": ga, "continue_after_skip": gb}
        grad = np.concatenate([g_th[active], [g_scalar[k] for k in free]])
        return -ll / total, -grad / total

    res = lbfgs(objective, x0, tol=tol, max_iter=max_iter)
    th, vals = unpack(res.x)
    gc, gs = vals["continue_after_click"], vals["continue_after_skip"]
    lp, l1p = log_expit(th), log1m_expit(th)
    lg = _log_cont(gc, gs)
    loglik, reads = 0.0, np.zeros(n * m)
    for ch in chunks:
        ll, w = _posterior(ch, lp, l1p, lg)
        loglik += float(ll.sum())
        rho, _ = _reads(w)
        reads += np.bincount(ch.pair[ch.shown], weights=rho[ch.shown], minlength=n * m)
    caveats: list[str] = []
    never_read = active[reads[active] <= 1e-12]
    unident = np.union1d(np.flatnonzero(imp == 0), never_read)
    if never_read.size:
        caveats.append(
            f"{never_read.size} shown pairs are never read under the fixed continuation "
            "parameters: their CTR is not identified and is set to the pooled click "
            f"rate {p0:.4g}"
        )
    th[never_read] = logit(p0)
    ident = np.setdiff1d(active, never_read)
    transitions = {
        "continue_after_click": int(sum((ch.click & ch.has_next).sum() for ch in chunks)),
        "continue_after_skip": int(sum((~ch.click & ch.has_next).sum() for ch in chunks)),
    }
    free_ident = []
    for k in free:
        if transitions[k] == 0:
            what = "clicked" if k == "continue_after_click" else "skipped"
            caveats.append(
                f"`{k}` is not identified: no {what} ad is followed by another shown ad; "
                f"it is left at its starting value {vals[k]:.4g}"
            )
        else:
            free_ident.append(k)
    at_bound = ident[(np.abs(th[ident]) >= LOGIT_BOUND - 1e-6)]
    if at_bound.size:
        caveats.append(
            f"{at_bound.size} pairs have a fitted CTR at the bound of the parameter space "
            "(never or always clicked when read; maximum likelihood is 0 or 1)"
        )
    if not res.converged:
        caveats.append(f"L-BFGS-B stopped before convergence: {res.message}")
    stderr, reason = _cascade_stderr(th, vals, free, free_ident, chunks, ident, shrinkage)
    params = {k: (float(v) if np.ndim(v) == 0 else np.asarray(v)) for k, v in vals.items()}
    return FamilyFit(
        ctr=np.asarray(clip_prob(special.expit(th)).reshape(n, m)),
        params=params,
        loglik=loglik,
        n_params=int(ident.size + len(free_ident)),
        converged=res.converged,
        n_iter=res.n_iter,
        unidentified=np.stack(np.unravel_index(unident, (n, m)), axis=1).astype(np.int64),
        stderr=stderr,
        stderr_reason=reason,
        caveats=caveats,
    )


def _cascade_stderr(
    theta: NDArray[np.float64], vals: dict[str, Any], free: list[str],
    free_ident: list[str], chunks: list[ClickData], ident: NDArray[np.int64],
    shrinkage: float,
) -> tuple[dict[str, float] | None, str]:
    """Standard errors of the free, identified continuation parameters (or a reason)."""
    if not free:
        return None, "no free scalar parameter: both continuation parameters were fixed"
    if not free_ident:
        return None, "the free continuation parameters are not identified by these logs"
    if ident.size + 2 > MAX_INFO_PARAMS:
        return None, (f"{ident.size} pair parameters: more than {MAX_INFO_PARAMS}, the "
                      "dense observed information is not built")
    gc, gs = vals["continue_after_click"], vals["continue_after_skip"]
    info = cascade_information(theta, float(np.mean(gc)), float(np.mean(gs)), chunks, ident)
    if shrinkage > 0:
        p = special.expit(theta[ident])
        info[np.arange(ident.size), np.arange(ident.size)] += shrinkage * p * (1 - p)
    keep = np.ones(ident.size + 2, dtype=bool)
    keep[: ident.size] = np.abs(theta[ident]) < LOGIT_BOUND - 1e-6  # boundary pairs fixed
    pos = {"continue_after_click": ident.size, "continue_after_skip": ident.size + 1}
    for k in _SCALARS:
        if k not in free_ident:
            keep[pos[k]] = False
    scalars: dict[str, int] = {}
    notes = [f"`{k}` is not identified" for k in free if k not in free_ident]
    for k in free_ident:
        if abs(float(logit(vals[k]))) >= LOGIT_BOUND - 1e-6:
            keep[pos[k]] = False
            notes.append(f"`{k}` lies on the bound of [0, 1] (no standard error)")
        else:
            scalars[k] = pos[k]
    if not scalars:
        return None, "; ".join(notes)
    out, reason = _stderr(info, keep, scalars, vals)
    return out, "; ".join([*notes, reason] if reason else notes)
