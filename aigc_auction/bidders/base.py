"""The bidder interface: a strategy maps values to bids and learns from feedback.

A :class:`Bidder` is an immutable *strategy* (its parameters only, like a
mechanism); the learning state lives in a separate :class:`BidderState`
created by :meth:`Bidder.init` for ``n`` independent copies, so one strategy
object can drive many advertisers and a simulation can run all copies of a
strategy with array operations (optax's ``init`` / ``update`` split). Each copy
draws its randomness from its own stream (one ``SeedSequence`` child per copy),
so results do not depend on how advertisers are grouped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import as_float_array, check_int

__all__ = ["Bidder", "BidderState", "Feedback", "check_grid", "copy_streams"]

FeedbackKind = Literal["none", "bandit", "full"]

#: Uniform draws buffered per copy (refilled from the copy's own generator).
_BUFFER = 256


def check_grid(grid: ArrayLike, name: str = "grid") -> NDArray[np.float64]:
    """A sorted, distinct, non-negative 1-D array of bid multipliers (read-only)."""
    g = as_float_array(grid, name, ndim=1)
    if np.any(g < 0):
        raise ValueError(f"`{name}` must hold non-negative bid multipliers; got min {g.min()}")
    if np.any(np.diff(g) <= 0):
        raise ValueError(f"`{name}` must be strictly increasing; got {g.tolist()}")
    g.setflags(write=False)
    return g


def copy_streams(rng: Any, n: int) -> list[np.random.Generator]:
    """``n`` independent generators: one per copy, from ``SeedSequence`` children.

    ``rng`` is ``None``, an int, a ``SeedSequence``, a ``Generator`` (its bit
    generator's seed sequence is spawned) or a sequence of ``n`` of those (one
    per copy, used as given).
    """
    if isinstance(rng, Sequence) and not isinstance(rng, str | bytes):
        if len(rng) != n:
            raise ValueError(f"`rng` must be one seed or one per copy ({n}); got {len(rng)}")
        return [np.random.default_rng(r) for r in rng]
    if isinstance(rng, np.random.Generator):
        seq = rng.bit_generator.seed_seq
        if not isinstance(seq, np.random.SeedSequence):  # pragma: no cover - exotic
            seq = np.random.SeedSequence(int(rng.integers(2**63)))
    elif isinstance(rng, np.random.SeedSequence):
        seq = rng
    else:
        try:
            seq = np.random.SeedSequence(rng)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "`rng` must be None, an int, a SeedSequence, a numpy Generator or a "
                f"sequence of them; got {rng!r}"
            ) from exc
    return [np.random.default_rng(s) for s in seq.spawn(n)]


@dataclass(eq=False)
class BidderState:
    """The learning state of ``n`` copies of one strategy (mutable).

    Attributes
    ----------
    n : int
        Number of copies.
    streams : list of numpy Generator
        One random stream per copy.
    arrays : dict of str to ndarray
        Strategy-specific arrays, first axis over copies.
    rounds : int
        Feedback rounds seen so far.
    """

    n: int
    streams: list[np.random.Generator]
    arrays: dict[str, NDArray[Any]] = field(default_factory=dict)
    rounds: int = 0
    _buf: NDArray[np.float64] | None = None
    _ptr: int = _BUFFER

    def uniforms(self) -> NDArray[np.float64]:
        """One U[0, 1) draw per copy, each from the copy's own stream."""
        if self._buf is None or self._ptr >= _BUFFER:
            self._buf = np.stack([s.random(_BUFFER) for s in self.streams])
            self._ptr = 0
        u = self._buf[:, self._ptr]
        self._ptr += 1
        return u


@dataclass(frozen=True, eq=False)
class Feedback:
    """What ``n`` copies of a strategy observe after one round (arrays over copies).

    Attributes
    ----------
    values, bids, ctr, payments : ndarray of shape (n,)
        Value per click, bid, click probability and expected payment of the
        round (the *bandit* information: the outcome of the bid made).
    grid_utility : ndarray of shape (n, G), optional
        *Full information*: the utility each copy would have had bidding
        ``multiplier * value`` for each multiplier of its strategy's grid, the
        others' bids fixed. ``None`` for strategies that do not ask for it.
    """

    values: NDArray[np.float64]
    bids: NDArray[np.float64]
    ctr: NDArray[np.float64]
    payments: NDArray[np.float64]
    grid_utility: NDArray[np.float64] | None = None

    @property
    def utility(self) -> NDArray[np.float64]:
        """Realised expected utility ``values * ctr - payments``."""
        return np.asarray(self.values * self.ctr - self.payments, dtype=np.float64)


class Bidder(ABC):
    """A bidding strategy: a value per click in, a bid out, updated from feedback.

    Subclasses set :attr:`feedback` (``"none"``: does not learn; ``"bandit"``:
    learns from the outcome of its own bid; ``"full"``: needs the utility of
    every multiplier of :attr:`grid`, see :class:`Feedback`) and implement
    :meth:`bid` and :meth:`update` on arrays over copies.
    """

    #: Which feedback the strategy learns from.
    feedback: ClassVar[FeedbackKind] = "none"
    #: Registry name.
    name: ClassVar[str]

    @property
    def grid(self) -> NDArray[np.float64] | None:
        """Bid multipliers the strategy chooses from (``None``: not grid-based)."""
        return None

    def init(self, n: int = 1, *, rng: Any = None) -> BidderState:
        """Fresh state for ``n`` independent copies (see :func:`copy_streams` for ``rng``)."""
        k = check_int(n, "n", low=1)
        state = BidderState(k, copy_streams(rng, k))
        self._init_arrays(state)
        return state

    def _init_arrays(self, state: BidderState) -> None:  # noqa: B027 - optional hook
        """Allocate strategy-specific arrays in ``state.arrays``."""

    @abstractmethod
    def bid(self, state: BidderState, values: ArrayLike) -> NDArray[np.float64]:
        """Bids of the copies for their ``values`` (shape ``(n,)``)."""

    def update(self, state: BidderState, feedback: Feedback) -> None:
        """Learn from one round's feedback (default: nothing to learn)."""
        state.rounds += 1

    @abstractmethod
    def get_params(self) -> dict[str, Any]:
        """The constructor parameters."""

    def key(self) -> tuple[Any, ...]:
        """A hashable identity: strategies with equal keys behave identically."""
        items = []
        for k, v in sorted(self.get_params().items()):
            items.append((k, tuple(np.asarray(v).ravel().tolist())
                          if isinstance(v, np.ndarray) else v))
        return (type(self).__name__, *items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bidder):
            return NotImplemented
        return self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        def short(v: Any) -> str:
            if isinstance(v, np.ndarray):
                return repr(v.tolist()) if v.size <= 6 else f"array(shape={v.shape})"
            return repr(v)

        params = ", ".join(f"{k}={short(v)}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def _values(self, state: BidderState, values: ArrayLike) -> NDArray[np.float64]:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.shape != (state.n,):
            raise ValueError(f"`values` must have shape ({state.n},); got {v.shape}")
        if not (v.min() >= 0.0 and v.max() < np.inf):  # NaN fails the first test
            raise ValueError("`values` must be finite and non-negative")
        return v
