"""Exception hierarchy of aigc_auction.

Bad *input* raises the built-in :class:`ValueError` or :class:`TypeError` (with a
message naming the parameter). The classes here signal failures of the engine
itself, so that callers can tell "you passed something wrong" from "the
computation could not be completed".
"""

__all__ = ["AuctionError", "SolverError", "SweepError"]


class AuctionError(Exception):
    """Base class of every error raised by the engine itself."""


class SolverError(AuctionError):
    """An allocation solver failed or returned a result that did not verify.

    Raised, for example, when an LP backend reports a non-optimal status or when
    the matching recovered from ``y / y0`` is not integral or not feasible.
    """


class SweepError(AuctionError):
    """A sweep could not be started or resumed (e.g. its folder holds another config)."""
