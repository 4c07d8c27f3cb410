"""Click logs: simulate them, fit user models to them, compare the models, design from the fit.

* :func:`simulate_logs` — logs of simulated MNL or cascade users under a logging
  policy (uniformly random slates, a mechanism, or any callable).
* :func:`read_logs`, :func:`validate_logs` — logs from CSV / Parquet, validated
  with errors naming the rows.
* :func:`fit_user_model` — maximum-likelihood fit of a family (``"cascade"``,
  ``"mnl"``, ``"pbm"``, ``"independent"``) → :class:`UserModelFit`.
* :func:`compare_user_models` — cross-validated held-out log-likelihood and
  perplexity per rank, AIC, BIC.
* :func:`~aigc_auction.clicklogs.design.fit_from_simulated_logs` — the fitted
  instance and model a mechanism designs with, from simulated logs of a truth.

The likelihoods and metrics are written out in ``docs/clicklogs.md``.
"""

from .compare import compare_user_models, session_folds
from .design import fit_from_simulated_logs
from .fit import (
    FAMILIES,
    UserModelFit,
    click_probabilities,
    fit_user_model,
    impossible_sessions,
    session_loglik,
)
from .logs import LOG_COLUMNS, ClickData, as_click_data, read_logs, validate_logs
from .simulate import simulate_logs

__all__ = [
    "FAMILIES",
    "LOG_COLUMNS",
    "ClickData",
    "UserModelFit",
    "as_click_data",
    "click_probabilities",
    "compare_user_models",
    "fit_from_simulated_logs",
    "fit_user_model",
    "impossible_sessions",
    "read_logs",
    "session_folds",
    "session_loglik",
    "simulate_logs",
    "validate_logs",
]
