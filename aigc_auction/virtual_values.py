"""Myerson virtual values, ironed, as one explicitly monotone function per prior.

For a value distribution ``F`` with density ``f`` the virtual value is
``phi(v) = v - (1 - F(v)) / f(v)`` (Myerson 1981). It is the derivative of the
revenue curve ``R(q) = q * F^{-1}(1 - q)`` with respect to the quantile
``q = 1 - F(v)``. The ironed virtual value ``phibar`` is the derivative of the
least concave majorant of ``R``: equal to ``phi`` where the prior is regular,
constant on the *ironed* intervals where ``R`` lies below its hull.

:class:`VirtualValue` computes ``phibar`` once per prior (see
:mod:`aigc_auction.ironing`: exactly for histogram and uniform priors, from an
adaptively refined quantile sample otherwise) and stores it as a monotone table;
evaluation (the allocation's coefficients) and the generalised inverse (the
payments' thresholds) both read that table, vectorised over any number of bids or
levels, with no ``scipy`` call per auction. The tables are cached per process, so
building a second :class:`VirtualValue` (or a second :class:`~aigc_auction.Myerson`)
for the same prior costs nothing.

Outside the support: a value above it has ``phibar(v) = v`` (no more mass to
lose; for an unbounded support the table continues with slope 1 beyond its last
knot, at the ``1e-15`` upper quantile), a value below it has ``phibar(v) = -inf``
(never worth serving).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .ironing import IRON_RTOL, MonotoneTable, iron_piecewise_uniform, iron_sampled
from .priors import check_prior

__all__ = ["VirtualValue", "check_prior"]

#: Uniform quantile grid size of the sampled ironing (tails and refinement added).
GRID_SIZE = 4097
#: Tables kept per process (least recently used ones are dropped).
CACHE_SIZE = 256
#: Virtual values within this (relative to ``max(|level|, median value)``) of a flat's
#: level are set to it: the flat's *band*. No bid then has a coefficient that an
#: allocation solver's tolerance (1e-12 for brute force and the parametric solver,
#: ~1e-10 for the LP certificate and the MIP gap) could confuse with the flat's
#: level, and envelope kinks within the band are that flat's tie
#: (``payments.kink_jumps``), consistently with the table, which has no value there.
FLAT_BAND_RTOL = 1e-6

# table, regular, exact, band scale, levels of the flats that iron, prior
_Entry = tuple[MonotoneTable, bool, bool, float, frozenset[float], Any]
_CACHE: OrderedDict[Any, _Entry] = OrderedDict()


def _piecewise_uniform(prior: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Bin edges and masses of a histogram or uniform prior (else ``None``)."""
    from scipy import stats  # lazy: scipy.stats costs ~0.5 s at import

    dist = getattr(prior, "dist", prior)
    args, kwds = (getattr(prior, "args", ()), getattr(prior, "kwds", {}))
    if dist is prior:
        args, kwds = (), {}
    if isinstance(dist, stats.rv_histogram):
        bins = getattr(dist, "_hbins", None)
        if bins is None:  # pragma: no cover - older/newer scipy layouts
            bins = dist._histogram[1]
        _, loc, scale = dist._parse_args(*args, **kwds)
        edges = float(loc) + float(scale) * np.asarray(bins, dtype=np.float64)
    elif isinstance(dist, type(stats.uniform)):
        _, loc, scale = dist._parse_args(*args, **kwds)
        edges = np.array([float(loc), float(loc) + float(scale)])
    else:
        return None
    cdf = np.asarray(prior.cdf(edges), dtype=np.float64)
    masses = np.maximum(np.diff(cdf), 0.0)
    if not (np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0) and masses.sum() > 0):
        return None
    return edges, masses


def _cache_key(prior: Any, grid_size: int, pw: tuple[NDArray[np.float64], ...] | None
               ) -> Any:
    if pw is not None:
        return ("piecewise", pw[0].tobytes(), pw[1].tobytes())
    dist = getattr(prior, "dist", None)
    if dist is not None and type(dist).__module__.startswith("scipy.stats"):
        try:
            key = ("scipy", type(dist).__qualname__, getattr(dist, "name", ""),
                   tuple(prior.args), tuple(sorted(prior.kwds.items())), grid_size)
            hash(key)
            return key
        except (AttributeError, TypeError):
            pass
    return ("object", id(prior), grid_size)  # the entry pins the prior: ids stay unique


