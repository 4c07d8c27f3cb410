"""Example sweep configs shipped with the package.

The TOML files of this folder are the configs of the experiments
(``experiments/configs/*.toml`` in the source tree links to them) and of the
smoke sweep that ``aigc-auction demo`` runs. They are package data, so an
installed wheel has them too: pass ``example_config(name)`` to
:func:`aigc_auction.sweep.load_config` or to ``aigc-auction sweep``.

Examples
--------
>>> from aigc_auction.data import example_config, example_configs
>>> example_configs()
['a_mechanisms', 'b_separability', 'c_misspecification', 'd_cascade_approx',
 'e_design_from_fit', 'f_formats', 'smoke']
>>> example_config("smoke").name
'smoke.toml'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["example_config", "example_configs"]

_HERE = Path(__file__).resolve().parent


def example_configs() -> list[str]:
    """Names of the shipped example configs, sorted.

    Returns
    -------
    list of str
        Names without the ``.toml`` suffix.
    """
    return sorted(p.stem for p in _HERE.glob("*.toml"))


def example_config(name: str) -> Path:
    """Path of a shipped example config, for ``load_config`` or ``aigc-auction sweep``.

    Parameters
    ----------
    name : str
        One of :func:`example_configs` (``"smoke"``, ``"a_mechanisms"``, ...),
        with or without the ``.toml`` suffix.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If no shipped config has that name.

    Examples
    --------
    >>> from aigc_auction.data import example_config
    >>> example_config("nope")
    Traceback (most recent call last):
    ...
    ValueError: `name` must be one of ['a_mechanisms', 'b_separability', \
'c_misspecification', 'd_cascade_approx', 'e_design_from_fit', 'f_formats', 'smoke']; got 'nope'
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a config name (str); got {type(name).__name__}")
    stem = name.removesuffix(".toml")
    path = _HERE / f"{stem}.toml"
    if stem not in example_configs() or not path.is_file():
        raise ValueError(f"`name` must be one of {example_configs()}; got {name!r}")
    return path
