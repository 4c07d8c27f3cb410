"""Sweep configuration: a frozen, validated object built from TOML or a dict.

Every setting of a market lives in one flat namespace of *settings* (see
``docs/sweeps.md``): the ``[market]`` keys (``n_advertisers``, ``generator``,
``prior`` and the generator's own parameters, ...), user-model parameters
``"<model>.<param>"`` (from ``[params.<model>]``) and solver choices
``"solver.<model>"`` (from ``[solvers]``). ``[grid]`` lists values for any of
them; the sweep runs the Cartesian product, and each swept setting becomes a
``param_<setting>`` column (dots replaced by underscores).

``allocators`` adds allocation rules evaluated on their own, without payments
(rows ``mechanism = "alloc:<solver>"``): the way to measure heuristics such as
the cascade ``greedy`` and ``local_search`` rules, which mechanisms refuse
because they are not monotone.

``bidders`` makes the non-truthful formats (``gsp``, ``first_price``) run at the
bids a bidding strategy reaches after a burn-in on each market, and ``fit``
adds row groups designed on a user model fitted to simulated click logs (rows
``design_model = "fit:<family>"``). Their scalar keys are settings too
(``"bidders.<key>"``, ``"fit.<key>"``), so ``[grid]`` can sweep them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import generators as gen
from ..mechanisms import available_mechanisms
from ..models import available_models
from .point import (
    FIXABLE,
    FitFamily,
    as_fit_family,
    check_bidders,
    check_fit,
    check_market,
    check_models,
    component_of,
    point_prior,
)

__all__ = [
    "ALLOC_PREFIX",
    "BASELINES",
    "BIDDER_KEYS",
    "FIT_FAMILIES",
    "FIT_PREFIX",
    "JOINT_LIMIT",
    "LEARNING_MECHANISMS",
    "MARKET_DEFAULTS",
    "MAX_BURN_IN",
    "MAX_ROWS",
    "MAX_SESSIONS",
    "MAX_TASKS",
    "SweepConfig",
    "fingerprint_of",
    "load_config",
]

#: Classic baselines that can be added to every task (``baselines = [...]``).
BASELINES = ("separable_vcg", "separable_gsp")

#: ``mechanism`` column of an allocator's rows: ``ALLOC_PREFIX + solver``.
ALLOC_PREFIX = "alloc:"

#: ``design_model`` column of a row group designed on a fitted model:
#: ``FIT_PREFIX + family``.
FIT_PREFIX = "fit:"

#: Mechanisms whose rows take the bids of the ``bidders`` key: the non-truthful
#: formats. VCG and Myerson are truthful and always run at truthful bids.
LEARNING_MECHANISMS = ("gsp", "first_price")

#: Bidding strategies of the ``bidders`` key and the parameters each takes
#: (besides ``type`` and ``burn_in``).
BIDDER_KEYS: dict[str, tuple[str, ...]] = {
    "truthful": (),
    "shade": ("factor",),
    "hedge": ("grid", "lr", "feedback", "explore"),
    "best_response": ("grid", "window", "start"),
}
#: Keys of the ``fit`` table; all but ``families`` can be swept.
_FIT_KEYS = ("n_sessions", "families", "logs", "shrinkage")
#: User-model families the ``fit`` key can fit (:data:`aigc_auction.clicklogs.FAMILIES`).
FIT_FAMILIES = ("cascade", "mnl", "pbm", "independent")
#: Most learning rounds per market (``bidders.burn_in``).
MAX_BURN_IN = 1_000_000
#: Most simulated sessions per task (``fit.n_sessions``).
MAX_SESSIONS = 10_000_000

#: Market settings every config has (generator parameters come on top).
MARKET_DEFAULTS: dict[str, Any] = {
    "generator": "lowrank",
    "n_advertisers": 6,
    "n_positions": 4,
    "slots": None,  # None: n_positions
    "prior": "uniform",
    "prior_loc": 0.0,
    "prior_scale": 1.0,
    "prior_shape": None,
    "prior_shape2": None,
}

#: Most tasks (grid points x replicates) one sweep may have.
MAX_TASKS = 2_000_000
#: Most result rows (tasks x rows per task) one sweep may produce.
MAX_ROWS = 20_000_000
#: Grid combinations of one component (market, prior or models) checked jointly
#: when a config is loaded; larger components are checked value by value, and a
#: bad combination then fails its tasks (reported with their parameters).
JOINT_LIMIT = 1024
#: Deepest nesting of tables accepted in a config.
_MAX_NESTING = 8

_TOP_KEYS = {
    "name", "seed", "replicates", "mechanisms", "models", "true_models",
    "baselines", "allocators", "market", "params", "solvers", "grid", "bidders", "fit",
}

Scalar = bool | int | float | str


def _err(key: str, msg: str) -> ValueError:
    return ValueError(f"`{key}` {msg}")


def _check_scalar(value: Any, key: str) -> Scalar:
    if isinstance(value, bool | int | float | str):
        if isinstance(value, float) and not math.isfinite(value):
            raise _err(key, f"must be finite; got {value!r}")
        return value
    raise TypeError(f"`{key}` must be a number, a string or a boolean; got {value!r}")


def _name_list(value: Any, key: str, allowed: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise _err(key, f"must be a non-empty list of names from {list(allowed)}; got {value!r}")
    out: list[str] = []
    for v in value:
        if not isinstance(v, str):
            raise TypeError(f"`{key}` must hold name strings; got {v!r}")
        name = v.lower()
        if name not in allowed:
            raise _err(key, f"entries must be among {list(allowed)}; got {v!r}")
        if name in out:
            raise _err(key, f"lists {v!r} twice")
        out.append(name)
    return tuple(out)


def _flatten(table: Mapping[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Nested TOML tables ``{a: {b: v}}`` as dotted keys ``{"a.b": v}``."""
    if depth > _MAX_NESTING:
        raise _err(f"grid.{prefix.rstrip('.')}", f"nests tables more than {_MAX_NESTING} deep")
    out: dict[str, Any] = {}
    for k, v in table.items():
        if not isinstance(k, str):
            raise TypeError(f"`grid` keys must be strings; got {k!r}")
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + ".", depth + 1))
        else:
            out[key] = v
    return out


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: which markets, which mechanisms, which user models.

    Build it with :meth:`from_dict` or :func:`load_config` (TOML); the fields are
    normalised tuples so the object is hashable and picklable.

    Parameters
    ----------
    name : str
        A label for the sweep.
    seed : int
        Root seed; task ``k`` draws from ``SeedSequence(seed, spawn_key=(k,))``.
    replicates : int
        Random markets per grid point.
    mechanisms : tuple of str
        Mechanism registry names (``"vcg"``, ``"myerson"``).
    models : tuple of str
        Design models: every mechanism runs once per model it optimises for.
    true_models : tuple of str
        Models every outcome is evaluated under (default: ``models``).
    baselines : tuple of str
        Classic baselines from :data:`BASELINES`.
    allocators : tuple of (str, tuple of str) pairs
        ``(design model, solver names)``: allocation rules run on their own (no
        payments), one ``"alloc:<solver>"`` row group each. From the config key
        ``allocators``, a list (every design model) or a table
        ``{model: [solvers]}``.
    settings : tuple of (str, scalar) pairs
        Defaults of every setting (market, ``model.param``, ``solver.model``).
    grid : tuple of (str, tuple of scalars) pairs
        Swept settings and their values, in file order.
    bidders : tuple of (str, value) pairs
        The ``bidders`` table (empty: every mechanism at truthful bids): the
        strategy ``type``, ``burn_in`` and the strategy's parameters; ``grid`` as
        a tuple of floats. Its scalar keys can be swept as ``"bidders.<key>"``.
    fit : tuple of (str, value) pairs
        The ``fit`` table (empty: no designs from fitted models): ``n_sessions``,
        ``families`` (a tuple), ``logs`` and ``shrinkage``. Its scalar keys can be
        swept as ``"fit.<key>"``.

    Examples
    --------
    >>> from aigc_auction.sweep import SweepConfig
    >>> cfg = SweepConfig.from_dict({
    ...     "seed": 1, "replicates": 2, "mechanisms": ["vcg"],
    ...     "market": {"n_advertisers": 3, "n_positions": 2},
    ...     "grid": {"slots": [1, 2]},
    ... })
    >>> cfg.n_points, cfg.n_tasks, cfg.param_columns
    (2, 4, ['param_slots'])
    >>> cfg.point(1)["slots"]
    2
    >>> SweepConfig.from_dict({"replicate": 2})
    Traceback (most recent call last):
    ...
    ValueError: `replicate` is not a sweep config key; valid keys: [...]
    """

    name: str = "sweep"
    seed: int = 0
    replicates: int = 1
    mechanisms: tuple[str, ...] = ("vcg", "myerson")
    models: tuple[str, ...] = ("mnl",)
    true_models: tuple[str, ...] = ("mnl",)
    baselines: tuple[str, ...] = ()
    allocators: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    settings: tuple[tuple[str, Scalar | None], ...] = field(default=())
    grid: tuple[tuple[str, tuple[Scalar, ...]], ...] = field(default=())
    bidders: tuple[tuple[str, Any], ...] = field(default=())
    fit: tuple[tuple[str, Any], ...] = field(default=())

    # -- construction --------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepConfig:
        """Validate a config given as a (TOML-shaped) mapping.

        Raises
        ------
        ValueError
            For an unknown key, a bad value, or a grid point that cannot be run
            (e.g. ``slots > n_positions``, an unknown solver or model parameter).
        TypeError
            For a value of the wrong type.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"`config` must be a mapping; got {type(data).__name__}")
        for section in (data, data.get("market", {}), data.get("params", {}),
                        data.get("solvers", {})):
            if isinstance(section, Mapping):
                bad_keys = [k for k in section if not isinstance(k, str)]
                if bad_keys:
                    raise TypeError(f"`config` keys must be strings; got {bad_keys[0]!r}")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise _err(unknown[0], f"is not a sweep config key; valid keys: {sorted(_TOP_KEYS)}")
        name = data.get("name", "sweep")
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a string; got {name!r}")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise _err("seed", f"must be a non-negative integer; got {seed!r}")
        reps = data.get("replicates", 1)
        if isinstance(reps, bool) or not isinstance(reps, numbers.Integral) or reps < 1:
            raise _err("replicates", f"must be a positive integer; got {reps!r}")
        models = _name_list(data.get("models", ["mnl"]), "models", available_models())
        allocators = _allocators(data.get("allocators", []), models)
        mech_in = data.get("mechanisms", ["vcg", "myerson"])
        if allocators and isinstance(mech_in, list | tuple) and not mech_in:
            mechs: tuple[str, ...] = ()  # allocators only: nothing is priced
        else:
            mechs = _name_list(mech_in, "mechanisms", available_mechanisms())
        true_models = _name_list(data.get("true_models", list(models)), "true_models",
                                 available_models())
        baselines = data.get("baselines", [])
        baselines = _name_list(baselines, "baselines", BASELINES) if baselines else ()
        all_models = list(dict.fromkeys(models + true_models))
        bidders = _bidders_table(data.get("bidders"), mechs)
        fit = _fit_table(data.get("fit"), mechs, true_models)

        settings: dict[str, Any] = dict(MARKET_DEFAULTS)
        market = data.get("market", {})
        if not isinstance(market, Mapping):
            raise TypeError(f"`market` must be a table; got {market!r}")
        generator = market.get("generator", settings["generator"])
        gen_params = gen.generator_params(generator)  # validates the name
        settings.update(gen_params)
        for k, v in market.items():
            if k not in settings:
                raise _err(
                    f"market.{k}",
                    f"is not a market setting (generator {generator!r}); valid: "
                    f"{sorted(settings)}",
                )
            settings[k] = _check_scalar(v, f"market.{k}")

        params = data.get("params", {})
        if not isinstance(params, Mapping):
            raise TypeError(f"`params` must be a table of tables; got {params!r}")
        for model, table in params.items():
            if model not in all_models:
                raise _err(f"params.{model}", _missing_model(model, all_models))
            if not isinstance(table, Mapping):
                raise TypeError(f"`params.{model}` must be a table; got {table!r}")
            for k, v in table.items():
                settings[f"{model}.{k}"] = _check_scalar(v, f"params.{model}.{k}")

        solvers = data.get("solvers", {})
        if not isinstance(solvers, Mapping):
            raise TypeError(f"`solvers` must be a table; got {solvers!r}")
        for model, solver in solvers.items():
            if model not in models:
                raise _err(f"solvers.{model}", _missing_model(model, models, design=True))
            if not isinstance(solver, str):
                raise TypeError(f"`solvers.{model}` must be a solver name; got {solver!r}")
            settings[f"solver.{model}"] = solver

        grid_in = data.get("grid", {})
        if not isinstance(grid_in, Mapping):
            raise TypeError(f"`grid` must be a table; got {grid_in!r}")
        grid: list[tuple[str, tuple[Scalar, ...]]] = []
        for key, values in _flatten(grid_in).items():
            if key == "generator":
                raise _err("grid.generator", "cannot be swept (generators have different "
                           "parameters); run one sweep per generator")
            head = key.split(".", 1)[0]
            if head in ("bidders", "fit") and "." in key:
                _check_swept_key(key, dict(bidders) if head == "bidders" else dict(fit))
            elif "." in key and head not in [*all_models, "solver"] and (
                head in available_models()
            ):
                raise _err(f"grid.{key}", _missing_model(head, all_models))
            known = key in settings or ("." in key and head in [*all_models, "solver",
                                                                 "bidders", "fit"])
            if not known:
                raise _err(f"grid.{key}", f"is not a setting; valid: {sorted(settings)} "
                           "or '<model>.<param>' / 'solver.<model>'")
            if key.startswith("solver.") and key.split(".", 1)[1] not in models:
                raise _err(f"grid.{key}", _missing_model(key.split(".", 1)[1], models,
                                                         design=True))
            if not isinstance(values, list) or not values:
                raise _err(f"grid.{key}", f"must be a non-empty list of values; got {values!r}")
            vals = tuple(_check_scalar(v, f"grid.{key}") for v in values)
            kinds = {type(v) for v in vals}
            if kinds == {int, float}:
                vals = tuple(float(v) for v in vals)
            elif len(kinds) > 1:
                raise _err(f"grid.{key}", f"must hold values of one type; got {list(vals)}")
            if len(set(vals)) != len(vals):
                raise _err(f"grid.{key}", f"has repeated values: {list(vals)}")
            grid.append((key, vals))
        param_cols = [_column(k) for k, _ in grid]
        if len(set(param_cols)) != len(param_cols):
            raise _err("grid", f"keys map to the same column: {param_cols}")

        if bidders:
            _check_bidder_types(dict(bidders), dict(grid).get("bidders.type", ()))
        cfg = cls(
            name=name, seed=int(seed), replicates=int(reps), mechanisms=mechs,
            models=models, true_models=true_models, baselines=baselines,
            allocators=allocators, settings=tuple(settings.items()), grid=tuple(grid),
            bidders=bidders, fit=fit,
        )
        cfg.check_size()
        cfg.validate_points()
        return cfg

    @classmethod
    def from_toml(cls, path: str | Path) -> SweepConfig:
        """Read and validate a TOML config file."""
        p = Path(path)
        try:
            with p.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ValueError(f"`config` file not found: {str(p)!r}") from None
        except IsADirectoryError:
            raise ValueError(f"`config` must be a TOML file; {str(p)!r} is a "
                             "directory") from None
        except OSError as exc:
            raise ValueError(f"`config` {str(p)!r} cannot be read: "
                             f"{exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"`config` {str(p)!r} is not valid TOML: {exc}") from None
        except RecursionError:
            raise ValueError(f"`config` {str(p)!r} nests arrays or tables too "
                             "deeply") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The config as a TOML-shaped dict (``from_dict(to_dict())`` round-trips)."""
        market: dict[str, Any] = {}
        params: dict[str, dict[str, Any]] = {}
        solvers: dict[str, Any] = {}
        for k, v in self.settings:
            if v is None:
                continue
            if k.startswith("solver."):
                solvers[k.split(".", 1)[1]] = v
            elif "." in k:
                model, p = k.split(".", 1)
                params.setdefault(model, {})[p] = v
            else:
                market[k] = v
        out: dict[str, Any] = {
            "name": self.name, "seed": self.seed, "replicates": self.replicates,
            "mechanisms": list(self.mechanisms), "models": list(self.models),
            "true_models": list(self.true_models), "baselines": list(self.baselines),
            "market": market, "params": params, "solvers": solvers,
            "grid": {k: list(v) for k, v in self.grid},
        }
        # absent when unused: older output folders keep their stamp
        if self.allocators:
            out["allocators"] = {model: list(names) for model, names in self.allocators}
        if self.bidders:
            out["bidders"] = {k: list(v) if isinstance(v, tuple) else v
                              for k, v in self.bidders}
        if self.fit:
            out["fit"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.fit}
            out["fit"]["families"] = [as_fit_family(f).to_config()
                                      for f in dict(self.fit)["families"]]
        return out

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict` (detects changed configs)."""
        return fingerprint_of(self.to_dict())

    # -- grid ----------------------------------------------------------------
    @property
    def n_points(self) -> int:
        """Number of grid points (1 without a grid)."""
        return math.prod(len(v) for _, v in self.grid)

    @property
    def n_tasks(self) -> int:
        """``n_points * replicates``: one task per (grid point, replicate)."""
        return self.n_points * self.replicates

    @property
    def param_columns(self) -> list[str]:
        """The ``param_*`` column of each swept setting, in grid order."""
        return [_column(k) for k, _ in self.grid]

    @property
    def fit_families(self) -> tuple[str, ...]:
        """The labels of the families the ``fit`` key fits (empty without it): rows
        ``design_model = "fit:<label>"``."""
        return tuple(as_fit_family(f).label for f in dict(self.fit).get("families", ()))

    @property
    def auctions_per_task(self) -> int:
        """Mechanism runs per task: ``len(mechanisms) * (len(models) + len(fit
        families)) + len(baselines)``."""
        return (len(self.mechanisms) * (len(self.models) + len(self.fit_families))
                + len(self.baselines))

    @property
    def allocations_per_task(self) -> int:
        """Allocator runs per task (no payments): one per (design model, allocator)."""
        return sum(len(names) for _, names in self.allocators)

    @property
    def rows_per_task(self) -> int:
        """Result rows of one task: every run, evaluated under every true model."""
        return (self.auctions_per_task + self.allocations_per_task) * len(self.true_models)

    def allocators_for(self, model: str) -> tuple[str, ...]:
        """The allocators run for design model ``model`` (possibly none)."""
        return dict(self.allocators).get(model, ())

    def grid_values(self, point: int) -> dict[str, Scalar]:
        """The swept settings of grid point ``point`` (row-major over the grid)."""
        if not 0 <= point < self.n_points:
            raise _err("point", f"must be in [0, {self.n_points}); got {point}")
        out: dict[str, Scalar] = {}
        rest = point
        for key, values in reversed(self.grid):  # row-major: the last key varies fastest
            rest, idx = divmod(rest, len(values))
            out[key] = values[idx]
        return {k: out[k] for k, _ in self.grid}

    def _defaults(self) -> dict[str, Any]:
        """The settings, with the ``bidders`` and ``fit`` keys as ``"bidders.<key>"``
        and ``"fit.<key>"``."""
        s = dict(self.settings)
        s.update({f"bidders.{k}": v for k, v in self.bidders})
        s.update({f"fit.{k}": v for k, v in self.fit})
        return s

    def point(self, point: int) -> dict[str, Any]:
        """Every setting at grid point ``point``: the defaults updated by the grid."""
        s = self._defaults()
        s.update(self.grid_values(point))
        if s.get("slots") is None:
            s["slots"] = s["n_positions"]
        return s

    def points(self) -> Iterator[dict[str, Any]]:
        """All grid points' settings, in order."""
        for k in range(self.n_points):
            yield self.point(k)

    def check_size(self) -> None:
        """Refuse sweeps over :data:`MAX_TASKS` tasks or :data:`MAX_ROWS` rows.

        Checked when the config is built, before any output is written.
        """
        n_tasks = self.n_tasks
        if n_tasks > MAX_TASKS:
            raise _err("replicates", f"x grid points gives {n_tasks:,} tasks "
                       f"({self.n_points:,} points x {self.replicates:,} replicates), more "
                       f"than the limit of {MAX_TASKS:,}; split the sweep")
        rows = n_tasks * self.rows_per_task
        if rows > MAX_ROWS:
            raise _err("replicates", f"x grid points gives {rows:,} result rows "
                       f"({n_tasks:,} tasks x {self.rows_per_task} rows), more than the "
                       f"limit of {MAX_ROWS:,}; split the sweep")

    def _settings_with(self, updates: Mapping[str, Any]) -> dict[str, Any]:
        s = self._defaults()
        s.update({k: v[0] for k, v in self.grid})
        s.update(updates)
        if s.get("slots") is None:
            s["slots"] = s["n_positions"]
        return s

    def validate_points(self) -> None:
        """Check every grid value without walking the Cartesian product of the grid.

        Settings fall into five independent components (market, prior, models,
        bidders, fit; see :mod:`aigc_auction.sweep.point`). For each component every combination
        of its swept values is checked when there are at most :data:`JOINT_LIMIT`
        of them, otherwise every value on its own (the component's other swept
        keys at their first value); a bad combination then fails its tasks, which
        are reported with their parameters. The cost is the sum over components,
        not the product.
        """
        checks: dict[str, Callable[[dict[str, Any]], object]] = {
            "market": check_market,
            "prior": point_prior,
            "models": lambda s: check_models(self, s),
            "bidders": check_bidders,
            "fit": lambda s: check_fit(self, s),
        }
        for comp, check in checks.items():
            swept = [(k, v) for k, v in self.grid if component_of(k) == comp]
            combos: Iterator[tuple[tuple[str, Any], ...]]
            if math.prod(len(v) for _, v in swept) <= JOINT_LIMIT:
                combos = itertools.product(*[[(k, x) for x in vals] for k, vals in swept])
            else:
                combos = (((k, x),) for k, vals in swept for x in vals)
            for combo in combos:
                try:
                    check(self._settings_with(dict(combo)))
                except (ValueError, TypeError) as exc:
                    where = f" at grid point {dict(combo)}" if combo else ""
                    raise type(exc)(f"{exc}{where}") from None

    def solver_for(self, settings: Mapping[str, Any], model: str) -> str | None:
        """The solver chosen for design model ``model`` (``None``: its default)."""
        value = settings.get(f"solver.{model}")
        return None if value is None else str(value)

    def model_params(self, settings: Mapping[str, Any], model: str) -> dict[str, Any]:
        """Keyword parameters of user model ``model`` at these settings."""
        prefix = f"{model}."
        return {k[len(prefix):]: v for k, v in settings.items() if k.startswith(prefix)}


def _allocators(value: Any, models: tuple[str, ...]
                ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Validate ``allocators``: a list of solver names (for every design model) or a
    table ``{model: [solver names]}``; returns ``(model, names)`` pairs in
    ``models`` order. Whether each name is a solver of its model is checked per
    grid point (solvers can depend on model parameters)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping):
        table = dict(value)
        for model in table:
            if model not in models:
                raise _err(f"allocators.{model}", f"names a model not in `models` "
                           f"({list(models)})")
    elif isinstance(value, list | tuple):
        table = {model: value for model in models} if value else {}
    else:
        raise TypeError("`allocators` must be a list of solver names or a table "
                        f"{{model = [solver names]}}; got {value!r}")
    out: list[tuple[str, tuple[str, ...]]] = []
    for model in models:
        if model not in table:
            continue
        key = f"allocators.{model}" if isinstance(value, Mapping) else "allocators"
        names = table[model]
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list | tuple) or not names:
            raise _err(key, f"must be a non-empty list of solver names; got {names!r}")
        seen: list[str] = []
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"`{key}` must hold solver name strings; got {name!r}")
            if name in seen:
                raise _err(key, f"lists {name!r} twice")
            seen.append(name)
        out.append((model, tuple(seen)))
    return tuple(out)


