"""Fit a user-model family to click logs: :func:`fit_user_model` and its result.

Families (registry names): ``"cascade"`` (:mod:`.cascade`), ``"mnl"``
(:mod:`.mnl`), ``"pbm"`` (:mod:`.pbm`) and ``"independent"``
(:mod:`.independent`). Every fitted family is a user model of the engine, so a
fit turns into an :class:`~aigc_auction.Instance` plus a
:class:`~aigc_auction.UserModel` that any mechanism can design with: the PBM and
the independent family are users without externalities,
``Cascade(continue_after_click=1, continue_after_skip=1)``, on the fitted CTRs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .._validation import check_int, check_probability, readonly
from ..instance import Instance
from ..models import MNL, Cascade, UserModel
from ..models.cascade import OrderMode
from ._numeric import FamilyFit, check_shrinkage, check_tol
from .cascade import cascade_click_probabilities, cascade_session_loglik, fit_cascade
from .independent import fit_independent
from .logs import ClickData, _rows, as_click_data
from .mnl import fit_mnl, mnl_click_probabilities, mnl_session_loglik
from .pbm import fit_pbm

__all__ = [
    "FAMILIES",
    "UserModelFit",
    "click_probabilities",
    "fit_user_model",
    "impossible_sessions",
    "session_loglik",
]

#: Registry names of the click-model families.
FAMILIES = ("cascade", "mnl", "pbm", "independent")
_FITTERS = {"cascade": fit_cascade, "mnl": fit_mnl, "pbm": fit_pbm,
            "independent": fit_independent}
#: Default convergence tolerance per family (L-BFGS-B ``ftol``/``gtol``; EM: rise of
#: the log-likelihood per impression).
DEFAULT_TOL = {"cascade": 1e-9, "mnl": 1e-9, "pbm": 1e-13, "independent": 1e-9}
_NO_EXTERNALITIES = {"continue_after_click": 1.0, "continue_after_skip": 1.0}
Impossible = Literal["raise", "drop"]


@dataclass(frozen=True, eq=False)
class UserModelFit:
    """A user-model family fitted to click logs.

    Attributes
    ----------
    family : str
        ``"cascade"``, ``"mnl"``, ``"pbm"`` or ``"independent"``.
    model : UserModel
        The fitted user model: ``MNL()``; ``Cascade`` with the fitted (or fixed)
        continuation probabilities; ``Cascade(continue_after_click=1,
        continue_after_skip=1)`` (no externalities) for ``"pbm"`` and
        ``"independent"``. Its ``order`` is ``"fixed"`` when every logged session
        read its positions in index order, else ``"optimized"`` (or the order of a
        model passed in).
    ctr : ndarray of shape (n_advertisers, n_positions)
        Fitted standalone click probabilities, in ``[PROB_FLOOR, 1 - PROB_FLOOR]``.
        Pairs the logs do not identify (``unidentified``) hold the pooled click rate
        of the logs (or, under shrinkage, its prior mean, the same number).
    params : dict
        Fitted non-matrix parameters: ``continue_after_click`` and
        ``continue_after_skip`` (cascade), ``attractiveness`` and ``examination``
        (PBM; NaN for advertisers / positions never shown).
    fixed : tuple of str
        Parameters held fixed (not fitted).
    loglik : float
        Log-likelihood of the fitted sessions at the fit (without the shrinkage
        prior).
    n_params : int
        Number of free, identified parameters.
    n_sessions : int
        Number of sessions fitted (after dropping impossible ones).
    stderr : dict of str to float, or None
        Standard errors of the scalar parameters (probability scale) from the
        observed information; ``None`` when there are none or they cannot be
        computed, with the reason in ``stderr_reason``.
    stderr_reason : str
    converged : bool
    n_iter : int
        Optimiser (L-BFGS-B) or EM iterations.
    unidentified : ndarray of int, shape (k, 2)
        ``(advertiser, position)`` pairs whose CTR the logs do not determine.
    caveats : tuple of str
        Identifiability and convergence notes, in words.
    impossible_sessions : ndarray of int
        Ids of sessions the family cannot produce, dropped under
        ``impossible="drop"`` (empty otherwise).
    shrinkage : float
    max_slots : int
        Most ads shown in one logged session (the default ``slots`` of
        :meth:`instance`).
    fit_seconds : float
        Wall time of the fit.
    """

    family: str
    model: UserModel
    ctr: NDArray[np.float64]
    params: Mapping[str, Any]
    fixed: tuple[str, ...]
    loglik: float
    n_params: int
    n_sessions: int
    stderr: Mapping[str, float] | None
    stderr_reason: str
    converged: bool
    n_iter: int
    unidentified: NDArray[np.int64]
    caveats: tuple[str, ...]
    impossible_sessions: NDArray[np.int64]
    shrinkage: float
    max_slots: int
    fit_seconds: float

    @property
    def aic(self) -> float:
        """Akaike information criterion ``2 k - 2 loglik``."""
        return 2.0 * self.n_params - 2.0 * self.loglik

    @property
    def bic(self) -> float:
        """Bayesian information criterion ``k log(n_sessions) - 2 loglik``."""
        return self.n_params * float(np.log(max(self.n_sessions, 1))) - 2.0 * self.loglik

    @property
    def n_impossible(self) -> int:
        """Number of sessions dropped because the family cannot produce them."""
        return int(self.impossible_sessions.size)

    def instance(self, slots: int | None = None) -> Instance:
        """An :class:`~aigc_auction.Instance` with the fitted CTRs.

        Parameters
        ----------
        slots : int, optional
            Ads shown at most; default :attr:`max_slots`.
        """
        return Instance(ctr=self.ctr, slots=self.max_slots if slots is None else slots)

    def session_loglik(self, logs: pd.DataFrame | ClickData) -> NDArray[np.float64]:
        """Log-likelihood of every session of ``logs`` under the fit (``-inf``: impossible)."""
        n, m = self.ctr.shape
        return session_loglik(self.ctr, self.model, as_click_data(
            logs, n_advertisers=n, n_positions=m))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (CTR matrix as nested lists)."""
        def plain(v: Any) -> Any:
            return v.tolist() if isinstance(v, np.ndarray) else v
        return {
            "family": self.family, "model": repr(self.model), "ctr": self.ctr.tolist(),
            "params": {k: plain(v) for k, v in self.params.items()},
            "fixed": list(self.fixed), "loglik": self.loglik, "n_params": self.n_params,
            "n_sessions": self.n_sessions, "aic": self.aic, "bic": self.bic,
            "stderr": None if self.stderr is None else dict(self.stderr),
            "stderr_reason": self.stderr_reason, "converged": self.converged,
            "n_iter": self.n_iter, "unidentified": self.unidentified.tolist(),
            "caveats": list(self.caveats), "n_impossible": self.n_impossible,
            "shrinkage": self.shrinkage, "fit_seconds": self.fit_seconds,
        }

    def __repr__(self) -> str:
        return (f"UserModelFit(family={self.family!r}, model={self.model!r}, "
                f"n_sessions={self.n_sessions}, loglik={self.loglik:.6g})")


