"""Root pytest configuration, loaded before any test module or doctest imports numpy.

One BLAS thread per process: the suite runs many tiny linear-algebra calls (click
model fits, LPs), for which OpenBLAS's thread pool only adds contention on a
small machine. Set before numpy is first imported; an explicit setting wins.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
