"""Mechanisms (allocation + payment rules) and their registry."""

from __future__ import annotations

from typing import Any

from .base import Mechanism
from .first_price import FirstPrice
from .gsp import GSP
from .myerson import Myerson
from .vcg import VCG

__all__ = [
    "GSP",
    "VCG",
    "FirstPrice",
    "Mechanism",
    "Myerson",
    "available_mechanisms",
    "get_mechanism",
]

_MECHANISMS: dict[str, type[Mechanism]] = {
    "vcg": VCG, "myerson": Myerson, "gsp": GSP, "first_price": FirstPrice,
}


def available_mechanisms() -> list[str]:
    """Registry names of the mechanisms."""
    return sorted(_MECHANISMS)


def get_mechanism(name: str, model: Any = "mnl", **params: Any) -> Mechanism:
    """Build a mechanism from its registry name.

    Examples
    --------
    >>> from aigc_auction.mechanisms import get_mechanism
    >>> get_mechanism("vcg", "mnl")
    VCG(model=MNL(), solver=None)
    """
    if not isinstance(name, str):
        raise TypeError(f"`mechanism` must be a name string; got {type(name).__name__}")
    key = name.lower()
    if key not in _MECHANISMS:
        raise ValueError(f"`mechanism` must be one of {available_mechanisms()}; got {name!r}")
    return _MECHANISMS[key](model, **params)
