"""Scenario discovery: PRIM (the EMA Workbench's) finds the box of inputs where the loss passes a threshold."""

from __future__ import annotations

import importlib.util
import sys

import pandas as pd
import pytest
from run_cli import routesim
from study_cases import line_file

from sim import api
from sim.explore.sensitivity import MissingDependencyError

needs_workbench = pytest.mark.skipif(
    importlib.util.find_spec("ema_workbench") is None, reason="optional extra not installed"
)

BOUNDS = ["price=40 USD/bbl:120 USD/bbl", "network.sources.field.storage.capacity=100kt:600kt"]


@needs_workbench
def test_prim_boxes_the_outage_length_and_leaves_the_price_free(tmp_path):
    # loss = 80 D - S kt on the storage-full segment: 2 Mt needs D >= 25 + S / 80, i.e. 26 to 33 d.
    path = line_file(tmp_path, duration={"dist": "uniform", "low": "5 d", "high": "45 d"})
    table = api.discover(path, "2Mt", bounds=BOUNDS, samples=120, seed=3).set_index("input")
    assert table.loc["shocks.0.duration", "restricted"]
    assert 25 <= table.loc["shocks.0.duration", "low"] <= 34
    assert not table.loc["price", "restricted"]
    box = table.attrs["box"]
    assert box["density"] >= 0.8 and box["coverage"] > 0.5
    samples = pd.DataFrame(table.attrs["samples"])
    assert table.attrs["cases_of_interest"] == int((samples["lost_export_t"] >= 2e6).sum())
    again = api.discover(path, "2Mt", bounds=BOUNDS, samples=120, seed=3).set_index("input")
    pd.testing.assert_frame_equal(table, again, check_exact=True)


@needs_workbench
def test_cli_discover_writes_the_box_and_the_samples(tmp_path):
    path = line_file(tmp_path)
    out = tmp_path / "box"
    args = ("--bound", "shocks.0.duration=5d:45d", *[a for b in BOUNDS for a in ("--bound", b)])
    proc = routesim("discover", str(path), "--threshold", "2Mt", "-N", "60", *args, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "60 points x 1 replication(s) = 60 runs" in proc.stderr and "restricted" in proc.stdout
    assert {p.name for p in out.iterdir()} >= {"discovery.csv", "discovery.png", "samples.csv", "manifest.json"}


def test_without_the_workbench_discovery_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ema_workbench", None)
    monkeypatch.setitem(sys.modules, "ema_workbench.analysis", None)
    path = line_file(tmp_path, duration={"dist": "uniform", "low": "5 d", "high": "45 d"})
    with pytest.raises(MissingDependencyError, match=r'pip install "routesim\[discovery\]"'):
        api.discover(path, "2Mt")
    proc = routesim("discover", str(path), "--threshold", "2Mt", "--no-save")
    assert proc.returncode == 2
    assert proc.stderr.strip() == 'error: scenario discovery needs the EMA Workbench: pip install "routesim[discovery]"'


@needs_workbench
def test_bad_bounds_are_refused_before_anything_runs(tmp_path):
    path = line_file(tmp_path)
    for bound, says in (("shocks.0.duration=-9d:9d", "shocks.0.duration"), ("shocks.0.duratio=1d:9d", "duratio")):
        proc = routesim("discover", str(path), "--threshold", "1Mt", "--bound", bound, "--no-save")
        assert proc.returncode == 2 and says in proc.stderr
        assert "Traceback" not in proc.stderr and "points x" not in proc.stderr
