"""Virtual values: thresholds exact on floats, batched = scalar, phibar monotone everywhere."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import aigc_auction as aa
from aigc_auction.ironing import iron_piecewise_uniform

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


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("name", list(PRIORS))
def test_thresholds_are_exact_on_floats(name: str, inclusive: bool) -> None:
    """The threshold reaches the level and the float just below it does not."""
    vv = aa.VirtualValue(PRIORS[name])
    rng = np.random.default_rng(1)
    x = vv.table.x
    levels = np.concatenate((vv(rng.uniform(x[0], x[-1] * 1.5, 200)), vv(x), vv.flats[0],
                             rng.normal(0, 3, 50)))
    z = vv.thresholds(levels, inclusive=inclusive)
    hit = vv(z) >= levels if inclusive else vv(z) > levels
    assert np.all(hit)
    pos = z > 0
    before = vv(np.nextafter(z[pos], 0.0))
    assert np.all(before < levels[pos] if inclusive else before <= levels[pos])


def test_phibar_is_monotone_on_any_floats() -> None:
    rng = np.random.default_rng(2)
    for prior in PRIORS.values():
        vv = aa.VirtualValue(prior)
        x = vv.table.x
        v = np.sort(np.concatenate((
            rng.uniform(0, x[-1] * 2, 20000), x, np.nextafter(x, 0), np.nextafter(x, np.inf),
            [0.0, 5e-324, 1e-300, 1e300, np.inf],
        )))
        y = vv(v)
        fin = y > -np.inf
        assert np.all(np.diff(y[fin]) >= 0) and np.all(fin[np.argmax(fin):])


def test_sampled_priors_match_phi_where_it_matters() -> None:
    """Regular priors: the table is phi to ~1e-8 wherever phi >= 0 (interpolation)."""
    for name in ("lognorm", "expon", "gamma", "beta", "norm"):
        vv = aa.VirtualValue(PRIORS[name])
        assert vv.regular and not vv.exact
        v = np.linspace(vv.reserve(), float(PRIORS[name].isf(1e-9)), 5001)
        np.testing.assert_allclose(vv(v), vv.raw(v), rtol=1e-8, atol=1e-8)


def test_widened_flats_leave_no_value_within_the_band() -> None:
    table, _ = iron_piecewise_uniform([0.0, 1.0, 2.0, 3.0], [1.0, 0.05, 1.0])
    (level,), (lo,), (hi,) = table.flats()
    wide = table.widen_flats(1e-3)
    v = np.linspace(0, 3.5, 200001)
    y = wide(v)
    assert np.all(np.diff(y) >= 0)
    assert not np.any((np.abs(y - level) <= 1e-3) & (y != level))
    assert wide.inverse(level)[()] <= lo and wide.inverse(level, strict=True)[()] >= hi


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="`grid_size`"):
        aa.VirtualValue(stats.uniform(0, 1), grid_size=2)
    with pytest.raises(TypeError, match="`grid_size`"):
        aa.VirtualValue(stats.uniform(0, 1), grid_size=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`edges`"):
        iron_piecewise_uniform([0.0, 1.0, 1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="`masses`"):
        iron_piecewise_uniform([0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="`levels`"):
        aa.VirtualValue(stats.uniform(0, 1)).thresholds([np.nan], inclusive=True)
