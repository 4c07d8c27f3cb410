r"""Compare user-model families on click logs by cross-validation over sessions.

The metrics are those of the click-model literature (Dupret & Piwowarski 2008;
Chuklin, Markov & de Rijke 2015, *Click Models for Web Search*, ch. 4; PyClick):

* **held-out log-likelihood** per session: the sessions are split into ``folds``
  groups; each group is scored by the family fitted on the others, and
  ``heldout_loglik`` is the mean of ``log P(session)`` (natural log) over all
  sessions, ``heldout_loglik_se`` its standard error. A session the fitted family
  cannot produce scores ``-inf``, and so does the mean (the honest value);
  ``impossible_sessions`` counts them.
* **perplexity at rank r**: ``2 ** (-mean_s [c_sr log2 q_sr + (1 - c_sr) log2(1 -
  q_sr)])`` over the held-out sessions with a rank ``r``, where ``q_sr`` is the
  model's (unconditional) probability of a click at rank ``r`` of session ``s``
  given its slate and reading order. 1 is perfect prediction, 2 a coin flip;
  ``perplexity`` is the mean over ranks.
* **ctr_rmse**: for every (advertiser, position) pair, the held-out click rate
  against the mean predicted click probability of the same impressions; the root
  of the impression-weighted mean squared difference (Chuklin et al.'s CTR
  prediction error).
* ``aic``, ``bic``, ``loglik``, ``n_params`` and ``fit_seconds`` come from one fit
  on all sessions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .._validation import check_int, check_rng
from ..models import UserModel
from .fit import (
    FAMILIES,
    _family_and_fixed,
    click_probabilities,
    fit_user_model,
    impossible_sessions,
    session_loglik,
)
from .logs import ClickData, as_click_data

__all__ = ["compare_user_models", "session_folds"]


def session_folds(n_sessions: int, folds: int, *, rng: Any = None) -> NDArray[np.int64]:
    """Fold label (``0..folds-1``) of every session: a random, balanced split.

    Parameters
    ----------
    n_sessions, folds : int
    rng : None, int, SeedSequence or Generator
        An int or SeedSequence gives the same split every time.

    Examples
    --------
    >>> from aigc_auction.clicklogs import session_folds
    >>> session_folds(6, 3, rng=0).tolist() == session_folds(6, 3, rng=0).tolist()
    True
    >>> sorted(session_folds(6, 3, rng=0).tolist())
    [0, 0, 1, 1, 2, 2]
    """
    s = check_int(n_sessions, "n_sessions", low=1)
    k = check_int(folds, "folds", low=2, high=max(2, s))
    labels = np.empty(s, dtype=np.int64)
    labels[check_rng(rng).permutation(s)] = np.arange(s) % k
    return labels


def _label(spec: str | UserModel) -> str:
    return spec.lower() if isinstance(spec, str) else repr(spec)


def _rank_metrics(
    data: ClickData, probs: NDArray[np.float64]
) -> tuple[list[float], float]:
    """Perplexity at every rank, and the CTR RMSE over pairs."""
    perp = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for r in range(data.max_rank):
            sel = data.shown[:, r]
            q, c = probs[sel, r], data.click[sel, r]
            lp = np.where(c, np.log2(q), np.log2(1.0 - q))
            perp.append(float(2.0 ** (-lp.mean())))
    size = data.n_advertisers * data.n_positions
    pair = data.pair[data.shown]
    imp = np.bincount(pair, minlength=size)
    obs = np.bincount(pair, weights=data.click[data.shown], minlength=size)
    pred = np.bincount(pair, weights=probs[data.shown], minlength=size)
    seen = imp > 0
    err = (obs[seen] - pred[seen]) / imp[seen]
    rmse = float(np.sqrt(np.sum(imp[seen] * err ** 2) / imp[seen].sum()))
    return perp, rmse


def compare_user_models(
    logs: pd.DataFrame | ClickData,
    models: Sequence[str | UserModel] = FAMILIES,
    *,
    n_advertisers: int | None = None,
    n_positions: int | None = None,
    folds: int = 5,
    rng: Any = None,
    shrinkage: float = 0.0,
) -> pd.DataFrame:
    """Which user model do the logs support? Cross-validated comparison of families.

    Parameters
    ----------
    logs : DataFrame or ClickData
        A click log (validated as in :func:`validate_logs`).
    models : sequence of str or UserModel, default all four families
        Family names (``"cascade"``, ``"mnl"``, ``"pbm"``, ``"independent"``) or
        MNL / Cascade instances with fixed parameters, as in
        :func:`fit_user_model`.
    n_advertisers, n_positions : int, optional
        Matrix size; default: largest id plus one.
    folds : int, default 5
        Number of cross-validation folds (sessions split at random, balanced).
    rng : None, int, SeedSequence or Generator
        The split; an int gives the same table every time.
    shrinkage : float, default 0
        Passed to every fit (:func:`fit_user_model`).

    Returns
    -------
    pandas.DataFrame
        One row per model, best first (highest ``heldout_loglik``), columns
        ``model``, ``heldout_loglik``, ``heldout_loglik_se``, ``perplexity``,
        ``perplexity_rank_0`` ... ``perplexity_rank_<R-1>``, ``ctr_rmse``,
        ``aic``, ``bic``, ``loglik``, ``n_params``, ``impossible_sessions``,
        ``dropped_sessions`` (sessions left out of the full-data fit),
        ``fit_seconds``.

    Notes
    -----
    Every fit uses ``impossible="drop"``: the family is fitted on the sessions it
    can produce, and held-out sessions it cannot produce are counted in
    ``impossible_sessions`` and score ``-inf``, so ``heldout_loglik`` is ``-inf``
    for that family (never an error, never a silent drop). Fold fits start from
    the full-data fit (a warm start; the optimum does not depend on it for the
    concave MNL, PBM and independent likelihoods). Metrics are defined in the
    module docstring and ``docs/clicklogs.md``.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> truth = aa.Instance(ctr=np.random.default_rng(0).uniform(0.1, 0.5, (5, 3)), slots=2)
    >>> logs = aa.simulate_logs(truth, aa.MNL(), n_sessions=20_000, rng=1)
    >>> table = aa.compare_user_models(logs, ["mnl", "cascade", "independent"], folds=3, rng=0)
    >>> table["model"].tolist()[0]
    'mnl'
    >>> table.filter(like="perplexity_rank").columns.tolist()
    ['perplexity_rank_0', 'perplexity_rank_1']
    """
    data = as_click_data(logs, n_advertisers=n_advertisers, n_positions=n_positions)
    if isinstance(models, str | UserModel) or len(models) == 0:
        raise TypeError("`models` must be a non-empty list of family names or UserModels; "
                        f"got {models!r}")
    labels = session_folds(data.n_sessions, folds, rng=rng)
    k = int(labels.max()) + 1
    rows = []
    for spec in models:
        family, fixed, _ = _family_and_fixed(spec, None)
        name = _label(spec)
        if impossible_sessions(family, data, fixed).all():
            rows.append(_row_unfittable(name, data))
            continue
        t0 = time.perf_counter()
        full = fit_user_model(spec, data, impossible="drop", shrinkage=shrinkage)
        seconds = time.perf_counter() - t0
        ll = np.empty(data.n_sessions)
        probs = np.zeros(data.shown.shape)
        for f in range(k):
            test = np.flatnonzero(labels == f)
            train = data.take(labels != f)
            held = data.take(test)
            if impossible_sessions(family, train, fixed).all():
                ll[test] = -np.inf
                probs[test, :] = np.nan
                continue
            fit = fit_user_model(spec, train, impossible="drop", init=full,
                                 shrinkage=shrinkage)
            ll[test] = session_loglik(fit.ctr, fit.model, held)
            probs[test[:, None], np.arange(held.max_rank)] = click_probabilities(
                fit.ctr, fit.model, held)
        finite = np.isfinite(ll)
        perp, rmse = _rank_metrics(data, probs)
        row: dict[str, Any] = {
            "model": name,
            "heldout_loglik": float(ll.mean()) if finite.all() else -np.inf,
            "heldout_loglik_se": (float(ll.std(ddof=1) / np.sqrt(ll.size))
                                  if finite.all() and ll.size > 1 else np.nan),
            "perplexity": float(np.mean(perp)),
        }
        row.update({f"perplexity_rank_{r}": v for r, v in enumerate(perp)})
        row.update({
            "ctr_rmse": rmse, "aic": full.aic, "bic": full.bic, "loglik": full.loglik,
            "n_params": full.n_params, "impossible_sessions": int((~finite).sum()),
            "dropped_sessions": full.n_impossible, "fit_seconds": seconds,
        })
        rows.append(row)
    table = pd.DataFrame(rows)
    order = np.argsort(-table["heldout_loglik"].to_numpy(), kind="stable")
    return table.iloc[order].reset_index(drop=True)


def _row_unfittable(name: str, data: ClickData) -> dict[str, Any]:
    """The row of a family that can produce none of the sessions."""
    row: dict[str, Any] = {"model": name, "heldout_loglik": -np.inf,
                           "heldout_loglik_se": np.nan, "perplexity": np.nan}
    row.update({f"perplexity_rank_{r}": np.nan for r in range(data.max_rank)})
    row.update({"ctr_rmse": np.nan, "aic": np.inf, "bic": np.inf, "loglik": -np.inf,
                "n_params": 0, "impossible_sessions": data.n_sessions,
                "dropped_sessions": data.n_sessions, "fit_seconds": 0.0})
    return row
