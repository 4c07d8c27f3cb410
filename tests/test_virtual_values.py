"""Virtual-value thresholds: batched levels agree with one-at-a-time, and really are thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import aigc_auction as aa

PRIORS = {
    "uniform": stats.uniform(0, 1),
    "shifted-uniform": stats.uniform(0.5, 1),
    "lognorm": stats.lognorm(0.5),
    "expon": stats.expon(scale=0.5),
    "gamma": stats.gamma(3),
    "norm": stats.truncnorm(-5.0, np.inf, loc=5, scale=1),  # N(5, 1) cut at 0
    "beta": stats.beta(2, 3),
    "bimodal (ironed)": stats.rv_histogram(
        (np.array([1.0, 0.05, 1.0]), np.array([0.0, 1.0, 2.0, 3.0]))
    ),
}


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("name", list(PRIORS))
def test_vectorised_thresholds_match_scalar(name: str, inclusive: bool) -> None:
    vv = aa.VirtualValue(PRIORS[name])
    levels = np.concatenate((np.linspace(-3.0, 6.0, 37), [-50.0, 0.0]))
    got = vv.thresholds(levels, inclusive=inclusive)
    ref = np.array([vv.threshold(float(x), inclusive=inclusive) for x in levels])
    assert np.array_equal(np.isfinite(got), np.isfinite(ref))
    fin = np.isfinite(ref)
    # both are the first bid reaching the level, each located to a few ulps
    assert np.allclose(got[fin], ref[fin], rtol=1e-13, atol=1e-15)  # ~0: any tiny bid
    # and really thresholds: just below misses, at the point hits (up to 1e-12)
    val = vv(got[fin])
    below = vv(np.maximum(got[fin] * (1 - 1e-12) - 1e-300, 0.0))
    lev = levels[fin]
    pos = got[fin] > 0
    if inclusive:
        assert np.all(val >= lev)
        assert np.all(below[pos] < lev[pos])
    else:
        assert np.all(val > lev)
        assert np.all(below[pos] <= lev[pos])
