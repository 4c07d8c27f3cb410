"""The classic separable position auction, used as a baseline in sweeps.

The pre-LLM practice: assume ``p[i, j] = alpha_i * beta_j`` (an ad quality times a
position effect), rank the ads by ``alpha_i * b_i`` and give the ``k``-th best the
``k``-th best position (Varian 2007; Edelman, Ostrovsky & Schwarz 2007). Here the
separable model is *fitted* to the true, non-separable ``p`` by its best rank-1
approximation (the leading singular pair, Eckart–Young), the auction is run in the
fitted model, and its allocation and per-click prices are then evaluated on the
true ``p`` -- which measures what the separability assumption costs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import as_float_array, check_bids
from ..instance import Instance
from ..outcome import Outcome

__all__ = ["rank1_fit", "separable_auction"]


def rank1_fit(ctr: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Best rank-1 approximation ``ctr ~ outer(alpha, beta)`` with non-negative factors.

    Parameters
    ----------
    ctr : array_like of shape (n_advertisers, n_positions)
        Non-negative matrix.

    Returns
    -------
    alpha : ndarray of shape (n_advertisers,)
    beta : ndarray of shape (n_positions,)
        Scaled so that ``max(beta) == 1``.

    Notes
    -----
    The leading singular vectors of a non-negative matrix can be chosen
    non-negative (Perron–Frobenius applied to ``P^T P``); their absolute values
    are taken to fix the sign. The fit minimises the Frobenius error
    (Eckart–Young).

    Examples
    --------
    >>> import numpy as np
    >>> from aigc_auction.sweep.baseline import rank1_fit
    >>> a, b = rank1_fit(np.outer([0.5, 1.0], [0.4, 0.2]))
    >>> np.round(a, 6).tolist(), np.round(b, 6).tolist()
    ([0.2, 0.4], [1.0, 0.5])
    """
    p = as_float_array(ctr, "ctr", ndim=2)
    if np.any(p < 0):
        raise ValueError("`ctr` must be non-negative")
    u, s, vt = np.linalg.svd(p, full_matrices=False)
    alpha = np.abs(u[:, 0]) * s[0]
    beta = np.abs(vt[0])
    top = float(beta.max())
    if top > 0:
        alpha, beta = alpha * top, beta / top
    return alpha, beta


def separable_auction(
    instance: Instance, bids: ArrayLike, *, pricing: str = "vcg"
) -> Outcome:
    """Run the separable position auction on the rank-1 fit of ``instance.ctr``.

    Positions are ranked by fitted ``beta`` (ties by index) and only the best
    ``instance.slots`` are used, read in that order; ads with a positive score
    ``alpha_i * b_i`` are ranked by it (ties by index) and the ``k``-th best gets
    the ``k``-th best position.

    Parameters
    ----------
    instance : Instance
    bids : array_like of shape (n_advertisers,)
    pricing : {"vcg", "gsp"}, default "vcg"
        Per-click prices in the fitted model: VCG,
        ``sum_{l >= k} (beta_l - beta_{l+1}) s_{l+1} / (alpha_k beta_k)``, or GSP,
        ``s_{k+1} / alpha_k``, with ``s_l`` the ``l``-th highest score.

    Returns
    -------
    Outcome
        ``ctr`` and ``payments`` are those of the *fitted* separable model (no
        externalities); evaluate ``assignment``/``order`` and ``price_per_click``
        under the true model to measure the baseline.

    Examples
    --------
    Separable ``p`` with one slot: a second-price auction on ``alpha * b``.

    >>> import aigc_auction as aa
    >>> from aigc_auction.sweep.baseline import separable_auction
    >>> inst = aa.Instance.from_separable([1.0, 0.5], [0.4, 0.2], slots=1)
    >>> out = separable_auction(inst, [1.0, 2.5])
    >>> out.assignment.tolist(), out.price_per_click.round(6).tolist()
    ([-1, 0], [0.0, 2.0])
    """
    if not isinstance(instance, Instance):
        raise TypeError(
            f"`instance` must be an aigc_auction.Instance; got {type(instance).__name__}"
        )
    if pricing not in ("vcg", "gsp"):
        raise ValueError(f"`pricing` must be 'vcg' or 'gsp'; got {pricing!r}")
    b = check_bids(bids, instance.n_advertisers)
    alpha, beta = rank1_fit(instance.ctr)
    k_slots = instance.slots
    positions = np.argsort(-beta, kind="stable")[:k_slots]
    beta_sorted = np.append(beta[positions], 0.0)  # beta_K = 0
    score = alpha * b
    ranked = [int(i) for i in np.argsort(-score, kind="stable") if score[i] > 0]
    scores = np.append(score[ranked], np.zeros(k_slots + 1))
    n_shown = min(k_slots, len(ranked))
    assignment = np.full(instance.n_advertisers, -1, dtype=np.int64)
    ppc = np.zeros(instance.n_advertisers)
    for k in range(n_shown):
        i = ranked[k]
        assignment[i] = positions[k]
        if beta_sorted[k] <= 0:
            continue
        if pricing == "vcg":
            t = sum(
                (beta_sorted[ell] - beta_sorted[ell + 1]) * scores[ell + 1]
                for ell in range(k, k_slots)
            )
            ppc[i] = min(t / (alpha[i] * beta_sorted[k]), b[i])
        else:
            ppc[i] = min(scores[k + 1] / alpha[i], b[i])
    order = positions[:n_shown].astype(np.int64)
    fitted = np.zeros(instance.n_advertisers)
    shown = assignment >= 0
    fitted[shown] = alpha[shown] * beta[assignment[shown]]
    return Outcome(
        assignment, order, fitted, ppc * fitted, b,
        mechanism=f"separable_{pricing}", model="separable", solver="rank1",
    )
