"""Hedge (exponential weights) over bid multipliers, with full or bandit feedback."""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .base import Bidder, BidderState, Feedback, check_grid

__all__ = ["Hedge"]


class Hedge(Bidder):
    r"""Exponential weights over a grid of bid multipliers (``bid = m * value``).

    Each round a copy draws a multiplier ``m_k`` with probability
    ``p_k ∝ exp(lr * S_k)``, ``S_k`` its cumulative (estimated) utility of
    ``m_k``, and bids ``m_k * value``.

    * ``feedback="full"`` (Hedge; Freund & Schapire 1997): after the round it is
      told the utility ``u_k`` every multiplier would have earned, the others'
      bids fixed, and sets ``S_k += u_k``. Regret ``O(sqrt(T log G))`` against the
      best fixed multiplier.
    * ``feedback="bandit"`` (Exp3; Auer, Cesa-Bianchi, Freund & Schapire 2002):
      it only sees the utility ``u`` of the multiplier it played, draws from
      ``(1 - explore) p + explore / G`` and sets ``S_k += u / q_k`` for the
      multiplier played (``q_k`` its probability), an unbiased estimate.

    Parameters
    ----------
    grid : array_like of shape (G,)
        Strictly increasing non-negative multipliers.
    lr : float
        Learning rate (> 0), in inverse utility units: utilities are expected
        value per auction, ``value * ctr - payment``, so with values ~1 and CTRs
        ~0.1 a rate of ``sqrt(8 ln G / T) / 0.1`` is the textbook choice.
    feedback : {"full", "bandit"}, default "full"
    explore : float, default 0.05
        Uniform exploration of the bandit variant, in ``(0, 1]`` (unused with
        full feedback).

    Examples
    --------
    Full information: the multiplier 0.5 earned more, so it gains weight.

    >>> import numpy as np, aigc_auction as aa
    >>> h = aa.bidders.Hedge([0.5, 1.0], lr=10.0)
    >>> st = h.init(1, rng=0)
    >>> fb = aa.bidders.Feedback(np.array([1.0]), np.array([1.0]), np.array([0.2]),
    ...                          np.array([0.2]), grid_utility=np.array([[0.1, 0.0]]))
    >>> h.update(st, fb)
    >>> h.probabilities(st).round(3).tolist()
    [[0.731, 0.269]]
    """

    name: ClassVar[str] = "hedge"

    def __init__(self, grid: ArrayLike, lr: float, *, feedback: str = "full",
                 explore: float = 0.05) -> None:
        self._grid = check_grid(grid)
        self.lr = _positive(lr, "lr")
        if feedback not in ("full", "bandit"):
            raise ValueError(f"`feedback` must be 'full' or 'bandit'; got {feedback!r}")
        self.mode = feedback
        self.explore = _positive(explore, "explore")
        if self.explore > 1:
            raise ValueError(f"`explore` must be in (0, 1]; got {explore!r}")

    @property
    def feedback(self) -> Any:  # type: ignore[override]
        return self.mode

    @property
    def grid(self) -> NDArray[np.float64]:
        return self._grid

    def get_params(self) -> dict[str, Any]:
        return {"grid": self._grid, "lr": self.lr, "feedback": self.mode,
                "explore": self.explore}

    def _init_arrays(self, state: BidderState) -> None:
        state.arrays["score"] = np.zeros((state.n, self._grid.size))
        state.arrays["last"] = np.zeros(state.n, dtype=np.int64)
        state.arrays["prob"] = np.zeros(state.n)

    def probabilities(self, state: BidderState) -> NDArray[np.float64]:
        """The distribution over the grid each copy draws from, shape ``(n, G)``."""
        s = self.lr * state.arrays["score"]
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        if self.mode == "bandit":
            p = (1.0 - self.explore) * p + self.explore / self._grid.size
        return p

    def bid(self, state: BidderState, values: ArrayLike) -> NDArray[np.float64]:
        v = self._values(state, values)
        p = self.probabilities(state)
        cdf = np.cumsum(p, axis=1)
        u = state.uniforms() * cdf[:, -1]
        k = np.minimum((cdf <= u[:, None]).sum(axis=1), self._grid.size - 1)
        state.arrays["last"] = k
        state.arrays["prob"] = p[np.arange(state.n), k]
        return self._grid[k] * v

    def update(self, state: BidderState, feedback: Feedback) -> None:
        score = state.arrays["score"]
        if self.mode == "full":
            if feedback.grid_utility is None:
                raise ValueError("`feedback.grid_utility` is needed by full-information Hedge")
            score += feedback.grid_utility
        else:
            k = state.arrays["last"]
            score[np.arange(state.n), k] += feedback.utility / state.arrays["prob"]
        state.rounds += 1


def _positive(x: Any, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {x!r}")
    if not math.isfinite(float(x)) or x <= 0:
        raise ValueError(f"`{name}` must be finite and positive; got {x!r}")
    return float(x)
