"""Random markets: click-through-rate matrices and value priors.

Three CTR generators, from the textbook case to the one the paper is about:

* :func:`uniform_ctr` -- i.i.d. uniform entries, no structure at all;
* :func:`separable_ctr` -- the classic position-auction model
  ``p[i, j] = alpha_i * beta_j`` (Varian 2007; Edelman, Ostrovsky & Schwarz 2007):
  an ad quality times a position effect, so every position ranks the ads the same way;
* :func:`lowrank_ctr` -- a low-rank *context* model: creative embeddings ``u_i`` and
  position (context) embeddings ``v_j`` in ``R^rank`` through a logistic link,
  ``p[i, j] = expit(bias + scale * u_i . v_j / sqrt(rank) - position_slope * j)``.
  Each position's surrounding text favours different creatives, which is the
  non-separable case an LLM's CTR estimates produce.

All generators keep every entry strictly below 1, so their instances are valid
under the MNL model too (its weight ``p / (1 - p)`` is infinite at 1), and all take
a keyword-only ``rng`` (``None``, an int, a ``SeedSequence`` or a ``Generator``).

:func:`value_prior` builds a frozen ``scipy.stats`` prior (uniform, lognormal,
exponential, ...) from a name and parameters, and :func:`draw_values` draws
per-click values from it. The registry :data:`CTR_GENERATORS` maps the short names
used by sweep configs (``"uniform"``, ``"separable"``, ``"lowrank"``) to the
functions; :func:`generate_ctr` dispatches on it.

Examples
--------
>>> from aigc_auction import generators as gen
>>> p = gen.lowrank_ctr(4, 3, rng=0)
>>> p.shape, bool(((p > 0) & (p < 1)).all())
((4, 3), True)
>>> prior = gen.value_prior("lognorm", shape=0.5)
>>> gen.draw_values(prior, 3, rng=0).shape
(3,)
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._validation import check_cells, check_int, check_rng
from .priors import check_prior

__all__ = [
    "CTR_GENERATORS",
    "PRIORS",
    "draw_values",
    "generate_ctr",
    "generator_params",
    "lowrank_ctr",
    "separable_ctr",
    "uniform_ctr",
    "value_prior",
]

#: Largest CTR a generator returns (keeps MNL weights finite).
CTR_CEILING = 1.0 - 1e-9


def _check_real(value: Any, name: str, *, low: float | None = None,
                high: float | None = None, low_open: bool = False,
                high_open: bool = False) -> float:
    """``value`` as a float in the given (half-)open or closed range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    if low is not None:
        bad = bad or (v <= low if low_open else v < low)
    if high is not None:
        bad = bad or (v >= high if high_open else v > high)
    if bad:
        lo = "-inf" if low is None else repr(float(low))
        hi = "inf" if high is None else repr(float(high))
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        raise ValueError(
            f"`{name}` must be a finite number in {left}{lo}, {hi}{right}; "
            f"got {value!r}"
        )
    return v


def _check_shape(n_advertisers: Any, n_positions: Any) -> tuple[int, int]:
    n = check_int(n_advertisers, "n_advertisers", low=1)
    m = check_int(n_positions, "n_positions", low=1)
    check_cells(n * m, f"a CTR matrix of {n:,} x {m:,} (`n_advertisers` x `n_positions`)")
    return n, m


