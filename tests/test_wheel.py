"""The built wheel: what it ships, and the demo run from it outside the source tree.

The wheel is built once per session from a copy of the package sources (so no
``build/`` folder is left in the checkout and no stale file can leak into it),
without build isolation (setuptools and wheel come with the dev extra).
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXPERIMENT_CONFIGS = sorted(p.name for p in (REPO / "experiments" / "configs").glob("*.toml"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "aigc_auction", src / "aigc_auction",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
         "--quiet", "--disable-pip-version-check", "-w", str(out)],
        check=True, cwd=src, capture_output=True, text=True,
    )
    (whl,) = out.glob("aigc_auction-*.whl")
    return whl


def test_wheel_ships_configs_license_and_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_string(z.read(meta_name).decode())
    shipped = {n.removeprefix("aigc_auction/data/") for n in names
               if n.startswith("aigc_auction/data/") and n.endswith(".toml")}
    assert EXPERIMENT_CONFIGS and set(EXPERIMENT_CONFIGS) <= shipped
    assert "aigc_auction/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert meta.get_all("Classifier") and meta["Author"]
    requires = meta.get_all("Requires-Dist")
    core = [r.split(";")[0].split(">")[0].split("<")[0].strip().lower()
            for r in requires if "extra ==" not in r]
    assert "matplotlib" not in core and "dask" not in core and "networkx" not in core
    assert {"numpy", "scipy", "pandas", "pulp"} <= set(core)
    assert {"plot", "distributed", "all", "docs", "dev"} <= set(meta.get_all("Provides-Extra"))


def test_experiment_configs_are_the_shipped_ones() -> None:
    """One source of truth: experiments/configs/*.toml are the package's files."""
    data = REPO / "aigc_auction" / "data"
    for name in EXPERIMENT_CONFIGS:
        assert (REPO / "experiments" / "configs" / name).read_bytes() == \
            (data / name).read_bytes()


def test_demo_runs_from_the_wheel_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = (
        "import sys, aigc_auction\n"
        "print('from', aigc_auction.__file__)\n"
        "from aigc_auction.cli import main\n"
        "sys.exit(main(['demo', '--out', 'demo', '--workers', '1', '--no-progress']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first = proc.stdout.splitlines()[0]
    assert first == f"from {site / 'aigc_auction' / '__init__.py'}"
    assert f"Smoke sweep {site / 'aigc_auction' / 'data' / 'smoke.toml'}" in proc.stdout
    assert (work / "demo" / "results.parquet").is_file()
    assert (work / "demo" / "figures" / "welfare.png").is_file()
