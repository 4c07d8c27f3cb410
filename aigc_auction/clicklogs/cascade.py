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
vectorised over sessions (rank-major blocks, :class:`.logs.RankBlock`), looping
only over ranks.

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
)
from .logs import ClickData, RankBlock

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
LogCont = tuple[Cont, Cont, Cont, Cont]


def _at(value: Cont, blk: RankBlock) -> Cont:
    """A continuation parameter (scalar or one per advertiser) at every rank."""
    return value if np.ndim(value) == 0 else np.asarray(value)[blk.advertiser]


def _ext(values: NDArray[np.float64], dummy: float = 0.0) -> NDArray[np.float64]:
    """``values`` with one more entry for the dummy pair after a session's end."""
    return np.append(values, dummy)


def _log_pair(prob: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(log p, log(1 - p))`` (with the dummy entry 0) of probabilities in [0, 1]."""
    p = np.asarray(prob, dtype=np.float64).ravel()
    with np.errstate(divide="ignore"):
        return _ext(np.log(p)), _ext(np.log1p(-p))


def _log_cont(gc: Cont, gs: Cont) -> LogCont:
    """``(log gc, log(1 - gc), log gs, log(1 - gs))``."""
    with np.errstate(divide="ignore"):
        return (np.log(gc), np.log1p(-np.asarray(gc)), np.log(gs), np.log1p(-np.asarray(gs)))


def _posterior(
    blk: RankBlock, lp: NDArray[np.float64], l1p: NDArray[np.float64], lg: LogCont
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Session log-likelihoods ``(S,)`` and the posterior ``w[t, s] = P(T = t | clicks)``.

    ``lp``, ``l1p``: log CTR and log(1 - CTR) of every pair plus the dummy (0);
    ``lg``: the logs of the continuation parameters. Impossible sessions get
    ``-inf`` and an all-zero posterior column.
    """
    logf = np.where(blk.click, lp[blk.pair], l1p[blk.pair])
    if all(np.ndim(v) == 0 and np.isfinite(v) for v in lg):
        a, b, c, d = (float(v) for v in lg)
        cont = blk.click_next * a + blk.skip_next * c
        stop = blk.click_next * b + blk.skip_next * d
    else:  # per-advertiser values or a parameter at 0 / 1 (log = -inf)
        lgc, l1gc, lgs, l1gs = (_at(v, blk) for v in lg)
        cont = np.where(blk.has_next, np.where(blk.click, lgc, lgs), 0.0)
        stop = np.where(blk.has_next, np.where(blk.click, l1gc, l1gs), 0.0)
    log_j = np.empty_like(logf)
    acc = logf[0].copy()
    log_j[0] = acc + stop[0]
    for r in range(1, blk.n_ranks):
        acc += cont[r - 1]
        acc += logf[r]
        log_j[r] = acc + stop[r]
    log_j[~blk.valid] = -np.inf
    top = log_j.max(axis=0)
    ok = np.isfinite(top)
    shift = np.where(ok, top, 0.0)
    e = np.exp(log_j - shift)
    tot = e.sum(axis=0)
    with np.errstate(divide="ignore"):
        ll = np.where(ok, shift + np.log(np.where(ok, tot, 1.0)), -np.inf)
    e /= np.where(ok, tot, 1.0)
    return ll, e


def rho_next(rho: NDArray[np.float64]) -> NDArray[np.float64]:
    """``rho[r + 1]`` at every rank ``r`` (0 at the last rank)."""
    out = np.zeros_like(rho)
    out[:-1] = rho[1:]
    return out


def _reads(w: NDArray[np.float64]) -> NDArray[np.float64]:
    """``rho[r, s] = P(T >= r)``: the posterior probability that rank ``r`` was read."""
    rho = w.copy()
    for r in range(w.shape[0] - 2, -1, -1):
        rho[r] += rho[r + 1]
    return rho


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
    lp, l1p = _log_pair(ctr)
    lg = _log_cont(continue_after_click, continue_after_skip)
    return np.concatenate([_posterior(b, lp, l1p, lg)[0] for b in data.blocks])


def cascade_click_probabilities(
    ctr: ArrayLike, continue_after_click: Cont, continue_after_skip: Cont, data: ClickData
) -> NDArray[np.float64]:
    """Marginal click probability of every shown ad: ``p_r prod_{u<r} q_u``.

    ``q_u = p_u gc_u + (1 - p_u) gs_u`` is the probability of reading on after
    rank ``u``. Returns an array of shape ``(n_sessions, max_rank)``, 0 after a
    session's end.
    """
    pe = _ext(np.asarray(ctr, dtype=np.float64).ravel())
    out = []
    for blk in data.blocks:
        p = pe[blk.pair]
        q = p * _at(continue_after_click, blk) + (1.0 - p) * _at(continue_after_skip, blk)
        reach = np.ones_like(p)
        for r in range(1, blk.n_ranks):
            reach[r] = reach[r - 1] * q[r - 1]
        out.append((p * reach).T)
    return np.concatenate(out)


def cascade_loglik_grad(
    theta: NDArray[np.float64], gc: Cont, gs: Cont, data: ClickData
) -> tuple[float, NDArray[np.float64], float, float, NDArray[np.float64]]:
    """Total log-likelihood and its gradient on the logit scale.

    Parameters
    ----------
    theta : ndarray of shape (n * m,)
        Logits of the pair CTRs (flat).
    gc, gs : float or ndarray of shape (n_advertisers,)
        Continuation probabilities.
    data : ClickData

    Returns
    -------
    loglik : float
    grad_theta : ndarray of shape (n * m,)
    grad_logit_gc, grad_logit_gs : float
        Derivatives with respect to the logit of a scalar ``gc`` / ``gs`` (one
        value shared by all advertisers).
    reads : ndarray of shape (n * m,)
        Expected number of times each pair was read (posterior).
    """
    lp, l1p = _ext(log_expit(theta)), _ext(log1m_expit(theta))
    p = _ext(special.expit(theta))
    lg = _log_cont(gc, gs)
    size = theta.size + 1
    total, g_theta, reads = 0.0, np.zeros(size), np.zeros(size)
    ga = gb = 0.0
    for blk in data.blocks:
        ll, w = _posterior(blk, lp, l1p, lg)
        total += float(ll.sum())
        rho = _reads(w)
        flat = blk.pair.ravel()
        g_theta += np.bincount(flat, weights=(rho * (blk.click - p[blk.pair])).ravel(),
                               minlength=size)
        reads += np.bincount(flat, weights=rho.ravel(), minlength=size)
        gca, gsa = _at(gc, blk), _at(gs, blk)
        ga += float(np.sum(blk.click_next * (rho_next(rho) - gca * rho)))
        gb += float(np.sum(blk.skip_next * (rho_next(rho) - gsa * rho)))
    return total, g_theta[:-1], ga, gb, reads[:-1]


def cascade_information(
    theta: NDArray[np.float64], gc: Cont, gs: Cont, data: ClickData,
    active: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Observed information (minus the Hessian of the log-likelihood) by Louis' identity.

    Parameters
    ----------
    theta : ndarray of shape (n * m,)
        Pair logits.
    gc, gs : float or ndarray of shape (n_advertisers,)
    data : ClickData
    active : ndarray of int
        The pairs (flat indices) whose logits are parameters.

    Returns
    -------
    ndarray of shape (len(active) + 2, len(active) + 2)
        Over ``[theta[active]..., logit(gc), logit(gs)]``.

    Notes
    -----
    Given the last rank read ``T = t``, the complete-data score is
    ``1[r <= t] (c_r - p_r)`` for the pair at rank ``r`` and
    ``sum_{r <= t, r < k-1} (1[r < t] - g)`` over clicked (``gc``) or skipped
    (``gs``) ranks; the complete-data curvature is ``-p (1 - p)`` per read pair
    and ``-g (1 - g)`` per decided continuation. The observed information is the
    posterior mean of minus the curvature minus the posterior covariance of the
    complete-data score.
    """
    lp, l1p = _ext(log_expit(theta)), _ext(log1m_expit(theta))
    p_all = _ext(special.expit(theta))
    lg = _log_cont(gc, gs)
    na = active.size
    where = np.full(theta.size + 1, na + 2, dtype=np.int64)  # inactive, dummy -> spare
    where[active] = np.arange(na)
    q = na + 3
    out = np.zeros(q * q)
    for blk in data.blocks:
        _, w = _posterior(blk, lp, l1p, lg)
        rho = _reads(w)
        r_n, s_n = blk.n_ranks, blk.pair.shape[1]
        d_n = r_n + 2
        p = p_all[blk.pair]
        cmp = (blk.click - p) * blk.shown
        score = np.zeros((r_n, d_n, s_n))  # score[t, d, s]: complete-data score if T = t
        gca = np.broadcast_to(_at(gc, blk), blk.pair.shape)
        gsa = np.broadcast_to(_at(gs, blk), blk.pair.shape)
        ca = np.zeros(s_n)
        cb = np.zeros(s_n)
        for t in range(r_n):
            score[t, : t + 1] = cmp[: t + 1]
            score[t, r_n] = ca - gca[t] * blk.click_next[t]
            score[t, r_n + 1] = cb - gsa[t] * blk.skip_next[t]
            ca = ca + (1.0 - gca[t]) * blk.click_next[t]
            cb = cb + (1.0 - gsa[t]) * blk.skip_next[t]
        mean = np.einsum("ts,tds->ds", w, score)
        info = mean[:, None, :] * mean[None, :, :]
        for t in range(r_n):
            info -= w[t] * score[t][:, None, :] * score[t][None, :, :]
        d = np.arange(r_n)
        info[d, d] += rho * p * (1.0 - p)
        info[r_n, r_n] += (gca * (1.0 - gca) * blk.click_next * rho).sum(axis=0)
        info[r_n + 1, r_n + 1] += (gsa * (1.0 - gsa) * blk.skip_next * rho).sum(axis=0)
        idx = np.empty((d_n, s_n), dtype=np.int64)
        idx[:r_n] = where[blk.pair]
        idx[r_n], idx[r_n + 1] = na, na + 1
        flat = idx[:, None, :] * q + idx[None, :, :]
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
            th, v["continue_after_click"], v["continue_after_skip"], data)
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
    loglik, _, _, _, reads = cascade_loglik_grad(
        th, vals["continue_after_click"], vals["continue_after_skip"], data)
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
        "continue_after_click": int((data.click & data.has_next).sum()),
        "continue_after_skip": int((~data.click & data.has_next).sum()),
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
    stderr, reason = _cascade_stderr(th, vals, free, free_ident, data, ident, shrinkage)
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
    free_ident: list[str], data: ClickData, ident: NDArray[np.int64],
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
    info = cascade_information(theta, gc, gs, data, ident)
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
