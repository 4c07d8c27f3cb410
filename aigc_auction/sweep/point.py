"""One grid point of a sweep: validate its settings, build its models and mechanisms.

The settings of a point fall into five independent *components*, each checked
by its own function so that a config can be validated without walking the
Cartesian product of its grid (see :meth:`SweepConfig.validate_points`):

* the **market** (:func:`check_market`): ``n_advertisers``, ``n_positions``,
  ``slots``, the generator and its parameters (sizes checked against
  :data:`~aigc_auction._validation.MAX_CELLS` before anything is drawn);
* the **prior** (:func:`point_prior`): ``prior``, ``prior_loc``,
  ``prior_scale``, ``prior_shape``, ``prior_shape2`` (see
  :func:`aigc_auction.priors.check_prior`);
* the **models** (:func:`check_models`): ``<model>.<param>`` and
  ``solver.<model>`` settings, with every mechanism and allocator built on them;
* the **bidders** (:func:`check_bidders`): ``bidders.<key>``, the bidding
  strategy of the non-truthful formats;
* the **fit** (:func:`check_fit`): ``fit.<key>``, the designs from fitted models.

:func:`build_point` runs them all and returns the :class:`PointSpec` a task uses.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .. import generators as gen
from .._validation import check_cells, check_int
from ..bidders import Bidder, get_bidder
from ..mechanisms import Mechanism, get_mechanism
from ..models import MNL, Cascade, UserModel, get_model
from ..solvers import SolverSpec, get_solver

if TYPE_CHECKING:
    from .config import SweepConfig

__all__ = [
    "MARKET_KEYS",
    "PRIOR_KEYS",
    "FitSpec",
    "PointSpec",
    "build_point",
    "check_bidders",
    "check_fit",
    "check_market",
    "check_models",
    "component_of",
    "point_prior",
]

#: Settings of the prior component.
PRIOR_KEYS = ("prior", "prior_loc", "prior_scale", "prior_shape", "prior_shape2")
#: Settings of the market component (generator parameters come on top).
MARKET_KEYS = ("generator", "n_advertisers", "n_positions", "slots")


def component_of(key: str) -> str:
    """``"prior"``, ``"bidders"``, ``"fit"``, ``"models"`` (``model.param``,
    ``solver.model``) or ``"market"``."""
    if key in PRIOR_KEYS:
        return "prior"
    if key.startswith(("bidders.", "fit.")):
        return key.split(".", 1)[0]
    if "." in key:
        return "models"
    return "market"


@dataclass(frozen=True, eq=False)
class PointSpec:
    """Everything a grid point needs, built once per point and process."""

    settings: Mapping[str, Any]
    prior: Any
    generator: str
    generator_params: Mapping[str, Any]
    design_models: Mapping[str, UserModel]
    true_models: Mapping[str, UserModel]
    mechanisms: tuple[tuple[str, Mechanism], ...]
    #: ``(design model, solver)`` of every allocator, in config order.
    allocators: tuple[tuple[str, SolverSpec], ...] = ()
    #: The bidding strategy of the non-truthful formats (``None``: truthful bids).
    bidder: Bidder | None = None
    #: Learning rounds before the bids are taken.
    burn_in: int = 0
    #: The designs from fitted models (``None``: none).
    fit: FitSpec | None = None


#: Cascade parameters a ``fit.families`` entry can hold fixed.
FIXABLE = ("continue_after_click", "continue_after_skip")


@dataclass(frozen=True)
class FitFamily:
    """One entry of ``fit.families``: a family fitted with some parameters fixed.

    Attributes
    ----------
    label : str
        What its rows carry in ``design_model`` after ``"fit:"`` (the family's
        name when nothing is fixed).
    family : str
        ``"cascade"``, ``"mnl"``, ``"pbm"`` or ``"independent"``.
    fixed : tuple of (str, float) pairs
        Cascade continuation parameters held at the given values (not fitted),
        in :data:`FIXABLE` order.
    """

    label: str
    family: str
    fixed: tuple[tuple[str, float], ...] = ()

    def to_config(self) -> str | dict[str, Any]:
        """The entry as written in a config (a plain name when nothing is fixed)."""
        if not self.fixed and self.label == self.family:
            return self.family
        return {"family": self.family, "name": self.label, **dict(self.fixed)}


@dataclass(frozen=True, eq=False)
class FitSpec:
    """The ``fit`` settings of a grid point: which fits each task makes.

    Attributes
    ----------
    n_sessions : int
        Sessions of simulated click logs per task.
    families : tuple of FitFamily
        The families fitted to the same logs, one row group per family and mechanism.
    logs : str
        The true model that generates the logs.
    truth : UserModel
        That model.
    shrinkage : float
    solvers : tuple of (str, str) pairs
        ``(label, solver name)``: the exact solver the mechanisms designed on
        that family's fitted model use (the default solver of its model class).
    """

    n_sessions: int
    families: tuple[FitFamily, ...]
    logs: str
    truth: UserModel
    shrinkage: float
    solvers: tuple[tuple[str, str], ...]


def check_market(settings: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Validate the market settings; return the generator and its parameters.

    Nothing of the market's size is allocated: the generator's parameters are
    validated by a 1 x 1 draw, after the sizes were checked against the limit.
    """
    kind = settings["generator"]
    gparams = {k: settings[k] for k in gen.generator_params(kind) if k in settings}
    n = check_int(settings["n_advertisers"], "n_advertisers", low=1)
    m = check_int(settings["n_positions"], "n_positions", low=1)
    check_int(settings["slots"], "slots", low=1, high=m)
    check_cells(n * m, f"a CTR matrix of {n:,} x {m:,} (`n_advertisers` x `n_positions`)")
    rank = gparams.get("rank")
    if isinstance(rank, int) and not isinstance(rank, bool):
        check_cells((n + m) * max(rank, 1), f"embeddings of `rank` {rank:,} for "
                                            f"{n:,} + {m:,} rows")
    gen.generate_ctr(kind, 1, 1, rng=0, **gparams)  # a 1x1 draw validates the parameters
    return str(kind), gparams


