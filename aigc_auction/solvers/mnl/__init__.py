"""MNL allocation solvers: the assortment LP and its exact combinatorial equivalents.

* :mod:`.parametric` -- Dinkelbach's parametric search over matchings (default);
* :mod:`.enumeration` -- the vectorised top-``s`` matching kernel it uses;
* :mod:`.lp` -- the assortment LP in SciPy (HiGHS) and PuLP (CBC, HiGHS);
* :mod:`.brute_force` -- enumeration of every matching (reference).
"""

from . import brute_force, lp, parametric  # noqa: F401  (register the solvers)
