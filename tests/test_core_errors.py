"""Every bad input of the core API raises the documented error, naming the parameter."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import aigc_auction as aa

GOOD = [[0.3, 0.1], [0.2, 0.25]]


@pytest.mark.parametrize(
    ("ctr", "exc", "match"),
    [
        ([0.1, 0.2], ValueError, r"`ctr` must be a 2-D array; got shape \(2,\)"),
        ([[[0.1]]], ValueError, r"`ctr` must be a 2-D array; got shape \(1, 1, 1\)"),
        (np.zeros((0, 3)), ValueError, r"`ctr` must not be empty"),
        (np.zeros((2, 0)), ValueError, r"`ctr` must not be empty"),
        ([[0.1, np.nan]], ValueError, r"`ctr` must not contain NaN or infinite"),
        ([[0.1, np.inf]], ValueError, r"`ctr` must not contain NaN or infinite"),
        ([[0.1, 1.2]], ValueError, r"`ctr` must have entries in \[0, 1\]"),
        ([[0.1, -0.01]], ValueError, r"`ctr` must have entries in \[0, 1\]"),
        ("abc", TypeError, r"`ctr` must be a numeric array"),
        ([["a", "b"]], TypeError, r"`ctr` must be a numeric array"),
    ],
)
def test_bad_ctr(ctr: object, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        aa.Instance(ctr=ctr)  # type: ignore[arg-type]


def test_mnl_rejects_ctr_one_with_explanation() -> None:
    inst = aa.Instance(ctr=[[0.3, 1.0], [0.2, 0.25]])  # fine for the instance itself
    msg = r"\[0, 1\) under the MNL model.*infinite at p = 1.*ctr\[0, 1\]"
    with pytest.raises(ValueError, match=msg):
        aa.MNL().ctr(inst, [0, 1])
    with pytest.raises(ValueError, match="MNL"):
        aa.VCG(aa.MNL()).run(inst, [1.0, 1.0])


@pytest.mark.parametrize(
    ("slots", "exc", "match"),
    [
        (0, ValueError, r"`slots` must be an integer in \[1, 2\]; got 0"),
        (3, ValueError, r"`slots` must be an integer in \[1, 2\]; got 3"),
        (-1, ValueError, r"`slots`"),
        (1.5, TypeError, r"`slots` must be an integer; got 1.5"),
        ("2", TypeError, r"`slots` must be an integer"),
        (True, TypeError, r"`slots` must be an integer"),
    ],
)
def test_bad_slots(slots: object, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        aa.Instance(ctr=GOOD, slots=slots)  # type: ignore[arg-type]


def test_numpy_integer_slots_are_fine() -> None:
    assert aa.Instance(ctr=GOOD, slots=np.int64(1)).slots == 1


@pytest.mark.parametrize(
    ("bids", "exc", "match"),
    [
        ([1.0], ValueError, r"`bids` must have shape \(2,\), one per advertiser; got shape \(1,\)"),
        ([[1.0, 2.0]], ValueError, r"`bids` must be a 1-D array"),
        ([1.0, -0.5], ValueError, r"`bids` must be non-negative; got -0.5 for advertiser 1"),
        ([1.0, np.nan], ValueError, r"`bids` must not contain NaN or infinite"),
        ([np.inf, 1.0], ValueError, r"`bids` must not contain NaN or infinite"),
        ("ab", TypeError, r"`bids` must be a numeric array"),
        ([], ValueError, r"`bids`"),
    ],
)
@pytest.mark.parametrize("mech", [aa.VCG(aa.MNL()), aa.Myerson(aa.MNL(), prior=stats.uniform())])
def test_bad_bids(mech: aa.Mechanism, bids: object, exc: type, match: str) -> None:
    inst = aa.Instance(ctr=GOOD)
    with pytest.raises(exc, match=match):
        mech.run(inst, bids)  # type: ignore[arg-type]
    with pytest.raises(exc, match=match):
        mech.allocate(inst, bids)  # type: ignore[arg-type]


def test_bad_prior() -> None:
    with pytest.raises(TypeError, match=r"`prior` must be a frozen scipy.stats"):
        aa.Myerson(aa.MNL(), prior=0.5)
    with pytest.raises(TypeError, match=r"`prior\[1\]` must be a frozen scipy.stats"):
        aa.Myerson(aa.MNL(), prior=[stats.uniform(), "uniform"])
    with pytest.raises(ValueError, match=r"`prior` must be a distribution or a non-empty list"):
        aa.Myerson(aa.MNL(), prior=[])
    mech = aa.Myerson(aa.MNL(), prior=[stats.uniform()] * 3)
    msg = r"`prior` must be one distribution or a list of one per advertiser \(2\); got a list of 3"
    with pytest.raises(ValueError, match=msg):
        mech.run(aa.Instance(ctr=GOOD), [0.5, 0.5])


def test_unknown_solver_model_mechanism() -> None:
    msg = r"`solver` must be one of \[.*'brute_force'.*\] for model .*; got 'simplex'"
    with pytest.raises(ValueError, match=msg):
        aa.VCG(aa.MNL(), solver="simplex")
    with pytest.raises(TypeError, match=r"`solver` must be a string"):
        aa.VCG(aa.MNL(), solver=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`model` must be one of"):
        aa.VCG("logit")
    with pytest.raises(TypeError, match=r"`model` must be a UserModel"):
        aa.VCG(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`mechanism` must be one of"):
        aa.get_mechanism("vickrey")


def test_bad_instance_type() -> None:
    with pytest.raises(TypeError, match=r"`instance` must be an aigc_auction.Instance"):
        aa.VCG("mnl").run(np.array(GOOD), [1.0, 1.0])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("assignment", "order", "match"),
    [
        ([0, 0], None, "same position"),
        ([0, 2], None, r"-1 or a position in 0..1"),
        ([0], None, r"`assignment` must have shape \(2,\)"),
        ([0.5, 1], None, "must hold integers"),
        ([0, 1], [0], "`order` must list each shown position exactly once"),
        ([0, -1], [1], "`order` must list each shown position exactly once"),
    ],
)
def test_bad_allocations(assignment: list, order: list | None, match: str) -> None:
    inst = aa.Instance(ctr=GOOD)
    with pytest.raises(ValueError, match=match):
        aa.MNL().ctr(inst, assignment, order)
    assert not aa.is_feasible(inst, assignment, order)


def test_too_many_ads_for_slots() -> None:
    inst = aa.Instance(ctr=GOOD, slots=1)
    with pytest.raises(ValueError, match="2 ads shown but `slots` is 1"):
        aa.MNL().ctr(inst, [0, 1])


def test_bad_rng() -> None:
    with pytest.raises(TypeError, match="`rng`"):
        aa.check_mechanism(aa.VCG("mnl"), rng="seed")
