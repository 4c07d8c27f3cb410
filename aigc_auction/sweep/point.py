"""One grid point of a sweep: validate its settings, build its models and mechanisms.

The settings of a point fall into three independent *components*, each checked
by its own function so that a config can be validated without walking the
Cartesian product of its grid (see :meth:`SweepConfig.validate_points`):

* the **market** (:func:`check_market`): ``n_advertisers``, ``n_positions``,
  ``slots``, the generator and its parameters (sizes checked against
  :data:`~aigc_auction._validation.MAX_CELLS` before anything is drawn);
* the **prior** (:func:`point_prior`): ``prior``, ``prior_loc``,
  ``prior_scale``, ``prior_shape``, ``prior_shape2`` (see
  :func:`aigc_auction.priors.check_prior`);
* the **models** (:func:`check_models`): ``<model>.<param>`` and
  ``solver.<model>`` settings, with every mechanism and allocator built on them.

:func:`build_point` runs all three and returns the :class:`PointSpec` a task uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .. import generators as gen
from .._validation import check_cells, check_int
from ..mechanisms import Mechanism, get_mechanism
from ..models import UserModel, get_model
from ..solvers import SolverSpec, get_solver

if TYPE_CHECKING:
    from .config import SweepConfig

__all__ = [
    "MARKET_KEYS",
    "PRIOR_KEYS",
    "PointSpec",
    "build_point",
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
    """``"prior"``, ``"models"`` (``model.param``, ``solver.model``) or ``"market"``."""
    if key in PRIOR_KEYS:
        return "prior"
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


def build_point(cfg: SweepConfig, settings: Mapping[str, Any]) -> PointSpec:
    """Validate the settings of one grid point and build its models and mechanisms."""
    s = dict(settings)
    kind, gparams = check_market(s)
    prior = point_prior(s)
    models, mechs, allocs = check_models(cfg, s, prior)
    return PointSpec(
        settings=s, prior=prior, generator=kind, generator_params=gparams,
        design_models={k: models[k] for k in cfg.models},
        true_models={k: models[k] for k in cfg.true_models},
        mechanisms=tuple(mechs), allocators=tuple(allocs),
    )
