"""Comparing scenarios: settings rows, normalised or refused mismatches, paired differences, CSV and plot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim import api
from sim.scenario.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "data" / "toy.yaml"
COIN = {"probability": 0.5, "duration": {"dist": "uniform", "low": "4 d", "high": "16 d"}}


def variant(tmp_path: Path, name: str, **changes) -> Path:
    """A copy of the toy scenario with top-level keys changed (and the first shock's, under ``shock``)."""
    data = yaml.safe_load(TOY.read_text())
    shock = changes.pop("shock", None)
    data.update(changes, name=name)
    if shock:
        data["shocks"][0].update(shock)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def routesim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_settings_rows_and_differences(tmp_path):
    a = variant(tmp_path, "short", shock={"duration": "5 d"})
    b = variant(tmp_path, "long", shock={"duration": "20 d"})
    table = api.compare([a, b])
    assert isinstance(table, pd.DataFrame)
    for row in ("horizon", "start", "price", "network", "lost_export_t"):
        assert row in table.index
    lost = table.loc["lost_export_t"]
    assert lost["Δ long"] == pytest.approx(lost["long"] - lost["short"])
    assert lost["unit"] == "t" and table.loc["price", "unit"] == "USD/bbl"
    assert table.attrs["notes"] == []


def test_mismatched_horizon_and_price_are_normalised_and_said(tmp_path):
    a = variant(tmp_path, "a")
    b = variant(tmp_path, "b", horizon="90 d", price="80 USD/bbl")
    table = api.compare([a, b])
    assert table.loc["horizon", "a"] == table.loc["horizon", "b"] == 90
    assert table.loc["price", "b"] == pytest.approx(table.loc["price", "a"])
    notes = " ".join(table.attrs["notes"])
    assert "a: horizon 60 d → 90 d" in notes and "b: price 80.00" in notes
    with pytest.raises(ScenarioError, match=r"horizons differ.*prices differ"):
        api.compare([a, b], normalise=False)


def test_saved_runs_with_different_horizons_are_refused(tmp_path):
    one = api.save(api.run(TOY), out=tmp_path / "one", plot=False)
    two = api.save(api.run(TOY, overrides=["horizon=90 d"]), out=tmp_path / "two", plot=False)
    same = api.compare([one, TOY])
    assert same.loc["lost_export_t", "Δ toy (2)"] == 0
    with pytest.raises(ScenarioError, match="horizons differ"):
        api.compare([one, two])
    # A file beside a saved run is normalised to the run's horizon and price.
    longer = variant(tmp_path, "longer", horizon="90 d", price="80 USD/bbl")
    mixed = api.compare([one, longer])
    assert mixed.loc["horizon", "longer"] == 60 and mixed.loc["price", "longer"] == pytest.approx(100)
    assert "longer: horizon 90 d → 60 d (as the saved runs)" in mixed.attrs["notes"]


def test_ensembles_are_paired_on_common_random_numbers(tmp_path):
    a = variant(tmp_path, "coin", shock=COIN)
    b = variant(tmp_path, "coin_longer", shock={**COIN, "duration": {"dist": "uniform", "low": "8 d", "high": "32 d"}})
    table = api.compare([a, b], replications=8)
    assert table.loc["replications", "coin"] == 8
    row = table.loc["lost_export_t"]
    outcomes = [api.run(p, replications=8, seed=table.loc["seed", "coin"]) for p in (a, b)]
    diff = outcomes[1].ensemble["lost_export_t"] - outcomes[0].ensemble["lost_export_t"]
    assert row["Δ coin_longer"] == pytest.approx(diff.mean())
    half = 1.96 * diff.std(ddof=1) / np.sqrt(diff.size)
    assert row["Δ coin_longer low"] == pytest.approx(diff.mean() - half)
    assert row["Δ coin_longer high"] == pytest.approx(diff.mean() + half)
    # the same shock happens in the same replications of both (common random numbers)
    np.testing.assert_array_equal(outcomes[0].ensemble.happened, outcomes[1].ensemble.happened)


def test_cli_compare_writes_csv_and_plot_and_is_not_cut_when_piped(tmp_path):
    a = variant(tmp_path, "a_scenario_with_a_rather_long_name_to_test_piping")
    b = variant(tmp_path, "b", horizon="90 d")
    proc = routesim("compare", str(a), str(b), "--csv", str(tmp_path / "c.csv"), "--plot", str(tmp_path / "c.png"))
    assert proc.returncode == 0, proc.stderr
    assert "a_scenario_with_a_rather_long_name_to_test_piping" in proc.stdout  # not cut to 80 columns
    assert "…" not in proc.stdout
    assert "normalised:" in proc.stdout and "horizon 60 d → 90 d" in proc.stdout
    table = pd.read_csv(tmp_path / "c.csv", index_col=0)
    assert "lost_export_t" in table.index and "Δ b" in table.columns
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    strict = routesim("compare", str(a), str(b), "--strict")
    assert strict.returncode == 2 and "horizons differ" in strict.stderr and "Traceback" not in strict.stderr


def test_ensemble_comparison_plot_draws_median_bands_and_the_distribution(tmp_path):
    from sim.api import comparison as compare

    a = variant(tmp_path, "coin", shock=COIN)
    prepared, _ = compare.prepare([a, TOY], replications=4)
    figure = compare.comparison_figure(prepared)
    curves, box = figure.axes
    assert "median and P10–P90" in curves.get_title()
    assert any("P50, band P10–P90" in t.get_text() for t in curves.get_legend().get_texts())
    assert box.get_xlabel() == "lost export volume, Mt"