def session_loglik(
    ctr: Any, model: UserModel, logs: pd.DataFrame | ClickData
) -> NDArray[np.float64]:
    """Log-likelihood of every session of ``logs`` under ``model`` with CTRs ``ctr``.

    Parameters
    ----------
    ctr : Instance or array_like of shape (n_advertisers, n_positions)
    model : MNL or Cascade
        ``Cascade(continue_after_click=1, continue_after_skip=1)`` gives
        independent clicks (the PBM and independent families).
    logs : DataFrame or ClickData

    Returns
    -------
    ndarray of shape (n_sessions,)
        In session-id order; ``-inf`` for sessions the model cannot produce.

    Examples
    --------
    >>> import numpy as np, pandas as pd, aigc_auction as aa
    >>> from aigc_auction.clicklogs import session_loglik
    >>> logs = pd.DataFrame({"session": [0, 0], "advertiser": [0, 1], "position": [0, 1],
    ...                      "rank": [0, 1], "click": [True, True]})
    >>> ctr = [[0.5, 0.5], [0.5, 0.5]]
    >>> session_loglik(ctr, aa.MNL(), logs)                       # two clicks: impossible
    array([-inf])
    >>> np.exp(session_loglik(ctr, aa.Cascade(continue_after_click=0.5), logs))
    array([0.125])
    """
    return _per_session(ctr, model, logs, mnl_session_loglik, cascade_session_loglik)


