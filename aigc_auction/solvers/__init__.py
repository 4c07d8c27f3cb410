"""Allocation solvers, registered by user model and short name.

Grouped by user model, one algorithm per module (as networkx groups its
algorithms by topic): :mod:`aigc_auction.solvers.mnl` and
:mod:`aigc_auction.solvers.cascade`. Importing this package registers them all.
"""

from . import cascade, mnl  # noqa: F401  (register the solvers)
from .registry import SolverSpec, available_solvers, get_solver, register_solver

__all__ = ["SolverSpec", "available_solvers", "get_solver", "register_solver"]