def _irons(prior: Any, table: MonotoneTable, level: float, lo: float, hi: float) -> bool:
    """Whether ``phibar`` differs from ``phi`` on the flat ``[lo, hi)`` (not round-off)."""
    inside = (table.x >= lo) & (table.x < hi)
    mid = np.array([0.5 * (lo + hi)])
    with np.errstate(all="ignore"):
        pdf = np.asarray(prior.pdf(mid), dtype=float)
        sf = np.asarray(prior.sf(mid), dtype=float)
        at_mid = np.where(pdf > 0, mid - sf / pdf, np.where(sf <= 0, mid, -np.inf))
    raw = np.concatenate((table.raw[inside] if table.raw is not None else [], at_mid))
    span = float(table.x[-1] - table.x[0]) if table.x.size > 1 else 1.0
    tol = IRON_RTOL * max(abs(level), span, 1e-300)
    return bool(np.any(~(np.abs(raw - level) <= tol)))


def _table(prior: Any, grid_size: int) -> _Entry:
    """The ironed table of ``prior`` (cached per process)."""
    pw = _piecewise_uniform(prior)
    key = _cache_key(prior, grid_size, pw)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    if pw is not None:
        table, regular = iron_piecewise_uniform(*pw)
    else:
        table, regular = iron_sampled(prior, grid_size)
    levels, lo, hi = table.flats()
    scale = 1.0
    irons = frozenset(float(lev) for lev, a, b in zip(levels, lo, hi, strict=True)
                      if _irons(prior, table, float(lev), float(a), float(b)))
    if levels.size:
        median = float(np.asarray(prior.ppf(0.5), dtype=float))
        scale = abs(median) if np.isfinite(median) else float(table.x[-1] - table.x[0])
        table = table.widen_flats(FLAT_BAND_RTOL * np.maximum(np.abs(levels), scale))
    entry = (table, regular and not irons, pw is not None, scale, irons, prior)
    _CACHE[key] = entry
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return entry


