"""aigc_auction: ad auctions inside AI-generated content.

Creatives are woven into generated text at candidate positions; click
probabilities form a full matrix ``p[i, j]`` (creative x position). The engine
allocates a matching of at most ``K`` ads plus a reading order under a user model
(MNL or cascade) and prices it with VCG or Myerson, behind one
:class:`Mechanism` interface.

Examples
--------
>>> import aigc_auction as aa
>>> inst = aa.Instance(ctr=[[0.30, 0.10], [0.20, 0.25], [0.10, 0.05]], slots=2)
>>> out = aa.VCG(aa.MNL()).run(inst, [1.0, 0.8, 0.5])
>>> out.assignment.tolist()
[0, 1, -1]
"""

from typing import Any

from . import bidders, equilibrium, generators, solvers  # noqa: F401  (solvers: registers them)
from .allocation import Allocation, allocation_violations, check_allocation
from .batch import BatchArrays, run_batch, run_batch_arrays
from .exceptions import AuctionError, SolverError, SweepError
from .instance import Instance
from .mechanisms import (
    GSP,
    VCG,
    FirstPrice,
    Mechanism,
    Myerson,
    available_mechanisms,
    get_mechanism,
)
from .models import MNL, Cascade, UserModel, available_models, get_model
from .outcome import Outcome
from .payments import envelope_breakpoints, monotone_payment
from .repeated import RepeatedResult, RepeatedSummary, learned_bids, simulate_repeated
from .solvers import SolverSpec, available_solvers, get_solver
from .steps import BidSteps, own_bid_steps
from .verify import (
    MisreportResult,
    check_mechanism,
    is_feasible,
    is_individually_rational,
    max_misreport_gain,
)
from .virtual_values import VirtualValue

__version__ = "0.1.0"

__all__ = [
    "GSP",
    "MNL",
    "VCG",
    "Allocation",
    "AuctionError",
    "BatchArrays",
    "BidSteps",
    "Cascade",
    "FirstPrice",
    "Instance",
    "Mechanism",
    "MisreportResult",
    "Myerson",
    "Outcome",
    "RepeatedResult",
    "RepeatedSummary",
    "SolverError",
    "SolverSpec",
    "SweepError",
    "UserModel",
    "UserModelFit",
    "VirtualValue",
    "allocation_violations",
    "available_mechanisms",
    "available_models",
    "available_solvers",
    "bidders",
    "check_allocation",
    "check_mechanism",
    "compare_user_models",
    "envelope_breakpoints",
    "equilibrium",
    "fit_user_model",
    "get_mechanism",
    "get_model",
    "get_solver",
    "is_feasible",
    "is_individually_rational",
    "learned_bids",
    "max_misreport_gain",
    "monotone_payment",
    "own_bid_steps",
    "read_logs",
    "run_batch",
    "run_batch_arrays",
    "simulate_logs",
    "simulate_repeated",
]


#: Names served by the click-logs subpackage, imported on first use (it needs pandas,
#: which ``import aigc_auction`` should not pay for).
_LAZY = {name: "clicklogs" for name in (
    "UserModelFit", "compare_user_models", "fit_user_model", "read_logs", "simulate_logs")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aigc_auction' has no attribute {name!r}")