def click_probabilities(
    ctr: Any, model: UserModel, logs: pd.DataFrame | ClickData
) -> NDArray[np.float64]:
    """Marginal click probability of every shown ad, shape ``(n_sessions, max_rank)``.

    The probability the model gives to a click at that rank of that session,
    before seeing any click of the session (0 after a session's end): the
    quantity the per-rank perplexity scores.
    """
    return _per_session(ctr, model, logs, mnl_click_probabilities,
                        cascade_click_probabilities)


def _per_session(ctr: Any, model: UserModel, logs: pd.DataFrame | ClickData,
                 for_mnl: Callable[..., NDArray[np.float64]],
                 for_cascade: Callable[..., NDArray[np.float64]]) -> NDArray[np.float64]:
    """``for_mnl(p, data)`` or ``for_cascade(p, gc, gs, data)``, by the model's family."""
    p = ctr.ctr if isinstance(ctr, Instance) else np.asarray(ctr, dtype=np.float64)
    data = as_click_data(logs, n_advertisers=p.shape[0], n_positions=p.shape[1])
    if isinstance(model, MNL):
        return for_mnl(p, data)
    if isinstance(model, Cascade):
        gc, gs = model.continuation_params(data.n_advertisers)
        return for_cascade(p, _squeeze(gc), _squeeze(gs), data)
    raise TypeError(f"`model` must be an MNL or Cascade user model; got {model!r}")


def _squeeze(v: NDArray[np.float64]) -> float | NDArray[np.float64]:
    """A per-advertiser array that is constant as a float (cheaper broadcasting)."""
    return float(v[0]) if np.all(v == v[0]) else v


def _family_and_fixed(
    model: str | UserModel, fixed: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any], OrderMode | None]:
    """``(family, fixed parameters, order mode or None)`` from the ``model`` argument."""
    if isinstance(model, str):
        family = model.lower()
        if family not in FAMILIES:
            raise ValueError(f"`model` must be one of {list(FAMILIES)}; got {model!r}")
        out: dict[str, Any] = {}
        for k, v in dict(fixed or {}).items():
            if family != "cascade" or k not in _NO_EXTERNALITIES:
                allowed = list(_NO_EXTERNALITIES) if family == "cascade" else []
                raise ValueError(
                    f"`fixed` keys must be among {allowed} for the {family!r} family; got {k!r}"
                )
            out[k] = check_probability(v, k)
        return family, out, None
    if fixed:
        raise ValueError("`fixed` must be empty when `model` is a UserModel: its "
                         "parameters are all fixed")
    if isinstance(model, MNL):
        return "mnl", {}, None
    if isinstance(model, Cascade):
        return "cascade", {"continue_after_click": model.continue_after_click,
                           "continue_after_skip": model.continue_after_skip}, model.order
    raise TypeError(
        f"`model` must be one of {list(FAMILIES)} or an MNL / Cascade instance; got {model!r}"
    )


