"""Market generators: shapes, ranges, structure, determinism, input errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import aigc_auction as aa
from aigc_auction import generators as gen


@pytest.mark.parametrize("kind", sorted(gen.CTR_GENERATORS))
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (8, 2)])
def test_ctr_in_open_unit_interval_and_valid_for_mnl(kind, shape):
    p = gen.generate_ctr(kind, *shape, rng=0)
    assert p.shape == shape
    assert np.all(p >= 0) and np.all(p < 1)
    inst = aa.Instance(ctr=p)
    aa.MNL().check_instance(inst)  # ctr < 1: fine for MNL cross-evaluation


@pytest.mark.parametrize("kind", sorted(gen.CTR_GENERATORS))
def test_same_seed_same_matrix_and_generator_streams(kind):
    a = gen.generate_ctr(kind, 4, 3, rng=11)
    b = gen.generate_ctr(kind, 4, 3, rng=np.random.default_rng(11))
    c = gen.generate_ctr(kind, 4, 3, rng=np.random.SeedSequence(11))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, gen.generate_ctr(kind, 4, 3, rng=12))


def test_no_global_seeding():
    state = np.random.get_state()  # noqa: NPY002 - checking the legacy global state
    gen.lowrank_ctr(5, 4, rng=3)
    gen.draw_values(gen.value_prior("lognorm", shape=1.0), 5, rng=3)
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0] and np.array_equal(state[1], after[1])


def test_separable_is_rank_one_with_decaying_positions():
    p = gen.separable_ctr(6, 4, ctr_max=0.6, decay=0.5, rng=1)
    assert np.linalg.matrix_rank(p, tol=1e-12) == 1
    np.testing.assert_allclose(p[:, 1:] / p[:, :-1], 0.5)
    assert p.max() < 0.6


def test_lowrank_is_not_separable_and_positions_disagree():
    p = gen.lowrank_ctr(8, 4, rank=2, scale=2.0, rng=2)
    s = np.linalg.svd(p, compute_uv=False)
    assert s[1] / s[0] > 1e-3  # clearly not rank one
    best = p.argmax(axis=0)
    assert len(set(best.tolist())) > 1  # contexts favour different creatives


def test_lowrank_scale_zero_and_position_slope():
    p = gen.lowrank_ctr(3, 4, scale=0.0, position_slope=0.5, rng=0)
    np.testing.assert_allclose(p, np.broadcast_to(p[0], p.shape))
    assert np.all(np.diff(p[0]) < 0)


def test_uniform_range():
    p = gen.uniform_ctr(50, 50, low=0.2, high=0.3, rng=0)
    assert p.min() >= 0.2 and p.max() < 0.3


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: gen.uniform_ctr(0, 2), ValueError, "`n_advertisers`"),
        (lambda: gen.uniform_ctr(2, 2.5), TypeError, "`n_positions`"),
        (lambda: gen.uniform_ctr(2, 2, low=0.5, high=0.4), ValueError, "`high`"),
        (lambda: gen.uniform_ctr(2, 2, high=1.0), ValueError, "`high`"),
        (lambda: gen.separable_ctr(2, 2, ctr_max=1.2), ValueError, "`ctr_max`"),
        (lambda: gen.separable_ctr(2, 2, decay=0.0), ValueError, "`decay`"),
        (lambda: gen.lowrank_ctr(2, 2, scale=-1.0), ValueError, "`scale`"),
        (lambda: gen.lowrank_ctr(2, 2, bias="x"), TypeError, "`bias`"),
        (lambda: gen.lowrank_ctr(2, 2, rng="seed"), TypeError, "`rng`"),
        (lambda: gen.generate_ctr("gaussian", 2, 2), ValueError, "`generator`"),
        (lambda: gen.generate_ctr("uniform", 2, 2, rank=2), ValueError, "`rank`"),
    ],
)
def test_generator_errors_name_the_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(
    ("name", "kwargs", "mean"),
    [
        ("uniform", {"loc": 1.0, "scale": 2.0}, 2.0),
        ("expon", {"scale": 0.5}, 0.5),
        ("lognorm", {"shape": 0.5}, float(np.exp(0.125))),
        ("gamma", {"shape": 2.0, "scale": 0.5}, 1.0),
        ("beta", {"shape": 2.0, "shape2": 2.0}, 0.5),
    ],
)
def test_value_priors(name, kwargs, mean):
    prior = gen.value_prior(name, **kwargs)
    assert prior.mean() == pytest.approx(mean)
    v = gen.draw_values(prior, 2000, rng=0)
    assert v.min() >= 0
    assert v.mean() == pytest.approx(mean, rel=0.1)


def test_value_prior_feeds_myerson():
    prior = gen.value_prior("uniform")
    inst = aa.Instance(ctr=[[0.5], [0.5]])
    out = aa.Myerson(aa.MNL(), prior=prior).run(inst, [0.8, 0.3])
    assert out.price_per_click[0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        (("norm",), ValueError, "bounded below"),
        (("gamma",), ValueError, "shape parameter"),
        (("uniform",), ValueError, "shape parameter"),  # with shape given below
        (("binom",), ValueError, "continuous"),
        ((3,), TypeError, "`prior`"),
    ],
)
def test_value_prior_errors(args, exc, match):
    kwargs = {"shape": 1.0} if args == ("uniform",) else {}
    with pytest.raises(exc, match=match):
        gen.value_prior(*args, **kwargs)


def test_value_prior_bad_scale_and_draw_errors():
    with pytest.raises(ValueError, match="`prior_scale`"):
        gen.value_prior("uniform", scale=0.0)
    with pytest.raises(TypeError, match="`prior`"):
        gen.draw_values("uniform", 3)
    with pytest.raises(ValueError, match="`n`"):
        gen.draw_values(stats.uniform(), 0)
