"""Imports of optional (and core) third-party packages with one clear message.

The core install (``pip install aigc_auction``) carries what the engine itself
imports; figures, Dask clusters and the compiled repeated-auction rounds come
with extras (``[plot]``, ``[distributed]``, ``[fast]``, or ``[all]``). Every
import of a package that may be missing goes through :func:`require`, so a
missing package fails with one sentence that names the extra (or the core
install) to fix it, never with a bare ``ModuleNotFoundError`` from deep inside.

Examples
--------
>>> from aigc_auction._optional import require
>>> require("numpy").__name__
'numpy'
>>> require("no_such_module_xyz", extra="plot", purpose="figures")
Traceback (most recent call last):
...
aigc_auction._optional.MissingDependencyError: `no_such_module_xyz` is needed \
for figures but is not installed; install it with \
`pip install 'aigc_auction[plot]'` (or `[all]`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingDependencyError", "require"]

#: The optional extras and the packages each one installs.
EXTRAS: dict[str, tuple[str, ...]] = {
    "plot": ("matplotlib",),
    "distributed": ("dask", "distributed"),
    "fast": ("numba",),
}


class MissingDependencyError(ImportError):
    """A package needed for the requested feature is not installed.

    A subclass of :class:`ImportError`, so ``except ImportError`` still works;
    the message names the extra (or the core install) that provides it.
    """


def _advice(package: str, extra: str | None) -> str:
    if extra is None:
        return (f"it is a core dependency of aigc_auction: reinstall with "
                f"`pip install aigc_auction` (or `pip install {package}`)")
    return f"install it with `pip install 'aigc_auction[{extra}]'` (or `[all]`)"


def require(
    module: str, *, extra: str | None = None, purpose: str | None = None,
    package: str | None = None,
) -> ModuleType:
    """Import ``module`` or raise one sentence naming what to install.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"matplotlib.pyplot"`` or ``"pulp"``.
    extra : str, optional
        The extra of aigc_auction that installs it (``"plot"``,
        ``"distributed"``); ``None`` for a core dependency.
    purpose : str, optional
        What needs it (``"figures"``, ``"the Dask backend"``), completing
        "is needed for ..."; default ``"this feature"``.
    package : str, optional
        The distribution to install when it differs from the top-level module.

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    MissingDependencyError
        If the top-level package is not installed. An ``ImportError`` raised
        *inside* an installed package (a broken install) propagates unchanged.
    ValueError
        If ``extra`` is not an extra of aigc_auction.
    """
    if extra is not None and extra not in EXTRAS:
        raise ValueError(f"`extra` must be one of {sorted(EXTRAS)} or None; got {extra!r}")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise
        dist = package or top
        raise MissingDependencyError(
            f"`{dist}` is needed for {purpose or 'this feature'} but is not installed; "
            f"{_advice(dist, extra)}.", name=top,
        ) from None
