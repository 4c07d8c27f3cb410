r"""The position-based model (PBM) on click logs, fitted by EM.

Each shown ad is clicked independently with probability
``p[i, j] = a_i e_j``: the user examines position ``j`` with probability ``e_j``
and finds creative ``i`` attractive with probability ``a_i`` (Craswell et al.
2008; Chuklin, Markov & de Rijke 2015). The likelihood depends on the logs only
through the impressions ``N[i, j]`` and clicks ``C[i, j]`` of every pair.

**EM.** The latent variables of an impression are ``E`` (examined) and ``A``
(attractive), with ``click = E A``. A click means ``E = A = 1``; without a click
``P(E = 1, A = 0) = e (1 - a) / (1 - a e)`` and
``P(E = 0, A = 1) = (1 - e) a / (1 - a e)``. The M-step sets ``a_i`` (``e_j``) to
the expected number of attractive (examined) impressions over the impressions of
advertiser ``i`` (position ``j``). EM stops when the log-likelihood per
impression rises by less than ``tol`` in an iteration, or after ``max_iter``
iterations (then it is reported as not converged).

**Scale.** ``(c a, e / c)`` gives the same CTRs, so the examination
probabilities are normalised to ``max_j e_j = 1`` within every connected
component of the bipartite graph of shown pairs (several components leave their
relative scale, hence the CTR of pairs across them, unidentified).
Shrinkage ``lam`` adds ``lam`` pseudo-impressions at the pooled click rate ``p0``
to every pair (the Beta prior of :mod:`._numeric`), which also connects
everything.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._numeric import PROB_FLOOR, FamilyFit, clip_prob, pooled_rate
from .independent import counts_loglik
from .logs import ClickData

__all__ = ["fit_pbm", "pbm_em"]


def pbm_em(
    impressions: NDArray[np.float64],
    clicks: NDArray[np.float64],
    attractiveness: NDArray[np.float64],
    examination: NDArray[np.float64],
    *,
    tol: float,
    max_iter: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool, int]:
    """EM iterations for the PBM from the pair counts.

    Returns ``(attractiveness, examination, converged, n_iter)``. Rows / columns
    without impressions keep their starting values.
    """
    n_imp = np.maximum(impressions.sum(axis=1), 1e-300)
    m_imp = np.maximum(impressions.sum(axis=0), 1e-300)
    a, e = clip_prob(attractiveness), clip_prob(examination)
    unclicked = impressions - clicks
    total = max(float(impressions.sum()), 1.0)
    ll = counts_loglik(np.outer(a, e), impressions, clicks) / total
    has_a, has_e = impressions.sum(axis=1) > 0, impressions.sum(axis=0) > 0
    for it in range(1, max_iter + 1):
        pe = np.outer(a, e)
        u = unclicked / (1.0 - pe)
        ea = clicks + u * (a[:, None] * (1.0 - e[None, :]))
        ee = clicks + u * ((1.0 - a[:, None]) * e[None, :])
        a = np.where(has_a, clip_prob(ea.sum(axis=1) / n_imp), a)
        e = np.where(has_e, clip_prob(ee.sum(axis=0) / m_imp), e)
        new = counts_loglik(np.outer(a, e), impressions, clicks) / total
        if new - ll < tol:
            return a, e, True, it
        ll = new
    return a, e, False, max_iter


def _components(seen: NDArray[np.bool_]) -> tuple[int, NDArray[np.int64]]:
    """Connected components of the bipartite advertiser-position graph of ``seen`` pairs."""
    n, m = seen.shape
    i, j = np.nonzero(seen)
    graph = coo_matrix((np.ones(i.size), (i, n + j)), shape=(n + m, n + m))
    return connected_components(graph, directed=False)


def fit_pbm(
    data: ClickData,
    *,
    shrinkage: float = 0.0,
    init: tuple[NDArray[np.float64], dict[str, Any]] | None = None,
    tol: float = 1e-12,
    max_iter: int = 100_000,
) -> FamilyFit:
    """Maximum-likelihood (or MAP with ``shrinkage``) PBM fit by EM.

    Parameters
    ----------
    data : ClickData
    shrinkage : float
        Pseudo-impressions per pair at the pooled click rate.
    init : (ctr, params), optional
        Warm start from ``params["attractiveness"]`` and ``params["examination"]``.
    tol, max_iter : float, int
        EM stopping rules (module docstring).

    Returns
    -------
    FamilyFit
        ``params`` holds ``attractiveness`` (n,) and ``examination`` (m,);
        ``stderr`` the standard errors of the examination probabilities other than
        the reference position's (normalised to 1).
    """
    imp, clk = data.pair_counts
    p0 = pooled_rate(data)
    if shrinkage > 0:
        imp, clk = imp + shrinkage, clk + shrinkage * p0
    seen = imp > 0
    n_comp, label = _components(seen)
    has_a = np.asarray(seen.any(axis=1), dtype=bool)
    has_e = np.asarray(seen.any(axis=0), dtype=bool)
    if init is not None and "examination" in init[1]:
        # a previous fit holds NaN for advertisers / positions it never saw
        a0 = np.nan_to_num(np.asarray(init[1]["attractiveness"], dtype=np.float64), nan=0.5)
        e0 = np.nan_to_num(np.asarray(init[1]["examination"], dtype=np.float64), nan=0.5)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            rate_e = np.where(has_e, clk.sum(axis=0) / imp.sum(axis=0), p0)
            e0 = np.clip(0.9 * rate_e / max(float(rate_e.max()), PROB_FLOOR), 0.05, 0.95)
            rate_a = clk.sum(axis=1) / (imp * e0[None, :]).sum(axis=1)
        a0 = np.clip(np.where(has_a, rate_a, p0), 0.05, 0.95)
    a, e, converged, n_iter = pbm_em(imp, clk, a0, e0, tol=tol, max_iter=max_iter)
    # normalise max e = 1 within every component (a scaled inversely; CTRs unchanged)
    lab_a, lab_e = label[: a.size], label[a.size:]
    for c in range(n_comp):
        cols = np.flatnonzero(has_e & (lab_e == c))
        if cols.size:
            scale = float(e[cols].max())
            e[cols] /= scale
            rows = has_a & (lab_a == c)
            a[rows] *= scale
    ctr = np.outer(a, e)
    same = lab_a[:, None] == lab_e[None, :]
    ident = has_a[:, None] & has_e[None, :] & same
    ctr = clip_prob(np.where(ident, ctr, p0))
    imp0, clk0 = data.pair_counts
    caveats = []
    if n_comp - int((~has_a).sum() + (~has_e).sum()) > 1:
        caveats.append(
            "the shown pairs form several disconnected groups of advertisers and "
            "positions: examination is normalised to max 1 in each, so CTRs across "
            f"groups are not identified (set to the pooled click rate {p0:.4g})"
        )
    for what, mask in (("advertisers", ~has_a), ("positions", ~has_e)):
        if mask.any():
            caveats.append(f"{what} {np.flatnonzero(mask).tolist()} are never shown")
    if not converged:
        caveats.append(f"EM reached max_iter={max_iter} before convergence")
    stderr, reason = _examination_stderr(imp, clk, a, e, has_a, has_e, n_comp, label)
    params = {"attractiveness": np.where(has_a, a, np.nan),
              "examination": np.where(has_e, e, np.nan)}
    return FamilyFit(
        ctr=ctr,
        params=params,
        loglik=counts_loglik(ctr, imp0, clk0),
        n_params=int(has_a.sum() + has_e.sum() - (n_comp - (~has_a).sum() - (~has_e).sum())),
        converged=converged,
        n_iter=n_iter,
        unidentified=np.argwhere(~ident).astype(np.int64),
        stderr=stderr,
        stderr_reason=reason,
        caveats=caveats,
    )


def _examination_stderr(
    imp: NDArray[np.float64], clk: NDArray[np.float64], a: NDArray[np.float64],
    e: NDArray[np.float64], has_a: NDArray[np.bool_], has_e: NDArray[np.bool_],
    n_comp: int, label: NDArray[np.int64],
) -> tuple[dict[str, float] | None, str]:
    """Standard errors of ``e_j`` (reference position fixed at 1) from the observed information."""
    if n_comp - int((~has_a).sum() + (~has_e).sum()) > 1:
        return None, "examination is identified only within each connected group of pairs"
    ref = int(np.argmax(np.where(has_e, e, -1.0)))
    rows = np.flatnonzero(has_a)
    cols = np.flatnonzero(has_e & (np.arange(e.size) != ref))
    pe = np.outer(a, e)
    u = (imp - clk) / (1.0 - pe) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        i_aa = (clk / a[:, None] ** 2 + u * e[None, :] ** 2).sum(axis=1)
        i_ee = (clk / e[None, :] ** 2 + u * a[:, None] ** 2).sum(axis=0)
    k = rows.size + cols.size
    info = np.zeros((k, k))
    info[np.arange(rows.size), np.arange(rows.size)] = i_aa[rows]
    d = rows.size + np.arange(cols.size)
    info[d, d] = i_ee[cols]
    info[: rows.size, rows.size:] = u[np.ix_(rows, cols)]
    info[rows.size:, : rows.size] = u[np.ix_(rows, cols)].T
    try:
        cov = np.linalg.inv(np.linalg.cholesky(info))
    except np.linalg.LinAlgError:
        return None, "the observed information is not positive definite at the fit"
    var = (cov ** 2).sum(axis=0)[rows.size:]
    return {f"examination[{j}]": float(np.sqrt(v)) for j, v in zip(cols, var, strict=True)}, ""
