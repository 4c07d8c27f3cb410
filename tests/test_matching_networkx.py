"""The matching kernels of the parametric MNL solver against networkx min-cost flow.

A maximum-weight matching with at most ``K`` edges is a min-cost flow of ``K``
units from a source through advertiser and position nodes to a sink, with a
zero-cost bypass arc so fewer edges may be used. With integer weights networkx's
network simplex is exact, so the kernels must reach exactly its optimum.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from aigc_auction.solvers.mnl.enumeration import enum_match
from aigc_auction.solvers.mnl.parametric import _lsa_match


def flow_optimum(v: np.ndarray, k: int) -> int:
    """Max total weight of a matching with <= k positive edges (networkx, exact)."""
    n, m = v.shape
    g = nx.DiGraph()
    g.add_node("s", demand=-k)
    g.add_node("t", demand=k)
    g.add_edge("s", "t", capacity=k, weight=0)
    for i in range(n):
        g.add_edge("s", ("a", i), capacity=1, weight=0)
        for j in range(m):
            if v[i, j] > 0:
                g.add_edge(("a", i), ("p", j), capacity=1, weight=-int(v[i, j]))
    for j in range(m):
        g.add_edge(("p", j), "t", capacity=1, weight=0)
    return -int(nx.min_cost_flow_cost(g))


def matching_weight(v: np.ndarray, ads: np.ndarray, pos: np.ndarray, k: int) -> int:
    used = ads >= 0
    a, p = ads[used], pos[used]
    assert used.sum() <= k
    assert len(set(a.tolist())) == a.size and len(set(p.tolist())) == p.size
    assert np.all(v[a, p] > 0)
    return int(v[a, p].sum())


def random_weights(seed: int) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 12)), int(rng.integers(1, 7))
    v = rng.integers(-20, 60, size=(n, m)).astype(float)
    if seed % 5 == 0:
        v = rng.integers(0, 4, size=(n, m)).astype(float)  # many exact ties
    return v, int(rng.integers(1, m + 1))


@pytest.mark.parametrize("seed", range(300))
def test_lsa_kernel_matches_networkx(seed: int) -> None:
    v, k = random_weights(seed)
    vv = np.where(v > 0, v, -np.inf)
    ads, pos = _lsa_match(vv, k)
    assert matching_weight(v, ads, pos, k) == flow_optimum(v, k)


@pytest.mark.parametrize("seed", range(300))
def test_enum_kernel_matches_networkx(seed: int) -> None:
    v, k = random_weights(seed)  # exact for every (m, K), even where not used
    vv = np.where(v > 0, v, -np.inf)
    ads, pos = enum_match(vv[None], k)
    assert matching_weight(v, ads[0], pos[0], k) == flow_optimum(v, k)
