"""Input validation helpers shared by the public API.

Every message follows one template: the parameter in backticks, what it must be,
and what was received, e.g. "`ctr` must be a 2-D array; got shape (3,)".
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAX_CELLS",
    "as_float_array",
    "check_bids",
    "check_cells",
    "check_int",
    "check_probability",
    "check_rng",
    "readonly",
]


def readonly(a: NDArray[Any]) -> NDArray[Any]:
    """Return ``a`` marked read-only (in place) for storage in frozen objects."""
    a.setflags(write=False)
    return a


#: Largest number of entries of an array the engine *generates* (random CTR
#: matrices, embeddings): 2**26 (512 MiB of float64). Larger requests are refused
#: with a ValueError before anything is allocated.
MAX_CELLS = 2**26

#: Deepest nesting of lists accepted where an array is expected.
MAX_DEPTH = 32

_KIND_NAMES = {"b": "bool", "c": "complex", "U": "string", "S": "bytes", "M": "datetime",
               "m": "timedelta", "V": "structured"}


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of lists/tuples along the first element, capped at ``limit + 1``."""
    d = 0
    while isinstance(value, list | tuple) and d <= limit:
        if not value:
            return d + 1
        value = value[0]
        d += 1
    return d


def as_float_array(value: ArrayLike, name: str, *, ndim: int | None = None) -> NDArray[np.float64]:
    """Convert ``value`` to a finite float64 array, checking its dimension.

    Only real numbers are accepted: integer and float arrays (and lists of Python
    ints/floats). Strings, bytes, booleans, complex numbers and other objects raise
    ``TypeError`` instead of being coerced.

    Raises
    ------
    TypeError
        If ``value`` is not an array of real numbers (see above).
    ValueError
        If the dimension is wrong, the array is ragged, nested too deep or empty,
        or an entry is NaN or infinite.
    """
    if value is None or isinstance(value, str | bytes):
        raise TypeError(f"`{name}` must be a numeric array; got {type(value).__name__}")
    if _depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise ValueError(f"`{name}` must be an array of at most {MAX_DEPTH} dimensions; "
                         "got deeper nested lists")
    try:
        raw = np.asarray(value)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"`{name}` must be a rectangular numeric array; got ragged or "
                         f"nested input ({type(value).__name__})") from exc
    except TypeError as exc:
        raise TypeError(
            f"`{name}` must be a numeric array; got {type(value).__name__}"
        ) from exc
    kind = raw.dtype.kind
    if kind in _KIND_NAMES:
        raise TypeError(f"`{name}` must be a numeric array of real numbers; got "
                        f"{_KIND_NAMES[kind]} entries (dtype {raw.dtype})")
    if kind == "O":
        for x in raw.flat:
            if isinstance(x, bool | np.bool_) or not isinstance(x, numbers.Real):
                raise TypeError(f"`{name}` must be a numeric array of real numbers; got "
                                f"an entry {x!r} of type {type(x).__name__}")
    try:
        arr = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(
            f"`{name}` must be a numeric array; got {type(value).__name__}"
        ) from exc
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must be a {ndim}-D array; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must not contain NaN or infinite entries")
    return arr


def check_cells(cells: int, what: str) -> None:
    """Refuse to generate an array of more than :data:`MAX_CELLS` entries."""
    if cells > MAX_CELLS:
        raise ValueError(
            f"{what} would need {cells:,} entries, more than the limit of "
            f"{MAX_CELLS:,} (512 MiB of float64); choose smaller sizes"
        )


def check_int(value: Any, name: str, *, low: int, high: int | None = None) -> int:
    """Check that ``value`` is an integer in ``[low, high]`` and return it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer; got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        rng = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"`{name}` must be an integer in {rng}; got {v}")
    return v


def check_probability(value: ArrayLike, name: str) -> float | NDArray[np.float64]:
    """A probability scalar or a non-empty 1-D array of probabilities (read-only).

    Raises
    ------
    TypeError
        If ``value`` is not numeric.
    ValueError
        If it is not a scalar or a 1-D array, or has entries outside ``[0, 1]``.
    """
    arr = as_float_array(value, name)
    if arr.ndim > 1:
        raise ValueError(f"`{name}` must be a scalar or a 1-D array; got shape {arr.shape}")
    if np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(
            f"`{name}` must have entries in [0, 1]; "
            f"got min {float(arr.min())}, max {float(arr.max())}"
        )
    if arr.ndim == 0:
        return float(arr)
    return readonly(arr)


def check_bids(bids: ArrayLike, n: int, name: str = "bids") -> NDArray[np.float64]:
    """Check a bid vector: shape ``(n,)``, finite, non-negative."""
    arr = as_float_array(bids, name, ndim=1)
    if arr.shape != (n,):
        raise ValueError(
            f"`{name}` must have shape ({n},), one per advertiser; got shape {arr.shape}"
        )
    if np.any(arr < 0):
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"`{name}` must be non-negative; got {arr[i]} for advertiser {i}")
    return arr


def check_rng(rng: Any) -> np.random.Generator:
    """Normalise ``rng`` (None, int, SeedSequence or Generator) to a Generator."""
    if isinstance(rng, np.random.RandomState):
        raise TypeError("`rng` must be None, an int, a SeedSequence or a numpy Generator; "
                        "got a legacy RandomState")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"`rng` must be None, an int, a SeedSequence or a numpy Generator; got {rng!r}"
        ) from exc
