"""Global sensitivity (Sobol, Morris) with SALib, an optional extra."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pandas as pd
import pytest
from run_cli import routesim
from study_cases import line_file

from sim import api
from sim.explore.sensitivity import MissingDependencyError

needs_salib = pytest.mark.skipif(importlib.util.find_spec("SALib") is None, reason="optional extra not installed")

DURATION = {"dist": "uniform", "low": "10 d", "high": "40 d"}
"""The cut's length as a distribution: the input that matters (loss = 80 D - 320 kt there)."""


@needs_salib
def test_sobol_puts_at_least_0_9_on_the_only_input_that_matters(tmp_path):
    path = line_file(tmp_path, duration=DURATION)
    table = api.sensitivity(path, "sobol", 32, bounds=["price=40 USD/bbl:120 USD/bbl"], seed=11)
    rows = table.set_index("input")
    assert list(table["input"]) == ["shocks.0.duration", "price"]  # most influential first
    assert rows.loc["shocks.0.duration", "S1"] >= 0.9 and rows.loc["shocks.0.duration", "ST"] >= 0.9
    assert rows.loc["price", "ST"] == pytest.approx(0, abs=0.02)
    assert rows.loc["shocks.0.duration", "kind"] == "distribution" and rows.loc["price", "kind"] == "bound"
    assert table.attrs["samples_run"] == 32 * (2 + 2) and table.attrs["runs"] == 128
    samples = pd.DataFrame(table.attrs["samples"])
    assert samples["shocks.0.duration"].between(10, 40).all()  # quantiles of the uniform, in days
    again = api.sensitivity(path, "sobol", 32, bounds=["price=40 USD/bbl:120 USD/bbl"], seed=11)
    pd.testing.assert_frame_equal(table, again, check_exact=True)


@needs_salib
def test_morris_screens_out_the_input_that_does_not_matter(tmp_path):
    path = line_file(tmp_path)
    table = api.sensitivity(
        path, "morris", 6, bounds=["shocks.0.duration=10d:40d", "price=40 USD/bbl:120 USD/bbl"], seed=2
    ).set_index("input")
    # A move across the whole range of D (30 d) changes the loss by 80 kt/d x 30 d = 2.4 Mt.
    assert table.loc["shocks.0.duration", "mu_star"] == pytest.approx(2.4e6)
    assert table.loc["shocks.0.duration", "sigma"] == pytest.approx(0, abs=1e-6)
    assert table.loc["price", "mu_star"] == 0


@needs_salib
def test_cli_prints_sample_sizes_before_running_and_writes_the_study(tmp_path):
    path = line_file(tmp_path, duration=DURATION)
    out = tmp_path / "si"
    proc = routesim("sensitivity", str(path), "-N", "8", "--bound", "price=40 USD/bbl:120 USD/bbl", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "N = 8, 2 input(s) -> 32 samples x 1 replication(s) = 32 runs" in proc.stderr
    assert {p.name for p in out.iterdir()} >= {"sensitivity.csv", "samples.csv", "sensitivity.png", "manifest.json"}
    assert len(pd.read_csv(out / "samples.csv")) == 32


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("-N", "10"), "not a power of 2"),
        (("--method", "sobol", "--bound", "price=9:3"), "must be below high"),
        (("--bound", "shocks.0.duratio=1d:9d"), "unknown key 'duratio'"),
        (("--bound", "shocks.0.duration=-9d:9d"), "shocks.0.duration"),
    ],
)
@needs_salib
def test_cli_refuses_bad_input_in_one_line_with_exit_2(tmp_path, args, says):
    proc = routesim("sensitivity", str(line_file(tmp_path)), *args, "--no-save")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert says in proc.stderr


@needs_salib
def test_a_scenario_without_uncertain_inputs_is_refused(tmp_path):
    proc = routesim("sensitivity", str(line_file(tmp_path)), "--no-save")
    assert proc.returncode == 2 and "no uncertain inputs" in proc.stderr


def test_without_salib_the_package_imports_and_the_command_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "SALib", None)  # import SALib now raises ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "routesim\[sensitivity\]"'):
        api.sensitivity(line_file(tmp_path, duration=DURATION))
    proc = routesim("sensitivity", str(line_file(tmp_path, duration=DURATION)), "--no-save")
    assert proc.returncode == 2
    assert proc.stderr.strip() == 'error: sensitivity analysis needs SALib: pip install "routesim[sensitivity]"'


def test_the_package_never_imports_salib_dask_or_the_workbench_on_its_own():
    code = (
        "import sys, sim, sim.api, sim.cli, sim.explore.sweep, sim.explore.stress, sim.explore.sensitivity, "
        "sim.explore.output, sim.explore.discovery; print(sorted(m for m in sys.modules if m.split('.')[0] in ('SALib', 'dask', 'ema_workbench')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
