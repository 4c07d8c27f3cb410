"""Batched allocation kernels: a capability a (user model, solver) pair registers.

A solver is a function ``solve(instance, coef, model) -> Allocation`` for one
problem. Sweeps, repeated auctions and Myerson payments need *many* allocation
problems at once (one per auction, and several per shown advertiser for the
payments). A solver that can solve a whole batch of problems in a few vectorised
calls registers a :class:`BatchKernel` next to itself::

    register_batch_kernel("mnl", "parametric", BatchKernel(prepare, solve, pair_ctr))

and every mechanism, :func:`aigc_auction.run_batch` and the sweep use it through
:attr:`SolverSpec.batch <aigc_auction.solvers.SolverSpec.batch>`; solvers without
one fall back to a loop over the per-problem function. The generic batched VCG
(Clarke pivots) and Myerson (envelope thresholds) payment rules of
:mod:`aigc_auction.mechanisms.batched` are written once against this interface,
so a kernel gives both mechanisms their batched path for free.

A kernel is three functions:

``prepare(model, ctr) -> BatchData``
    Model-specific arrays (MNL weights, cascade continuations, ...) of a batch of
    auctions, from the CTR matrices: ``ctr`` of shape ``(n, m)`` (shared by
    every auction) or ``(B, n, m)``.
``solve(data, coef, slots, *, hint=None) -> (ads, pos)``
    Optimal allocations of ``B`` problems with coefficients ``coef`` of shape
    ``(B, n)``: int arrays of shape ``(B, slots)`` listing each row's shown
    pairs **in reading order**, ``-1`` in unused slots. ``hint`` is an optional
    feasible allocation per row in the same format (a warm start that never
    changes the answer). For every row it must return exactly what the
    registered per-problem function returns for that problem (same tie-breaking).
``pair_ctr(data, ads, pos) -> ndarray of shape (B, slots)``
    The click probability of each listed pair when the pairs are read in the
    listed order (0 in unused slots).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from ..models.base import UserModel

__all__ = [
    "BatchData",
    "BatchKernel",
    "Pairs",
    "get_batch_kernel",
    "pairs_to_assignment",
    "register_batch_kernel",
]

#: ``(ads, pos)``: int arrays of shape (B, K), one row of shown pairs per problem.
Pairs = tuple[NDArray[np.int64], NDArray[np.int64]]


@dataclass(frozen=True, eq=False)
class BatchData:
    """Arrays describing a batch of auctions for one kernel.

    Attributes
    ----------
    arrays : mapping of str to ndarray
        Each of shape ``(n, m)`` (shared by every auction of the batch) or
        ``(B, n, m)`` (one matrix per auction), as ``shared`` says.
    shared : bool
        Whether one set of matrices serves every row.
    params : mapping of str to object
        Per-batch scalars or per-advertiser vectors the kernel needs.
    """

    arrays: Mapping[str, NDArray[Any]]
    shared: bool
    params: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> NDArray[Any]:
        return self.arrays[key]

    def take(self, rows: NDArray[np.int64]) -> BatchData:
        """The data of the auctions ``rows`` (the same object when shared)."""
        if self.shared:
            return self
        return BatchData({k: v[rows] for k, v in self.arrays.items()}, False, self.params)

    def row(self, key: str, r: int) -> NDArray[Any]:
        """Matrix ``key`` of auction ``r``."""
        a = self.arrays[key]
        return a if self.shared else a[r]


class SolveBatch(Protocol):
    def __call__(
        self, data: BatchData, coef: NDArray[np.float64], slots: int, *,
        hint: Pairs | None = None,
    ) -> Pairs: ...


@dataclass(frozen=True)
class BatchKernel:
    """The batched allocation kernel of one (model, solver); see the module docstring."""

    prepare: Callable[[UserModel, NDArray[np.float64]], BatchData]
    solve: SolveBatch
    pair_ctr: Callable[[BatchData, NDArray[np.int64], NDArray[np.int64]], NDArray[np.float64]]


_KERNELS: dict[tuple[str, str], BatchKernel] = {}


def register_batch_kernel(model: str, solver: str, kernel: BatchKernel) -> BatchKernel:
    """Register ``kernel`` as the batched path of solver ``solver`` of model ``model``."""
    if not isinstance(kernel, BatchKernel):
        raise TypeError(f"`kernel` must be a BatchKernel; got {type(kernel).__name__}")
    _KERNELS[(model, solver)] = kernel
    return kernel


def get_batch_kernel(model: str, solver: str) -> BatchKernel | None:
    """The batched kernel of ``(model, solver)``, or ``None`` if it has none."""
    return _KERNELS.get((model, solver))


def pairs_to_assignment(
    n: int, ads: NDArray[np.int64], pos: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Assignment vectors of shape ``(B, n)`` (``-1`` = not shown) from pairs.

    Examples
    --------
    >>> import numpy as np
    >>> pairs_to_assignment(3, np.array([[2, -1]]), np.array([[0, -1]])).tolist()
    [[-1, -1, 0]]
    """
    out = np.full((ads.shape[0], n), -1, dtype=np.int64)
    rows, slots = np.nonzero(ads >= 0)
    out[rows, ads[rows, slots]] = pos[rows, slots]
    return out
