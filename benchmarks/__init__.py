"""Benchmarks of aigc_auction (speed lives here, never in tests).

Run them all with ``python -m benchmarks`` (or ``make bench``), one with
``python -m benchmarks NAME`` (``NAME`` = a ``bench_NAME.py`` module). Each module
defines ``main(argv: list[str] | None = None) -> int`` and prints a table whose
ratios are measured against a baseline timed in the same run.
"""