def uniform_ctr(
    n_advertisers: int,
    n_positions: int,
    *,
    low: float = 0.0,
    high: float = 0.5,
    rng: Any = None,
) -> NDArray[np.float64]:
    """I.i.d. uniform click-through rates ``p[i, j] ~ U[low, high)``.

    The structureless baseline: no advertiser is better everywhere, no position
    is better for everyone.

    Parameters
    ----------
    n_advertisers, n_positions : int
        Shape of the matrix (at least 1 each).
    low, high : float, default 0.0 and 0.5
        Range of the entries, ``0 <= low <= high < 1``.
    rng : None, int, SeedSequence or Generator, keyword-only

    Returns
    -------
    ndarray of shape (n_advertisers, n_positions)

    Examples
    --------
    >>> from aigc_auction.generators import uniform_ctr
    >>> p = uniform_ctr(3, 2, low=0.1, high=0.2, rng=1)
    >>> p.shape, bool((p >= 0.1).all() and (p < 0.2).all())
    ((3, 2), True)
    >>> uniform_ctr(3, 2, high=1.0)
    Traceback (most recent call last):
    ...
    ValueError: `high` must be a finite number in [0.0, 1.0); got 1.0
    """
    n, m = _check_shape(n_advertisers, n_positions)
    lo = _check_real(low, "low", low=0.0, high=1.0, high_open=True)
    hi = _check_real(high, "high", low=0.0, high=1.0, high_open=True)
    if hi < lo:
        raise ValueError(f"`high` must be >= `low` ({lo!r}); got {hi!r}")
    g = check_rng(rng)
    return np.minimum(g.uniform(lo, hi, size=(n, m)), CTR_CEILING)


def separable_ctr(
    n_advertisers: int,
    n_positions: int,
    *,
    ctr_max: float = 0.5,
    quality_low: float = 0.2,
    decay: float = 0.7,
    rng: Any = None,
) -> NDArray[np.float64]:
    """Separable CTRs ``p[i, j] = alpha_i * beta_j`` (the classic position auction).

    Ad qualities ``alpha_i ~ U[quality_low, 1)`` and geometrically decaying
    position effects ``beta_j = ctr_max * decay**j``: position 0 is the best for
    every ad, and every position ranks the ads the same way.

    Parameters
    ----------
    n_advertisers, n_positions : int
    ctr_max : float, default 0.5
        ``beta_0``, the CTR of a perfect ad at the best position, in ``(0, 1)``.
    quality_low : float, default 0.2
        Lower end of the ad qualities, in ``[0, 1)``.
    decay : float, default 0.7
        Ratio between consecutive position effects, in ``(0, 1]``.
    rng : None, int, SeedSequence or Generator, keyword-only

    Returns
    -------
    ndarray of shape (n_advertisers, n_positions)
        A rank-1 matrix with entries in ``[0, ctr_max)``.

    Notes
    -----
    Varian (2007) and Edelman, Ostrovsky & Schwarz (2007) study exactly this
    model; with no externalities the VCG prices have a closed form (see
    ``docs/model.md``).

    Examples
    --------
    >>> import numpy as np
    >>> from aigc_auction.generators import separable_ctr
    >>> p = separable_ctr(3, 3, ctr_max=0.4, decay=0.5, rng=0)
    >>> int(np.linalg.matrix_rank(p))
    1
    >>> bool(np.allclose(p[:, 1] / p[:, 0], 0.5))
    True
    """
    n, m = _check_shape(n_advertisers, n_positions)
    top = _check_real(
        ctr_max, "ctr_max", low=0.0, high=1.0, low_open=True, high_open=True
    )
    ql = _check_real(quality_low, "quality_low", low=0.0, high=1.0, high_open=True)
    d = _check_real(decay, "decay", low=0.0, high=1.0, low_open=True)
    g = check_rng(rng)
    alpha = g.uniform(ql, 1.0, size=n)
    beta = top * d ** np.arange(m)
    return np.minimum(np.outer(alpha, beta), CTR_CEILING)


