"""Allocations: a matching of advertisers to positions plus a reading order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import readonly
from .instance import Instance

__all__ = ["Allocation", "allocation_violations", "check_allocation", "shown_in_order"]


def allocation_violations(
    instance: Instance, assignment: ArrayLike, order: ArrayLike | None = None
) -> list[str]:
    """List every way ``(assignment, order)`` fails to be a feasible allocation.

    Parameters
    ----------
    instance : Instance
    assignment : array_like of int, shape (n_advertisers,)
        Position of each advertiser, ``-1`` when not shown.
    order : array_like of int, optional
        The shown positions in reading order; ``None`` skips the order checks.

    Returns
    -------
    list of str
        Empty when the allocation is feasible.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.1, 0.2], [0.3, 0.4]], slots=1)
    >>> aa.allocation_violations(inst, [0, 1])
    ['2 ads shown but `slots` is 1']
    """
    a = np.asarray(assignment)
    n, m = instance.shape
    out: list[str] = []
    if a.shape != (n,):
        return [f"`assignment` must have shape ({n},); got shape {a.shape}"]
    if a.dtype.kind not in "iu" and not (
        a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a))
    ):
        return [f"`assignment` must hold integers; got dtype {a.dtype}"]
    a = a.astype(np.int64)
    if np.any(a < -1) or np.any(a >= m):
        out.append(f"`assignment` entries must be -1 or a position in 0..{m - 1}")
    shown = a[a >= 0]
    if len(np.unique(shown)) != len(shown):
        out.append("`assignment` puts two advertisers at the same position")
    if len(shown) > instance.slots:
        out.append(f"{len(shown)} ads shown but `slots` is {instance.slots}")
    if order is not None:
        o = np.asarray(order)
        if o.ndim != 1 or (o.size and o.dtype.kind not in "iu"):
            out.append("`order` must be a 1-D array of positions")
        elif sorted(o.tolist()) != sorted(shown.tolist()):
            out.append(
                "`order` must list each shown position exactly once; "
                f"got {o.tolist()} for shown positions {sorted(shown.tolist())}"
            )
    return out


def check_allocation(
    instance: Instance, assignment: ArrayLike, order: ArrayLike | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Validate an allocation and return ``(assignment, order)`` as int arrays.

    When ``order`` is ``None`` the shown positions are read in index order.

    Raises
    ------
    ValueError
        With every violation listed by :func:`allocation_violations`.
    """
    problems = allocation_violations(instance, assignment, order)
    if problems:
        raise ValueError("infeasible allocation: " + "; ".join(problems))
    a = np.asarray(assignment).astype(np.int64)
    o = np.sort(a[a >= 0]) if order is None else np.asarray(order, dtype=np.int64).reshape(-1)
    return a, o


def shown_in_order(
    assignment: NDArray[np.int64], order: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Indices of the shown advertisers, in the reading ``order`` of their positions."""
    pos_to_adv = {int(j): i for i, j in enumerate(assignment) if j >= 0}
    return np.array([pos_to_adv[int(j)] for j in order], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Allocation:
    """The result of an allocation solver.

    Attributes
    ----------
    assignment : ndarray of int, shape (n_advertisers,)
        Position of each advertiser, ``-1`` when not shown.
    order : ndarray of int, shape (n_shown,)
        The shown positions in reading order.
    value : float
        The objective ``sum_i coef[i] * ctr[i]`` of this allocation under the model
        it was solved for, recomputed from the allocation (not the solver's
        floating-point objective).
    solver : str
        Name of the solver that produced it.
    """

    assignment: NDArray[np.int64]
    order: NDArray[np.int64]
    value: float
    solver: str = ""

    def __post_init__(self) -> None:
        for name in ("assignment", "order"):
            arr = np.array(getattr(self, name), dtype=np.int64)
            object.__setattr__(self, name, readonly(arr))
        object.__setattr__(self, "value", float(self.value))

    @property
    def shown(self) -> NDArray[np.int64]:
        """Indices of the shown advertisers, in reading order."""
        return shown_in_order(self.assignment, self.order)

    def same_as(self, other: Allocation) -> bool:
        """True when both allocations show the same ads at the same positions and order."""
        return bool(
            np.array_equal(self.assignment, other.assignment)
            and np.array_equal(self.order, other.order)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment.tolist(),
            "order": self.order.tolist(),
            "value": self.value,
            "solver": self.solver,
        }