def _bidders_table(value: Any, mechanisms: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """Validate the shape of the ``bidders`` table (types and parameters are
    checked per grid point by :func:`~aigc_auction.sweep.point.check_bidders`)."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise TypeError("`bidders` must be a table, e.g. {type = \"hedge\", lr = 20.0, "
                        f"burn_in = 200}}; got {value!r}")
    learning = [m for m in mechanisms if m in LEARNING_MECHANISMS]
    if not learning:
        raise _err("bidders", f"applies to the non-truthful formats {list(LEARNING_MECHANISMS)}"
                   f", none of which is in `mechanisms` ({list(mechanisms)}); add one, "
                   "e.g. mechanisms = ['vcg', 'myerson', 'gsp', 'first_price']")
    valid = ["type", "burn_in", *dict.fromkeys(k for ks in BIDDER_KEYS.values() for k in ks)]
    out: list[tuple[str, Any]] = []
    for k, v in value.items():
        if not isinstance(k, str):
            raise TypeError(f"`bidders` keys must be strings; got {k!r}")
        if k not in valid:
            raise _err(f"bidders.{k}", f"is not a bidders key; valid: {sorted(valid)}")
        if k == "grid":
            from ..bidders import check_grid

            if not isinstance(v, list | tuple) or not v:
                raise _err("bidders.grid", "must be a non-empty list of bid multipliers, "
                           f"e.g. [0.0, 0.25, 0.5, 0.75, 1.0]; got {v!r}")
            for x in v:
                if isinstance(x, bool) or not isinstance(x, numbers.Real):
                    raise TypeError(f"`bidders.grid` must hold numbers; got {x!r}")
            grid = check_grid([float(x) for x in v], "bidders.grid")
            out.append((k, tuple(float(x) for x in grid)))
        else:
            out.append((k, _check_scalar(v, f"bidders.{k}")))
    return tuple(out)


def _check_bidder_types(table: Mapping[str, Any], swept: tuple[Scalar, ...]) -> None:
    """Every ``bidders`` key is used by a bidder type of the sweep, and a type is given."""
    if "type" not in table and not swept:
        raise _err("bidders.type", f"is required: one of {list(BIDDER_KEYS)}")
    types = [t for t in ([table["type"]] if "type" in table else []) + list(swept)]
    for t in types:
        if not isinstance(t, str) or t.lower() not in BIDDER_KEYS:
            raise _err("bidders.type", f"must be one of {list(BIDDER_KEYS)}; got {t!r}")
    used = {"type", "burn_in", *(k for t in types for k in BIDDER_KEYS[str(t).lower()])}
    for k in table:
        if k not in used:
            takers = [t for t, ks in BIDDER_KEYS.items() if k in ks]
            raise _err(f"bidders.{k}", f"is a parameter of bidder type {takers[0]!r}, not of "
                       f"{sorted({str(t).lower() for t in types})}; remove it")


def _fit_table(value: Any, mechanisms: tuple[str, ...], true_models: tuple[str, ...]
               ) -> tuple[tuple[str, Any], ...]:
    """Validate the shape of the ``fit`` table (values are checked per grid point
    by :func:`~aigc_auction.sweep.point.check_fit`); fill the defaults."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise TypeError("`fit` must be a table, e.g. {n_sessions = 10000, families = "
                        f"[\"cascade\", \"mnl\"]}}; got {value!r}")
    for k in value:
        if not isinstance(k, str):
            raise TypeError(f"`fit` keys must be strings; got {k!r}")
        if k not in _FIT_KEYS:
            raise _err(f"fit.{k}", f"is not a fit key; valid: {sorted(_FIT_KEYS)}")
    if not mechanisms:
        raise _err("fit", "designs the config's `mechanisms` on fitted models, but "
                   "`mechanisms` is empty")
    if "n_sessions" not in value:
        raise _err("fit.n_sessions", "is required: the simulated sessions each fit uses")
    if "logs" in value:
        logs = _check_scalar(value["logs"], "fit.logs")
    elif len(true_models) == 1:
        logs = true_models[0]
    else:
        raise _err("fit.logs", f"is required with several true models ({list(true_models)}): "
                   "the true model that generates the click logs")
    families = _fit_families(value.get("families", [str(logs)]))
    return (
        ("n_sessions", _check_scalar(value["n_sessions"], "fit.n_sessions")),
        ("families", families),
        ("logs", logs),
        ("shrinkage", _check_scalar(value.get("shrinkage", 0.0), "fit.shrinkage")),
    )


def _fit_families(value: Any) -> tuple[str | FitFamily, ...]:
    """``fit.families``: names, or tables ``{family, name, <fixed parameter> = value}``
    fixing cascade continuation parameters (kept as :class:`FitFamily`)."""
    key = "fit.families"
    if isinstance(value, str | Mapping):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise _err(key, f"must be a non-empty list of family names from {list(FIT_FAMILIES)} "
                   f"or tables {{family = ..., name = ..., continue_after_click = ...}}; "
                   f"got {value!r}")
    out: list[str | FitFamily] = []
    for v in value:
        if isinstance(v, Mapping):
            entry: str | FitFamily = _fit_family_table(v)
        else:
            entry = _name_list([v], key, FIT_FAMILIES)[0]
        label = entry.label if isinstance(entry, FitFamily) else entry
        if label in [e.label if isinstance(e, FitFamily) else e for e in out]:
            raise _err(key, f"lists {label!r} twice (each entry's rows are "
                       f"design_model = '{FIT_PREFIX}{label}': give tables distinct `name`s)")
        out.append(entry)
    return tuple(out)


def _fit_family_table(v: Mapping[str, Any]) -> str | FitFamily:
    key = "fit.families"
    for k in v:
        if k not in ("family", "name", *FIXABLE):
            raise _err(key, f"entries' tables take `family`, `name` and the fixed "
                       f"parameters {list(FIXABLE)}; got {k!r}")
    if "family" not in v:
        raise _err(key, f"entry {dict(v)!r} needs a `family` from {list(FIT_FAMILIES)}")
    family = _name_list([v["family"]], f"{key}.family", FIT_FAMILIES)[0]
    fixed = []
    for k in FIXABLE:
        if k not in v:
            continue
        if family != "cascade":
            raise _err(key, f"`{k}` can be fixed for the cascade family only; "
                       f"got family {family!r}")
        x = v[k]
        if (isinstance(x, bool) or not isinstance(x, numbers.Real)
                or not 0.0 <= float(x) <= 1.0):
            raise _err(f"{key}.{k}", f"must be a probability in [0, 1]; got {x!r}")
        fixed.append((k, float(x)))
    default = family + "".join(f"({k}={x:g})" for k, x in fixed)
    name = v.get("name", default)
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise _err(f"{key}.name", f"must be a non-empty string without surrounding spaces; "
                   f"got {name!r}")
    if not fixed and name == family:
        return family
    return FitFamily(name, family, tuple(fixed))


def _check_swept_key(key: str, table: Mapping[str, Any]) -> None:
    """A ``"bidders.<key>"`` or ``"fit.<key>"`` grid key: a scalar key of a table
    the config has."""
    head, sub = key.split(".", 1)
    if head == "bidders":
        keys = ["type", "burn_in", *dict.fromkeys(k for ks in BIDDER_KEYS.values()
                                                  for k in ks)]
        listed = "grid"
    else:
        keys, listed = list(_FIT_KEYS), "families"
    if not table:
        raise _err(f"grid.{key}", f"sweeps a key of the `{head}` table, which the config "
                   f"does not have; add a [{head}] table")
    if sub == listed:
        why = ("a list of bid multipliers; sweep `lr` or `burn_in`, or run one sweep per grid"
               if head == "bidders" else
               "a list: every listed family is already fitted to the same logs in every "
               "task (paired rows)")
        raise _err(f"grid.{key}", f"cannot be swept ({why})")
    if sub not in keys:
        raise _err(f"grid.{key}", f"is not a `{head}` key; valid: "
                   f"{sorted(k for k in keys if k != listed)}")


def _missing_model(model: str, have: list[str] | tuple[str, ...], *,
                   design: bool = False) -> str:
    """What to add when a setting names a model the config does not use."""
    where = "`models`" if design else "`models` or `true_models`"
    if model in available_models():
        return (f"names model {model!r}, which is not in {where} ({list(have)}); add it, "
                f"e.g. models = {[*have, model]!r}" if design or model not in have else "")
    return (f"names {model!r}, which is not a user model ({available_models()}) nor in "
            f"{where} ({list(have)})")


def fingerprint_of(data: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical (sorted-key) JSON of ``data``."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _column(key: str) -> str:
    return "param_" + key.replace(".", "_")


def load_config(source: str | Path | Mapping[str, Any] | SweepConfig) -> SweepConfig:
    """A :class:`SweepConfig` from a TOML path, a mapping or a config (returned as is).

    Examples
    --------
    >>> from aigc_auction.sweep import load_config
    >>> load_config({"replicates": 3}).replicates
    3
    """
    if isinstance(source, SweepConfig):
        return source
    if isinstance(source, str | Path):
        return SweepConfig.from_toml(source)
    if isinstance(source, Mapping):
        return SweepConfig.from_dict(source)
    raise TypeError(
        f"`config` must be a SweepConfig, a mapping or a TOML path; got {type(source).__name__}"
    )