def lowrank_ctr(
    n_advertisers: int,
    n_positions: int,
    *,
    rank: int = 2,
    bias: float = -1.5,
    scale: float = 1.0,
    position_slope: float = 0.0,
    rng: Any = None,
) -> NDArray[np.float64]:
    """Context-dependent CTRs from creative and position embeddings.

    ``u_i, v_j ~ N(0, I_rank)`` and

    .. math:: p_{ij} = \\operatorname{expit}\\big(b + s\\, u_i^\\top v_j / \\sqrt{r}
              - \\delta j\\big),

    so each position's context favours the creatives whose embedding points its
    way. With ``scale = 0`` it degenerates to a position-only model.

    Parameters
    ----------
    n_advertisers, n_positions : int
    rank : int, default 2
        Embedding dimension ``r`` (at least 1).
    bias : float, default -1.5
        Logit offset ``b``; ``expit(-1.5) ~ 0.18`` is the typical CTR.
    scale : float, default 1.0
        Strength ``s >= 0`` of the creative-context interaction.
    position_slope : float, default 0.0
        ``delta >= 0``: logit lost per position (later positions are read less).
    rng : None, int, SeedSequence or Generator, keyword-only

    Returns
    -------
    ndarray of shape (n_advertisers, n_positions)
        Entries in ``(0, 1)`` (logits are clipped to ``[-30, 30]``).

    Notes
    -----
    The logistic link of a bilinear score is the standard latent-factor CTR
    model (e.g. factorization machines; Rendle 2010). Its rank is generically
    ``min(n, m, rank + 1)`` on the logit scale, never 1 on the CTR scale, so the
    separable position auction is misspecified for it.

    Examples
    --------
    >>> from aigc_auction.generators import lowrank_ctr
    >>> p = lowrank_ctr(5, 3, rank=2, scale=2.0, rng=0)
    >>> p.shape, bool((p > 0).all() and (p < 1).all())
    ((5, 3), True)
    >>> lowrank_ctr(5, 3, rank=0)
    Traceback (most recent call last):
    ...
    ValueError: `rank` must be an integer in >= 1; got 0
    """
    try:  # validated once per distinct setting (markets are drawn every round)
        n, m, r, b, s, delta = _lowrank_settings(n_advertisers, n_positions, rank, bias,
                                                 scale, position_slope)
    except TypeError as exc:  # unhashable: validate here (and raise its error)
        if "unhashable" not in str(exc):
            raise
        n, m, r, b, s, delta = _lowrank_settings.__wrapped__(
            n_advertisers, n_positions, rank, bias, scale, position_slope)
    g = check_rng(rng)
    u = g.standard_normal((n, r))
    v = g.standard_normal((m, r))
    logit = b + s * (u @ v.T) / math.sqrt(r) - delta * np.arange(m)
    from scipy import special

    return np.minimum(special.expit(np.clip(logit, -30.0, 30.0)), CTR_CEILING)


@lru_cache(maxsize=64, typed=True)
def _lowrank_settings(n_advertisers: Any, n_positions: Any, rank: Any, bias: Any, scale: Any,
                      position_slope: Any) -> tuple[int, int, int, float, float, float]:
    """:func:`lowrank_ctr`'s validated settings (``typed``: ``2`` and ``2.0`` differ)."""
    n, m = _check_shape(n_advertisers, n_positions)
    r = check_int(rank, "rank", low=1)
    check_cells((n + m) * r, f"embeddings of `rank` {r:,} for {n:,} + {m:,} rows")
    b = _check_real(bias, "bias")
    s = _check_real(scale, "scale", low=0.0)
    delta = _check_real(position_slope, "position_slope", low=0.0)
    return n, m, r, b, s, delta


#: Short names of the CTR generators used by sweep configs.
CTR_GENERATORS: dict[str, Callable[..., NDArray[np.float64]]] = {
    "uniform": uniform_ctr,
    "separable": separable_ctr,
    "lowrank": lowrank_ctr,
}


def generator_params(kind: str) -> dict[str, Any]:
    """The tunable keyword parameters of generator ``kind`` and their defaults.

    Examples
    --------
    >>> from aigc_auction.generators import generator_params
    >>> generator_params("uniform")
    {'low': 0.0, 'high': 0.5}
    """
    return dict(_keyword_params(_generator(kind)))


@cache
def _keyword_params(func: Callable[..., Any]) -> tuple[tuple[str, Any], ...]:
    """``(name, default)`` of ``func``'s keyword-only parameters but ``rng``
    (``inspect.signature`` once per function: markets are drawn every round)."""
    return tuple(
        (name, p.default)
        for name, p in inspect.signature(func).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "rng"
    )


