"""The auction instance: a click-through-rate matrix and a number of slots."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_float_array, check_int, readonly

__all__ = ["Instance"]


@dataclass(frozen=True, eq=False, init=False)
class Instance:
    """One piece of generated content with candidate ad positions.

    Parameters
    ----------
    ctr : array_like of shape (n_advertisers, n_positions)
        ``ctr[i, j]`` is the standalone click probability of creative ``i`` shown
        alone at position ``j``, in ``[0, 1]``. Stored as a read-only float array.
    slots : int, optional
        The largest number of ads shown, ``K`` in ``1..n_positions``. Defaults to
        ``n_positions``.

    Raises
    ------
    ValueError
        If ``ctr`` is not 2-D, is empty, has NaN/infinite entries or entries outside
        ``[0, 1]``, or if ``slots`` is out of range.
    TypeError
        If ``ctr`` is not numeric or ``slots`` is not an integer.

    Notes
    -----
    The MNL user model additionally needs ``ctr < 1``; it checks this itself
    (:meth:`aigc_auction.MNL.check_instance`) because the cascade model accepts 1.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.3, 0.1], [0.2, 0.2], [0.05, 0.4]], slots=1)
    >>> inst.n_advertisers, inst.n_positions, inst.slots
    (3, 2, 1)
    >>> aa.Instance(ctr=[0.1, 0.2])
    Traceback (most recent call last):
    ...
    ValueError: `ctr` must be a 2-D array; got shape (2,)
    """

    ctr: NDArray[np.float64]
    slots: int

    def __init__(self, ctr: ArrayLike, slots: int | None = None) -> None:
        p = as_float_array(ctr, "ctr", ndim=2)
        if p.min() < 0 or p.max() > 1:
            raise ValueError(
                "`ctr` must have entries in [0, 1]; "
                f"got min {float(p.min())}, max {float(p.max())}"
            )
        object.__setattr__(self, "ctr", readonly(p))
        m = p.shape[1]
        k = m if slots is None else check_int(slots, "slots", low=1, high=m)
        object.__setattr__(self, "slots", k)

    @classmethod
    def from_separable(
        cls, alpha: ArrayLike, beta: ArrayLike, *, slots: int | None = None
    ) -> Instance:
        """Build the classic separable instance ``ctr[i, j] = alpha[i] * beta[j]``.

        Examples
        --------
        >>> import aigc_auction as aa
        >>> aa.Instance.from_separable([1.0, 0.5], [0.4, 0.2]).ctr
        array([[0.4, 0.2],
               [0.2, 0.1]])
        """
        a = as_float_array(alpha, "alpha", ndim=1)
        b = as_float_array(beta, "beta", ndim=1)
        return cls(ctr=np.outer(a, b), slots=slots)

    @property
    def n_advertisers(self) -> int:
        """Number of advertisers (rows of ``ctr``)."""
        return int(self.ctr.shape[0])

    @property
    def n_positions(self) -> int:
        """Number of candidate positions (columns of ``ctr``)."""
        return int(self.ctr.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_advertisers, n_positions)``."""
        return (self.n_advertisers, self.n_positions)

    @cached_property
    def odds(self) -> NDArray[np.float64]:
        """MNL weights ``ctr / (1 - ctr)`` (``inf`` where ``ctr == 1``), read-only."""
        with np.errstate(divide="ignore"):
            w = self.ctr / (1.0 - self.ctr)
        return readonly(w)

    def with_slots(self, slots: int) -> Instance:
        """A copy of this instance with another number of slots."""
        return Instance(ctr=self.ctr, slots=slots)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict: ``{"ctr": nested lists, "slots": int}``."""
        return {"ctr": self.ctr.tolist(), "slots": self.slots}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Instance):
            return NotImplemented
        return self.slots == other.slots and np.array_equal(self.ctr, other.ctr)

    def __hash__(self) -> int:
        return hash((self.slots, self.ctr.shape, self.ctr.tobytes()))

    def __repr__(self) -> str:
        n, m = self.shape
        return f"Instance(n_advertisers={n}, n_positions={m}, slots={self.slots})"
