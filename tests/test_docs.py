"""The documentation: complete reference, self-contained pages, a strict site build.

`make test` builds the site with ``mkdocs build --strict``; the tests here check
the pieces that make that build strict and tolerant at once, quickly: docstring
cross-references all resolve (and a broken one is reported), every docs page
gets into the navigation, and nothing points outside the repository.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path

import pytest

import aigc_auction as aa

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
TOOLS = REPO / "tools"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_lists_every_public_name() -> None:
    text = (DOCS / "reference.md").read_text()
    missing = [name for name in aa.__all__ if f"`{name}" not in text]
    assert not missing, f"docs/reference.md does not mention {missing}"


def test_reference_documents_the_analysis_helper() -> None:
    from aigc_auction import analysis

    text = (DOCS / "reference.md").read_text()
    missing = [name for name in analysis.__all__ if name not in text]
    assert not missing, f"docs/reference.md does not mention analysis.{missing}"


def test_docs_index_links_exist() -> None:
    text = (DOCS / "index.md").read_text()
    for page in ("tutorial.md", "howto.md", "model.md", "reference.md", "gallery.md"):
        assert page in text
        assert (DOCS / page).exists()


def test_nothing_points_outside_the_repository() -> None:
    """Docs, README, package and experiments stand on their own (no ../shared)."""
    files = [REPO / "README.md", *DOCS.rglob("*.md"), *(REPO / "experiments").rglob("*.md"),
             *(REPO / "experiments").rglob("*.toml"), *(REPO / "aigc_auction").rglob("*.py"),
             *(REPO / "aigc_auction").rglob("*.toml")]
    bad = [str(f.relative_to(REPO)) for f in files if "../shared" in f.read_text()
           or "shared/MODEL.md" in f.read_text()]
    assert not bad, f"these files point outside the repository: {bad}"


def test_gallery_images_exist() -> None:
    text = (DOCS / "gallery.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\((gallery/[^)]+)\)", text)
    assert images
    assert all((DOCS / img).is_file() for img in images)


def test_readme_commands_work_after_make_demo() -> None:
    """`make demo` says how to put aigc-auction on PATH; the README does the same."""
    readme = (REPO / "README.md").read_text()
    first_cli = readme.index("aigc-auction sweep")
    assert "source .venv/bin/activate" in readme[:first_cli]
    makefile = (REPO / "Makefile").read_text()
    demo = makefile[makefile.index("\ndemo:"):].split("\n\n")[0]
    assert "source $(VENV)/bin/activate" in demo


# -- strict and tolerant site build ------------------------------------------------
@pytest.fixture(scope="module")
def roles():
    pytest.importorskip("griffe")
    return _load("griffe_sphinx_roles")


def test_every_docstring_cross_reference_resolves(roles, caplog) -> None:
    import griffe

    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.aigc_auction.roles"):
        pkg = griffe.load("aigc_auction", search_paths=[str(REPO)],
                          extensions=griffe.load_extensions(roles.SphinxRoles))
    unresolved = [r.getMessage() for r in caplog.records]
    assert not unresolved, "\n".join(unresolved)
    # the roles became cross-references to the right objects
    doc = pkg["analysis"].docstring.value
    assert '<autoref identifier="aigc_auction.analysis.own_model" optional>' in doc


def test_a_broken_docstring_reference_is_reported(roles, tmp_path, caplog) -> None:
    import griffe

    pkg_dir = tmp_path / "brokenpkg"
    pkg_dir.mkdir()
    (pkg_dir / "__init__.py").write_text(
        '"""See :func:`helper`, :func:`missing_thing` and :class:`ValueError`."""\n\n'
        "def helper():\n    pass\n")
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.aigc_auction.roles"):
        pkg = griffe.load("brokenpkg", search_paths=[str(tmp_path)],
                          extensions=griffe.load_extensions(roles.SphinxRoles))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "missing_thing" in messages[0]
    assert 'identifier="brokenpkg.helper"' in pkg.docstring.value
    assert "`ValueError`" in pkg.docstring.value


def _config(load_config):
    config = load_config(str(REPO / "mkdocs.yml"))
    config.plugins._current_plugin = None  # as during a build, outside any plugin
    return config


def test_nav_lists_every_page_and_generates_api_pages(tmp_path) -> None:
    pytest.importorskip("mkdocs")
    import yaml
    from mkdocs.config import load_config
    from mkdocs.structure.files import get_files

    hooks = _load("mkdocs_hooks")
    with (REPO / "mkdocs.yml").open() as fh:
        assert yaml.safe_load(fh)["hooks"] == ["tools/mkdocs_hooks.py"]
    config = _config(load_config)
    files = hooks.on_files(get_files(config), config)
    listed = hooks._nav_uris(config["nav"])
    pages = {f.src_uri for f in files.documentation_pages()}
    assert pages <= listed, f"pages missing from the nav: {sorted(pages - listed)}"
    assert {"experiments/index.md", "changelog.md", "contributing.md",
            "api/aigc_auction.analysis.md", "api/aigc_auction.md"} <= pages
    assert {f.src_uri for f in files if f.src_uri.startswith("experiments/figures/")}

    # a page nobody listed lands under "More" instead of disappearing
    from mkdocs.structure.files import File

    (tmp_path / "unlisted.md").write_text("# x\n")
    config = _config(load_config)
    files = get_files(config)
    files.append(File("unlisted.md", src_dir=str(tmp_path), dest_dir=str(tmp_path),
                      use_directory_urls=True))
    hooks.on_files(files, config)
    more = [item["More"] for item in config["nav"] if isinstance(item, dict) and "More" in item]
    assert more and "unlisted.md" in more[0]
