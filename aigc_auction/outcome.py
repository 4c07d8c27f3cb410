"""The result of running a mechanism: allocation, click probabilities, payments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._validation import readonly
from .allocation import shown_in_order

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Outcome"]


@dataclass(frozen=True, eq=False)
class Outcome:
    """An auction outcome (immutable; arrays are read-only).

    Attributes
    ----------
    assignment : ndarray of int, shape (n_advertisers,)
        Position of each advertiser, ``-1`` when not shown.
    order : ndarray of int, shape (n_shown,)
        The shown positions in reading order.
    ctr : ndarray of shape (n_advertisers,)
        Click probability of each advertiser under the mechanism's user model.
    payments : ndarray of shape (n_advertisers,)
        Expected payment per auction (0 when not shown).
    bids : ndarray of shape (n_advertisers,)
        The bids the outcome was computed from.
    mechanism, model, solver : str
        What produced it (``model`` is the user model's repr).
    """

    assignment: NDArray[np.int64]
    order: NDArray[np.int64]
    ctr: NDArray[np.float64]
    payments: NDArray[np.float64]
    bids: NDArray[np.float64]
    mechanism: str = ""
    model: str = ""
    solver: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, dtype in (
            ("assignment", np.int64), ("order", np.int64), ("ctr", np.float64),
            ("payments", np.float64), ("bids", np.float64),
        ):
            object.__setattr__(self, name, readonly(np.array(getattr(self, name), dtype=dtype)))

    @property
    def n_advertisers(self) -> int:
        return int(self.assignment.shape[0])

    @property
    def welfare(self) -> float:
        """``sum(bids * ctr)``: expected welfare at the reported bids."""
        return float(np.dot(self.bids, self.ctr))

    @property
    def revenue(self) -> float:
        """``sum(payments)``: expected revenue per auction."""
        return float(self.payments.sum())

    @property
    def price_per_click(self) -> NDArray[np.float64]:
        """``payments / ctr`` (0 when not shown): the price charged per click."""
        out = np.zeros_like(self.payments)
        np.divide(self.payments, self.ctr, out=out, where=self.ctr > 0)
        return out

    @property
    def shown(self) -> NDArray[np.int64]:
        """Indices of the shown advertisers in reading order."""
        return shown_in_order(self.assignment, self.order)

    @property
    def rank(self) -> NDArray[np.int64]:
        """Reading rank of each advertiser (0 = read first), ``-1`` when not shown."""
        r = np.full(self.n_advertisers, -1, dtype=np.int64)
        r[self.shown] = np.arange(len(self.order))
        return r

    def utilities(self, values: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """``values * ctr - payments`` (``values`` default to the bids)."""
        v = self.bids if values is None else np.asarray(values, dtype=float)
        return v * self.ctr - self.payments

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of every field and the derived totals."""
        return {
            "mechanism": self.mechanism,
            "model": self.model,
            "solver": self.solver,
            "assignment": self.assignment.tolist(),
            "order": self.order.tolist(),
            "ctr": self.ctr.tolist(),
            "payments": self.payments.tolist(),
            "price_per_click": self.price_per_click.tolist(),
            "bids": self.bids.tolist(),
            "welfare": self.welfare,
            "revenue": self.revenue,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per advertiser: bid, position, rank, ctr, payment, price per click."""
        import pandas as pd

        return pd.DataFrame(
            {
                "advertiser": np.arange(self.n_advertisers),
                "bid": self.bids,
                "position": self.assignment,
                "rank": self.rank,
                "ctr": self.ctr,
                "payment": self.payments,
                "price_per_click": self.price_per_click,
                "utility_at_bid": self.utilities(),
            }
        ).set_index("advertiser")

    def __repr__(self) -> str:
        return (
            f"Outcome(mechanism={self.mechanism!r}, shown={self.shown.tolist()}, "
            f"welfare={self.welfare:.6g}, revenue={self.revenue:.6g})"
        )
