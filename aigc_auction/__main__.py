"""``python -m aigc_auction``: the ``aigc-auction`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
