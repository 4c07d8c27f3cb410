"""Own-bid step functions: every step against brute force, payments against the formats."""

from __future__ import annotations

import numpy as np
import pytest

import aigc_auction as aa
from aigc_auction.steps import StepTable, own_bid_steps

from .test_formats import MARKOV, NO_EXT, BruteForce, random_market


def same(slot: tuple[int, int, float], pos: int, rank: int, ctr: float) -> bool:
    """Same position and rank, CTR equal to round-off (kernels sum in another order)."""
    return slot[:2] == (pos, rank) and abs(slot[2] - ctr) <= 1e-12 * max(ctr, 1e-300)


CASES = [
    (aa.MNL(), None, 80),
    (aa.MNL(), "brute_force", 20),
    (aa.Cascade(), None, 60),
    (aa.Cascade(order="fixed"), "brute_force", 40),
    (MARKOV, "brute_force", 40),
    (NO_EXT, None, 30),
]


@pytest.mark.parametrize(("model", "solver", "n_seeds"), CASES, ids=str)
def test_steps_match_brute_force(model: aa.UserModel, solver: str | None, n_seeds: int) -> None:
    mech = aa.GSP(model, solver=solver)
    for seed in range(n_seeds):
        inst, b = random_market(3000 + seed)
        bf = BruteForce(inst, model)
        rng = np.random.default_rng(seed)
        for i in range(inst.n_advertisers):
            st = own_bid_steps(mech, inst, b, i, upper=1.5)
            assert st.start[0] == 0.0 and st.ctr[0] == 0.0 and st.position[0] == -1
            assert np.all(np.diff(st.start) >= 0) and np.all(np.diff(st.ctr) > 0)
            k = st.current
            assert same(bf.slot(bf.best(b), i), st.position[k], st.rank[k], st.ctr[k])
            ends = np.append(st.start[1:], 1.5)
            zs = np.concatenate((rng.uniform(0, 1.5, 6), 0.5 * (st.start + ends)))
            for z in zs:
                bb = b.copy()
                bb[i] = z
                k = int(st.step(z))
                assert same(bf.slot(bf.best(bb), i), st.position[k], st.rank[k], st.ctr[k]), (
                    seed, i, z)
            for k in range(1, len(st.start)):  # each kink is where the slot changes
                c = st.start[k]
                if c <= 1e-6 or c >= 1.5 - 1e-6:
                    continue
                bb = b.copy()
                bb[i] = c * (1 + 1e-9)
                assert bf.slot(bf.best(bb), i)[2] == pytest.approx(st.ctr[k], rel=1e-12)
                bb[i] = c * (1 - 1e-9)
                assert bf.slot(bf.best(bb), i)[2] == pytest.approx(st.ctr[k - 1], rel=1e-12)


@pytest.mark.parametrize("model", [aa.MNL(), aa.Cascade(), NO_EXT], ids=str)
def test_step_payments_equal_each_format(model: aa.UserModel) -> None:
    mechs = {"gsp": aa.GSP(model), "first_price": aa.FirstPrice(model), "vcg": aa.VCG(model)}
    for seed in range(25):
        inst, b = random_market(4000 + seed)
        i = seed % inst.n_advertisers
        st = own_bid_steps(mechs["gsp"], inst, b, i, upper=1.2)
        for z in (0.0, 0.3 * b[i], b[i], 1.1):
            bb = b.copy()
            bb[i] = z
            for rule, mech in mechs.items():
                out = mech.run(inst, bb)
                assert st.ctr_at(z) == pytest.approx(out.ctr[i], rel=1e-12, abs=1e-15)
                assert st.payment_at(z, rule) == pytest.approx(  # type: ignore[arg-type]
                    out.payments[i], rel=1e-9, abs=1e-12), (seed, rule, z)


