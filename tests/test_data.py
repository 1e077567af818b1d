"""Results as data: api.read and Outcome.data give pandas DataFrames; Parquet beside the CSVs."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import api

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "data" / "toy.yaml"
COIN = ("shocks.0.probability=0.5", "shocks.0.duration={dist: uniform, low: 4 d, high: 16 d}")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    outcome = api.run(TOY, overrides=list(COIN), replications=4)
    folder = api.save(outcome, out=tmp_path_factory.mktemp("data") / "run", plot=False)
    return outcome, folder


def test_impact_is_a_real_mapping():
    outcome = api.run(TOY)
    impact = outcome.impact
    assert isinstance(impact, Mapping)
    keys = list(impact)
    assert "lost_export_t" in keys and len(keys) == len(impact)
    assert dict(impact)["lost_export_t"] == impact["lost_export_t"]
    assert impact.units["lost_export_t"] == "t"
    assert list(impact.values()) == [impact[k] for k in impact]  # the Mapping method
    assert impact.values["lost_export_t"] == impact["lost_export_t"]  # the dict of earlier versions
    assert impact.values == outcome.replication.impact.values
    frame = impact.frame()
    assert list(frame.columns) == ["metric", "value", "unit"] and len(frame) == len(impact)


def test_read_gives_dataframes_on_dates(saved):
    outcome, folder = saved
    run = api.read(folder)
    daily = run.daily
    assert isinstance(daily.index, pd.DatetimeIndex) and daily.index.name == "date"
    assert daily.index[0] == pd.Timestamp(str(outcome.loaded.scenario.start_date))
    assert len(daily) == outcome.loaded.scenario.horizon
    np.testing.assert_array_equal(daily["exports_t"].to_numpy(), outcome.timeseries()["exports_t"])
    # the same frames from memory as from the folder
    pd.testing.assert_frame_equal(outcome.data.daily, daily)
    pd.testing.assert_frame_equal(outcome.data.summary, run.summary)


def test_long_form_has_route_quantity_unit(saved):
    _, folder = saved
    long = api.read(folder).daily_long
    assert {"date", "run", "quantity", "route", "value", "unit"} <= set(long.columns)
    exports = long[(long["quantity"] == "exports") & (long["run"] == "scenario")]
    total = exports[exports["route"] == "all"].set_index("date")["value"]
    by_route = exports[exports["route"] != "all"].groupby("date", observed=True)["value"].sum()
    np.testing.assert_allclose(total.to_numpy(), by_route.to_numpy(), rtol=1e-9, atol=1e-6)
    assert set(long.loc[long["quantity"] == "exports", "unit"]) == {"t/d"}
    assert set(long.loc[long["quantity"] == "tank", "unit"]) == {"t"}


def test_summary_and_ensemble_frames(saved):
    outcome, folder = saved
    run = api.read(folder)
    summary = run.summary
    assert list(summary.columns) == ["metric", "value", "unit"]
    row = summary.set_index("metric").loc["lost_export_t"]
    assert row["unit"] == "t" and row["value"] == outcome.impact["lost_export_t"]
    ensemble = run.ensemble
    assert ensemble.index.name == "replication" and list(ensemble.index) == [0, 1, 2, 3]
    np.testing.assert_array_equal(ensemble["lost_export_t"].to_numpy(), outcome.ensemble["lost_export_t"])
    stats = run.ensemble_stats.set_index(["metric", "statistic"])["value"]
    assert stats["lost_export_t", "p50"] == outcome.ensemble.stats["lost_export_t"]["p50"]
    assert run["summary"]["metrics"]["lost_export_t"]["value"] == outcome.impact["lost_export_t"]  # plain data


def test_parquet_beside_csv_holds_the_same_bits(saved):
    outcome, folder = saved
    series = pd.read_parquet(folder / "timeseries.parquet")
    for key, values in outcome.timeseries().items():
        if key != "date":
            np.testing.assert_array_equal(series[key].to_numpy(), np.asarray(values), err_msg=key)
    table = pd.read_parquet(folder / "ensemble.parquet")
    np.testing.assert_array_equal(table["lost_export_t"].to_numpy(), outcome.ensemble["lost_export_t"])


def test_run_folder_is_group_readable(saved):
    _, folder = saved
    mode = folder.stat().st_mode
    assert mode & stat.S_IRGRP and mode & stat.S_IXGRP