@lru_cache(maxsize=64)
def _prior(name: Any, loc: Any, scale: Any, shape: Any, shape2: Any) -> Any:
    return gen.value_prior(name, loc=loc, scale=scale, shape=shape, shape2=shape2)


def point_prior(settings: Mapping[str, Any]) -> Any:
    """The frozen value prior of these settings (validated; cached per process)."""
    args = tuple(settings[k] for k in PRIOR_KEYS)
    try:
        hash(args)
    except TypeError:
        return gen.value_prior(args[0], loc=args[1], scale=args[2], shape=args[3],
                               shape2=args[4])
    return _prior(*args)


def check_models(cfg: SweepConfig, settings: Mapping[str, Any], prior: Any = None
                 ) -> tuple[dict[str, UserModel], list[tuple[str, Mechanism]],
                            list[tuple[str, SolverSpec]]]:
    """Build the user models, mechanisms and allocators of these settings.

    ``prior`` is the Myerson prior; ``None`` uses U[0, 1] (the model component
    does not depend on it, which lets the models be checked on their own).
    """
    if prior is None:
        prior = _prior("uniform", 0.0, 1.0, None, None)
    models: dict[str, UserModel] = {}
    for name in dict.fromkeys(cfg.models + cfg.true_models):
        mparams = cfg.model_params(settings, name)
        try:
            models[name] = get_model(name, **mparams)
        except TypeError as exc:
            raise TypeError(
                f"`params.{name}` {mparams} rejected by the {name!r} model: {exc}"
            ) from None
    mechs: list[tuple[str, Mechanism]] = []
    for model_name in cfg.models:
        solver = cfg.solver_for(settings, model_name)
        for mech_name in cfg.mechanisms:
            extra = {"prior": prior} if mech_name == "myerson" else {}
            mechs.append(
                (model_name, get_mechanism(mech_name, models[model_name], solver=solver,
                                           **extra))
            )
    allocs: list[tuple[str, SolverSpec]] = []
    for model_name, names in cfg.allocators:
        for name in names:
            try:
                allocs.append((model_name, get_solver(models[model_name], name)))
            except ValueError as exc:
                raise ValueError(f"`allocators` entry {name!r} for model {model_name!r}: "
                                 f"{exc}") from None
    return models, mechs, allocs


def check_bidders(settings: Mapping[str, Any]) -> tuple[Bidder | None, int]:
    """The bidding strategy of these settings and its burn-in (``(None, 0)``
    without a ``bidders`` table).

    ``truthful`` and ``shade`` do not learn: their burn-in is 0 whatever
    ``bidders.burn_in`` says. ``hedge`` and ``best_response`` require
    ``burn_in``; ``hedge`` requires ``lr``, ``shade`` ``factor``; ``grid``
    defaults to the multipliers 0, 0.05, ..., 1 and ``window = "all"`` means
    every past round.
    """
    kind = settings.get("bidders.type")
    if kind is None:
        return None, 0
    from ..repeated import DEFAULT_GRID
    from .config import BIDDER_KEYS, MAX_BURN_IN

    if not isinstance(kind, str) or kind.lower() not in BIDDER_KEYS:
        raise ValueError(f"`bidders.type` must be one of {list(BIDDER_KEYS)}; got {kind!r}")
    kind = kind.lower()
    params = {k: settings[f"bidders.{k}"] for k in BIDDER_KEYS[kind]
              if f"bidders.{k}" in settings}
    required = {"hedge": ("lr",), "shade": ("factor",)}.get(kind, ())
    for key in required:
        if key not in params:
            raise ValueError(f"`bidders.{key}` is required for bidder type {kind!r}")
    burn = settings.get("bidders.burn_in")
    learning = kind in ("hedge", "best_response")
    if learning and burn is None:
        raise ValueError(f"`bidders.burn_in` is required for bidder type {kind!r}: the "
                         "learning rounds on each market before its bids are taken")
    burn_in = 0 if burn is None else check_int(burn, "bidders.burn_in", low=0,
                                               high=MAX_BURN_IN)
    if learning:
        params.setdefault("grid", DEFAULT_GRID)
    if params.get("window") == "all":
        params["window"] = None
    try:
        bidder = get_bidder(kind, **params)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"`bidders` ({kind!r}): {exc}") from None
    return bidder, burn_in if learning else 0