def test_batched_gsp_equals_per_problem_thresholds() -> None:
    """The batched envelope (parametric kernel) and Mechanism.threshold_jumps agree."""
    gsp = aa.GSP("mnl")
    for seed in range(60):
        inst, b = random_market(5000 + seed, n_max=7, m_max=4)
        out = gsp.run(inst, b)
        alloc = gsp.allocate(inst, b)
        for i in np.flatnonzero(out.ctr > 0).tolist():
            jumps = gsp.threshold_jumps(inst, b, i, alloc)
            assert out.price_per_click[i] == pytest.approx(jumps[-1][0], rel=1e-10, abs=1e-14)


def test_own_bid_steps_input_errors() -> None:
    inst = aa.Instance(ctr=[[0.5], [0.5]])
    with pytest.raises(ValueError, match="`advertiser`"):
        own_bid_steps(aa.GSP(), inst, [0.5, 0.2], 2)
    with pytest.raises(ValueError, match="allocate by reported welfare"):
        own_bid_steps(aa.Myerson(prior=__import__("scipy.stats").stats.uniform()), inst,
                      [0.5, 0.2], 0)
    with pytest.raises(TypeError, match="`mechanism`"):
        own_bid_steps("gsp", inst, [0.5, 0.2], 0)  # type: ignore[arg-type]
    st = own_bid_steps(aa.VCG(), inst, [0.5, 0.2], 1)
    with pytest.raises(ValueError, match="`rule`"):
        st.payment_at(0.3, "myerson")  # type: ignore[arg-type]


def _nonempty(tab: StepTable, i: int) -> tuple[np.ndarray, ...]:
    """Task i's steps with zero-width steps (two kinks at one bid) dropped."""
    sl = slice(tab.offsets[i], tab.offsets[i + 1])
    cols = [tab.start[sl], tab.ctr[sl], tab.position[sl], tab.rank[sl]]
    keep = np.append(np.diff(cols[0]) > 0, True)
    keep[0] = True
    return tuple(c[keep] for c in cols)


