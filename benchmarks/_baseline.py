"""The reference point of the MNL benchmarks: the assortment LP written in PuLP.

This is the LP of ``MODEL.md`` as a user would write it from the paper, with one
variable per (advertiser, position) pair, solved by PuLP's bundled CBC once per
allocation, plus VCG / Myerson mechanisms that use it for every allocation they
need (the library's generic payment paths: Clarke re-solves, envelope kinks).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pulp
from numpy.typing import NDArray

import aigc_auction as aa
from aigc_auction.allocation import Allocation
from aigc_auction.instance import Instance

__all__ = ["BaselineMyerson", "BaselineVCG", "pulp_cbc_allocation"]


def pulp_cbc_allocation(
    ctr: NDArray[np.float64], coef: NDArray[np.float64], slots: int
) -> NDArray[np.int64]:
    """Optimal MNL assignment (``-1`` = not shown) via the Charnes–Cooper LP in PuLP/CBC."""
    n, m = ctr.shape
    w = ctr / (1.0 - ctr)
    prob = pulp.LpProblem("mnl_assortment", pulp.LpMaximize)
    y0 = pulp.LpVariable("y0", lowBound=0)
    y = {(i, j): pulp.LpVariable(f"y_{i}_{j}", lowBound=0) for i in range(n) for j in range(m)}
    # ads with a non-positive coefficient or zero CTR are never shown (engine rule)
    usable = [(i, j) for (i, j) in y if coef[i] > 0 and ctr[i, j] > 0]
    prob += pulp.lpSum(float(coef[i] * w[i, j]) * y[i, j] for (i, j) in usable)
    prob += y0 + pulp.lpSum(float(w[i, j]) * y[i, j] for (i, j) in y) == 1
    for i in range(n):
        prob += pulp.lpSum(y[i, j] for j in range(m)) <= y0
    for j in range(m):
        prob += pulp.lpSum(y[i, j] for i in range(n)) <= y0
    prob += pulp.lpSum(y.values()) <= slots * y0
    for (i, j), var in y.items():
        if (i, j) not in usable:
            prob += var == 0
    prob.solve(pulp.PULP_CBC_CMD(msg=False))
    scale = y0.value() or 1.0
    a = np.full(n, -1, dtype=np.int64)
    for (i, j), var in y.items():
        if (var.value() or 0.0) / scale > 0.5:
            a[i] = j
    return a


def _baseline_solve(instance: Instance, coef: NDArray[np.float64], model: Any) -> Allocation:
    a = pulp_cbc_allocation(np.asarray(instance.ctr), np.asarray(coef), instance.slots)
    return Allocation(a, np.sort(a[a >= 0]), model.objective(instance, coef, a), "user_pulp_cbc")


class BaselineVCG(aa.VCG):
    """VCG whose every allocation is the user's PuLP/CBC LP (generic Clarke path)."""

    def _solve(self, instance: Instance, coef: NDArray[np.float64]) -> Allocation:
        return _baseline_solve(instance, coef, self.model)

    def fast_arrays(self, *args: Any) -> None:
        return None


class BaselineMyerson(aa.Myerson):
    """Myerson whose every allocation is the user's PuLP/CBC LP (generic envelope path)."""

    def _solve(self, instance: Instance, coef: NDArray[np.float64]) -> Allocation:
        return _baseline_solve(instance, coef, self.model)

    def fast_arrays(self, *args: Any) -> None:
        return None
