"""The lean install: light top-level import, one clear sentence for a missing package."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import aigc_auction as aa
from aigc_auction._optional import MissingDependencyError, require


def test_import_does_not_load_optional_packages():
    """`import aigc_auction` works without the extras: none of them is imported."""
    code = ("import sys, aigc_auction\n"
            "print(sorted(m for m in ('matplotlib', 'dask', 'distributed', 'networkx', 'numba', "
            "'mkdocs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_import_leaves_heavy_modules_for_first_use():
    """pandas (click logs, tables) and scipy.stats (priors) load when first used."""
    code = ("import sys, aigc_auction as aa\n"
            "before = [m for m in ('pandas', 'scipy.stats') if m in sys.modules]\n"
            "aa.simulate_logs\n"
            "print(before, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[] True"


def _hide(monkeypatch, *names):
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_require_names_the_extra(monkeypatch):
    _hide(monkeypatch, "matplotlib")
    with pytest.raises(MissingDependencyError) as info:
        require("matplotlib", extra="plot", purpose="figures")
    msg = str(info.value)
    assert msg == ("`matplotlib` is needed for figures but is not installed; install it "
                   "with `pip install 'aigc_auction[plot]'` (or `[all]`).")
    assert isinstance(info.value, ImportError) and info.value.name == "matplotlib"
    with pytest.raises(ValueError, match="`extra` must be one of"):
        require("numpy", extra="plots")


def test_a_broken_install_is_not_disguised(monkeypatch, tmp_path):
    """An ImportError raised inside an installed package propagates unchanged."""
    (tmp_path / "brokenmod.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        require("brokenmod", extra="plot")


def test_plots_without_matplotlib(monkeypatch, tmp_path):
    from aigc_auction import plotting

    df = pd.DataFrame({"mechanism": ["vcg"], "design_model": ["mnl"],
                       "true_model": ["mnl"], "welfare": [1.0]})
    _hide(monkeypatch, "matplotlib", "matplotlib.pyplot", "matplotlib.figure")
    with pytest.raises(MissingDependencyError, match=r"aigc_auction\[plot\]"):
        plotting.plot_sweep(df, tmp_path)
    with pytest.raises(MissingDependencyError, match=r"aigc_auction\[plot\]"):
        plotting.plot_welfare(df)


def test_cli_reports_a_missing_extra_in_one_line(monkeypatch, tmp_path, capsys):
    from aigc_auction.cli import main

    pd.DataFrame({"mechanism": ["vcg"], "design_model": ["mnl"], "true_model": ["mnl"],
                  "welfare": [1.0]}).to_parquet(tmp_path / "results.parquet")
    _hide(monkeypatch, "matplotlib", "matplotlib.pyplot", "matplotlib.figure")
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'aigc_auction[plot]'" in err


def test_dask_backend_without_distributed(monkeypatch):
    from aigc_auction.sweep import DaskBackend

    _hide(monkeypatch, "distributed")
    with pytest.raises(MissingDependencyError, match=r"aigc_auction\[distributed\]"):
        DaskBackend("local")


def test_pulp_solvers_without_pulp(monkeypatch):
    """The MILP for general cascade users names pulp as a core dependency."""
    inst = aa.Instance(ctr=[[0.3, 0.1], [0.2, 0.25]])
    _hide(monkeypatch, "pulp")
    mech = aa.VCG(aa.Cascade(continue_after_skip=0.9), solver="milp")
    with pytest.raises(MissingDependencyError, match="core dependency of aigc_auction"):
        mech.run(inst, np.array([1.0, 0.8]))
    with pytest.raises(MissingDependencyError, match="`pulp` is needed for the PuLP"):
        aa.VCG(aa.MNL(), solver="pulp_cbc").run(inst, np.array([1.0, 0.8]))
