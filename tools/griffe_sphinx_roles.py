"""Griffe extension: Sphinx cross-reference roles in numpydoc docstrings -> mkdocstrings links.

The package's docstrings use Sphinx roles (``:func:`run_sweep```,
``:class:`~aigc_auction.Instance```, ``:mod:`.pairs```), as numpydoc
docstrings do. mkdocstrings renders Markdown, so this extension rewrites each
role into a cross-reference to the object it names, resolved the way Sphinx
resolves it: absolute path, member of the current class, sibling in the
current module, module-relative (leading dot), or a name exported by
``aigc_auction``. A role that resolves to nothing is a broken reference: it is
logged as a warning, so ``mkdocs build --strict`` fails. References to other
projects (``numpy.random.default_rng``, ``matplotlib...``) are shown as code.
"""

from __future__ import annotations

import builtins
import logging
import re
from typing import Any

import griffe

_LOG = logging.getLogger("mkdocs.plugins.aigc_auction.roles")
_ROLE = re.compile(r":(?:py:)?(func|class|meth|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")
_EXPLICIT = re.compile(r"(.+?)\s*<([^<>]+)>")
_EXTERNAL = ("numpy", "scipy", "pandas", "matplotlib", "pulp", "dask", "distributed",
             "concurrent", "typing", "collections", "pathlib", "os", "sys", "tqdm",
             "pyarrow", "networkx", "highspy", "types", "enum", "dataclasses", "abc")


def _lookup(root: griffe.Module, path: str) -> griffe.Object | griffe.Alias | None:
    if path == root.path:
        return root
    if not path.startswith(root.path + "."):
        return None
    try:
        return root[path[len(root.path) + 1:]]
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _candidates(obj: griffe.Object, target: str, root: griffe.Module) -> list[str]:
    module = obj.module
    if target.startswith("."):
        base = module.path if module.is_init_module or not module.parent else module.parent.path
        rel = target.lstrip(".")
        ups = len(target) - len(rel) - 1
        parts = base.split(".")
        if ups:
            parts = parts[:-ups]
        return [".".join([*parts, rel]), f"{module.path}.{rel}"]
    out = [target]
    scope: Any = obj
    while scope is not None:
        out.append(f"{scope.path}.{target}")
        scope = scope.parent
    out.append(f"{root.path}.{target}")
    return out


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg, pkg)

    def _walk(self, obj: griffe.Object, root: griffe.Module) -> None:
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = _ROLE.sub(lambda m: self._link(obj, root, m),
                                            obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias and member.path.startswith(root.path):
                self._walk(member, root)  # type: ignore[arg-type]

    def _link(self, obj: griffe.Object, root: griffe.Module, match: re.Match[str]) -> str:
        short, target = match[2] == "~", match[3].strip()
        title = None
        if explicit := _EXPLICIT.fullmatch(target):  # :role:`title <target>`
            title, target = explicit[1].strip(), explicit[2].strip()
        shown = title or (target.rsplit(".", 1)[-1] if short else target.lstrip("."))
        head = target.split(".")[0]
        if head in _EXTERNAL or (target == head and hasattr(builtins, head)):
            return f"`{shown}`"
        for path in _candidates(obj, target, root):
            found = _lookup(root, path)
            if found is not None:
                ident = found.path
                return f'<autoref identifier="{ident}" optional><code>{shown}</code></autoref>'
        _LOG.warning("%s: unresolved reference %s in the docstring of %s",
                     obj.relative_filepath, match[0], obj.path)
        return f"`{shown}`"
