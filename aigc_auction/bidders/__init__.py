"""Bidding strategies for repeated auctions: truthful, shading and learning bidders.

Every strategy maps a value per click to a bid and updates from feedback:

========================  ==========  =====================================
strategy                  feedback    rule
========================  ==========  =====================================
:class:`Truthful`         none        ``bid = value``
:class:`Shade`            none        ``bid = factor * value``
:class:`Hedge`            full/bandit exponential weights (Hedge / Exp3)
:class:`BestResponse`     full        best multiplier of the last rounds
========================  ==========  =====================================

Strategies are immutable; the learning state of ``n`` copies is created by
:meth:`Bidder.init` and advanced by :meth:`Bidder.bid` / :meth:`Bidder.update`.
:func:`get_bidder` builds one from a short name (sweep configs).

Examples
--------
>>> import aigc_auction as aa
>>> aa.bidders.get_bidder("hedge", grid=[0.5, 1.0], lr=2.0)
Hedge(grid=[0.5, 1.0], lr=2.0, feedback='full', explore=0.05)
"""

from __future__ import annotations

from typing import Any

from .base import Bidder, BidderState, Feedback, check_grid, copy_streams
from .best_response import BestResponse
from .hedge import Hedge
from .simple import Shade, Truthful

__all__ = [
    "BestResponse",
    "Bidder",
    "BidderState",
    "Feedback",
    "Hedge",
    "Shade",
    "Truthful",
    "available_bidders",
    "check_grid",
    "copy_streams",
    "get_bidder",
]

_BIDDERS: dict[str, type[Bidder]] = {
    "truthful": Truthful, "shade": Shade, "hedge": Hedge, "best_response": BestResponse,
}


def available_bidders() -> list[str]:
    """Registry names of the bidding strategies."""
    return sorted(_BIDDERS)


def get_bidder(name: str, **params: Any) -> Bidder:
    """Build a strategy from its registry name and keyword parameters."""
    if not isinstance(name, str):
        raise TypeError(f"`bidder` must be a name string; got {type(name).__name__}")
    key = name.lower()
    if key not in _BIDDERS:
        raise ValueError(f"`bidder` must be one of {available_bidders()}; got {name!r}")
    try:
        return _BIDDERS[key](**params)
    except TypeError as exc:
        raise TypeError(f"bad parameters for bidder {name!r}: {exc}") from exc
