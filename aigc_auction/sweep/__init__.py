"""Simulation sweeps: many random markets, every mechanism, every user model.

:func:`run_sweep` runs a :class:`SweepConfig` (usually read from TOML with
:func:`load_config`) over a grid of market settings, in parallel on a local
process pool or a Dask cluster, writing Parquet shards as it goes so that an
interrupted sweep resumes where it stopped. See ``docs/sweeps.md``.

Examples
--------
>>> from aigc_auction.sweep import run_sweep
>>> df = run_sweep({"replicates": 2, "mechanisms": ["vcg"], "market": {
...     "n_advertisers": 3, "n_positions": 2}}, executor="serial")
>>> len(df), df["efficiency"].between(0, 1 + 1e-9).all()
(2, np.True_)
"""

from .baseline import rank1_fit, separable_auction
from .config import (
    ALLOC_PREFIX,
    BASELINES,
    FIT_PREFIX,
    LEARNING_MECHANISMS,
    MARKET_DEFAULTS,
    SweepConfig,
    load_config,
)
from .executors import (
    Backend,
    DaskBackend,
    LocalBackend,
    SerialBackend,
    resolve_executor,
)
from .runner import SweepWarning, result_dtypes, root_seed, run_sweep
from .store import SweepStore
from .tasks import (
    RESULT_COLUMNS,
    PointSpec,
    TaskFailure,
    build_point,
    make_market,
    run_chunk,
    run_task,
    task_seed,
)

__all__ = [
    "ALLOC_PREFIX",
    "BASELINES",
    "FIT_PREFIX",
    "LEARNING_MECHANISMS",
    "MARKET_DEFAULTS",
    "RESULT_COLUMNS",
    "Backend",
    "DaskBackend",
    "LocalBackend",
    "PointSpec",
    "SerialBackend",
    "SweepConfig",
    "SweepStore",
    "SweepWarning",
    "TaskFailure",
    "build_point",
    "load_config",
    "make_market",
    "rank1_fit",
    "resolve_executor",
    "result_dtypes",
    "root_seed",
    "run_chunk",
    "run_sweep",
    "run_task",
    "separable_auction",
    "task_seed",
]