@dataclass(frozen=True, eq=False)
class VirtualValue:
    """The ironed virtual-value function ``phibar`` of one prior.

    Parameters
    ----------
    prior : frozen scipy.stats continuous distribution
        Validated by :func:`aigc_auction.priors.check_prior`.
    grid_size : int, default 4097
        Uniform quantile grid of the sampled ironing (unused for histogram and
        uniform priors, which are ironed exactly).

    Attributes
    ----------
    regular : bool
        Whether no ironing was needed (``phibar == phi``).
    ironed : tuple of (float, float, float)
        The ironed intervals ``(v_low, v_high, level)``: ``phibar(v) == level`` for
        every float ``v_low <= v <= v_high``, and ``phibar`` differs from ``phi``
        there.
    exact : bool
        Whether ``phibar`` is exact (histogram and uniform priors) rather than
        computed from quantile samples.

    Notes
    -----
    ``phibar`` is stored as an explicitly non-decreasing piecewise-linear table
    (:class:`aigc_auction.ironing.MonotoneTable`): evaluation, thresholds and the
    flats used by the tie rule all come from it, so the allocation rule and the
    payments describe the same monotone function whatever the prior. Sampling
    can only make ironing approximate (a revenue loss), never the mechanism
    manipulable.

    Examples
    --------
    >>> from scipy import stats
    >>> vv = VirtualValue(stats.uniform(0, 1))
    >>> vv.regular, float(vv(0.75)), float(vv.reserve())
    (True, 0.5, 0.5)
    >>> gap = stats.rv_histogram(([0.6, 0.0, 0.4], [0.0, 1.0, 2.0, 3.0]), density=False)
    >>> vv = VirtualValue(gap)
    >>> vv.regular, vv.exact, float(vv.reserve())
    (False, True, 2.0)
    """

    prior: Any
    grid_size: int = GRID_SIZE
    regular: bool = field(init=False)
    ironed: tuple[tuple[float, float, float], ...] = field(init=False)
    exact: bool = field(init=False)
    _table: MonotoneTable = field(init=False, repr=False)
    _flats: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] = field(
        init=False, repr=False)
    _bands: NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_prior(self.prior)
        if isinstance(self.grid_size, bool) or not isinstance(self.grid_size, (int, np.integer)):
            raise TypeError(f"`grid_size` must be an int; got {type(self.grid_size).__name__}")
        if self.grid_size < 3:
            raise ValueError(f"`grid_size` must be >= 3; got {self.grid_size}")
        table, regular, exact, scale, irons, _ = _table(self.prior, int(self.grid_size))
        levels, z_lo, z_hi = table.flats()
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_flats", (levels, z_lo, z_hi))
        object.__setattr__(self, "_bands", FLAT_BAND_RTOL * np.maximum(np.abs(levels), scale))
        object.__setattr__(self, "exact", exact)
        ironed = tuple(
            (float(lo), float(np.nextafter(hi, -np.inf)), float(lev))
            for lev, lo, hi in zip(levels, z_lo, z_hi, strict=True)
            if float(lev) in irons
        )
        object.__setattr__(self, "ironed", ironed)
        object.__setattr__(self, "regular", bool(regular and not ironed))

    def raw(self, v: ArrayLike) -> NDArray[np.float64]:
        """Un-ironed virtual value ``v - sf(v) / pdf(v)`` (scipy calls; diagnostics)."""
        v = np.asarray(v, dtype=float)
        pdf = np.asarray(self.prior.pdf(v), dtype=float)
        sf = np.asarray(self.prior.sf(v), dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = v - sf / pdf
        out = np.where(pdf > 0, out, np.where(sf <= 0, v, -np.inf))
        return np.asarray(out, dtype=float)

    def __call__(self, v: ArrayLike) -> NDArray[np.float64]:
        """Ironed virtual value ``phibar(v)``, non-decreasing in ``v`` (any shape)."""
        return self._table(v)

    def reserve(self) -> float:
        """The monopoly reserve ``inf {v : phibar(v) >= 0}``."""
        return self.threshold(0.0, inclusive=True)

    def threshold(self, level: float, *, inclusive: bool) -> float:
        """The smallest value whose virtual value reaches ``level``.

        ``inf {v >= 0 : phibar(v) >= level}`` (``inclusive``) or
        ``inf {v >= 0 : phibar(v) > level}``; the scalar form of :meth:`thresholds`.
        ``inf`` if no value reaches it.
        """
        return float(self.thresholds(np.array([float(level)]), inclusive=inclusive)[0])

    def thresholds(self, levels: ArrayLike, *, inclusive: bool) -> NDArray[np.float64]:
        """The smallest values whose virtual values reach ``levels`` (vectorised).

        The smallest float ``z >= 0`` with ``phibar(z) >= level`` (``inclusive``)
        or ``phibar(z) > level``, exactly: ``phibar`` evaluated at ``z`` reaches the
        level and at the float just below ``z`` it does not. ``inf`` where no value
        reaches the level.

        Examples
        --------
        >>> from scipy import stats
        >>> vv = VirtualValue(stats.uniform(0, 1))
        >>> vv.thresholds(np.array([0.0, 0.5]), inclusive=True).round(12).tolist()
        [0.5, 0.75]
        """
        return self._table.inverse(levels, strict=not inclusive)

    @property
    def flats(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Every interval on which ``phibar`` is constant: ``(level, z_lo, z_hi)``.

        ``phibar(v) == level`` exactly for ``z_lo <= v < z_hi``; sorted by level.
        Besides :attr:`ironed` this includes flats of negligible extent or
        difference from ``phi``; bids on one flat tie in virtual value, which is
        what the tie rule of :class:`~aigc_auction.Myerson` looks at.
        """
        return self._flats

    def flat_index(self, levels: ArrayLike, atol: ArrayLike = 0.0) -> NDArray[np.int64]:
        """Index into :attr:`flats` of the flat whose level is near each of ``levels``.

        Near: within the flat's band (``FLAT_BAND_RTOL``) or ``atol``, whichever is
        larger; ``-1`` where no flat is. Vectorised over ``levels`` (and ``atol``,
        broadcast); the nearest flat wins.
        """
        c = np.asarray(levels, dtype=np.float64)
        tol = np.broadcast_to(np.asarray(atol, dtype=np.float64), c.shape)
        lev = self._flats[0]
        if lev.size == 0:
            return np.full(c.shape, -1, dtype=np.int64)
        j = np.clip(np.searchsorted(lev, c), 1, lev.size) if lev.size > 1 else np.ones(
            c.shape, dtype=np.int64)
        below = np.clip(j - 1, 0, lev.size - 1)
        above = np.clip(j, 0, lev.size - 1)
        near = np.where(np.abs(lev[above] - c) < np.abs(lev[below] - c), above, below)
        ok = np.abs(lev[near] - c) <= np.maximum(tol, self._bands[near])
        return np.where(ok, near, -1).astype(np.int64)

    @property
    def table(self) -> MonotoneTable:
        """The monotone table that represents ``phibar``."""
        return self._table

    def get_params(self) -> dict[str, Any]:
        return {"prior": self.prior, "grid_size": self.grid_size}
