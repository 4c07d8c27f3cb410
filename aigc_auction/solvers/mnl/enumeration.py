"""Maximum-weight matchings with at most K edges, by enumeration over a batch.

The matching kernel of :mod:`.parametric` for few positions: it solves a whole
batch of problems with a handful of NumPy operations, so sweeps pay no per-auction
Python overhead.

Lemma (column lists): some maximum-weight matching with ``s`` edges uses, at each of
its positions, one of the ``s`` heaviest advertisers of that position's column.
Proof: if edge ``(i, j)`` does not, the other ``s - 1`` edges use at most ``s - 1``
of the ``s`` heaviest ads of column ``j``, so one of them is free and replaces
``i`` without losing weight; each swap removes one offending edge.

So it suffices to enumerate, for every set of ``s <= K`` positions, every choice of
a rank ``< s`` in each position's weight-sorted list and keep the heaviest choice
whose ads are distinct: ``1 + sum_s C(m, s) s^s`` candidates (316 for ``m = 5``,
``K = 3``), evaluated at once for the batch. The order of that enumeration breaks
ties: fewer pairs first, then positions in lexicographic order, then ranks (heavier
first, lower advertiser index among equal weights).

Only positive edges count: non-positive weights are forbidden.
"""

from __future__ import annotations

from functools import cache
from itertools import combinations, product
from math import comb

import numpy as np
from numpy.typing import NDArray

__all__ = ["enum_kernel_ok", "enum_match", "n_candidates"]

#: Use the kernel while ``n_candidates(m, K) * K`` is at most this.
MAX_WORK = 6000
#: Rows per chunk are chosen so that one chunk's candidate table has at most this
#: many entries (bounds the memory of a large batch).
CHUNK_ENTRIES = 1 << 21


@cache
def n_candidates(m: int, k: int) -> int:
    """Number of candidate matchings enumerated for ``m`` positions and ``K = k``.

    Examples
    --------
    >>> n_candidates(5, 3)
    316
    """
    return 1 + sum(comb(m, s) * s**s for s in range(1, k + 1))


def enum_kernel_ok(m: int, k: int) -> bool:
    """Whether the enumeration kernel is cheap enough for ``m`` positions, ``K = k``."""
    return k * n_candidates(m, k) <= MAX_WORK


@cache
def _candidates(m: int, k: int) -> NDArray[np.int64]:
    """Candidate table of shape (C, k): flat indices ``pos * k + rank`` or sentinels.

    Slot ``t`` unused is the sentinel ``m * k + t`` (weight 0, a distinct fake ad).
    """
    rows = [[m * k + t for t in range(k)]]
    for s in range(1, k + 1):
        tail = [m * k + t for t in range(s, k)]
        for positions in combinations(range(m), s):
            for ranks in product(range(s), repeat=s):
                pairs = zip(positions, ranks, strict=True)
                rows.append([p * k + r for p, r in pairs] + tail)
    out = np.array(rows, dtype=np.int64).reshape(len(rows), k)
    out.setflags(write=False)
    return out


def enum_match(
    v: NDArray[np.float64], k: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Maximum-weight matchings with at most ``k`` positive edges, for a batch.

    Parameters
    ----------
    v : ndarray of shape (B, n, m)
        Edge weights; entries ``<= 0`` (or ``-inf``) are forbidden.
    k : int
        At most this many edges, ``1 <= k <= m``.

    Returns
    -------
    ads, pos : ndarray of int, shape (B, k)
        The matched pairs of each row, ``-1`` in unused slots.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[[3.0, 1.5], [2.0, -1.0]]])
    >>> ads, pos = enum_match(v, 2)
    >>> sorted(zip(ads[0].tolist(), pos[0].tolist()))
    [(0, 1), (1, 0)]
    """
    b, n, m = v.shape
    if b == 0:
        empty = np.empty((0, k), dtype=np.int64)
        return empty, empty.copy()
    cand = _candidates(m, k)
    size = cand.shape[0] * k
    step = max(1, CHUNK_ENTRIES // size)
    if b > step:
        parts = [enum_match(v[s : s + step], k) for s in range(0, b, step)]
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
        )
    lst = min(k, n)
    if n > lst:
        top = np.argpartition(-v, lst - 1, axis=1)[:, :lst, :]
        top.sort(axis=1)  # canonical before the stable sort by weight
    else:
        top = np.broadcast_to(np.arange(n, dtype=np.int64)[None, :, None], (b, n, m))
    wt = np.take_along_axis(v, top, axis=1)
    order = np.argsort(-wt, axis=1, kind="stable")
    wt = np.take_along_axis(wt, order, axis=1)
    top = np.take_along_axis(top, order, axis=1)
    wf = np.full((b, m, k), -np.inf)
    af = np.full((b, m, k), -1, dtype=np.int64)
    wf[:, :, :lst] = np.where(wt > 0, wt, -np.inf).transpose(0, 2, 1)
    af[:, :, :lst] = top.transpose(0, 2, 1)
    wf = np.concatenate((wf.reshape(b, m * k), np.zeros((b, k))), axis=1)
    af = np.concatenate(
        (af.reshape(b, m * k), np.broadcast_to(-2 - np.arange(k), (b, k))), axis=1
    )
    tot = wf[:, cand[:, 0]]
    for t in range(1, k):
        tot = tot + wf[:, cand[:, t]]
    ad_of = [af[:, cand[:, t]] for t in range(k)]
    for s in range(k):
        for t in range(s + 1, k):
            tot[ad_of[s] == ad_of[t]] = -np.inf
    best = np.argmax(tot, axis=1)
    sel = cand[best]
    unused = sel >= m * k
    ads = np.where(unused, -1, np.take_along_axis(af, sel, axis=1))
    pos = np.where(unused, -1, sel // k)
    return ads, pos
