"""Helpers shared by the allocation solvers."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..exceptions import SolverError
from ..instance import Instance

__all__ = ["TIE_RTOL", "candidate_mask", "matching_from_pairs", "nonnegligible_gain"]

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