def impossible_sessions(
    family: str, data: ClickData, fixed: Mapping[str, Any] | None = None
) -> NDArray[np.bool_]:
    """Mask of the sessions a family (with ``fixed`` parameters) cannot produce.

    MNL: two or more clicks. Cascade: sessions of probability 0 for every value of
    the free parameters (evaluated at interior values). PBM, independent: none.
    """
    if family == "mnl":
        return np.asarray(data.n_clicks > 1)
    if family == "cascade":
        # interior values for the free parameters; Cascade checks the fixed ones
        values = {**dict.fromkeys(_NO_EXTERNALITIES, 0.5), **dict(fixed or {})}
        gc, gs = (_squeeze(v) for v in Cascade(**values).continuation_params(data.n_advertisers))
        half = np.full((data.n_advertisers, data.n_positions), 0.5)
        return np.asarray(~np.isfinite(cascade_session_loglik(half, gc, gs, data)))
    return np.zeros(data.n_sessions, dtype=bool)


def fit_user_model(
    model: str | UserModel,
    logs: pd.DataFrame | ClickData,
    *,
    n_advertisers: int | None = None,
    n_positions: int | None = None,
    fixed: Mapping[str, Any] | None = None,
    init: UserModelFit | None = None,
    shrinkage: float = 0.0,
    impossible: Impossible = "raise",
    tol: float | None = None,
    max_iter: int | None = None,
) -> UserModelFit:
    """Fit a user-model family to click logs by maximum likelihood.

    Parameters
    ----------
    model : {"cascade", "mnl", "pbm", "independent"} or UserModel
        The family. A ``Cascade`` instance fixes its continuation parameters (and
        order mode) and fits only the CTRs; ``MNL()`` is the ``"mnl"`` family.
    logs : DataFrame or ClickData
        A click log (:func:`validate_logs` rules apply).
    n_advertisers, n_positions : int, optional
        Matrix size; default: largest id in the logs plus one.
    fixed : dict, optional
        With ``"cascade"``: fix some continuation parameters, e.g.
        ``{"continue_after_click": 0.0}`` (a probability or one per advertiser);
        the others are fitted.
    init : UserModelFit, optional
        Warm start from an earlier fit of the same family.
    shrinkage : float, default 0
        Strength ``lam`` of a Beta prior on every pair's click probability:
        ``lam`` pseudo-impressions at the pooled click rate ``p0`` (the objective
        gains ``lam (p0 log p + (1 - p0) log(1 - p))`` per pair). 0 is maximum
        likelihood; with ``lam > 0`` the fit is the posterior mode.
    impossible : {"raise", "drop"}, default "raise"
        Sessions the family cannot produce (two clicks under MNL; a click after a
        click under a cascade with ``continue_after_click`` fixed at 0, ...):
        ``"raise"`` raises a ValueError naming them; ``"drop"`` fits the other
        sessions and lists the dropped ids in ``impossible_sessions``.
    tol : float, optional
        Convergence tolerance (default per family: ``1e-9`` for the L-BFGS-B fits,
        whose ``ftol`` and ``gtol`` it sets; ``1e-13`` for PBM's EM, the smallest
        rise of the log-likelihood per impression).
    max_iter : int, optional
        Iteration cap (default 2000 for L-BFGS-B, 100000 for EM).

    Returns
    -------
    UserModelFit

    Raises
    ------
    ValueError
        On bad logs (naming rows), unknown families or parameters, and, with
        ``impossible="raise"``, sessions the family cannot produce.
    TypeError
        If ``model`` is neither a family name nor an MNL / Cascade instance.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> rng = np.random.default_rng(0)
    >>> truth = aa.Instance(ctr=rng.uniform(0.1, 0.5, (6, 3)), slots=3)
    >>> users = aa.Cascade(continue_after_click=0.3, continue_after_skip=0.8)
    >>> logs = aa.simulate_logs(truth, users, n_sessions=40_000, rng=1)
    >>> fit = aa.fit_user_model("cascade", logs, n_advertisers=6, n_positions=3)
    >>> {k: round(v, 2) for k, v in fit.params.items()}
    {'continue_after_click': 0.3, 'continue_after_skip': 0.8}
    >>> bool(np.abs(fit.ctr - truth.ctr).max() < 0.03), fit.n_params
    (True, 20)
    >>> aa.fit_user_model("mnl", logs)
    Traceback (most recent call last):
    ...
    ValueError: `logs` has 2524 sessions the 'mnl' family cannot produce (two or more clicks...
    """
    family, fx, order = _family_and_fixed(model, fixed)
    data = as_click_data(logs, n_advertisers=n_advertisers, n_positions=n_positions)
    lam = check_shrinkage(shrinkage)
    t = DEFAULT_TOL[family] if tol is None else check_tol(tol)
    cap = (100_000 if family == "pbm" else 2000) if max_iter is None else check_int(
        max_iter, "max_iter", low=1)
    if impossible not in ("raise", "drop"):
        raise ValueError(f"`impossible` must be 'raise' or 'drop'; got {impossible!r}")
    if init is not None and not (isinstance(init, UserModelFit) and init.family == family
                                 and init.ctr.shape == (data.n_advertisers, data.n_positions)):
        raise ValueError(
            f"`init` must be a UserModelFit of the {family!r} family with CTRs of shape "
            f"({data.n_advertisers}, {data.n_positions}); got {init!r}"
        )
    start = time.perf_counter()
    bad = impossible_sessions(family, data, fx)
    dropped = data.session[bad]
    if bad.any():
        if impossible == "raise":
            raise ValueError(
                f"`logs` has {dropped.size} sessions the {family!r} family cannot produce "
                f"({_why(family, fx)}), {_rows(dropped, 'session')}; "
                'pass impossible="drop" to fit the other sessions'
            )
        data = data.take(~bad)
    if data.n_sessions == 0:
        raise ValueError(f"`logs` has no session the {family!r} family can produce")
    warm = None if init is None else (np.asarray(init.ctr), dict(init.params))
    kwargs: dict[str, Any] = {"shrinkage": lam, "init": warm, "tol": t, "max_iter": cap}
    if family == "cascade":
        kwargs.update(fx)
    res: FamilyFit = _FITTERS[family](data, **kwargs)
    if family == "mnl":
        user: UserModel = MNL()
    else:
        mode: OrderMode = order or ("fixed" if data.fixed_order else "optimized")
        cont = res.params if family == "cascade" else _NO_EXTERNALITIES
        user = Cascade(continue_after_click=cont["continue_after_click"],
                       continue_after_skip=cont["continue_after_skip"], order=mode)
    return UserModelFit(
        family=family, model=user, ctr=readonly(np.asarray(res.ctr, dtype=np.float64)),
        params=res.params, fixed=tuple(sorted(fx)), loglik=res.loglik,
        n_params=res.n_params, n_sessions=data.n_sessions, stderr=res.stderr,
        stderr_reason=res.stderr_reason, converged=res.converged, n_iter=res.n_iter,
        unidentified=res.unidentified, caveats=tuple(_common_caveats(data) + res.caveats),
        impossible_sessions=readonly(np.asarray(dropped, dtype=np.int64)), shrinkage=lam,
        max_slots=data.max_rank, fit_seconds=time.perf_counter() - start,
    )


def _why(family: str, fixed: Mapping[str, Any]) -> str:
    if family == "mnl":
        return "two or more clicks: an MNL user clicks at most once"
    return f"probability 0 with the fixed parameters {dict(fixed)}"


def _common_caveats(data: ClickData) -> list[str]:
    """Pairs never shown (all families)."""
    imp, _ = data.pair_counts
    unseen = int((imp == 0).sum())
    if not unseen:
        return []
    return [f"{unseen} of {imp.size} (advertiser, position) pairs are never shown: "
            "the logs do not identify their CTR (see `unidentified`)"]