def test_mnl_table_steps_equal_the_envelope_search() -> None:
    """The enumerated-table engine of repeated MNL rounds = batch_steps, step by step."""
    from aigc_auction.steps import batch_steps, step_kernel
    from aigc_auction.steps_mnl import mnl_optimum, mnl_round_steps

    mech = aa.GSP(aa.MNL())
    kernel = step_kernel(mech)
    checked = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n, m = int(rng.integers(1, 12)), int(rng.integers(1, 6))
        k = int(rng.integers(1, min(m, 3) + 1))
        inst = aa.Instance(ctr=rng.uniform(0.02, 0.6, (n, m)), slots=k)
        b = rng.uniform(0, 1, n) * rng.uniform(0.3, 1.0)
        b[rng.random(n) < 0.1] = 0.0
        top = b + rng.uniform(0, 1, n)
        res = mnl_round_steps(inst.odds, b, k, top)
        if res is None:
            continue
        tab, assign, value = res
        out = aa.VCG(aa.MNL()).run(inst, b)
        np.testing.assert_array_equal(assign, out.assignment)
        assert value == pytest.approx(out.welfare, rel=1e-12, abs=1e-15)
        assert mnl_optimum(inst.odds, b, k) == pytest.approx(out.welfare, rel=1e-12, abs=1e-15)
        v = rng.uniform(0, 1, n)  # the optimum at other coefficients, warm-started
        opt_v = aa.VCG(aa.MNL()).run(inst, v).welfare
        got = mnl_optimum(inst.odds, v, k, assignment=assign)
        assert got is None or got == pytest.approx(opt_v, rel=1e-12, abs=1e-15)
        ref = batch_steps(kernel, kernel.prepare(mech.model, inst.ctr), k,
                          np.broadcast_to(b, (n, n)), np.arange(n), top)
        for i in range(n):
            got, want = _nonempty(tab, i), _nonempty(ref, i)
            assert len(got[0]) == len(want[0]), (seed, i)
            np.testing.assert_allclose(got[0], want[0], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(got[1], want[1], rtol=1e-9)
            np.testing.assert_array_equal(got[2], want[2])
            np.testing.assert_array_equal(got[3], want[3])
            assert tab.ctr[tab.current[i]] == pytest.approx(out.ctr[i], rel=1e-12, abs=1e-15)
        checked += 1
    assert checked > 250


def test_mnl_optima_equal_mnl_optimum_one_by_one() -> None:
    """The batched optimum of repeated rounds gives mnl_optimum's floats exactly,
    on continuous markets and on markets full of ties (equal CTRs and values)."""
    from aigc_auction.steps_mnl import mnl_optima, mnl_optimum, mnl_round_steps

    checked = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n, m = int(rng.integers(1, 16)), int(rng.integers(1, 6))
        k = int(rng.integers(1, m + 1))
        rounds = int(rng.integers(1, 12))
        if seed % 2:
            ctr = rng.choice([0.1, 0.2, 0.4], (rounds, n, m))
            v = rng.choice([0.0, 0.25, 0.5, 1.0], (rounds, n))
        else:
            ctr = rng.uniform(0.02, 0.6, (rounds, n, m))
            v = rng.uniform(0, 1, (rounds, n))
        odds = ctr / (1.0 - ctr)
        assign = np.full((rounds, n), -1)
        for r in range(rounds):
            found = mnl_round_steps(odds[r], v[r] * 0.7, k, v[r])
            if found is not None:
                assign[r] = found[1]
        got = mnl_optima(odds, v, k, assign)
        for r in range(rounds):
            want = mnl_optimum(odds[r], v[r], k, assignment=assign[r])
            if want is None:
                assert np.isnan(got[r])
            else:
                assert got[r] == want, (seed, r)
                checked += 1
    assert checked > 150


def test_locate_and_the_grid_form_against_a_plain_search() -> None:
    """StepTable.locate (one padded kink matrix) = a search task by task, and
    locate_exact_grid = locate_exact, with many bids placed on and near kinks."""
    from aigc_auction.steps import step_kernel
    from aigc_auction.steps_mnl import mnl_round_steps

    mech = aa.GSP(aa.MNL())
    kernel = step_kernel(mech)
    near = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n, m = int(rng.integers(2, 12)), int(rng.integers(2, 5))
        inst = aa.Instance(ctr=rng.uniform(0.05, 0.6, (n, m)), slots=int(rng.integers(1, m + 1)))
        b = rng.uniform(0, 1, n)
        found = mnl_round_steps(inst.odds, b, inst.slots, 1.5 * np.ones(n))
        if found is None:
            continue
        tab = found[0]
        z = rng.uniform(0, 1.5, (n, 8))
        for i in range(n):  # half the bids on or next to one of the task's kinks
            kinks = tab.start[tab.offsets[i] + 1: tab.offsets[i + 1]]
            if kinks.size:
                pick = kinks[rng.integers(0, kinks.size, 4)]
                z[i, :4] = pick * (1 + rng.choice([0.0, 1e-13, -1e-13, 1e-9], 4))
        z[:, -1] = 0.0
        tasks = np.repeat(np.arange(n), z.shape[1])
        want = [tab.offsets[t] + int(np.searchsorted(
            tab.start[tab.offsets[t] + 1: tab.offsets[t + 1]], x, side="right")) if x > 0
            else tab.offsets[t] for t, x in zip(tasks, z.ravel(), strict=True)]
        np.testing.assert_array_equal(tab.locate(tasks, z.ravel()), want)
        data = kernel.prepare(mech.model, inst.ctr)
        bids = np.broadcast_to(b, (n, n))
        exact = tab.locate_exact(kernel, data, inst.slots, bids, np.arange(n), tasks, z.ravel())
        grid = tab.locate_exact_grid(kernel, lambda d=data: d, inst.slots, bids, z)
        np.testing.assert_array_equal(grid.ravel(), exact)
        near += int(np.count_nonzero(exact != np.asarray(want)))
    assert near > 0  # some bids on a kink took the solver's lower step
