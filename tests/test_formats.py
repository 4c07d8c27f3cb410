"""GSP and first price: exact prices against brute force, classic GSP, GSP >= VCG."""

from __future__ import annotations

from itertools import combinations, permutations

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.allocation import shown_in_order

NO_EXT = aa.Cascade(continue_after_click=1.0, continue_after_skip=1.0)
MARKOV = aa.Cascade(continue_after_click=0.6, continue_after_skip=0.8)


class BruteForce:
    """Every feasible (assignment, order) of a small instance and its CTR vector.

    Independent of the library's solvers and envelope code: the optimum at any
    bid vector is an argmax over this table, so a bisection on one bid is cheap.
    """

    def __init__(self, inst: aa.Instance, model: aa.UserModel) -> None:
        n, m = inst.shape
        all_orders = (
            isinstance(model, aa.Cascade) and model.order == "optimized"
            and not model.order_irrelevant
        )
        self.allocs: list[tuple[np.ndarray, np.ndarray]] = []
        for k in range(min(inst.slots, n, m) + 1):
            for ads in combinations(range(n), k):
                for pos in permutations(range(m), k):
                    a = np.full(n, -1, dtype=np.int64)
                    a[list(ads)] = pos
                    orders = permutations(pos) if all_orders else [sorted(pos)]
                    for o in orders:
                        self.allocs.append((a, np.array(o, dtype=np.int64)))
        self.ctr = np.array([model.ctr(inst, a, o) for a, o in self.allocs])

    def best(self, bids: np.ndarray) -> int:
        return int(np.argmax(self.ctr @ bids))

    def slot(self, k: int, i: int) -> tuple[int, int, float]:
        a, o = self.allocs[k]
        shown = shown_in_order(a, o).tolist()
        return int(a[i]), shown.index(i) if i in shown else -1, float(self.ctr[k, i])

    def gsp_price(self, bids: np.ndarray, i: int, iters: int = 80) -> float:
        """Bisection on i's bid for the lowest bid that keeps its slot."""
        target = self.slot(self.best(bids), i)
        lo, hi = 0.0, float(bids[i])
        bb = bids.copy()
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            bb[i] = mid
            if self.slot(self.best(bb), i) == target:
                hi = mid
            else:
                lo = mid
        return hi


def random_market(seed: int, *, n_max: int = 5, m_max: int = 3) -> tuple[aa.Instance, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, n_max + 1)), int(rng.integers(1, m_max + 1))
    inst = aa.Instance(ctr=rng.uniform(0.02, 0.9, size=(n, m)), slots=int(rng.integers(1, m + 1)))
    return inst, rng.uniform(0.05, 1.0, size=n)


def check_against_brute_force(model: aa.UserModel, solver: str | None, seeds: range) -> int:
    gsp = aa.GSP(model, solver=solver)
    checked = 0
    for seed in seeds:
        inst, b = random_market(seed)
        bf = BruteForce(inst, model)
        out = gsp.run(inst, b)
        k = bf.best(b)
        assert np.array_equal(out.assignment, bf.allocs[k][0]), (seed, solver)
        for i in np.flatnonzero(out.ctr > 0).tolist():
            want = bf.gsp_price(b, i)
            assert out.price_per_click[i] == pytest.approx(want, rel=1e-9, abs=1e-12), (
                seed, solver, i)
            checked += 1
    return checked


@pytest.mark.parametrize(
    ("model", "solver", "n_seeds"),
    [
        (aa.MNL(), "parametric", 150),
        (aa.MNL(), "brute_force", 40),
        (aa.Cascade(), "subset_dp", 150),
        (aa.Cascade(), "brute_force", 30),
        (aa.Cascade(order="fixed"), "brute_force", 100),
        (MARKOV, "brute_force", 100),
        (aa.Cascade(continue_after_skip=0.7, order="fixed"), "restricted_dp", 6),
        (NO_EXT, "subset_dp", 80),
    ],
    ids=lambda x: repr(x) if not isinstance(x, int) else str(x),
)
def test_gsp_price_equals_bisection_on_the_bid(
    model: aa.UserModel, solver: str, n_seeds: int
) -> None:
    assert check_against_brute_force(model, solver, range(n_seeds)) > n_seeds


@pytest.mark.parametrize(
    ("model", "solver"),
    [
        (aa.MNL(), "lp_highs"), (aa.MNL(), "pulp_highs"), (aa.MNL(), "pulp_cbc"),
        (aa.Cascade(), "milp"), (MARKOV, "milp_cbc"), (aa.Cascade(), "restricted_dp"),
    ],
    ids=str,
)
def test_gsp_price_with_every_exact_solver(model: aa.UserModel, solver: str) -> None:
    """The LP / MILP backends (slow) on a few instances each."""
    assert check_against_brute_force(model, solver, range(500, 503)) >= 3


def test_every_exact_solver_is_accepted_and_heuristics_are_refused() -> None:
    for model in (aa.MNL(), aa.Cascade(), MARKOV, aa.Cascade(order="fixed")):
        for name in aa.available_solvers(model):
            spec = aa.get_solver(model, name)
            for cls in (aa.GSP, aa.FirstPrice):
                if spec.affine_maximizer:
                    assert cls(model, solver=name).solver_spec.name == name
                else:
                    with pytest.raises(ValueError, match="maximal-in-range"):
                        cls(model, solver=name)


def classic_gsp_prices(alpha: np.ndarray, beta: np.ndarray, bids: np.ndarray) -> np.ndarray:
    """EOS / Varian GSP: ranked by alpha * b, rank k pays s_{k+1} / alpha_k."""
    score = alpha * bids
    rank = np.argsort(-score, kind="stable")
    price = np.zeros(len(bids))
    k_slots = min(len(beta), len(bids))
    for k in range(k_slots):
        nxt = score[rank[k + 1]] if k + 1 < len(bids) else 0.0
        price[rank[k]] = nxt / alpha[rank[k]]
    return price


