r"""Independent clicks with a full CTR matrix (no externalities), fitted in closed form.

Every shown ad is read and clicked independently with probability ``p[i, j]``:

.. math:: P(c) = \prod_{r} p_r^{c_r} (1 - p_r)^{1 - c_r},

the cascade with ``gc = gs = 1``. The likelihood depends on the logs only through
the impressions ``N[i, j]`` and clicks ``C[i, j]`` of every pair, and its maximum
is ``p = C / N``; with shrinkage ``lam`` (Beta prior, :mod:`._numeric`) it is
``(C + lam p0) / (N + lam)``. Both are clipped to ``[PROB_FLOOR, 1 - PROB_FLOOR]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._numeric import PROB_FLOOR, FamilyFit, clip_prob, pooled_rate
from .logs import ClickData

__all__ = ["counts_loglik", "fit_independent", "independent_session_loglik"]


def counts_loglik(
    ctr: NDArray[np.float64], impressions: NDArray[np.float64], clicks: NDArray[np.float64]
) -> float:
    """``sum C log p + (N - C) log(1 - p)`` over the pairs (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(clicks > 0, clicks * np.log(ctr), 0.0)
        b = np.where(impressions > clicks, (impressions - clicks) * np.log1p(-ctr), 0.0)
    return float(a.sum() + b.sum())


def independent_session_loglik(ctr: ArrayLike, data: ClickData) -> NDArray[np.float64]:
    """Log-likelihood of every session when all shown ads are clicked independently.

    Parameters
    ----------
    ctr : array_like of shape (n_advertisers, n_positions)
    data : ClickData

    Returns
    -------
    ndarray of shape (n_sessions,)
    """
    p = np.asarray(ctr, dtype=np.float64).ravel()
    with np.errstate(divide="ignore"):
        lp, l1p = np.append(np.log(p), 0.0), np.append(np.log1p(-p), 0.0)
    return np.concatenate([
        np.where(b.click, lp[b.pair], l1p[b.pair]).sum(axis=0) for b in data.blocks
    ])


def fit_independent(
    data: ClickData,
    *,
    shrinkage: float = 0.0,
    init: tuple[NDArray[np.float64], dict[str, Any]] | None = None,
    tol: float = 1e-9,
    max_iter: int = 2000,
) -> FamilyFit:
    """Closed-form fit ``p = C / N`` (``init``, ``tol``, ``max_iter`` are not needed).

    Returns
    -------
    FamilyFit
        No scalar parameters, so ``stderr`` is ``None``.
    """
    imp, clk = data.pair_counts
    p0 = pooled_rate(data)
    seen = imp > 0
    p = np.full(imp.shape, p0)
    p[seen] = (clk[seen] + shrinkage * p0) / (imp[seen] + shrinkage)
    p = clip_prob(p)
    caveats = []
    edge = seen & ((p <= PROB_FLOOR) | (p >= 1.0 - PROB_FLOOR))
    if edge.any():
        caveats.append(
            f"{int(edge.sum())} pairs have a fitted CTR at the bound of the parameter space "
            "(never or always clicked; maximum likelihood is 0 or 1)"
        )
    return FamilyFit(
        ctr=p,
        params={},
        loglik=counts_loglik(p, imp, clk),
        n_params=int(seen.sum()),
        converged=True,
        n_iter=0,
        unidentified=np.argwhere(~seen).astype(np.int64),
        stderr=None,
        stderr_reason="the independent family has no scalar parameters",
        caveats=caveats,
    )
