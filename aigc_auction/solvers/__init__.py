"""Allocation solvers, registered by user model and short name."""

from . import mnl_brute, mnl_lp, mnl_parametric  # noqa: F401  (register the solvers)
from .registry import SolverSpec, available_solvers, get_solver, register_solver

__all__ = ["SolverSpec", "available_solvers", "get_solver", "register_solver"]
