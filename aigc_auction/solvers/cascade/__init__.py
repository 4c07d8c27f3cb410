"""Cascade allocation solvers, one algorithm per module.

* :mod:`.dssr` -- exact for every setting: DP over the pairs in reading order with
  decremental state-space relaxation (default);
* :mod:`.subset_dp` -- DP over subsets of positions (``continue_after_skip == 1``);
* :mod:`.milp` -- the reach-flow MILP (any parameters; reference);
* :mod:`.brute_force` -- enumeration of sequences (reference, tiny instances);
* :mod:`.restricted` -- maximal-in-range rule over a fixed set of positions;
* :mod:`.greedy`, :mod:`.local_search` -- heuristics (allocation benchmarks only);
* :mod:`.bound` -- upper bounds that certify approximation ratios;
* :mod:`.pairs` -- batched, pruned candidate pairs in reading order;
* :mod:`.common` -- tables, reading order and pruning shared by all of them.
"""

from . import (  # noqa: F401  (register the solvers)
    brute_force,
    dssr,
    greedy,
    local_search,
    milp,
    restricted,
    subset_dp,
)
