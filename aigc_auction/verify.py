"""Verifiers shared by tests and users: feasibility, IR, misreport gains.

They live next to the solvers (QuantEcon's ``is_nash`` habit) so that a user can
check any outcome the same way the test-suite does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._validation import as_float_array, check_bids, check_rng
from .allocation import allocation_violations
from .instance import Instance
from .mechanisms import Mechanism
from .outcome import Outcome

__all__ = [
    "MisreportResult",
    "check_mechanism",
    "is_feasible",
    "is_individually_rational",
    "max_misreport_gain",
]


def is_feasible(instance: Instance, assignment: ArrayLike, order: ArrayLike | None = None) -> bool:
    """Whether ``(assignment, order)`` is a feasible allocation of ``instance``.

    A matching (each advertiser at most one position and vice versa) with at most
    ``instance.slots`` ads, and, when given, an order listing each shown position
    once. :func:`aigc_auction.allocation_violations` says what is wrong.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.1, 0.2], [0.3, 0.4]])
    >>> aa.is_feasible(inst, [1, 0], [0, 1]), aa.is_feasible(inst, [1, 1])
    (True, False)
    """
    return not allocation_violations(instance, assignment, order)


def is_individually_rational(
    outcome: Outcome, values: ArrayLike | None = None, *, atol: float = 1e-9
) -> bool:
    """Whether no advertiser gets negative utility ``v_i ctr_i - t_i`` (up to ``atol``).

    ``values`` default to the bids (truthful bidding).

    Examples
    --------
    >>> import aigc_auction as aa
    >>> out = aa.VCG("mnl").run(aa.Instance(ctr=[[0.5], [0.5]]), [0.9, 0.4])
    >>> aa.is_individually_rational(out)
    True
    """
    v = outcome.bids if values is None else check_bids(values, outcome.n_advertisers, "values")
    return bool(np.all(outcome.utilities(v) >= -atol * np.maximum(1.0, np.abs(v))))


@dataclass(frozen=True)
class MisreportResult:
    """The most profitable misreport found by :func:`max_misreport_gain`.

    Attributes
    ----------
    gain : float
        Largest ``u_i(misreport) - u_i(truth)`` over advertisers and grid bids
        (``<= 0`` up to round-off for a truthful mechanism).
    advertiser : int
        Who gains it (-1 if nobody was tested).
    bid : float
        The misreport achieving it.
    truthful_utility : float
        That advertiser's utility when bidding its value.
    """

    gain: float
    advertiser: int
    bid: float
    truthful_utility: float


def max_misreport_gain(
    mechanism: Mechanism,
    instance: Instance,
    values: ArrayLike,
    *,
    grid: ArrayLike | None = None,
    advertisers: ArrayLike | None = None,
) -> MisreportResult:
    """Largest utility gain any advertiser gets by misreporting on a bid grid.

    Parameters
    ----------
    mechanism : Mechanism
    instance : Instance
    values : array_like of shape (n_advertisers,)
        True values per click; the others keep bidding them.
    grid : array_like, optional
        Candidate misreports; default: 41 points on ``[0, 2 max(values)]`` plus
        each value scaled by 0.5, 0.9, 0.99, 1.01, 1.1 and 2.
    advertisers : array_like of int, optional
        Whom to test (default: everybody).

    Returns
    -------
    MisreportResult

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.3, 0.2], [0.4, 0.1], [0.2, 0.2]], slots=2)
    >>> res = aa.max_misreport_gain(aa.VCG("mnl"), inst, [1.0, 0.7, 0.4])
    >>> res.gain <= 1e-9
    True
    """
    v = check_bids(values, instance.n_advertisers, "values")
    truthful = mechanism.run(instance, v)
    u_true = truthful.utilities(v)
    if grid is None:
        top = 2.0 * max(float(v.max()), 1e-12)
        base = np.linspace(0.0, top, 41)
    else:
        base = as_float_array(grid, "grid", ndim=1)
    who = range(instance.n_advertisers) if advertisers is None else np.asarray(advertisers).tolist()
    best = MisreportResult(-np.inf, -1, float("nan"), float("nan"))
    for i in who:
        cands = base if grid is not None else np.concatenate(
            (base, v[i] * np.array([0.5, 0.9, 0.99, 1.01, 1.1, 2.0]))
        )
        for z in cands:
            b = v.copy()
            b[i] = z
            out = mechanism.run(instance, b)
            gain = float(v[i] * out.ctr[i] - out.payments[i] - u_true[i])
            if gain > best.gain:
                best = MisreportResult(gain, int(i), float(z), float(u_true[i]))
    return best


def check_mechanism(
    mechanism: Mechanism,
    *,
    n_instances: int = 5,
    n_advertisers: int = 4,
    n_positions: int = 3,
    atol: float = 1e-9,
    rng: Any = None,
) -> None:
    """Conformance check of a mechanism on random instances (scikit-learn style).

    Checks, for every instance: a feasible allocation, CTRs equal to the model's,
    payments in ``[0, bid * ctr]`` (so IR at truthful bids), zero payment when not
    shown, no profitable misreport on the default grid, and that ``run`` is
    deterministic.

    Raises
    ------
    AssertionError
        Naming the first property that failed and the instance.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> aa.check_mechanism(aa.VCG("mnl"), n_instances=2, rng=0)
    """
    gen = check_rng(rng)
    for k in range(n_instances):
        p = gen.uniform(0.0, 0.9, size=(n_advertisers, n_positions))
        slots = int(gen.integers(1, n_positions + 1))
        inst = Instance(ctr=p, slots=slots)
        v = gen.uniform(0.0, 1.0, size=n_advertisers)
        out = mechanism.run(inst, v)
        where = f"{mechanism!r} on random instance {k} (slots={slots})"
        _expect(is_feasible(inst, out.assignment, out.order), f"infeasible allocation: {where}")
        ctr = mechanism.model.ctr(inst, out.assignment, out.order)
        _expect(
            np.allclose(ctr, out.ctr, rtol=0, atol=1e-15), f"ctr differs from the model: {where}"
        )
        cap = v * out.ctr
        _expect(bool(np.all(out.payments >= -atol)), f"negative payment: {where}")
        _expect(bool(np.all(out.payments <= cap + atol)), f"payment above bid * ctr: {where}")
        _expect(bool(np.all(out.payments[out.ctr == 0] == 0)), f"payment when not shown: {where}")
        again = mechanism.run(inst, v)
        _expect(
            np.array_equal(again.assignment, out.assignment)
            and np.array_equal(again.payments, out.payments),
            f"run is not deterministic: {where}",
        )
        res = max_misreport_gain(mechanism, inst, v)
        _expect(res.gain <= atol, f"profitable misreport {res}: {where}")


def _expect(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


