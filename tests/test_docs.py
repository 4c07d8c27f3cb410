"""The reference page lists every public name."""

from __future__ import annotations

from pathlib import Path

import aigc_auction as aa

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_reference_lists_every_public_name() -> None:
    text = (DOCS / "reference.md").read_text()
    missing = [name for name in aa.__all__ if f"`{name}" not in text]
    assert not missing, f"docs/reference.md does not mention {missing}"


def test_docs_index_links_exist() -> None:
    text = (DOCS / "index.md").read_text()
    for page in ("tutorial.md", "howto.md", "model.md", "reference.md"):
        assert page in text
        assert (DOCS / page).exists()
