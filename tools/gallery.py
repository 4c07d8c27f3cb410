"""Draw the figures of docs/gallery.md by running the page (``make gallery``).

The page is run as its doctest runs it (every ``>>>`` example, in order, in one
namespace); when the text reaches an image ``![...](gallery/NAME.png)``, the
figure the preceding code drew (matplotlib's current figure) is saved there.
So each picture on the page is exactly what its code draws. Expected outputs
are checked too: the page must pass its own doctest.
"""

from __future__ import annotations

import doctest
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGE = DOCS / "gallery.md"
_IMAGE = re.compile(r"!\[[^\]]*\]\((gallery/[^)]+\.png)\)")


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    text = PAGE.read_text()
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs: dict[str, object] = {"__name__": "gallery"}
    pos, failures = 0, 0
    for match in _IMAGE.finditer(text):
        chunk, pos = text[pos:match.start()], match.end()
        test = parser.get_doctest(chunk, globs, "gallery", str(PAGE), 0)
        failures += runner.run(test, clear_globs=False).failed
        globs = test.globs  # the next chunk continues this session
        out = DOCS / match[1]
        out.parent.mkdir(parents=True, exist_ok=True)
        fig = plt.gcf()
        fig.savefig(out, dpi=110)
        plt.close("all")
        print(f"wrote {out.relative_to(DOCS.parent)}")
    test = parser.get_doctest(text[pos:], globs, "gallery", str(PAGE), 0)
    failures += runner.run(test, clear_globs=False).failed
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