def _generator(kind: Any) -> Callable[..., NDArray[np.float64]]:
    if not isinstance(kind, str):
        raise TypeError(f"`generator` must be a name string; got {kind!r}")
    if kind not in CTR_GENERATORS:
        raise ValueError(
            f"`generator` must be one of {sorted(CTR_GENERATORS)}; got {kind!r}"
        )
    return CTR_GENERATORS[kind]


def generate_ctr(
    kind: str, n_advertisers: int, n_positions: int, *, rng: Any = None, **params: Any
) -> NDArray[np.float64]:
    """Dispatch to a CTR generator by short name.

    Parameters
    ----------
    kind : {"uniform", "separable", "lowrank"}
    n_advertisers, n_positions : int
    rng : None, int, SeedSequence or Generator, keyword-only
    **params
        The generator's keyword parameters (:func:`generator_params`).

    Examples
    --------
    >>> from aigc_auction.generators import generate_ctr
    >>> generate_ctr("separable", 2, 2, ctr_max=0.3, rng=0).max() < 0.3
    np.True_
    >>> generate_ctr("lowrank", 2, 2, depth=3)
    Traceback (most recent call last):
    ...
    ValueError: `depth` is not a parameter of generator 'lowrank'; valid: [...]
    """
    func = _generator(kind)
    valid = generator_params(kind)
    for key in params:
        if key not in valid:
            raise ValueError(
                f"`{key}` is not a parameter of generator {kind!r}; "
                f"valid: {sorted(valid)}"
            )
    return func(n_advertisers, n_positions, rng=rng, **params)


#: Value priors with a short description of their shape parameter (if any).
PRIORS: dict[str, str | None] = {
    "uniform": None,
    "expon": None,
    "lognorm": "s (log-scale standard deviation)",
    "gamma": "a (shape)",
    "weibull_min": "c (shape)",
    "pareto": "b (tail index; b > 1 for a finite mean)",
    "beta": None,
    "halfnorm": None,
}


def value_prior(
    name: str = "uniform",
    *,
    loc: float = 0.0,
    scale: float = 1.0,
    shape: float | None = None,
    shape2: float | None = None,
) -> Any:
    """A frozen ``scipy.stats`` prior of per-click values.

    Parameters
    ----------
    name : str, default "uniform"
        A continuous ``scipy.stats`` distribution whose support is bounded below,
        e.g. ``"uniform"`` (on ``[loc, loc + scale]``), ``"expon"``, ``"lognorm"``,
        ``"gamma"``, ``"pareto"``, ``"beta"`` (see :data:`PRIORS`).
    loc, scale : float, default 0.0 and 1.0
        Location (``>= 0``) and scale (``> 0``) of the distribution.
    shape, shape2 : float, optional
        The distribution's shape parameters in scipy's order (``s`` for
        ``lognorm``, ``a`` for ``gamma``, ``a, b`` for ``beta``, ...).

    Returns
    -------
    frozen scipy.stats distribution

    Raises
    ------
    ValueError
        If ``name`` is not a continuous scipy.stats distribution, the number of
        shape parameters is wrong, or the prior fails
        :func:`aigc_auction.priors.check_prior` (invalid parameters, support
        reaching below 0, non-finite values, a quantile function too slow to use).

    Examples
    --------
    >>> from aigc_auction.generators import value_prior
    >>> value_prior("uniform", scale=2.0).mean()
    np.float64(1.0)
    >>> float(value_prior("lognorm", shape=0.5).median())
    1.0
    >>> value_prior("norm")
    Traceback (most recent call last):
    ...
    ValueError: `prior` must have support bounded below by 0 (...); norm(...) starts at -inf
    >>> value_prior("gamma")
    Traceback (most recent call last):
    ...
    ValueError: `prior` 'gamma' needs 1 shape parameter(s) (a); got 0
    """
    if not isinstance(name, str):
        raise TypeError(
            f"`prior` must be a scipy.stats distribution name; got {name!r}"
        )
    from scipy import stats  # lazy: scipy.stats is most of `import aigc_auction`

    dist = getattr(stats, name, None)
    if not isinstance(dist, stats.rv_continuous):
        raise ValueError(
            f"`prior` must name a continuous scipy.stats distribution such as "
            f"{sorted(PRIORS)}; got {name!r}"
        )
    lo = _check_real(loc, "prior_loc", low=0.0)
    sc = _check_real(scale, "prior_scale", low=0.0, low_open=True)
    shapes = [s.strip() for s in (dist.shapes or "").split(",") if s.strip()]
    given = [_check_real(v, f"prior_shape{'2' if k else ''}")
             for k, v in enumerate((shape, shape2)) if v is not None]
    if shape is None and shape2 is not None:
        raise ValueError("`prior_shape2` needs `prior_shape` too")
    if len(given) != len(shapes):
        raise ValueError(
            f"`prior` {name!r} needs {len(shapes)} shape parameter(s) "
            f"({', '.join(shapes) or 'none'}); got {len(given)}"
        )
    frozen = dist(*given, loc=lo, scale=sc)
    return check_prior(frozen)


