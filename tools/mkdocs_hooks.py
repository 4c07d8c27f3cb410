"""MkDocs hooks: pages that live outside ``docs/`` and a nav that tolerates new pages.

* ``experiments/README.md`` becomes the page ``experiments/``, with every other
  file of ``experiments/`` (figures, configs, scripts, tables) copied next to it
  (one source of truth: the files in ``experiments/``); its links into
  ``../docs/`` are rewritten to site links.
* ``CHANGELOG.md`` and ``CONTRIBUTING.md`` become ``changelog/`` and
  ``contributing/``.
* One API page per public module of ``aigc_auction`` is generated
  (``api/<module>.md`` with a ``::: aigc_auction.<module>`` directive), so a new
  module is documented without editing anything here.
* Pages of ``docs/`` that ``nav`` in ``mkdocs.yml`` does not list are appended
  under "More" instead of being left out of the navigation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "aigc_auction"
EXPERIMENTS = ROOT / "experiments"

#: Top-level files of the repository published as pages: (source, page).
ROOT_PAGES = {"CHANGELOG.md": "changelog.md", "CONTRIBUTING.md": "contributing.md"}

#: Packages whose submodules are rendered on the package's page.
_API_TITLE = "API (generated from the docstrings)"


def _public_modules() -> list[str]:
    """``aigc_auction`` and its public top-level modules and packages."""
    names = ["aigc_auction"]
    for p in sorted(PACKAGE.iterdir()):
        if p.name.startswith(("_", ".")):
            continue
        if p.is_dir() and (p / "__init__.py").is_file():
            names.append(f"aigc_auction.{p.name}")
        elif p.suffix == ".py":
            names.append(f"aigc_auction.{p.stem}")
    return names


def _api_page(module: str) -> str:
    is_pkg = module == "aigc_auction" or (PACKAGE / module.split(".", 1)[1]).is_dir()
    if module == "aigc_auction":
        body = (
            "The names exported by `import aigc_auction as aa`. Each module has its own "
            "page in this section; [Public names](../reference.md) lists every name on "
            "one page.\n\n::: aigc_auction\n    options:\n      show_submodules: false\n"
        )
    else:
        body = f"::: {module}\n"
        if is_pkg:
            body += "    options:\n      show_submodules: true\n"
    return f"# `{module}`\n\n{body}"


def _nav_uris(nav: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(nav, str):
        out.add(nav)
    elif isinstance(nav, list):
        for item in nav:
            out |= _nav_uris(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            out |= _nav_uris(value)
    return out


def _find_section(nav: list[Any], title: str) -> list[Any] | None:
    for item in nav:
        if isinstance(item, dict):
            for key, value in item.items():
                if key == title and isinstance(value, list):
                    return value
                if isinstance(value, list):
                    found = _find_section(value, title)
                    if found is not None:
                        return found
    return None


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages and files, and complete the nav with them."""
    readme = EXPERIMENTS / "README.md"
    files.append(File.generated(config, "experiments/index.md", abs_src_path=str(readme)))
    for p in sorted(EXPERIMENTS.rglob("*")):  # figures, configs, scripts, tables
        rel = p.relative_to(EXPERIMENTS)
        if (p.is_file() and p != readme and "__pycache__" not in rel.parts
                and not any(part.startswith(".") for part in rel.parts)):
            files.append(File.generated(config, f"experiments/{rel.as_posix()}",
                                        abs_src_path=str(p.resolve())))
    for src, page in ROOT_PAGES.items():
        if (ROOT / src).is_file():
            files.append(File.generated(config, page, abs_src_path=str(ROOT / src)))
    api = []
    for module in _public_modules():
        uri = f"api/{module}.md"
        files.append(File.generated(config, uri, content=_api_page(module)))
        api.append({module.removeprefix("aigc_auction.") if module != "aigc_auction"
                    else "aigc_auction (top level)": uri})

    nav = config["nav"]
    if nav is not None:
        section = _find_section(nav, _API_TITLE)
        if section is not None:
            listed = _nav_uris(section)
            section.extend(item for item in api if next(iter(item.values())) not in listed)
        listed = _nav_uris(nav)
        extra = sorted(f.src_uri for f in files.documentation_pages()
                       if f.src_uri not in listed and not f.src_uri.startswith("api/"))
        if extra:
            nav.append({"More": extra})
    return files


_DOCS_LINK = re.compile(r"\]\((?:\.\./)?docs/")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Rewrite links of pages that come from outside ``docs/``."""
    uri = page.file.src_uri
    if uri == "experiments/index.md":  # folder links have no page on the site
        markdown = re.sub(r"\[([^\]]+)\]\((?:configs|figures)/?\)", r"\1", markdown)
        return markdown.replace("](../docs/", "](../")
    if uri in ROOT_PAGES.values():
        markdown = _DOCS_LINK.sub("](", markdown)
        for src, dest in ROOT_PAGES.items():
            markdown = markdown.replace(f"]({src})", f"]({dest})")
        return markdown.replace("](experiments/README.md)", "](experiments/index.md)")
    return markdown
