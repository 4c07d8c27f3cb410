"""Numerical pieces shared by the click-model fits.

* Click probabilities are optimised on the logit scale and kept in
  ``[-LOGIT_BOUND, LOGIT_BOUND]``, i.e. in ``[PROB_FLOOR, 1 - PROB_FLOOR]``: a
  fitted family never gives probability 0 to an event it can produce, so only
  sessions a family *structurally* cannot produce (two clicks under MNL, a click
  after a click under a cascade with ``continue_after_click`` fixed at 0) have
  log-likelihood ``-inf``.
* Shrinkage ``lam >= 0`` is a Beta prior on every click probability ``p`` of a
  pair: the objective gains ``lam * (p0 * log p + (1 - p0) * log(1 - p))`` per pair
  (``lam`` pseudo-impressions at the pooled click rate ``p0``), the log-density of
  ``Beta(lam p0 + 1, lam (1 - p0) + 1)``. On the logit scale its gradient is
  ``lam (p0 - p)`` and its curvature ``-lam p (1 - p)``.
* :func:`lbfgs` wraps ``scipy.optimize.minimize(method="L-BFGS-B")`` with the
  package's convergence criteria.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from .logs import ClickData

__all__ = [
    "LOGIT_BOUND",
    "PROB_FLOOR",
    "FamilyFit",
    "check_shrinkage",
    "check_tol",
    "clip_prob",
    "lbfgs",
    "log1m_expit",
    "log_expit",
    "logit",
    "pooled_rate",
]

#: Bound of every fitted logit: probabilities stay in ``[PROB_FLOOR, 1 - PROB_FLOOR]``.
LOGIT_BOUND = 20.0
#: ``expit(-LOGIT_BOUND)`` (about ``2.1e-9``).
PROB_FLOOR = float(special.expit(-LOGIT_BOUND))


def log_expit(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(expit(x))`` without overflow."""
    return np.asarray(-np.logaddexp(0.0, -x), dtype=np.float64)


def log1m_expit(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(1 - expit(x))`` without overflow."""
    return np.asarray(-np.logaddexp(0.0, x), dtype=np.float64)


def clip_prob(p: Any) -> NDArray[np.float64]:
    """``p`` clipped to ``[PROB_FLOOR, 1 - PROB_FLOOR]``."""
    return np.clip(np.asarray(p, dtype=np.float64), PROB_FLOOR, 1.0 - PROB_FLOOR)


def logit(p: Any) -> NDArray[np.float64]:
    """Logit of ``p`` after :func:`clip_prob` (so within ``±LOGIT_BOUND``)."""
    return np.asarray(special.logit(clip_prob(p)), dtype=np.float64)


def pooled_rate(data: ClickData) -> float:
    """Pooled click rate of the log (clicks / impressions), clipped to the bounds."""
    imp, clk = data.pair_counts
    return float(clip_prob(clk.sum() / max(imp.sum(), 1.0)))


def check_shrinkage(value: Any) -> float:
    """``shrinkage`` as a finite float ``>= 0``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`shrinkage` must be a non-negative number; got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"`shrinkage` must be a finite number >= 0; got {v}")
    return v


def check_tol(value: Any) -> float:
    """``tol`` as a float in ``(0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`tol` must be a positive number; got {value!r}")
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"`tol` must be in (0, 1); got {v}")
    return v


@dataclass
class FamilyFit:
    """What a family's fitting function returns (assembled into a ``UserModelFit``)."""

    ctr: NDArray[np.float64]
    params: dict[str, Any]
    loglik: float
    n_params: int
    converged: bool
    n_iter: int
    unidentified: NDArray[np.int64]
    stderr: dict[str, float] | None = None
    stderr_reason: str = ""
    caveats: list[str] = field(default_factory=list)


@dataclass
class LbfgsResult:
    x: NDArray[np.float64]
    converged: bool
    n_iter: int
    message: str


def lbfgs(
    fun: Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]],
    x0: NDArray[np.float64],
    *,
    tol: float,
    max_iter: int,
) -> LbfgsResult:
    """Minimise ``fun`` (value and gradient) within ``±LOGIT_BOUND`` by L-BFGS-B.

    Stops when the relative decrease of the objective is below ``tol``
    (``ftol``), when the largest projected gradient entry is below ``tol``
    (``gtol``; objectives here are means per session, so this is scale-free), or
    after ``max_iter`` iterations (then ``converged`` is False).
    """
    if x0.size == 0:
        return LbfgsResult(x0, True, 0, "no free parameter")
    res = optimize.minimize(
        fun, x0, jac=True, method="L-BFGS-B",
        bounds=[(-LOGIT_BOUND, LOGIT_BOUND)] * x0.size,
        options={"ftol": tol, "gtol": tol, "maxiter": max_iter, "maxcor": 20},
    )
    return LbfgsResult(np.asarray(res.x, dtype=np.float64), bool(res.success),
                       int(res.nit), str(res.message))
