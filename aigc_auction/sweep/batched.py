"""The chunked path of a sweep: many tasks of one grid point at once.

Tasks of one grid point share everything but their random draw, so a chunk of
them runs as one batch (:func:`run_point_tasks`):

1. every task's market is drawn exactly as :func:`~aigc_auction.sweep.make_market`
   draws it, from ``numpy.random.default_rng(seed)`` with the task's own seed
   (first the CTR matrix, then the values), and the markets are stacked;
2. the optimal welfare under every true model comes from one batched
   allocation per true model (the batch kernel of the model's default solver);
3. every run (:mod:`aigc_auction.sweep.runs`: mechanisms, allocators,
   baselines) gets all the markets at once: one ``Mechanism.fast_arrays`` call
   per mechanism and design model (the solver's batch kernel), with a loop over
   the per-auction API for rules that have no kernel;
4. each outcome is evaluated under every true model with array operations
   (MNL click probabilities of an allocation, cascade click probabilities of an
   allocation read in its order) and the result columns are built as arrays.

The rows are those of :func:`~aigc_auction.sweep.run_task` on each task, in the
same order, with the same values up to floating-point round-off in sums (a
test checks 1e-12 on every column but ``solver_time``). Anything that raises
makes :func:`~aigc_auction.sweep.run_chunk` run the chunk again task by task,
which isolates and reports the failing task as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .. import generators as gen
from ..instance import Instance
from ..models import UserModel
from ..models.cascade import Cascade
from ..models.mnl import MNL
from .runs import (
    Markets,
    RunOutcome,
    objective_values,
    optimum_values,
    point_spec,
    runs_of_point,
)

if TYPE_CHECKING:
    import pandas as pd

    from .config import SweepConfig
    from .point import PointSpec

__all__ = ["BatchEvaluator", "draw_markets", "index_order", "reads_in_index_order",
           "run_point_tasks"]


def reads_in_index_order(model: UserModel) -> bool:
    """Whether users of ``model`` read the shown positions in index order whatever
    order a mechanism intended: a cascade with ``order="fixed"``.

    The sweep evaluates every outcome under such a true model in index order
    (``Cascade.ctr(..., order=None)``): a mechanism designed for another model
    (MNL, an optimized-order cascade, the separable baseline) may intend another
    reading order, but these users read the content's own order. The model's
    own validation is unchanged: ``Cascade.ctr`` with a non-increasing ``order``
    under ``order="fixed"`` still raises.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> from aigc_auction.sweep.batched import reads_in_index_order
    >>> reads_in_index_order(aa.Cascade(order="fixed")), reads_in_index_order(aa.Cascade())
    (True, False)
    """
    return isinstance(model, Cascade) and model.order == "fixed"


def index_order(assignment: NDArray[np.int64], width: int) -> NDArray[np.int64]:
    """The shown positions of each row in increasing order, ``(B, width)``, ``-1`` after.

    Examples
    --------
    >>> import numpy as np
    >>> from aigc_auction.sweep.batched import index_order
    >>> index_order(np.array([[2, -1, 0], [-1, -1, -1]]), 2).tolist()
    [[0, 2], [-1, -1]]
    """
    bsz = assignment.shape[0]
    big = np.iinfo(np.int64).max
    pos = np.sort(np.where(assignment >= 0, assignment, big), axis=1)[:, :width]
    out = np.full((bsz, width), -1, dtype=np.int64)
    out[:, :pos.shape[1]] = np.where(pos == big, -1, pos)
    return out


def draw_markets(spec: PointSpec, seeds: Sequence[int]) -> Markets:
    """The markets of tasks with these seeds, drawn as ``make_market`` draws them.

    Raises
    ------
    ValueError
        If a generator returns a matrix of the wrong shape or a market is outside
        the domain of a model (the chunk then runs task by task, which reports it).
    """
    s = spec.settings
    n, m = int(s["n_advertisers"]), int(s["n_positions"])
    draw_ctr = gen.CTR_GENERATORS[spec.generator]  # validated by build_point
    ctr = np.empty((len(seeds), n, m))
    values = np.empty((len(seeds), n))
    for k, seed in enumerate(seeds):
        g = np.random.default_rng(seed)
        c = np.asarray(draw_ctr(n, m, rng=g, **spec.generator_params), dtype=np.float64)
        if c.shape != (n, m):
            raise ValueError(f"generator {spec.generator!r} returned shape {c.shape}")
        ctr[k] = c
        values[k] = gen.draw_values(spec.prior, n, rng=g)
    if not (np.isfinite(ctr).all() and np.isfinite(values).all() and values.min() >= 0):
        raise ValueError("a market has non-finite CTRs or values")
    if ctr.min() < 0 or ctr.max() > 1:
        raise ValueError("a market has CTRs outside [0, 1]")
    markets = Markets(ctr, values, int(s["slots"]), seeds=tuple(int(x) for x in seeds))
    # the models' domain checks bound the entries: the elementwise extremes of
    # the chunk stand for every market
    for model in {id(mo): mo for mo in (*spec.design_models.values(),
                                         *spec.true_models.values())}.values():
        for extreme in (ctr.max(axis=0), ctr.min(axis=0)):
            model.check_instance(Instance(ctr=extreme, slots=markets.slots))
    return markets


class BatchEvaluator:
    """Click probabilities of allocations of a batch of markets under one true model.

    MNL and cascade are evaluated with array operations over the whole batch
    (the same arithmetic as ``MNL.ctr`` and ``Cascade.ctr`` on one market);
    other models one market at a time through ``model.ctr``.

    Parameters
    ----------
    model : UserModel
    markets : Markets
    """

    def __init__(self, model: UserModel, markets: Markets) -> None:
        self.model = model
        self.markets = markets
        self._cache: dict[str, NDArray[np.float64]] = {}

    def ctr(self, assignment: NDArray[np.int64], order: NDArray[np.int64]
            ) -> NDArray[np.float64]:
        """``(B, n)`` click probabilities of ``assignment`` read in ``order``
        (``(B, K)``, ``-1`` after the shown positions); in index order under a
        fixed-order cascade (:func:`reads_in_index_order`)."""
        if isinstance(self.model, MNL):
            return self._mnl(assignment)
        if isinstance(self.model, Cascade):
            return self._cascade(self.model, assignment, order)
        return np.stack([
            self.model.ctr(inst, a, o[o >= 0])
            for inst, a, o in zip(self.markets.instances, assignment, order, strict=True)
        ])

    def _mnl(self, assignment: NDArray[np.int64]) -> NDArray[np.float64]:
        odds = self._cache.get("odds")
        if odds is None:
            with np.errstate(divide="ignore"):
                odds = self._cache["odds"] = self.markets.ctr / (1.0 - self.markets.ctr)
        bsz, n = assignment.shape
        shown = assignment >= 0
        w = np.where(shown, odds[np.arange(bsz)[:, None], np.arange(n)[None, :],
                                 np.where(shown, assignment, 0)], 0.0)
        total = np.zeros(bsz)
        for i in range(n):  # shown weights added in advertiser order, as mnl_ctr
            total += w[:, i]
        return np.asarray(np.where(shown, w / (1.0 + total)[:, None], 0.0))

    def _cascade(self, model: Cascade, assignment: NDArray[np.int64],
                 order: NDArray[np.int64]) -> NDArray[np.float64]:
        ctr = self.markets.ctr
        q = self._cache.get("q")
        if q is None:
            gc, gs = model.continuation_params(ctr.shape[1])
            q = self._cache["q"] = np.clip(
                ctr * gc[:, None] + (1.0 - ctr) * gs[:, None], 0.0, 1.0)
        bsz, n = assignment.shape
        rows = np.arange(bsz)[:, None]
        inv = np.full((bsz, ctr.shape[2]), -1, dtype=np.int64)
        r, i = np.nonzero(assignment >= 0)
        inv[r, assignment[r, i]] = i
        if reads_in_index_order(model):  # these users read the content's own order
            order = index_order(assignment, order.shape[1])
        valid = order >= 0
        pos = np.where(valid, order, 0)
        ads = np.where(valid, np.take_along_axis(inv, pos, axis=1), 0)
        reach = np.ones(order.shape)
        if order.shape[1] > 1:
            reach[:, 1:] = np.cumprod(np.where(valid, q[rows, ads, pos], 1.0)[:, :-1], axis=1)
        pair = np.where(valid, ctr[rows, ads, pos], 0.0) * reach
        out = np.zeros((bsz, n))
        r, t = np.nonzero(valid)
        out[r, ads[r, t]] = pair[r, t]
        return out


def run_point_tasks(
    cfg: SweepConfig, point: int, tasks: Sequence[int], seeds: Sequence[int],
    dtypes: Mapping[str, str],
) -> pd.DataFrame:
    """The result rows of ``tasks`` (all of grid point ``point``) as one batch.

    Parameters
    ----------
    cfg : SweepConfig
    point : int
    tasks, seeds : sequences of int
        The task indices and their seeds (``task_seed``).
    dtypes : mapping
        Column name -> dtype of the result table.

    Returns
    -------
    pandas.DataFrame
        The rows :func:`~aigc_auction.sweep.run_task` gives for each task, in the
        same order (tasks in the given order).

    Raises
    ------
    Exception
        Whatever a market draw, a model or a mechanism raises.
    """
    spec = point_spec(cfg, point)
    runs = runs_of_point(cfg, point)
    markets = draw_markets(spec, seeds)
    values = markets.values
    # the optimum under a true model is the allocation of a run that maximises
    # welfare under it with its default solver (VCG at truthful bids), else one
    # batched allocation
    outs: dict[int, RunOutcome] = {}
    optimum: dict[str, NDArray[np.float64]] = {}
    for name, model in spec.true_models.items():
        r = next((r for r, run in enumerate(runs) if run.maximises_welfare(model)), None)
        if r is None:
            optimum[name] = optimum_values(model, markets, values)
        else:
            outs[r] = runs[r].run_batch(markets, {})
            optimum[name] = objective_values(values, outs[r].ctr)
    evaluators = {name: BatchEvaluator(model, markets)
                  for name, model in spec.true_models.items()}
    true_names = list(spec.true_models)
    bsz, n_runs, n_true = len(markets), len(runs), len(true_names)
    shape = (bsz, n_runs, n_true)
    welfare, revenue, opt, total = (np.empty(shape) for _ in range(4))
    shown = np.empty((bsz, n_runs), dtype=np.int64)
    ratio = np.empty((bsz, n_runs))
    elapsed = np.empty((bsz, n_runs))
    for r, run in enumerate(runs):
        out = outs.pop(r) if r in outs else run.run_batch(markets, optimum)
        shown[:, r] = np.count_nonzero(out.assignment >= 0, axis=1)
        ratio[:, r] = out.approx_ratio
        elapsed[:, r] = out.solver_time
        for t, name in enumerate(true_names):
            pi = (out.ctr if name == run.own_view
                  else evaluators[name].ctr(out.assignment, out.order))
            welfare[:, r, t] = (values * pi).sum(axis=1)
            revenue[:, r, t] = (np.nan if out.price_per_click is None
                                else (out.price_per_click * pi).sum(axis=1))
            opt[:, r, t] = optimum[name]
            total[:, r, t] = pi.sum(axis=1)
    efficiency = np.full(shape, np.nan)
    np.divide(welfare, opt, out=efficiency, where=opt > 0)

    per_task = n_runs * n_true
    task_arr = np.asarray(tasks, dtype=np.int64)
    cols: dict[str, Any] = {
        "task": np.repeat(task_arr, per_task),
        "point": np.full(bsz * per_task, point, dtype=np.int64),
        "rep": np.repeat(task_arr - point * cfg.replicates, per_task),
        "seed": np.repeat(np.asarray(seeds, dtype=np.int64), per_task),
    }
    settings = spec.settings
    for (key, _), col in zip(cfg.grid, cfg.param_columns, strict=True):
        cols[col] = [settings[key]] * (bsz * per_task)

    def per_row(labels: list[str]) -> NDArray[Any]:  # one label per (run, true model)
        return np.tile(np.asarray(labels, dtype=object), bsz)

    cols["mechanism"] = per_row([run.mechanism for run in runs for _ in true_names])
    cols["solver"] = per_row([run.solver for run in runs for _ in true_names])
    cols["design_model"] = per_row([run.design_model for run in runs for _ in true_names])
    cols["true_model"] = per_row([name for _ in runs for name in true_names])
    cols["welfare"] = welfare.ravel()
    cols["revenue"] = revenue.ravel()
    cols["optimal_welfare"] = opt.ravel()
    cols["efficiency"] = efficiency.ravel()
    cols["shown_ads"] = np.repeat(shown.ravel(), n_true)
    cols["total_ctr"] = total.ravel()
    cols["approx_ratio"] = np.repeat(ratio.ravel(), n_true)
    cols["solver_time"] = np.repeat(elapsed.ravel(), n_true)

    import pandas as pd

    return pd.DataFrame({k: cols[k] for k in dtypes}).astype(dict(dtypes))