def _fitted_template(family: FitFamily, truth: UserModel) -> UserModel:
    """A model of the class ``family`` fits to (its default solver runs the fits)."""
    if family.family == "mnl":
        return MNL()
    order = truth.order if isinstance(truth, Cascade) else "optimized"
    if family.family == "cascade":
        params = {"continue_after_click": 0.5, "continue_after_skip": 0.5, **dict(family.fixed)}
        return Cascade(**params, order=order)
    return Cascade(continue_after_click=1.0, continue_after_skip=1.0, order=order)


def as_fit_family(entry: str | FitFamily) -> FitFamily:
    """A ``fit.families`` entry as a :class:`FitFamily` (a name fixes nothing)."""
    return entry if isinstance(entry, FitFamily) else FitFamily(entry, entry)


def check_fit(cfg: SweepConfig, settings: Mapping[str, Any], prior: Any = None
              ) -> FitSpec | None:
    """The designs from fitted models of these settings (``None`` without ``fit``).

    Checks ``fit.n_sessions`` (an integer in [1, MAX_SESSIONS]),
    ``fit.shrinkage`` (finite, >= 0), ``fit.logs`` (a true model of the
    config, MNL or cascade) and that every mechanism can be built on every
    family's fitted model.
    """
    if "fit.n_sessions" not in settings:
        return None
    from .config import MAX_SESSIONS

    n = check_int(settings["fit.n_sessions"], "fit.n_sessions", low=1, high=MAX_SESSIONS)
    shrink = settings["fit.shrinkage"]
    if (isinstance(shrink, bool) or not isinstance(shrink, numbers.Real)
            or not math.isfinite(shrink) or shrink < 0):
        raise ValueError(f"`fit.shrinkage` must be a finite number >= 0; got {shrink!r}")
    logs = settings["fit.logs"]
    if logs not in cfg.true_models:
        raise ValueError(f"`fit.logs` must name a true model ({list(cfg.true_models)}): the "
                         f"model that generates the click logs; got {logs!r}")
    name = str(logs)
    try:
        truth = get_model(name, **cfg.model_params(settings, name))
    except TypeError as exc:
        raise TypeError(f"`params.{name}` rejected by the {name!r} model: {exc}") from None
    if not isinstance(truth, MNL | Cascade):
        raise ValueError(f"`fit.logs` must be an MNL or cascade model (click logs are "
                         f"simulated for those); got {name!r}")
    if prior is None:
        prior = _prior("uniform", 0.0, 1.0, None, None)
    families = tuple(as_fit_family(f) for f in settings["fit.families"])
    solvers = []
    for family in families:
        template = _fitted_template(family, truth)
        solver = get_solver(template, None).name
        for mech in cfg.mechanisms:
            extra = {"prior": prior} if mech == "myerson" else {}
            get_mechanism(mech, template, solver=solver, **extra)
        solvers.append((family.label, solver))
    return FitSpec(n_sessions=n, families=families, logs=name, truth=truth,
                   shrinkage=float(shrink), solvers=tuple(solvers))


def build_point(cfg: SweepConfig, settings: Mapping[str, Any]) -> PointSpec:
    """Validate the settings of one grid point and build its models and mechanisms."""
    s = dict(settings)
    kind, gparams = check_market(s)
    prior = point_prior(s)
    models, mechs, allocs = check_models(cfg, s, prior)
    bidder, burn_in = check_bidders(s)
    fit = check_fit(cfg, s, prior)
    if fit is not None:  # the same model object evaluates the rows
        fit = dataclasses.replace(fit, truth=models[fit.logs])
    return PointSpec(
        settings=s, prior=prior, generator=kind, generator_params=gparams,
        design_models={k: models[k] for k in cfg.models},
        true_models={k: models[k] for k in cfg.true_models},
        mechanisms=tuple(mechs), allocators=tuple(allocs),
        bidder=bidder, burn_in=burn_in, fit=fit,
    )
