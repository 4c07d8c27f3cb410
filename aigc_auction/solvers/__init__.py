"""Allocation solvers, registered by user model and short name."""

from . import (  # noqa: F401  (register the solvers)
    cascade_brute,
    cascade_dp,
    cascade_greedy,
    cascade_local_search,
    cascade_milp,
    cascade_mir,
    mnl_brute,
    mnl_lp,
    mnl_parametric,
)
from .registry import SolverSpec, available_solvers, get_solver, register_solver

__all__ = ["SolverSpec", "available_solvers", "get_solver", "register_solver"]
