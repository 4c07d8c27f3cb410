"""Helpers shared by the allocation solvers."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._optional import require
from ..exceptions import SolverError
from ..instance import Instance

__all__ = [
    "TIE_RTOL",
    "candidate_mask",
    "matching_from_pairs",
    "nonnegligible_gain",
    "pulp_solver",
]

#: Relative tolerance under which two objective values count as tied.
TIE_RTOL = 1e-12


def candidate_mask(instance: Instance, coef: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Pairs ``(i, j)`` a solver may use: ``coef[i] > 0`` and ``ctr[i, j] > 0``.

    This is the engine's tie-breaking rule: an ad that cannot add to the objective
    is never shown, so zero bids (or non-positive virtual values) get nothing.
    """
    return (coef[:, None] > 0) & (instance.ctr > 0)


def nonnegligible_gain(new: float, old: float) -> bool:
    """Whether ``new`` beats ``old`` by more than the (purely relative) tie tolerance.

    Relative, with no absolute floor, so that markets whose values are tiny (bids
    of 1e-6) are compared as finely as markets whose values are large.
    """
    return new > old + TIE_RTOL * max(abs(old), abs(new))


def matching_from_pairs(
    instance: Instance, rows: NDArray[np.int64], cols: NDArray[np.int64], solver: str
) -> NDArray[np.int64]:
    """Turn the pairs of a matching into an assignment vector, verifying feasibility."""
    a = np.full(instance.n_advertisers, -1, dtype=np.int64)
    if len(set(rows.tolist())) != len(rows) or len(set(cols.tolist())) != len(cols):
        raise SolverError(f"solver {solver!r} returned a non-matching")
    if len(rows) > instance.slots:
        raise SolverError(
            f"solver {solver!r} showed {len(rows)} ads but `slots` is {instance.slots}"
        )
    a[rows] = cols
    return a


_HIGHS_BANNER_SILENCED = False


def _silence_highs_banner() -> None:
    """Construct one ``highspy.Highs`` with stdout closed at the file-descriptor level.

    HiGHS prints a copyright banner from C++ the first time a solver object is
    built in a process, whatever its options; that would garble tables, doctests
    and CLI output. Later objects print nothing, so one silent construction is
    enough.
    """
    global _HIGHS_BANNER_SILENCED
    if _HIGHS_BANNER_SILENCED:
        return
    require("highspy", purpose="the HiGHS backend of the PuLP solvers")
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _HIGHS_BANNER_SILENCED = True


def pulp_solver(backend: str, **options: Any) -> Any:
    """A quiet PuLP solver object: ``"highs"`` (highspy) or ``"cbc"`` (bundled CBC).

    ``options`` go to the PuLP constructor (e.g. ``gapRel``). PuLP 3 flags its
    bundled CBC as deprecated (PuLP 4 moves it to an extra, hence the ``< 4``
    pin); it is the backend this project promises, so the warning is silenced.
    """
    require("pulp", purpose="the PuLP LP/MILP solvers")
    import pulp

    if backend == "highs":
        _silence_highs_banner()
        return pulp.HiGHS(msg=False, **options)
    if backend == "cbc":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return pulp.PULP_CBC_CMD(msg=False, **options)
    raise ValueError(f"`backend` must be 'highs' or 'cbc'; got {backend!r}")