def test_classic_gsp_prices_separable_without_externalities() -> None:
    for seed in range(120):
        rng = np.random.default_rng(seed)
        n, m = int(rng.integers(2, 7)), int(rng.integers(1, 5))
        alpha = rng.uniform(0.2, 1.0, n)
        beta = np.sort(rng.uniform(0.05, 0.9, m))[::-1]
        inst = aa.Instance.from_separable(alpha, beta)
        b = rng.uniform(0.05, 1.0, n)
        out = aa.GSP(NO_EXT).run(inst, b)
        want = classic_gsp_prices(alpha, beta, b)
        np.testing.assert_allclose(out.price_per_click, want, rtol=1e-10, atol=1e-14)
        # ranked by alpha * b into the positions in beta order
        top = np.argsort(-(alpha * b), kind="stable")[: min(n, m)]
        assert out.assignment[top].tolist() == list(range(min(n, m)))


def test_gsp_pays_at_least_vcg_and_first_price_pays_the_bid() -> None:
    cases = [(aa.MNL(), None), (aa.Cascade(), None), (MARKOV, "brute_force"),
             (aa.Cascade(order="fixed"), "brute_force"), (NO_EXT, None)]
    for model, solver in cases:
        gsp, fp = aa.GSP(model, solver=solver), aa.FirstPrice(model, solver=solver)
        vcg = aa.VCG(model, solver=solver)
        for seed in range(40):
            inst, b = random_market(1000 + seed, n_max=6 if solver is None else 4)
            o_g, o_f, o_v = gsp.run(inst, b), fp.run(inst, b), vcg.run(inst, b)
            for o in (o_g, o_f):
                assert np.array_equal(o.assignment, o_v.assignment)
                np.testing.assert_array_equal(o.ctr, o_v.ctr)
                assert aa.is_feasible(inst, o.assignment, o.order)
                assert aa.is_individually_rational(o)
                assert np.all(o.payments[o.ctr == 0] == 0)
            assert np.all(o_g.payments >= o_v.payments - 1e-12 * (1 + o_v.payments)), seed
            np.testing.assert_array_equal(o_f.payments, b * o_f.ctr)
            assert np.all(o_g.price_per_click <= b)


def test_single_slot_gsp_is_second_price() -> None:
    inst = aa.Instance(ctr=[[0.5], [0.5], [0.5]])
    for cls in (aa.MNL, aa.Cascade):
        out = aa.GSP(cls()).run(inst, [0.9, 0.4, 0.7])
        assert out.assignment.tolist() == [0, -1, -1]
        assert out.price_per_click[0] == pytest.approx(0.7, rel=1e-12)


def test_mnl_slot_includes_click_probability() -> None:
    """Under MNL an ad can keep its position and rank while another ad joins.

    Its click probability drops at that kink; GSP charges the kink (the slot
    changed), which is what keeps GSP payments above VCG's.
    """
    found = 0
    gsp, vcg = aa.GSP("mnl"), aa.VCG("mnl")
    for seed in range(60):
        inst, b = random_market(2000 + seed, n_max=5, m_max=3)
        bf = BruteForce(inst, aa.MNL())
        out = gsp.run(inst, b)
        for i in np.flatnonzero(out.ctr > 0).tolist():
            bb = b.copy()
            bb[i] = out.price_per_click[i] * (1 - 1e-9)
            before, after = bf.slot(bf.best(b), i), bf.slot(bf.best(bb), i)
            assert before != after
            if before[:2] == after[:2]:  # same position and rank, lower CTR
                assert after[2] < before[2]
                found += 1
        assert np.all(out.payments >= vcg.run(inst, b).payments - 1e-12)
    assert found > 0


def test_registry_and_params() -> None:
    assert {"gsp", "first_price"} <= set(aa.available_mechanisms())
    gsp = aa.get_mechanism("gsp", "cascade", solver="brute_force")
    assert isinstance(gsp, aa.GSP) and gsp.get_params()["solver"] == "brute_force"
    assert repr(aa.get_mechanism("first_price")) == "FirstPrice(model=MNL(), solver=None)"
    assert aa.GSP().name == "gsp" and aa.FirstPrice().name == "first_price"


def test_bad_input_names_the_parameter() -> None:
    inst = aa.Instance(ctr=[[0.5], [0.5]])
    with pytest.raises(ValueError, match="`bids` must be non-negative"):
        aa.GSP().run(inst, [0.5, -1.0])
    with pytest.raises(ValueError, match="`bids` must have shape"):
        aa.FirstPrice().run(inst, [0.5])
    with pytest.raises(TypeError, match="`model`"):
        aa.GSP(3)  # type: ignore[arg-type]


def test_gsp_prices_of_a_given_allocation_and_zero_bids() -> None:
    inst = aa.Instance(ctr=[[0.3, 0.2], [0.25, 0.1], [0.2, 0.2]], slots=2)
    gsp = aa.GSP("mnl")
    b = np.array([0.8, 0.0, 0.5])
    alloc = gsp.allocate(inst, b)
    np.testing.assert_array_equal(gsp.prices(inst, b, alloc), gsp.prices(inst, b))
    out = gsp.run(inst, b)
    assert out.ctr[1] == 0 and out.payments[1] == 0
    # the only ad with a positive bid left is shown at any positive bid: price 0
    solo = gsp.run(inst, [0.0, 0.0, 0.5])
    assert solo.assignment[2] >= 0 and solo.payments[2] == 0
