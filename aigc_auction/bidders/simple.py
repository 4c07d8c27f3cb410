"""Bidders that do not learn: truthful and fixed shading."""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .base import Bidder, BidderState

__all__ = ["Shade", "Truthful"]


class Shade(Bidder):
    """Bid a fixed fraction of the value: ``bid = factor * value``.

    Feedback: none (it does not learn).

    Parameters
    ----------
    factor : float
        Non-negative multiplier (``1``: truthful; above 1 overbids).

    Examples
    --------
    >>> import aigc_auction as aa
    >>> s = aa.bidders.Shade(0.5)
    >>> s.bid(s.init(2, rng=0), [0.8, 0.4]).tolist()
    [0.4, 0.2]
    """

    feedback: ClassVar[Any] = "none"
    name: ClassVar[str] = "shade"

    def __init__(self, factor: float) -> None:
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            raise TypeError(f"`factor` must be a real number; got {factor!r}")
        f = float(factor)
        if not math.isfinite(f) or f < 0:
            raise ValueError(f"`factor` must be finite and non-negative; got {factor!r}")
        self.factor: float = f

    def bid(self, state: BidderState, values: ArrayLike) -> NDArray[np.float64]:
        return self.factor * self._values(state, values)

    def get_params(self) -> dict[str, Any]:
        return {"factor": self.factor}


class Truthful(Shade):
    """Bid the value (dominant in VCG and Myerson; not in GSP or first price).

    Feedback: none.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> t = aa.bidders.Truthful()
    >>> t.bid(t.init(1), [0.7]).tolist()
    [0.7]
    """

    name: ClassVar[str] = "truthful"

    def __init__(self) -> None:
        super().__init__(1.0)

    def get_params(self) -> dict[str, Any]:
        return {}