def draw_values(prior: Any, n: int, *, rng: Any = None) -> NDArray[np.float64]:
    """Draw ``n`` i.i.d. per-click values from a frozen prior.

    Parameters
    ----------
    prior : frozen scipy.stats distribution
    n : int
    rng : None, int, SeedSequence or Generator, keyword-only

    Returns
    -------
    ndarray of shape (n,)
        Non-negative values (clipped at 0 against round-off).

    Examples
    --------
    >>> from scipy import stats
    >>> from aigc_auction.generators import draw_values
    >>> v = draw_values(stats.uniform(0, 1), 4, rng=0)
    >>> v.shape, bool(((v >= 0) & (v <= 1)).all())
    ((4,), True)
    """
    k = check_int(n, "n", low=1)
    if not callable(getattr(prior, "rvs", None)):
        raise TypeError(
            f"`prior` must be a frozen scipy.stats distribution; got {prior!r}"
        )
    g = check_rng(rng)
    uniform = _uniform_loc_scale(prior)
    if uniform is not None:  # what scipy's uniform draws, without its per-call checks
        vals = g.uniform(0.0, 1.0, k) * uniform[1] + uniform[0]
    else:
        vals = prior.rvs(size=k, random_state=g)
    return np.maximum(np.asarray(vals, dtype=float), 0.0)


def _uniform_loc_scale(prior: Any) -> tuple[float, float] | None:
    """``(loc, scale)`` of a frozen ``scipy.stats.uniform`` whose draws this module
    reproduces bit for bit (checked once per setting), else ``None``."""
    dist = getattr(prior, "dist", None)
    if type(dist).__name__ != "uniform_gen" or getattr(prior, "args", None) != ():
        return None
    kwds = getattr(prior, "kwds", None)
    if not isinstance(kwds, dict) or not set(kwds) <= {"loc", "scale"}:
        return None
    loc, scale = kwds.get("loc", 0.0), kwds.get("scale", 1.0)
    if not all(type(x) is float for x in (loc, scale)):
        return None
    return (loc, scale) if _uniform_reproduced(loc, scale) else None


@cache
def _uniform_reproduced(loc: float, scale: float) -> bool:
    """Whether ``uniform(0, 1) * scale + loc`` is what SciPy's frozen uniform
    draws from the same generator (values and generator state afterwards)."""
    from scipy import stats

    if not (math.isfinite(loc) and math.isfinite(scale) and scale > 0):
        return False
    ours, theirs = np.random.default_rng(20240229), np.random.default_rng(20240229)
    a = ours.uniform(0.0, 1.0, 9) * scale + loc
    b = np.asarray(stats.uniform(loc=loc, scale=scale).rvs(size=9, random_state=theirs))
    return bool(np.array_equal(a, b) and ours.random() == theirs.random())
