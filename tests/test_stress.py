"""Reverse stress tests: bisection for the break of a threshold, and how long each route can be lost."""

from __future__ import annotations

import math

import pytest
from run_cli import routesim
from study_cases import hand_loss_t, line_file

from sim import api
from sim.scenario.errors import ScenarioError


def test_bisection_finds_the_hand_computed_break_within_a_day(tmp_path):
    # loss(D) = 80 D - 320 kt on the storage-full segment: 2 Mt is passed at D = 29 d.
    table = api.stress(line_file(tmp_path), "shocks.0.duration", "2Mt", tol="0.5d")
    attrs = table.attrs
    assert attrs["crossed"] and attrs["direction"] == "rises to or above"
    low, high = attrs["bracket"]
    assert abs(attrs["break"] - 29) <= 1 and high == attrs["break"]
    assert attrs["precision"] == high - low <= 0.5
    by_value = table.set_index("shocks.0.duration")["metric_value"]
    assert by_value[high] >= 2e6 > by_value[low]
    assert {"end", "bisection", "curve"} <= set(table["phase"])
    assert table["shocks.0.duration"].is_monotonic_increasing
    # On the steeper segment past the second kink: 120 D - 2000 kt = 3.5 Mt at D = 45.8 d.
    steep = api.stress(line_file(tmp_path), "shocks.0.duration", "3.5 Mt", interval="0d:60d", tol=0.25)
    assert abs(steep.attrs["break"] - 5500 / 120) <= 1
    assert hand_loss_t(math.floor(steep.attrs["break"])) < 3.5e6 <= hand_loss_t(math.ceil(steep.attrs["break"]))


def test_a_parameter_that_lowers_the_metric_breaks_where_it_falls_below(tmp_path):
    # A 20-day cut: loss = 1600 kt - min(S, 1200 kt drained by the horizon); under 1 Mt from S = 600 kt.
    table = api.stress(
        line_file(tmp_path), "network.sources.field.storage.capacity", "1Mt", interval="0kt:1000kt", tol="1kt"
    )
    assert table.attrs["direction"] == "falls below"
    assert abs(table.attrs["break"] - 600) <= 1


def test_no_break_in_the_range_is_reported_not_invented(tmp_path):
    table = api.stress(line_file(tmp_path), "shocks.0.duration", "10Mt")
    assert table.attrs["crossed"] is False and table.attrs["break"] is None and table.attrs["bracket"] is None
    assert table.attrs["at_high"] == pytest.approx(4e6)


def test_a_parameter_in_tonnes_bisects_to_the_hand_computed_break(tmp_path):
    path = line_file(tmp_path)
    table = api.stress(
        path,
        "network.sources.field.storage.capacity",
        "1Mt",
        interval="0 t:1000000 t",
        overrides=["network.sources.field.storage.capacity=320000 t"],
    )
    assert abs(table.attrs["break"] - 600_000) <= 1_000


def test_threshold_units_follow_the_metric(tmp_path):
    path = line_file(tmp_path)
    with pytest.raises(ScenarioError, match=r"<--threshold>: lost_export_t: .*30 d"):
        api.stress(path, "shocks.0.duration", "30 d")
    days = api.stress(path, "shocks.0.duration", "5d", metric="days_storage_full_d", interval="0d:40d", tol=0.5)
    assert days.attrs["crossed"] and days.attrs["threshold"] == 5


def test_survival_gives_the_days_each_route_can_be_lost_given_the_others(tmp_path):
    # Main closed from day 0: storage (320 kt) takes 80 kt/d for 4 days, then shut-in. The bypass
    # carries nothing normally: losing it costs nothing.
    table = api.survival(line_file(tmp_path)).set_index("route")
    assert table.loc["main", "survival_d"] == 4 and table.loc["main", "share_shut_in"] == 1
    assert math.isinf(table.loc["bypass", "survival_d"]) and table.loc["bypass", "lost_export_t_p50"] == 0


def test_cli_stress_prints_the_break_and_refuses_bad_input(tmp_path):
    path = line_file(tmp_path)
    ok = routesim("stress", str(path), "--param", "shocks.0.duration", "--threshold", "2Mt", "--no-save", "--tol", "1d")
    assert ok.returncode == 0, ok.stderr
    assert "Break" in ok.stdout and "bracket" in ok.stdout
    out = tmp_path / "survival"
    survival = routesim("stress", str(path), "--survival", "--out", str(out))
    assert survival.returncode == 0, survival.stderr
    assert "main" in survival.stdout and (out / "survival.csv").exists() and (out / "manifest.json").exists()
    for args, says in (
        (("--param", "shocks.0.duration"), "--threshold is required"),
        (("--param", "shocks.0.duration", "--threshold", "2 zz"), "<--threshold>"),
        (("--param", "price", "--threshold", "2Mt"), "<--range>: price: no range given"),
        (("--param", "shocks.0.duration", "--threshold", "2Mt", "--range", "9d:3d"), "must be below high"),
        (("--param", "shocks.0.duration", "--threshold", "2Mt", "--metric", "nope"), "unknown metric 'nope'"),
    ):
        proc = routesim("stress", str(path), *args, "--no-save")
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert says in proc.stderr, proc.stderr


def test_a_time_to_survive_that_never_comes_counts_as_infinitely_late(tmp_path):
    # Storage fills at 80 kt/d during the 20-day cut: first shut-in after S / 80 days, none from S = 1.6 Mt
    # (undefined, read as infinite). Ten days of survival need S = 800 kt.
    table = api.stress(
        line_file(tmp_path),
        "network.sources.field.storage.capacity",
        "10d",
        metric="time_to_survive_d",
        interval="0kt:2000kt",
        tol="5kt",
    )
    assert table.attrs["at_high"] == math.inf and table.attrs["crossed"]
    assert abs(table.attrs["break"] - 800) <= 80  # within a day of filling


def test_bisection_says_whether_the_points_it_tried_were_monotone(tmp_path):
    from sim.explore.stress import monotone

    assert monotone([0, 1, 1, 3]) and monotone([5, 2, 2, 0]) and monotone([1, float("nan"), 2])
    assert not monotone([13.9, 13.5, 13.6, 13.3])  # Trans-Caspian trains on the 2025 network do this
    table = api.stress(line_file(tmp_path), "shocks.0.duration", "2Mt", tol="1d")
    assert table.attrs["monotone"]
