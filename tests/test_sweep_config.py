"""Sweep configs: TOML loading, validation errors, grid points, fingerprints."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

import aigc_auction as aa
from aigc_auction.sweep import SweepConfig, load_config

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted((REPO / "experiments" / "configs").glob("*.toml"))


def test_defaults():
    cfg = SweepConfig.from_dict({})
    assert cfg.mechanisms == ("vcg", "myerson")
    assert cfg.models == ("mnl",) and cfg.true_models == ("mnl",)
    assert cfg.n_points == 1 and cfg.n_tasks == 1
    s = cfg.point(0)
    assert s["generator"] == "lowrank" and s["slots"] == s["n_positions"]
    assert s["rank"] == 2  # generator defaults are settings too


def test_toml_roundtrip_and_frozen(tmp_path):
    text = """
name = "t"
seed = 5
replicates = 3
mechanisms = ["vcg"]
baselines = ["separable_vcg", "separable_gsp"]
[market]
generator = "separable"
n_advertisers = 4
n_positions = 3
decay = 0.5
prior = "lognorm"
prior_shape = 0.5
[grid]
slots = [1, 2, 3]
ctr_max = [0.3, 0.6]
"""
    path = tmp_path / "c.toml"
    path.write_text(text)
    cfg = load_config(path)
    assert cfg.n_points == 6 and cfg.n_tasks == 18
    assert cfg.param_columns == ["param_slots", "param_ctr_max"]
    # row-major: the last key varies fastest
    assert [cfg.grid_values(k) for k in (0, 1, 2)] == [
        {"slots": 1, "ctr_max": 0.3}, {"slots": 1, "ctr_max": 0.6},
        {"slots": 2, "ctr_max": 0.3},
    ]
    assert cfg.point(5)["decay"] == 0.5
    again = SweepConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.fingerprint() == cfg.fingerprint()
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert hash(cfg) == hash(again)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3  # type: ignore[misc]


def test_fingerprint_changes_with_any_setting():
    a = SweepConfig.from_dict({"replicates": 2})
    b = SweepConfig.from_dict({"replicates": 3})
    c = SweepConfig.from_dict({"replicates": 2, "market": {"rank": 3}})
    assert len({a.fingerprint(), b.fingerprint(), c.fingerprint()}) == 3


def test_int_and_float_grid_values_become_floats():
    cfg = SweepConfig.from_dict({"grid": {"scale": [1, 2.5]}})
    assert cfg.grid == (("scale", (1.0, 2.5)),)


def test_nested_grid_tables_flatten_to_dotted_keys():
    cfg = SweepConfig.from_dict({"grid": {"solver": {"mnl": ["lp_highs", "brute_force"]}}})
    assert cfg.param_columns == ["param_solver_mnl"]
    assert cfg.point(1)["solver.mnl"] == "brute_force"


@pytest.mark.parametrize(
    ("data", "exc", "match"),
    [
        ({"replicate": 2}, ValueError, "`replicate` is not a sweep config key"),
        ({"replicates": 0}, ValueError, "`replicates`"),
        ({"replicates": True}, ValueError, "`replicates`"),
        ({"seed": -1}, ValueError, "`seed`"),
        ({"seed": 1.5}, ValueError, "`seed`"),
        ({"name": 3}, TypeError, "`name`"),
        ({"mechanisms": ["vcg", "vickrey"]}, ValueError, "`mechanisms`"),
        ({"mechanisms": []}, ValueError, "`mechanisms`"),
        ({"mechanisms": ["vcg", "vcg"]}, ValueError, "twice"),
        ({"models": ["logit"]}, ValueError, "`models`"),
        ({"baselines": ["gsp"]}, ValueError, "`baselines`"),
        ({"market": {"n_advertiser": 3}}, ValueError, "`market.n_advertiser`"),
        ({"market": {"generator": "uniform", "rank": 2}}, ValueError, "`market.rank`"),
        ({"market": {"generator": "gauss"}}, ValueError, "`generator`"),
        ({"market": {"n_advertisers": 0}}, ValueError, "`n_advertisers`"),
        ({"market": {"n_positions": 2, "slots": 3}}, ValueError, "`slots`"),
        ({"market": {"n_positions": 2.5}}, TypeError, "`n_positions`"),
        ({"market": {"scale": -1.0}}, ValueError, "`scale`"),
        ({"market": {"prior": "norm"}}, ValueError, "`prior`"),
        ({"market": {"prior": "gamma"}}, ValueError, "shape parameter"),
        ({"market": {"prior_scale": 0}}, ValueError, "`prior_scale`"),
        ({"market": {"rank": [1, 2]}}, TypeError, "`market.rank`"),
        ({"market": 3}, TypeError, "`market`"),
        ({"params": {"cascade": {}}}, ValueError, "`params.cascade`"),
        ({"params": {"mnl": {"temperature": 2.0}}}, TypeError, "`params.mnl`"),
        ({"solvers": {"mnl": "simplex"}}, ValueError, "`solver`"),
        ({"solvers": {"cascade": "dp"}}, ValueError, "`solvers.cascade`"),
        ({"grid": {"n_advertisers": 3}}, ValueError, "`grid.n_advertisers`"),
        ({"grid": {"n_advertisers": []}}, ValueError, "`grid.n_advertisers`"),
        ({"grid": {"n_advertisers": [2, 2]}}, ValueError, "repeated"),
        ({"grid": {"n_advertisers": [2, "x"]}}, ValueError, "one type"),
        ({"grid": {"colour": [1, 2]}}, ValueError, "`grid.colour` is not a setting"),
        ({"grid": {"generator": ["uniform"]}}, ValueError, "`grid.generator`"),
        ({"grid": {"slots": [1, 9]}}, ValueError, r"`slots`.*at grid point \{'slots': 9\}"),
        ({"grid": {"solver.cascade": ["dp"]}}, ValueError, "`grid.solver.cascade`"),
    ],
)
def test_validation_errors_name_the_key(data, exc, match):
    with pytest.raises(exc, match=match):
        SweepConfig.from_dict(data)


def test_vcg_refuses_an_inexact_solver_at_load_time():
    inexact = []
    for m in aa.available_models():
        try:
            names = aa.available_solvers(m)
        except ValueError:  # a model whose solvers are not registered yet
            continue
        inexact += [(m, s) for s in names if not aa.get_solver(m, s).affine_maximizer]
    if not inexact:
        pytest.skip("no approximate solver registered")
    model, solver = inexact[0]
    with pytest.raises(ValueError, match="`solver`"):
        SweepConfig.from_dict({"mechanisms": ["vcg"], "models": [model],
                               "solvers": {model: solver}})


def test_toml_file_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("replicates = = 3\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(TypeError, match="`config`"):
        load_config(3)  # type: ignore[arg-type]


def _cascade_ready() -> bool:
    if "cascade" not in aa.available_models():
        return False
    try:
        return bool(aa.available_solvers("cascade"))
    except ValueError:
        return False


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_validate(path):
    if "cascade" in path.read_text() and not _cascade_ready():
        pytest.skip("cascade user model or its solvers not registered yet")
    cfg = load_config(path)
    assert cfg.n_tasks >= 1
