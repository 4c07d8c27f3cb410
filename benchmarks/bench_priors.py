"""Issues 9 and 10: virtual values read from a precomputed monotone table.

The baseline is how virtual values were computed before: ``phibar`` evaluated by
scipy (``pdf``/``sf``) at every call and thresholds found by a bisection that
calls scipy at every step (:class:`ScipyVirtualValue`, same interface). Rows:

* ``phibar`` of 100,000 bids and thresholds of 10,000 levels, per prior;
* ``Myerson(MNL).run_batch`` on the same 1,000 markets (lowrank CTRs, n = 20,
  m = 5, K = 3, values drawn from the prior), auctions per second, with VCG on
  the same markets for reference, and ``Myerson.run`` on 200 of them one at a
  time;
* the one-off cost of building a prior's table, and of a second
  :class:`~aigc_auction.VirtualValue` for the same prior (a cache hit).

Ratios are baseline time / new time, measured in this run.
Run ``python -m benchmarks priors`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

import aigc_auction as aa
from aigc_auction.generators import lowrank_ctr
from aigc_auction.virtual_values import _CACHE

from ._util import fmt_ratio, print_table, timed

PRIORS: dict[str, Any] = {
    "U[0,1]": stats.uniform(0, 1),
    "lognormal(0.5)": stats.lognorm(0.5),
    "gamma(3)": stats.gamma(3, scale=0.3),
}


class ScipyVirtualValue(aa.VirtualValue):
    """The baseline: scipy ``pdf``/``sf`` at every evaluation, bisection thresholds.

    For regular priors (the ones benchmarked) this is the previous engine's
    computation; flats and the tie rule come from the table (there are none).
    """

    def __call__(self, v: ArrayLike) -> NDArray[np.float64]:
        return self.raw(v)

    def thresholds(self, levels: ArrayLike, *, inclusive: bool) -> NDArray[np.float64]:
        c = np.asarray(levels, dtype=float)
        lo = np.zeros(c.shape)
        hi = np.full(c.shape, max(1.0, float(self.prior.ppf(0.5))))

        def hits(z: NDArray[np.float64]) -> NDArray[np.bool_]:
            val = self(z)
            return val >= c if inclusive else val > c

        done = hits(lo)
        for _ in range(2000):
            grow = ~hits(hi) & ~done
            if not grow.any():
                break
            lo, hi = np.where(grow, hi, lo), np.where(grow, 2 * hi, hi)
        for _ in range(60):  # bisection to ~2 ulps, scipy at every step
            mid = 0.5 * (lo + hi)
            h = hits(mid)
            lo, hi = np.where(h, lo, mid), np.where(h, mid, hi)
        return np.where(done, 0.0, hi)


def _markets(n_markets: int, prior: Any, seed: int) -> tuple[list[aa.Instance], NDArray[Any]]:
    rng = np.random.default_rng(seed)
    insts = [aa.Instance(ctr=lowrank_ctr(20, 5, rng=rng), slots=3) for _ in range(n_markets)]
    bids = np.asarray(prior.rvs(size=(n_markets, 20), random_state=rng), dtype=float)
    return insts, bids


def _prior_rows(name: str, prior: Any, n_markets: int, budget: float) -> list[list[str]]:
    rng = np.random.default_rng(0)
    _CACHE.clear()
    t0 = time.perf_counter()
    new = aa.VirtualValue(prior)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    aa.VirtualValue(prior)
    hit = time.perf_counter() - t0
    old = ScipyVirtualValue(prior)
    bids = np.asarray(prior.rvs(size=100_000, random_state=rng), dtype=float)
    levels = np.abs(new(np.asarray(prior.rvs(size=10_000, random_state=rng), dtype=float)))
    rows = []
    for label, f_old, f_new in (
        ("phibar(100k bids)", partial(old, bids), partial(new, bids)),
        ("thresholds(10k levels)", partial(old.thresholds, levels, inclusive=True),
         partial(new.thresholds, levels, inclusive=True)),
    ):
        t_old, _ = timed(f_old, budget=budget, max_repeat=5)
        t_new, _ = timed(f_new, budget=budget, max_repeat=20)
        rows.append([name, label, f"{t_old * 1e3:,.1f}", f"{t_new * 1e3:,.2f}",
                     fmt_ratio(t_old, t_new)])
    insts, vals = _markets(n_markets, prior, seed=1)
    mech = aa.Myerson(aa.MNL(), prior=prior)
    legacy = aa.Myerson(aa.MNL(), prior=prior)
    legacy._vv = [old]
    t_old, r_old = timed(partial(aa.run_batch_arrays, legacy, insts, vals),
                         budget=budget, max_repeat=3)
    t_new, r_new = timed(partial(aa.run_batch_arrays, mech, insts, vals),
                         budget=budget, max_repeat=5)
    t_vcg, _ = timed(partial(aa.run_batch_arrays, aa.VCG(aa.MNL()), insts, vals),
                     budget=budget, max_repeat=5)
    k = min(200, n_markets)

    def one_by_one(m: aa.Mechanism) -> None:
        for inst, b in zip(insts[:k], vals[:k], strict=True):
            m.run(inst, b)

    t1_old, _ = timed(partial(one_by_one, legacy), budget=budget, max_repeat=2)
    t1_new, _ = timed(partial(one_by_one, mech), budget=budget, max_repeat=3)
    rows.append([name, "Myerson.run one auction at a time, auctions/s",
                 f"{k / t1_old:,.0f}", f"{k / t1_new:,.0f}", fmt_ratio(t1_old, t1_new)])
    same = np.array_equal(r_old.assignment, r_new.assignment)
    rows.append([name, f"Myerson run_batch ({n_markets} markets), auctions/s",
                 f"{n_markets / t_old:,.0f}", f"{n_markets / t_new:,.0f}",
                 fmt_ratio(t_old, t_new) + ("" if same else " (allocations differ)")])
    rows.append([name, "VCG run_batch, auctions/s (reference)", "-",
                 f"{n_markets / t_vcg:,.0f}", "-"])
    rows.append([name, "build table once / cached", "-",
                 f"{build * 1e3:,.1f} / {hit * 1e3:,.3f}", "-"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks priors", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 markets")
    args = parser.parse_args([a for a in (argv or []) if a == "--quick"])
    n_markets = 100 if args.quick else 1000
    budget = 0.05 if args.quick else 0.5
    rows: list[list[str]] = []
    for name, prior in PRIORS.items():
        rows += _prior_rows(name, prior, n_markets, budget)
    print("Virtual values: scipy at every call (before) vs the precomputed table (now)")
    print("(times in ms unless stated; ratio = before / now)")
    print_table(["prior", "what", "before", "now", "ratio"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
