"""Value priors: the one validation used by the Python API, the CLI and sweeps.

A *prior* is a frozen ``scipy.stats`` continuous distribution (or any object with
``pdf``, ``cdf``, ``sf`` and ``ppf`` methods) describing an advertiser's per-click
value. :class:`~aigc_auction.Myerson`, :class:`~aigc_auction.VirtualValue`,
:func:`~aigc_auction.generators.value_prior` and the sweep configs all call
:func:`check_prior`, so a prior accepted by one is accepted by all:

* scipy parameters are valid: finite ``loc``, ``scale > 0``, shape parameters
  accepted by the distribution (``stats.gamma(-1)`` and ``stats.uniform(0.5, 0)``
  are refused instead of silently returning NaN);
* the support is bounded below by 0 (values are non-negative): ``stats.norm(0, 1)``
  is refused;
* ``ppf``, ``pdf``, ``cdf`` and ``sf`` return finite numbers of the right kind on
  a probe of quantiles (``ppf`` non-decreasing, ``pdf >= 0``, ``cdf`` and ``sf``
  in ``[0, 1]``);
* the quantile function is fast enough: ironing evaluates it on a grid of
  :data:`~aigc_auction.virtual_values.GRID_SIZE` quantiles, and a prior whose
  projected cost exceeds :data:`PRIOR_TIME_LIMIT` seconds is refused with a clear
  message (e.g. ``studentized_range``, whose ``ppf`` is a numerical integral
  inverted by root finding) instead of running silently for minutes.

:func:`prior_from_spec` builds priors from the plain specifications used in
files (a name, a table of parameters, or a list of them, one per advertiser).

Examples
--------
>>> from scipy import stats
>>> from aigc_auction.priors import check_prior
>>> check_prior(stats.expon(scale=2)).mean()
np.float64(2.0)
>>> check_prior(stats.gamma(-1))
Traceback (most recent call last):
...
ValueError: `prior` gamma(-1, loc=0, scale=1) has invalid shape parameters (-1,)
>>> check_prior(stats.norm(0, 1))
Traceback (most recent call last):
...
ValueError: `prior` must have support bounded below by 0 (...); norm(loc=0, scale=1) starts at -inf
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["PRIOR_TIME_LIMIT", "check_prior", "prior_from_spec"]

#: Largest projected time (seconds) of the quantile-grid evaluation that ironing
#: needs; slower priors are refused by :func:`check_prior`.
PRIOR_TIME_LIMIT = 20.0

#: Quantiles probed by :func:`check_prior`.
_PROBE = np.array([1e-3, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999])
#: Evaluations that ironing needs (quantile grid; ppf, pdf and sf at each point).
_GRID = 4097


def _fmt(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return repr(x)
    return f"{v:g}"


def _describe(prior: Any) -> str:
    """A short label such as ``gamma(2, loc=0, scale=1)`` (or the type name)."""
    dist: Any = getattr(prior, "dist", None)
    name = getattr(dist, "name", None)
    if not isinstance(name, str):
        return type(prior).__name__
    try:
        shapes, loc, scale = dist._parse_args(*prior.args, **prior.kwds)
    except Exception:  # only a label
        return f"{name}(...)"
    parts = [_fmt(s) for s in shapes] + [f"loc={_fmt(loc)}", f"scale={_fmt(scale)}"]
    return f"{name}({', '.join(parts)})"


def _check_scipy_params(prior: Any, name: str, label: str) -> None:
    dist = getattr(prior, "dist", None)
    parse = getattr(dist, "_parse_args", None)
    argcheck = getattr(dist, "_argcheck", None)
    if not (callable(parse) and callable(argcheck) and hasattr(prior, "args")):
        return
    try:
        shapes, loc, scale = parse(*prior.args, **getattr(prior, "kwds", {}))
        shape_vals = [float(s) for s in shapes]
        loc_v, scale_v = float(loc), float(scale)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` {label} has invalid parameters: {exc}") from None
    if not (math.isfinite(loc_v) and math.isfinite(scale_v)):
        raise ValueError(f"`{name}` {label} must have a finite loc and scale")
    if scale_v <= 0:
        raise ValueError(f"`{name}` {label} must have scale > 0; got {scale_v:g}")
    ok = not any(math.isnan(s) for s in shape_vals)  # inf is valid for some (truncnorm)
    if ok:
        try:
            ok = bool(np.all(argcheck(*[np.asarray(s) for s in shape_vals])))
        except Exception:  # scipy internals: treat as invalid
            ok = False
    if not ok:
        raise ValueError(
            f"`{name}` {label} has invalid shape parameters "
            f"({', '.join(_fmt(s) for s in shape_vals)},)"
        )


def _evaluate(prior: Any, method: str, x: Any, name: str, label: str) -> np.ndarray:
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(getattr(prior, method)(x), dtype=float)
    except Exception as exc:  # report what the prior did
        raise ValueError(
            f"`{name}` {label}: {method}() raised {type(exc).__name__}: {exc}"
        ) from None
    if out.shape != np.shape(x):
        raise ValueError(f"`{name}` {label}: {method}() must return one number per "
                         f"point; got shape {out.shape} for {np.shape(x)} points")
    return out


def check_prior(prior: Any, name: str = "prior") -> Any:
    """Check that ``prior`` is a usable value distribution and return it.

    Parameters
    ----------
    prior : frozen scipy.stats continuous distribution or similar
        Any object with ``pdf``, ``cdf``, ``sf`` and ``ppf`` methods.
    name : str, default "prior"
        The parameter name used in error messages (e.g. ``"prior[2]"``).

    Returns
    -------
    The same object.

    Raises
    ------
    TypeError
        If a method is missing.
    ValueError
        If the parameters are invalid, the support reaches below 0, a method
        returns non-finite or inconsistent numbers, or the quantile function is
        too slow (projected over :data:`PRIOR_TIME_LIMIT` seconds for ironing).

    Examples
    --------
    >>> from scipy import stats
    >>> from aigc_auction.priors import check_prior
    >>> check_prior(stats.uniform(0.5, 0))
    Traceback (most recent call last):
    ...
    ValueError: `prior` uniform(loc=0.5, scale=0) must have scale > 0; got 0
    """
    missing = [a for a in ("pdf", "sf", "ppf", "cdf") if not callable(getattr(prior, a, None))]
    if missing:
        raise TypeError(
            f"`{name}` must be a frozen scipy.stats continuous distribution with "
            f"pdf, sf, cdf and ppf methods; got {type(prior).__name__} without {missing}"
        )
    label = _describe(prior)
    _check_scipy_params(prior, name, label)
    elapsed = math.inf
    for _ in range(3):  # the fastest of up to three probes: one-off stalls do not count
        start = time.perf_counter()
        lo = float(_evaluate(prior, "ppf", np.array([0.0]), name, label)[0])
        v = _evaluate(prior, "ppf", _PROBE, name, label)
        finite = bool(np.all(np.isfinite(v)))
        pdf = _evaluate(prior, "pdf", v, name, label) if finite else v
        sf = _evaluate(prior, "sf", v, name, label) if finite else v
        cdf = _evaluate(prior, "cdf", v, name, label) if finite else v
        elapsed = min(elapsed, time.perf_counter() - start)
        if not finite or elapsed / (_PROBE.size + 1) * _GRID <= PRIOR_TIME_LIMIT:
            break
    if math.isnan(lo):
        raise ValueError(f"`{name}` {label}: ppf(0) is NaN (invalid parameters?)")
    if lo < 0:
        raise ValueError(
            f"`{name}` must have support bounded below by 0 (values are non-negative); "
            f"{label} starts at {lo:g}"
        )
    if not np.all(np.isfinite(v)) or np.any(np.diff(v) < 0) or np.any(v < lo):
        raise ValueError(
            f"`{name}` {label}: ppf must return finite, non-decreasing values >= ppf(0) "
            f"on (0, 1); got {v.tolist()} at quantiles {_PROBE.tolist()}"
        )
    tol = 1e-9
    bad = [
        meth for meth, arr, ok in (
            ("pdf", pdf, np.all(np.isfinite(pdf) & (pdf >= 0))),
            ("sf", sf, np.all(np.isfinite(sf) & (sf >= -tol) & (sf <= 1 + tol))),
            ("cdf", cdf, np.all(np.isfinite(cdf) & (cdf >= -tol) & (cdf <= 1 + tol))),
        ) if not ok
    ]
    if bad:
        raise ValueError(
            f"`{name}` {label}: {', '.join(bad)} must return finite numbers (pdf >= 0, "
            f"cdf and sf in [0, 1]); got pdf {pdf.tolist()}, sf {sf.tolist()}, "
            f"cdf {cdf.tolist()} at {v.tolist()}"
        )
    projected = elapsed / (_PROBE.size + 1) * _GRID
    if projected > PRIOR_TIME_LIMIT:
        raise ValueError(
            f"`{name}` {label} is too slow to use: its ppf/pdf/sf took "
            f"{1e3 * elapsed / (_PROBE.size + 1):.1f} ms per point, about "
            f"{projected:.0f} s for the {_GRID} quantiles that Myerson's ironing needs "
            f"(limit {PRIOR_TIME_LIMIT:g} s); use a distribution with a closed-form "
            "quantile function"
        )
    return prior


_SPEC_KEYS = {"name": "name", "loc": "loc", "scale": "scale", "shape": "shape",
              "shape2": "shape2", "prior": "name", "prior_loc": "loc",
              "prior_scale": "scale", "prior_shape": "shape", "prior_shape2": "shape2"}


def prior_from_spec(spec: Any, name: str = "prior") -> Any:
    """A prior (or a list of priors, one per advertiser) from a plain specification.

    Parameters
    ----------
    spec : str, mapping, frozen distribution, or a list of these
        A scipy.stats name (``"expon"``); a table with ``name`` and optional
        ``loc``, ``scale``, ``shape``, ``shape2`` (the sweep spellings
        ``prior``, ``prior_loc``, ``prior_scale``, ``prior_shape``,
        ``prior_shape2`` are accepted too); a frozen distribution (checked and
        returned); or a non-empty list of these, one per advertiser.
    name : str, default "prior"
        The parameter name used in error messages.

    Returns
    -------
    frozen distribution or list of them

    Raises
    ------
    TypeError
        For a spec of the wrong type.
    ValueError
        For an unknown key, a key given twice under both spellings, or an invalid
        prior (see :func:`check_prior` and
        :func:`~aigc_auction.generators.value_prior`).

    Examples
    --------
    >>> from aigc_auction.priors import prior_from_spec
    >>> float(prior_from_spec({"name": "lognorm", "shape": 0.5}).median())
    1.0
    >>> [p.dist.name for p in prior_from_spec(["uniform", {"prior": "expon"}])]
    ['uniform', 'expon']
    >>> prior_from_spec({"name": "uniform", "sclae": 2})
    Traceback (most recent call last):
    ...
    ValueError: `prior` has an unknown key 'sclae'; valid: ['loc', 'name', ...]
    """
    from .generators import value_prior

    if isinstance(spec, str):
        return value_prior(spec)
    if isinstance(spec, Mapping):
        params: dict[str, Any] = {}
        for key, value in spec.items():
            if key not in _SPEC_KEYS:
                raise ValueError(
                    f"`{name}` has an unknown key {key!r}; valid: {sorted(_SPEC_KEYS)}"
                )
            target = _SPEC_KEYS[key]
            if target in params:
                raise ValueError(f"`{name}` gives {target!r} twice ({key!r} and its "
                                 "other spelling)")
            params[target] = value
        kind = params.pop("name", "uniform")
        return value_prior(kind, **params)
    if isinstance(spec, Sequence) and not isinstance(spec, bytes):
        if len(spec) == 0:
            raise ValueError(f"`{name}` must be a prior or a non-empty list of priors")
        return [_single(s, f"{name}[{k}]") for k, s in enumerate(spec)]
    if callable(getattr(spec, "ppf", None)):
        return check_prior(spec, name)
    raise TypeError(
        f"`{name}` must be a distribution name, a table {{name, loc, scale, shape, "
        f"shape2}} or a list of them (one per advertiser); got {spec!r}"
    )


def _single(spec: Any, name: str) -> Any:
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        raise TypeError(f"`{name}` must be a distribution name or a table; got {spec!r}")
    try:
        return prior_from_spec(spec, name)
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        if not msg.startswith(f"`{name}`") and msg.startswith("`prior"):
            msg = f"`{name}`: {msg}"
        raise type(exc)(msg) from None
