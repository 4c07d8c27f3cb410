"""Batched auctions: many bid vectors and/or many instances in one call.

Sweeps run millions of auctions; calling :meth:`Mechanism.run` once per auction
pays Python overhead every time. :func:`run_batch` hands a whole batch to the
mechanism's batched path (:meth:`Mechanism.fast_arrays`), available whenever the
solver registered a batch kernel (:mod:`aigc_auction.solvers.batch`; e.g. the
default MNL and cascade solvers), which stacks every allocation problem of every
auction into a few vectorised kernel calls. Other mechanisms and solvers fall
back to a loop over ``run``. Either way the outcomes are identical to looping
:meth:`Mechanism.run`, because ``run`` itself goes through the batched path with
a batch of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_float_array
from .instance import Instance
from .mechanisms import Mechanism
from .outcome import Outcome

__all__ = ["BatchArrays", "run_batch", "run_batch_arrays"]


@dataclass(frozen=True, eq=False)
class BatchArrays:
    """Outcomes of a batch as arrays (one row per auction).

    Attributes
    ----------
    assignment : ndarray of int, shape (B, n_advertisers)
        Position of each advertiser, ``-1`` when not shown.
    ctr : ndarray of shape (B, n_advertisers)
    payments : ndarray of shape (B, n_advertisers)
    bids : ndarray of shape (B, n_advertisers)
    order : ndarray of int, shape (B, slots)
        Shown positions in reading order, ``-1`` in unused slots.
    """

    assignment: NDArray[np.int64]
    ctr: NDArray[np.float64]
    payments: NDArray[np.float64]
    bids: NDArray[np.float64]
    order: NDArray[np.int64]

    def order_of(self, k: int) -> NDArray[np.int64]:
        """The reading order of auction ``k`` (its shown positions)."""
        o = self.order[k]
        return o[o >= 0]

    @property
    def welfare(self) -> NDArray[np.float64]:
        """``sum(bids * ctr)`` of each auction, shape (B,)."""
        return np.asarray((self.bids * self.ctr).sum(axis=1))

    @property
    def revenue(self) -> NDArray[np.float64]:
        """``sum(payments)`` of each auction, shape (B,)."""
        return np.asarray(self.payments.sum(axis=1))


def _check(
    mechanism: Mechanism, instances: Instance | Sequence[Instance], bids: ArrayLike
) -> tuple[list[Instance], NDArray[np.float64]]:
    if not isinstance(mechanism, Mechanism):
        raise TypeError(
            f"`mechanism` must be an aigc_auction.Mechanism; got {type(mechanism).__name__}"
        )
    b = as_float_array(bids, "bids")
    if b.ndim == 1:
        b = b[None, :]
    if b.ndim != 2:
        raise ValueError(
            f"`bids` must be a 2-D array (one row per auction); got shape {b.shape}"
        )
    if np.any(b < 0):
        r, i = (int(x[0]) for x in np.nonzero(b < 0))
        raise ValueError(f"`bids` must be non-negative; got {b[r, i]} at row {r}, column {i}")
    if isinstance(instances, Instance):
        insts = [instances] * b.shape[0]
    elif isinstance(instances, Sequence) and not isinstance(instances, str | bytes):
        insts = list(instances)
        if len(insts) != b.shape[0]:
            raise ValueError(
                "`instances` must be one Instance or one per row of `bids` "
                f"({b.shape[0]}); got {len(insts)}"
            )
    else:
        raise TypeError(
            "`instances` must be an Instance or a sequence of them; "
            f"got {type(instances).__name__}"
        )
    seen: set[int] = set()
    for k, inst in enumerate(insts):
        if id(inst) in seen:
            continue
        seen.add(id(inst))
        mechanism.check_input(inst, b[k])  # model domain, bid shape, prior list
    return insts, b


def run_batch_arrays(
    mechanism: Mechanism, instances: Instance | Sequence[Instance], bids: ArrayLike
) -> BatchArrays:
    """Run a batch of auctions and return the outcomes as arrays.

    Parameters
    ----------
    mechanism : Mechanism
    instances : Instance or sequence of Instance
        One instance for every row of ``bids``, or one per row (same number of
        advertisers; instances are grouped by shape and slots).
    bids : array_like of shape (B, n_advertisers)
        One bid vector per auction (non-negative).

    Returns
    -------
    BatchArrays

    Raises
    ------
    ValueError, TypeError
        On bad input, naming the parameter.

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5], [0.5]])
    >>> res = run_batch_arrays(aa.VCG(), inst, [[0.9, 0.4], [0.2, 0.6]])
    >>> res.payments.round(6).tolist()
    [[0.2, 0.0], [0.0, 0.1]]
    """
    insts, b = _check(mechanism, instances, bids)
    bsz, n = b.shape
    kmax = max(inst.slots for inst in insts) if insts else 0
    assign = np.full((bsz, n), -1, dtype=np.int64)
    order = np.full((bsz, kmax), -1, dtype=np.int64)
    ctr = np.zeros((bsz, n))
    pay = np.zeros((bsz, n))
    groups: dict[tuple[int, ...], list[int]] = {}
    for k, inst in enumerate(insts):
        groups.setdefault((*inst.shape, inst.slots), []).append(k)
    for key, rows_list in groups.items():
        rows = np.array(rows_list, dtype=np.int64)
        distinct = {id(insts[k]) for k in rows_list}
        mats = (
            insts[rows_list[0]].ctr if len(distinct) == 1
            else np.stack([insts[k].ctr for k in rows_list])
        )
        fast = mechanism.fast_arrays(mats, key[2], b[rows])
        if fast is not None:
            assign[rows], ctr[rows], pay[rows] = fast.assignment, fast.ctr, fast.payments
            order[rows, : key[2]] = fast.order
            continue
        for k in rows_list:
            out = mechanism.run(insts[k], b[k])
            assign[k], ctr[k], pay[k] = out.assignment, out.ctr, out.payments
            order[k, : out.order.size] = out.order
    return BatchArrays(assign, ctr, pay, b, order)


def run_batch(
    mechanism: Mechanism, instances: Instance | Sequence[Instance], bids: ArrayLike
) -> list[Outcome]:
    """Run a batch of auctions; identical to ``[mechanism.run(inst, b) ...]``.

    Parameters
    ----------
    mechanism : Mechanism
    instances : Instance or sequence of Instance
        One instance for every row of ``bids``, or one per row.
    bids : array_like of shape (B, n_advertisers)

    Returns
    -------
    list of Outcome
        One per row of ``bids``.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.3, 0.1], [0.2, 0.25], [0.1, 0.05]], slots=2)
    >>> outs = aa.run_batch(aa.VCG(), inst, [[1.0, 0.8, 0.5], [0.1, 0.8, 0.5]])
    >>> [o.assignment.tolist() for o in outs]
    [[0, 1, -1], [-1, 1, 0]]
    """
    res = run_batch_arrays(mechanism, instances, bids)
    name, model, solver = mechanism.name, repr(mechanism.model), mechanism.solver_spec.name
    outs = []
    for k in range(res.bids.shape[0]):
        outs.append(
            Outcome(
                res.assignment[k], res.order_of(k), res.ctr[k], res.payments[k], res.bids[k],
                mechanism=name, model=model, solver=solver,
            )
        )
    return outs
