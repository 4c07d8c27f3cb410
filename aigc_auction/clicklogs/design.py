"""Design from a fit: the instance and user model a mechanism sees after estimation.

A platform does not know its users' model; it designs with one fitted to logs.
:func:`fit_from_simulated_logs` reproduces that step inside a simulation: it
draws ``n_sessions`` logs of the true model under the uniformly random logging
policy, fits a family, and returns the fitted instance and model. Running a
mechanism on them and evaluating its allocation under the truth measures the
welfare and revenue lost to estimation error (as logs grow) and to choosing the
wrong family.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._validation import check_int, check_rng
from ..instance import Instance
from ..models import UserModel
from .fit import fit_user_model
from .simulate import simulate_logs

__all__ = ["fit_from_simulated_logs"]


def fit_from_simulated_logs(
    instance: Instance,
    true_model: UserModel,
    family: str | UserModel,
    n_sessions: int,
    *,
    slots: int | None = None,
    rng: Any = None,
    shrinkage: float = 0.0,
    fixed: Mapping[str, Any] | None = None,
) -> tuple[Instance, UserModel]:
    """Fit ``family`` to ``n_sessions`` simulated logs of the truth.

    Parameters
    ----------
    instance : Instance
        The true CTR matrix; the logging policy shows ``instance.slots`` ads per
        session (uniformly random slates, :func:`simulate_logs`).
    true_model : MNL or Cascade
        The true user model.
    family : str or UserModel
        The family fitted (``"cascade"``, ``"mnl"``, ``"pbm"``, ``"independent"``,
        or an MNL / Cascade instance fixing parameters).
    n_sessions : int
        Number of logged sessions (>= 1).
    slots : int, optional
        ``slots`` of the returned instance; default ``instance.slots``.
    rng : None, int, SeedSequence or Generator
        Randomness of the logs (the fit itself is deterministic).
    shrinkage : float, default 0
        Passed to :func:`fit_user_model`.
    fixed : dict, optional
        Parameters held fixed, passed to :func:`fit_user_model` (e.g.
        ``{"continue_after_click": 0.0}`` with ``family="cascade"``).

    Returns
    -------
    (Instance, UserModel)
        The fitted CTRs (pairs never shown hold the pooled click rate) and the
        fitted user model, ready for any mechanism.

    Notes
    -----
    Sessions the family cannot produce (e.g. two clicks when fitting MNL to
    cascade users) are dropped from the fit (``impossible="drop"``); this is how
    a wrong family is fitted, and it is part of its cost.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> from aigc_auction.clicklogs import fit_from_simulated_logs
    >>> truth = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.3], [0.1, 0.6]], slots=2)
    >>> inst, model = fit_from_simulated_logs(truth, aa.Cascade(), "cascade", 5000, rng=0)
    >>> inst.shape, type(model).__name__
    ((3, 2), 'Cascade')
    >>> out = aa.VCG(model).run(inst, [1.0, 0.8, 0.5])     # design on the fit...
    >>> welfare = float((aa.Cascade().ctr(truth, out.assignment, out.order)
    ...                  * [1.0, 0.8, 0.5]).sum())        # ...evaluate under the truth
    >>> round(welfare, 2) > 0
    True
    """
    if not isinstance(instance, Instance):
        raise TypeError(
            f"`instance` must be an aigc_auction.Instance; got {type(instance).__name__}"
        )
    sessions = check_int(n_sessions, "n_sessions", low=1)
    k = instance.slots if slots is None else check_int(slots, "slots", low=1,
                                                       high=instance.n_positions)
    logs = simulate_logs(instance, true_model, n_sessions=sessions, rng=check_rng(rng))
    fit = fit_user_model(family, logs, n_advertisers=instance.n_advertisers,
                         n_positions=instance.n_positions, shrinkage=shrinkage,
                         impossible="drop", fixed=fixed)
    return fit.instance(slots=k), fit.model
