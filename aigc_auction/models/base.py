"""Base class of user-behaviour models."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..instance import Instance

__all__ = ["UserModel"]


class UserModel(ABC):
    """How shown ads compete for clicks.

    A user model maps an allocation ``(assignment, order)`` of an
    :class:`~aigc_auction.Instance` to the click probability of every advertiser.
    Models are small immutable objects: their parameters are set at construction
    (keyword-only) and reported by :meth:`get_params`.
    """

    #: Short registry name ("mnl", "cascade").
    name: ClassVar[str]
    #: Whether the reading order changes click probabilities.
    order_sensitive: ClassVar[bool] = False

    def check_instance(self, instance: Instance) -> None:  # noqa: B027 - optional hook
        """Raise ``ValueError`` if ``instance`` is outside this model's domain."""

    @abstractmethod
    def ctr(
        self, instance: Instance, assignment: ArrayLike, order: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Click probability of every advertiser under the allocation."""
        raise NotImplementedError  # abstract

    def objective(
        self,
        instance: Instance,
        coef: NDArray[np.float64],
        assignment: ArrayLike,
        order: ArrayLike | None = None,
    ) -> float:
        """``sum_i coef[i] * ctr[i]``: welfare (coef = bids) or virtual welfare."""
        pi = self.ctr(instance, assignment, order)
        shown = pi > 0  # coef may be -inf for ads that are never shown
        return float(np.dot(np.asarray(coef)[shown], pi[shown]))

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as a dict (scikit-learn style)."""
        return {}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        a, b = self.get_params(), other.get_params()
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={_short(v)}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def _short(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return repr(v.tolist()) if v.size <= 6 else f"array(shape={v.shape})"
    return repr(v)
