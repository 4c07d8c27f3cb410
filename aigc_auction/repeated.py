"""Repeated auctions with learning bidders: :func:`simulate_repeated`.

Each round draws a market (an :class:`~aigc_auction.Instance` and one value per
click per advertiser), every advertiser's strategy turns its value into a bid,
the mechanism allocates and prices, and every strategy learns from the round.

Full-information learners need the utility of *every* bid on their grid, the
others' bids fixed. Rerunning the auction per grid bid would cost ``n * G``
auctions a round; instead each advertiser's outcome is computed once as an exact
step function of its own bid (:func:`aigc_auction.steps.batch_steps`, all advertisers
of the round in one batched envelope search), and the utility of any bid is read
off its step: GSP charges the step's left end, first price the bid, VCG the
Myerson sum over the kinks below. The same step functions give every
advertiser's regret against the best fixed bid multiplier in hindsight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import steps_mnl_numba
from ._validation import check_bids, check_int
from .bidders import Bidder, BidderState, Feedback, check_grid
from .instance import Instance
from .mechanisms import Mechanism
from .models import MNL
from .solvers import get_solver
from .solvers.batch import BatchData, BatchKernel
from .steps import Rule, StepTable, batch_steps, step_kernel, step_rule
from .steps_mnl import ENGINES, mnl_optima, mnl_round_steps

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_GRID",
    "RepeatedResult",
    "RepeatedSummary",
    "learned_bids",
    "market_sequence",
    "market_source",
    "simulate_repeated",
]

#: Default bid multipliers of the regret benchmark: 0, 0.05, ..., 1.
DEFAULT_GRID = np.round(np.linspace(0.0, 1.0, 21), 12)
DEFAULT_GRID.setflags(write=False)

Market = tuple[Instance, NDArray[np.float64]]

#: Table rounds whose optima (at the values) are found together.
_OPTIMA_BATCH = 256


def market_source(market: Any) -> Callable[[np.random.Generator], Market]:
    """A function ``draw(rng) -> (instance, values)`` for each accepted market form.

    ``market`` is one of:

    * a mapping of sweep market settings (``{"n_advertisers": 20,
      "n_positions": 5, "slots": 3, "generator": "lowrank", "prior": "uniform"}``,
      the keys of a sweep's ``[market]`` table, see ``docs/sweeps.md``): a fresh
      market is drawn every round;
    * a pair ``(Instance, values)``: the same market every round;
    * a callable ``rng -> (Instance, values)``;
    * an iterable of ``(Instance, values)`` pairs, one per round.
    """
    return _market_draw(market)[0]


def _market_draw(market: Any) -> tuple[Callable[[np.random.Generator], Market], bool]:
    """:func:`market_source` and whether its pairs need no checking after the
    first (a spec's markets come validated from ``sweep.make_market``, all of one
    size; a fixed pair is checked once)."""
    if isinstance(market, Mapping):
        from .sweep import SweepConfig, make_market

        cfg = SweepConfig.from_dict({"market": dict(market)})
        return (lambda g: make_market(cfg, 0, rng=g)), True
    if isinstance(market, tuple) and len(market) == 2 and isinstance(market[0], Instance):
        inst, values = market[0], check_bids(market[1], market[0].n_advertisers, "values")
        return (lambda g: (inst, values)), True
    if callable(market):
        return market, False
    if isinstance(market, Iterable) and not isinstance(market, str | bytes):
        it: Iterator[Any] = iter(market)

        def draw(g: np.random.Generator) -> Market:
            try:
                return next(it)
            except StopIteration:
                raise ValueError("`market` ran out of (Instance, values) pairs") from None

        return draw, False
    raise TypeError(
        "`market` must be a mapping of market settings, an (Instance, values) pair, a "
        f"callable rng -> (Instance, values) or an iterable of pairs; got {type(market).__name__}"
    )


def _streams(rng: Any) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """The (markets, bidders) children of the root seed of a repeated auction."""
    if isinstance(rng, np.random.SeedSequence):
        root = rng
    elif isinstance(rng, np.random.Generator):
        root = np.random.SeedSequence(int(rng.integers(2**63)))
    else:
        root = np.random.SeedSequence(rng)
    markets, bidders = root.spawn(2)
    return markets, bidders


def market_sequence(market: Any, *, rounds: int, rng: Any = None) -> list[Market]:
    """The markets :func:`simulate_repeated` draws with the same ``market`` and ``rng``.

    For paired comparisons: run truthful mechanisms on exactly the markets the
    learners faced.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> spec = {"n_advertisers": 3, "n_positions": 2}
    >>> mk = aa.repeated.market_sequence(spec, rounds=2, rng=0)
    >>> res = aa.simulate_repeated(aa.GSP(), aa.bidders.Truthful(), spec, rounds=2, rng=0)
    >>> import numpy as np
    >>> np.array_equal(res.history["value"], np.concatenate([v for _, v in mk]))
    True
    """
    t = check_int(rounds, "rounds", low=1)
    draw = market_source(market)
    gen = np.random.default_rng(_streams(rng)[0])
    first = _check_market(draw(gen), None)
    out = [first]
    for _ in range(t - 1):
        out.append(_check_market(draw(gen), first[0].n_advertisers))
    return out


def _check_market(pair: Any, n: int | None) -> Market:
    if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], Instance)):
        raise TypeError(f"`market` must yield (Instance, values) pairs; got {pair!r:.80}")
    inst = pair[0]
    values = check_bids(pair[1], inst.n_advertisers, "values")
    if n is not None and inst.n_advertisers != n:
        raise ValueError(
            f"every market must have the same number of advertisers ({n}); got "
            f"{inst.n_advertisers}"
        )
    return inst, values


@dataclass
class _Group:
    bidder: Bidder
    idx: NDArray[np.int64] | slice  # a slice when the group is every advertiser
    state: BidderState


def _groups(bidders: Bidder | Sequence[Bidder], n: int, streams: list[Any]) -> list[_Group]:
    if isinstance(bidders, Bidder):
        seq: list[Bidder] = [bidders] * n
    elif isinstance(bidders, Sequence) and not isinstance(bidders, str | bytes):
        seq = list(bidders)
        bad = [type(b).__name__ for b in seq if not isinstance(b, Bidder)]
        if bad:
            raise TypeError(f"`bidders` must be Bidder strategies; got {bad[0]}")
        if len(seq) != n:
            raise ValueError(
                f"`bidders` must be one strategy or one per advertiser ({n}); got {len(seq)}"
            )
    else:
        raise TypeError(f"`bidders` must be a Bidder or a list of them; got {type(bidders)}")
    by_key: dict[Any, list[int]] = {}
    first: dict[Any, Bidder] = {}
    for i, b in enumerate(seq):
        by_key.setdefault(b.key(), []).append(i)
        first.setdefault(b.key(), b)
    out = []
    for key, members in by_key.items():
        idx = np.array(members, dtype=np.int64)
        state = first[key].init(idx.size, rng=[streams[i] for i in members])
        out.append(_Group(first[key], slice(None) if len(by_key) == 1 else idx, state))
    return out


class _Engine:
    """One round's outcome and counterfactual utilities for a mechanism."""

    def __init__(self, mechanism: Mechanism, engine: str = "auto") -> None:
        self.mech = mechanism
        self.engine = engine
        self.rule: Rule | None = step_rule(mechanism)
        self.kernel = step_kernel(mechanism) if self.rule is not None else None
        opt = get_solver(mechanism.model)  # the model's default exact solver
        self.opt_spec = opt
        self.mnl = isinstance(mechanism.model, MNL)
        # the mechanism's own solver is exact: solve the optimum in the round's call
        self.shared_optimum = (self.kernel is not None and mechanism.solver_spec.exact
                               and mechanism.solver_spec.batch is self.kernel)
        # MNL with an exact solver: every step from one enumerated table per round
        self.table = self.mnl and mechanism.solver_spec.exact and self.kernel is not None
        self.last_optimum: float | None = None
        # the round's allocation when the table engine ran: the optimum at the
        # values is then found later, for all such rounds at once
        self.last_assignment: NDArray[np.int64] | None = None

    def optimum(self, inst: Instance, values: NDArray[np.float64]) -> float:
        if self.last_optimum is not None:
            out, self.last_optimum = self.last_optimum, None
            return out
        return self._solve_optimum(inst, values)

    def optima(self, rounds: list[tuple[Instance, NDArray[np.float64], NDArray[np.int64]]]
               ) -> NDArray[np.float64]:
        """The optimum of each ``(instance, values, assignment)`` of table rounds:
        :func:`~aigc_auction.steps_mnl.mnl_optima` (what ``mnl_optimum`` gives one by
        one, in a few array operations), the model's solver where it declines."""
        out = np.full(len(rounds), np.nan)
        shapes: dict[tuple[int, int], list[int]] = {}
        for r, (inst, _, _) in enumerate(rounds):
            shapes.setdefault((inst.n_positions, inst.slots), []).append(r)
        for (_, slots), idx in shapes.items():
            out[idx] = mnl_optima(np.stack([rounds[r][0].odds for r in idx]),
                                  np.stack([rounds[r][1] for r in idx]), slots,
                                  np.stack([rounds[r][2] for r in idx]))
        for r in np.flatnonzero(np.isnan(out)).tolist():
            out[r] = self._solve_optimum(rounds[r][0], rounds[r][1])
        return out

    def _solve_optimum(self, inst: Instance, values: NDArray[np.float64]) -> float:
        spec = self.opt_spec
        if spec.batch is not None:
            data = spec.batch.prepare(self.mech.model, inst.ctr)
            ads, pos = spec.batch.solve(data, values[None, :], inst.slots)
            pi = spec.batch.pair_ctr(data, ads, pos)
            return float(np.where(ads >= 0, values[np.maximum(ads, 0)] * pi, 0.0).sum())
        return float(spec.func(inst, values, self.mech.model).value)

    def play(
        self, inst: Instance, values: NDArray[np.float64], bids: NDArray[np.float64],
        grids: list[NDArray[np.float64]],
    ) -> tuple[dict[str, NDArray[Any]], list[NDArray[np.float64]]]:
        """Realised arrays and, per grid (shape (n, G_k) each), utilities of multipliers."""
        n = bids.size
        if self.rule is None or self.kernel is None:
            return self._play_black_box(inst, values, bids, grids)
        kernel = self.kernel
        top = max(float(g[-1]) for g in grids) * values
        t_bids = np.broadcast_to(bids, (n, n))
        fast = (mnl_round_steps(inst.odds, bids, inst.slots, top, engine=self.engine)
                if self.table else None)
        self.last_assignment = None if fast is None else fast[1]
        data: BatchData | Callable[[], BatchData]
        if fast is not None:  # the kernel's data only if a grid bid sits on a kink
            tab = fast[0]
            data = lambda: kernel.prepare(self.mech.model, inst.ctr)  # noqa: E731
        else:
            data = kernel.prepare(self.mech.model, inst.ctr)
            tab = self._steps(kernel, data, inst, values, bids, top)
        k = tab.current
        real = {"ctr": tab.ctr[k], "payment": tab.payment(self.rule, k, bids),
                "position": tab.position[k], "rank": tab.rank[k]}
        return real, self._grid_utilities(tab, kernel, data, inst.slots, t_bids, values, grids)

    def _grid_utilities(self, tab: StepTable, kernel: BatchKernel,
                        data: BatchData | Callable[[], BatchData],
                        slots: int, t_bids: NDArray[np.float64],
                        values: NDArray[np.float64], grids: list[NDArray[np.float64]]
                        ) -> list[NDArray[np.float64]]:
        """:meth:`_grid_utility` of each grid, once per distinct grid."""
        done: dict[bytes, NDArray[np.float64]] = {}
        out = []
        for g in grids:
            key = g.tobytes()
            if key not in done:
                done[key] = self._grid_utility(tab, kernel, data, slots, t_bids, values, g)
            out.append(done[key])
        return out

    def _steps(self, kernel: BatchKernel, data: BatchData, inst: Instance,
               values: NDArray[np.float64], bids: NDArray[np.float64],
               top: NDArray[np.float64]) -> StepTable:
        """Every advertiser's steps by the batched envelope search over the kernel."""
        n = bids.size
        if self.shared_optimum:  # the optimum at the values in the same kernel call
            both = kernel.solve(data, np.stack((bids, values)), inst.slots)
            ads, pos = both[0][:1], both[1][:1]
            pi = kernel.pair_ctr(data, both[0][1:], both[1][1:])
            a1 = both[0][1]
            self.last_optimum = float(np.where(a1 >= 0, values[np.maximum(a1, 0)] * pi[0],
                                               0.0).sum())
        else:
            ads, pos = kernel.solve(data, bids[None, :], inst.slots)
        return batch_steps(kernel, data, inst.slots, np.broadcast_to(bids, (n, n)),
                           np.arange(n), top,
                           chosen=(np.repeat(ads, n, axis=0), np.repeat(pos, n, axis=0)),
                           ratio_screen=self.mnl)

    def _grid_utility(self, tab: StepTable, kernel: BatchKernel,
                      data: BatchData | Callable[[], BatchData], slots: int,
                      t_bids: NDArray[np.float64], values: NDArray[np.float64],
                      grid: NDArray[np.float64]) -> NDArray[np.float64]:
        z = values[:, None] * grid[None, :]
        steps = tab.locate_exact_grid(kernel, data, slots, t_bids, z)
        assert self.rule is not None
        return np.asarray(values[:, None] * tab.ctr[steps] - tab.payment(self.rule, steps, z))

    def _play_black_box(
        self, inst: Instance, values: NDArray[np.float64], bids: NDArray[np.float64],
        grids: list[NDArray[np.float64]],
    ) -> tuple[dict[str, NDArray[Any]], list[NDArray[np.float64]]]:
        out = self.mech.run(inst, bids)
        real = {"ctr": out.ctr.copy(), "payment": out.payments.copy(),
                "position": out.assignment.copy(), "rank": out.rank.copy()}
        utils = []
        for grid in grids:
            u = np.empty((bids.size, grid.size))
            for i in range(bids.size):
                for k, m in enumerate(grid):
                    bb = bids.copy()
                    bb[i] = m * values[i]
                    o = self.mech.run(inst, bb)
                    u[i, k] = values[i] * o.ctr[i] - o.payments[i]
            utils.append(u)
        return real, utils


@dataclass(frozen=True, eq=False)
class RepeatedSummary:
    """Averages of a repeated auction over its counted rounds.

    Attributes
    ----------
    rounds : int
        Rounds counted (after ``burn_in``).
    revenue, welfare, optimal_welfare : float
        Means per round: payments, ``sum_i v_i ctr_i`` at the true values, and
        the best welfare of the round's market (the model's exact optimum).
    efficiency : float
        ``welfare / optimal_welfare`` (ratio of the sums).
    utility : ndarray of shape (n,)
        Each advertiser's mean utility per round.
    regret : ndarray of shape (n,)
        Each advertiser's total regret over the counted rounds against the best
        fixed bid multiplier of ``grid`` in hindsight: ``max_m sum_t u_t(m v_t) -
        sum_t u_t(b_t)``.
    best_multiplier : ndarray of shape (n,)
        That best multiplier.
    """

    rounds: int
    revenue: float
    welfare: float
    optimal_welfare: float
    efficiency: float
    utility: NDArray[np.float64]
    regret: NDArray[np.float64]
    best_multiplier: NDArray[np.float64]

    @property
    def regret_per_round(self) -> NDArray[np.float64]:
        """``regret / rounds``."""
        return self.regret / max(self.rounds, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds, "revenue": self.revenue, "welfare": self.welfare,
            "optimal_welfare": self.optimal_welfare, "efficiency": self.efficiency,
            "utility": self.utility.tolist(), "regret": self.regret.tolist(),
            "regret_per_round": self.regret_per_round.tolist(),
            "best_multiplier": self.best_multiplier.tolist(),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per advertiser: mean utility, regret, regret per round, best multiplier."""
        import pandas as pd

        return pd.DataFrame({
            "bidder": np.arange(self.utility.size), "utility": self.utility,
            "regret": self.regret, "regret_per_round": self.regret_per_round,
            "best_multiplier": self.best_multiplier,
        }).set_index("bidder")

    def __repr__(self) -> str:
        return (f"RepeatedSummary(rounds={self.rounds}, revenue={self.revenue:.6g}, "
                f"welfare={self.welfare:.6g}, efficiency={self.efficiency:.6g}, "
                f"max_regret_per_round={float(self.regret_per_round.max()):.3g})")


@dataclass(frozen=True, eq=False)
class RepeatedResult:
    """What :func:`simulate_repeated` returns.

    Attributes
    ----------
    history : pandas.DataFrame
        Long form, one row per round and bidder: ``round``, ``bidder``,
        ``strategy``, ``value``, ``bid``, ``shown``, ``position``, ``rank``,
        ``ctr``, ``payment``, ``utility``.
    optimal_welfare : ndarray of shape (T,)
        Best welfare of each round's market.
    grid : ndarray of shape (G,)
        Multipliers of the regret benchmark.
    grid_utility : ndarray of shape (T, n, G)
        Utility each bidder would have had bidding ``grid[k] * value``.
    mechanism : str
        ``repr`` of the mechanism.
    """

    history: pd.DataFrame
    optimal_welfare: NDArray[np.float64]
    grid: NDArray[np.float64]
    grid_utility: NDArray[np.float64]
    mechanism: str

    def summary(self, *, burn_in: int = 0) -> RepeatedSummary:
        """Revenue, welfare, efficiency and per-bidder regret over rounds ``>= burn_in``."""
        t = self.optimal_welfare.size
        start = check_int(burn_in, "burn_in", low=0, high=max(t - 1, 0))
        h = self.history
        n = self.grid_utility.shape[1]
        rounds = t - start
        sel = h["round"].to_numpy() >= start
        pay = h["payment"].to_numpy()[sel]
        wel = (h["value"].to_numpy() * h["ctr"].to_numpy())[sel]
        util = h["utility"].to_numpy()[sel].reshape(rounds, n)
        opt = float(self.optimal_welfare[start:].sum())
        gu = self.grid_utility[start:].sum(axis=0)
        best = np.argmax(gu, axis=1)
        regret = gu[np.arange(n), best] - util.sum(axis=0)
        return RepeatedSummary(
            rounds=rounds, revenue=float(pay.sum()) / rounds, welfare=float(wel.sum()) / rounds,
            optimal_welfare=opt / rounds,
            efficiency=float(wel.sum()) / opt if opt > 0 else float("nan"),
            utility=util.mean(axis=0), regret=regret, best_multiplier=self.grid[best],
        )


def _check_engine(engine: Any) -> str:
    if engine not in ENGINES:
        raise ValueError(f"`engine` must be one of {', '.join(map(repr, ENGINES))}; "
                         f"got {engine!r}")
    if engine == "numba":
        steps_mnl_numba.require_numba()
    return str(engine)


def _run(
    mechanism: Mechanism, bidders: Bidder | Sequence[Bidder], market: Any, rounds: int,
    rng: Any, grid: NDArray[np.float64], record: bool, table_engine: str = "auto",
) -> tuple[list[_Group], dict[str, Any]]:
    if not isinstance(mechanism, Mechanism):
        raise TypeError(
            f"`mechanism` must be an aigc_auction.Mechanism; got {type(mechanism).__name__}"
        )
    draw, trusted = _market_draw(market)
    market_seq, bidder_seq = _streams(rng)
    gen = np.random.default_rng(market_seq)
    engine = _Engine(mechanism, _check_engine(table_engine))
    inst, values = _check_market(draw(gen), None)
    n = inst.n_advertisers
    groups = _groups(bidders, n, bidder_seq.spawn(n))
    full = [g for g in groups if g.bidder.feedback == "full"]
    grids = [grid] + [g.bidder.grid for g in full if g.bidder.grid is not None]
    rec: dict[str, Any] = {}
    if record:
        rec = {k: np.empty((rounds, n)) for k in
               ("value", "bid", "ctr", "payment", "position", "rank")}
        rec["grid_utility"] = np.empty((rounds, n, grid.size))
        rec["optimal"] = np.empty(rounds)
    bids = np.empty(n)
    deferred: list[int] = []
    table_rounds: list[tuple[Instance, NDArray[np.float64], NDArray[np.int64]]] = []
    for t in range(rounds):
        if t:
            inst, values = draw(gen) if trusted else _check_market(draw(gen), n)
        for g in groups:
            bids[g.idx] = g.bidder.bid(g.state, values[g.idx])
        real, utils = engine.play(inst, values, bids, grids)
        own = dict(zip((id(g) for g in full), utils[1:], strict=True))
        for g in groups:
            fb = Feedback(values[g.idx], bids[g.idx].copy(), real["ctr"][g.idx],
                          real["payment"][g.idx],
                          grid_utility=own[id(g)][g.idx] if id(g) in own else None)
            g.bidder.update(g.state, fb)
        if record:
            rec["value"][t], rec["bid"][t] = values, bids
            for k in ("ctr", "payment", "position", "rank"):
                rec[k][t] = real[k]
            rec["grid_utility"][t] = utils[0]
            if engine.last_assignment is not None:
                deferred.append(t)
                table_rounds.append((inst, values.copy(), engine.last_assignment))
                if len(deferred) == _OPTIMA_BATCH:  # bounded memory on long runs
                    rec["optimal"][deferred] = engine.optima(table_rounds)
                    deferred, table_rounds = [], []
            else:
                rec["optimal"][t] = engine.optimum(inst, values)
    if deferred:
        rec["optimal"][deferred] = engine.optima(table_rounds)
    return groups, rec


def simulate_repeated(
    mechanism: Mechanism,
    bidders: Bidder | Sequence[Bidder],
    market: Any,
    *,
    rounds: int,
    rng: Any = None,
    grid: ArrayLike | None = None,
    engine: str = "auto",
) -> RepeatedResult:
    """Run a repeated auction with learning bidders.

    Parameters
    ----------
    mechanism : Mechanism
        Any mechanism. GSP, first price and VCG with an exact or maximal-in-range
        solver get exact counterfactual utilities from own-bid step functions;
        other mechanisms (Myerson) rerun the auction for every grid bid, which is
        much slower.
    bidders : Bidder or sequence of Bidder
        One strategy for every advertiser, or one per advertiser
        (:mod:`aigc_auction.bidders`).
    market : mapping, (Instance, values), callable or iterable
        Where each round's market comes from (:func:`market_source`): sweep
        market settings (a fresh market every round), a fixed pair, a function
        of the round's random generator, or an iterable of pairs.
    rounds : int
        Number of rounds ``T >= 1``.
    rng : None, int, SeedSequence or Generator
        Root of every random stream: one ``SeedSequence`` child for the markets
        and one per advertiser's strategy, so results do not depend on how
        strategies are grouped.
    grid : array_like, optional
        Bid multipliers of the regret benchmark (default :data:`DEFAULT_GRID`).
    engine : {"auto", "numba", "numpy"}
        How MNL rounds build their step functions
        (:func:`~aigc_auction.steps_mnl.mnl_round_steps`): ``"numba"`` compiled
        (needs the ``fast`` extra), ``"numpy"`` plain array code, ``"auto"``
        (default) the compiled one when Numba is installed. The results are
        the same bit for bit; only the speed differs.

    Returns
    -------
    RepeatedResult
        ``history`` (long-form table) and ``summary()`` (revenue, welfare,
        efficiency, per-bidder regret).

    Examples
    --------
    Two advertisers, one slot, the same market every round; first price with
    a learner against a fixed bid of half the value.

    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5], [0.5]])
    >>> market = (inst, np.array([1.0, 0.46]))
    >>> bidders = [aa.bidders.BestResponse(np.linspace(0, 1, 11)), aa.bidders.Shade(0.5)]
    >>> res = aa.simulate_repeated(aa.FirstPrice(), bidders, market, rounds=5, rng=0)
    >>> res.history.query("bidder == 0")["bid"].round(2).tolist()
    [1.0, 0.3, 0.3, 0.3, 0.3]
    >>> s = res.summary(burn_in=1)
    >>> round(s.revenue, 3), round(s.efficiency, 3), s.best_multiplier.tolist()
    (0.15, 1.0, [0.25, 0.7])

    The learner's grid is coarser than the regret benchmark's (0.25 would have
    won more cheaply), and the shading bidder should have bid more:

    >>> s.regret.round(3).tolist()
    [0.1, 0.276]
    """
    t_rounds = check_int(rounds, "rounds", low=1)
    g = DEFAULT_GRID if grid is None else check_grid(grid)
    groups, rec = _run(mechanism, bidders, market, t_rounds, rng, g, True, engine)
    import pandas as pd

    n = rec["value"].shape[1]
    strategy = np.empty(n, dtype=object)
    for grp in groups:
        strategy[grp.idx] = repr(grp.bidder)
    util = rec["value"] * rec["ctr"] - rec["payment"]
    history = pd.DataFrame({
        "round": np.repeat(np.arange(t_rounds), n),
        "bidder": np.tile(np.arange(n), t_rounds),
        "strategy": np.tile(strategy, t_rounds),
        "value": rec["value"].ravel(),
        "bid": rec["bid"].ravel(),
        "shown": (rec["position"] >= 0).ravel(),
        "position": rec["position"].astype(np.int64).ravel(),
        "rank": rec["rank"].astype(np.int64).ravel(),
        "ctr": rec["ctr"].ravel(),
        "payment": rec["payment"].ravel(),
        "utility": util.ravel(),
    })
    return RepeatedResult(history, rec["optimal"], g, rec["grid_utility"], repr(mechanism))


def learned_bids(
    mechanism: Mechanism,
    bidder: Bidder | Sequence[Bidder],
    instance: Instance,
    values: ArrayLike,
    *,
    burn_in: int,
    rng: Any = None,
    engine: str = "auto",
) -> NDArray[np.float64]:
    """Bids a strategy makes on a fixed market after ``burn_in`` rounds of learning.

    The hook sweeps use for non-truthful formats: every advertiser follows
    ``bidder`` (or its own entry of a list) in ``burn_in`` repeated rounds of
    ``mechanism`` on the same market, then bids once more; those bids are
    returned.

    Parameters
    ----------
    mechanism : Mechanism
    bidder : Bidder or sequence of Bidder
    instance : Instance
    values : array_like of shape (n_advertisers,)
    burn_in : int
        Learning rounds (``0``: the strategy's first bids).
    rng : None, int, SeedSequence or Generator
    engine : {"auto", "numba", "numpy"}
        As in :func:`simulate_repeated`.

    Returns
    -------
    ndarray of shape (n_advertisers,)

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5], [0.5]])
    >>> strategies = [aa.bidders.BestResponse(np.linspace(0, 1, 11)), aa.bidders.Shade(0.5)]
    >>> aa.learned_bids(aa.FirstPrice(), strategies, inst, [1.0, 0.46], burn_in=3).round(2)
    array([0.3 , 0.23])
    """
    v = check_bids(values, instance.n_advertisers, "values")
    t = check_int(burn_in, "burn_in", low=0)
    groups, _ = _run(mechanism, bidder, (instance, v), t, rng, DEFAULT_GRID, False, engine)
    bids = np.empty(v.size)
    for g in groups:
        bids[g.idx] = g.bidder.bid(g.state, v[g.idx])
    return bids
