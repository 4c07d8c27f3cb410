"""User-behaviour models and their registry."""

from __future__ import annotations

from typing import Any

from .base import UserModel
from .cascade import Cascade
from .mnl import MNL

__all__ = ["MNL", "Cascade", "UserModel", "available_models", "get_model", "register_model"]

_MODELS: dict[str, type[UserModel]] = {}


def register_model(cls: type[UserModel]) -> type[UserModel]:
    """Class decorator adding a user model to the registry under ``cls.name``."""
    _MODELS[cls.name] = cls
    return cls


def available_models() -> list[str]:
    """Registry names of the user models."""
    return sorted(_MODELS)


def get_model(name: str, **params: Any) -> UserModel:
    """Build a user model from its registry name and keyword parameters.

    Examples
    --------
    >>> from aigc_auction.models import get_model
    >>> get_model("mnl")
    MNL()
    """
    if not isinstance(name, str):
        raise TypeError(f"`model` must be a model name string; got {type(name).__name__}")
    key = name.lower()
    if key not in _MODELS:
        raise ValueError(f"`model` must be one of {available_models()}; got {name!r}")
    return _MODELS[key](**params)


register_model(MNL)
register_model(Cascade)
