"""Best response to recent rounds on a grid of bid multipliers."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_int
from .base import Bidder, BidderState, Feedback, check_grid

__all__ = ["BestResponse"]


class BestResponse(Bidder):
    """Play the multiplier that would have earned most over the last rounds.

    Full-information feedback: after each round a copy is told the utility of
    every multiplier of its grid (others' bids fixed) and next bids
    ``m * value`` with ``m`` maximising the summed utility of the last
    ``window`` rounds (``None``: all rounds, i.e. follow the leader / fictitious
    play). ``window=1`` is myopic best-response dynamics. Ties go to the lowest
    multiplier. Before any feedback it bids ``start * value``. Deterministic.

    Parameters
    ----------
    grid : array_like of shape (G,)
        Strictly increasing non-negative multipliers.
    window : int or None, default 1
    start : float, default 1.0
        Multiplier of the first round (truthful).

    Examples
    --------
    >>> import numpy as np, aigc_auction as aa
    >>> br = aa.bidders.BestResponse([0.25, 0.5, 1.0])
    >>> st = br.init(1)
    >>> br.bid(st, [0.8]).tolist()
    [0.8]
    >>> fb = aa.bidders.Feedback(np.array([0.8]), np.array([0.8]), np.array([0.5]),
    ...                          np.array([0.4]), grid_utility=np.array([[0.1, 0.2, 0.0]]))
    >>> br.update(st, fb)
    >>> br.bid(st, [0.8]).tolist()
    [0.4]
    """

    feedback: ClassVar[Any] = "full"
    name: ClassVar[str] = "best_response"

    def __init__(self, grid: ArrayLike, *, window: int | None = 1, start: float = 1.0) -> None:
        self._grid = check_grid(grid)
        self.window = None if window is None else check_int(window, "window", low=1)
        if not np.isfinite(start) or start < 0:
            raise ValueError(f"`start` must be finite and non-negative; got {start!r}")
        self.start = float(start)

    @property
    def grid(self) -> NDArray[np.float64]:
        return self._grid

    def get_params(self) -> dict[str, Any]:
        return {"grid": self._grid, "window": self.window, "start": self.start}

    def _init_arrays(self, state: BidderState) -> None:
        g = self._grid.size
        state.arrays["total"] = np.zeros((state.n, g))
        if self.window is not None:
            state.arrays["recent"] = np.zeros((self.window, state.n, g))

    def multipliers(self, state: BidderState) -> NDArray[np.float64]:
        """The multiplier each copy plays next, shape ``(n,)``."""
        if state.rounds == 0:
            return np.full(state.n, self.start)
        return self._grid[np.argmax(state.arrays["total"], axis=1)]

    def bid(self, state: BidderState, values: ArrayLike) -> NDArray[np.float64]:
        return self.multipliers(state) * self._values(state, values)

    def update(self, state: BidderState, feedback: Feedback) -> None:
        if feedback.grid_utility is None:
            raise ValueError("`feedback.grid_utility` is needed by BestResponse")
        u = feedback.grid_utility
        if self.window is None:
            state.arrays["total"] += u
        else:
            slot = state.rounds % self.window
            recent = state.arrays["recent"]
            state.arrays["total"] += u - recent[slot]
            recent[slot] = u
        state.rounds += 1
