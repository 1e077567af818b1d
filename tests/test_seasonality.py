"""Seasonality: recurring random shocks (a Poisson process with a rate per calendar month), the derate of a
sea leg's cargo (Caspian low water), and background shocks that shape the baseline too.

Statistical checks use fixed seeds in a loop, so they are deterministic: the bounds are wide (several standard
errors) and can only fail if the process is wrong, never by chance on a rerun.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import KT, make_scenario, run, validate

from sim.engine import realize_shocks
from sim.engine.shocks import occurrence_times, shock_rng
from sim.scenario.loader import load_scenario
from sim.scenario.schema import MONTHS, RecurringSpec

ROOT = Path(__file__).resolve().parents[1]

WINTER = {"Nov": 2, "Dec": 3, "Jan": "3 /month", "Feb": 3, "Mar": "1.5 /month"}
"""The brief's storm season: occurrences expected per calendar month; other months 0."""


def winter(rate: dict | None = None, duration: object = "1.5 d") -> RecurringSpec:
    return RecurringSpec.model_validate({"rate": rate or WINTER, "duration": duration})


def months_of(starts: np.ndarray, start_date: dt.date) -> list[str]:
    """Calendar month of each start day (days after ``start_date``)."""
    return [MONTHS[(start_date + dt.timedelta(days=float(d))).month - 1] for d in starts]


# -- the rate ------------------------------------------------------------------------------------


def test_rate_segments_cover_the_horizon_by_calendar_month():
    spec = winter()
    # From 16 January for 31 days: 16 days of January (3/31 per day), 15 of February (3/28 per day, 2027).
    segments = spec.segments(dt.date(2027, 1, 16), 31.0)
    assert segments == [(0.0, 16.0, pytest.approx(3 / 31)), (16.0, 31.0, pytest.approx(3 / 28))]
    assert spec.expected(dt.date(2027, 1, 16), 31.0) == pytest.approx(16 * 3 / 31 + 15 * 3 / 28)
    # A whole season, 1 Nov 2026 to 31 Mar 2027 (151 d): 2 + 3 + 3 + 3 + 1.5.
    assert spec.expected(dt.date(2026, 11, 1), 151.0) == pytest.approx(12.5)
    # A whole year: the sum of the monthly rates.
    assert spec.expected(dt.date(2026, 1, 1), 365.0) == pytest.approx(12.5)


def test_month_names_are_read_in_any_case_and_in_full():
    spec = RecurringSpec.model_validate(
        {"rate": {"january": 1, "FEB": "2/month", "March": "0.5 per month"}, "duration": 1}
    )
    assert spec.rate == {"Jan": 1.0, "Feb": 2.0, "Mar": 0.5}


# -- the Poisson process -------------------------------------------------------------------------


def test_counts_per_month_match_the_seasonal_rate():
    spec = winter()
    start = dt.date(2026, 11, 1)
    n = 2000
    counts = {m: np.zeros(n) for m in MONTHS}
    for rep in range(n):
        starts = occurrence_times(spec, start, 151.0, shock_rng(11, rep, 0))
        assert np.all(np.diff(starts) >= 0) and np.all((starts >= 0) & (starts < 151.0))
        for month in months_of(starts, start):
            counts[month][rep] += 1
    for month in MONTHS:
        rate = spec.rate.get(month, 0.0)
        mean, var = counts[month].mean(), counts[month].var()
        # Poisson: mean = variance = rate; the mean of 2000 draws is within 5 standard errors.
        assert abs(mean - rate) <= 5 * math.sqrt(rate / n) + 1e-12, (month, mean, rate)
        if rate > 0:
            assert var == pytest.approx(rate, rel=0.2), (month, var)
    total = sum(counts[m] for m in MONTHS)
    assert total.mean() == pytest.approx(12.5, abs=5 * math.sqrt(12.5 / n))


def test_no_occurrence_starts_in_a_zero_rate_month():
    start = dt.date(2026, 1, 1)
    spec = winter({"Jul": 20, "Aug": 0, "Dec": "5 /month"})
    seen = set()
    for rep in range(300):
        seen |= set(months_of(occurrence_times(spec, start, 365.0, shock_rng(3, rep, 0)), start))
    assert seen == {"Jul", "Dec"}


def test_all_zero_rates_give_no_occurrences():
    spec = winter({"Jan": 0})
    assert occurrence_times(spec, dt.date(2026, 1, 1), 365.0, shock_rng(1, 0, 0)).size == 0


# -- realized occurrences ------------------------------------------------------------------------

STORMS = {
    "name": "storms",
    "kind": "weather",
    "target": "novo",
    "recurring": {
        "rate": {"Jul": 4, "Aug": "3 /month"},
        "duration": {"dist": "lognormal", "median": "1.5 d", "sigma": 0.6},
    },
}
"""Recurring closures of the toy's port (the toy runs 60 days from 1 July)."""


def test_each_occurrence_is_a_realized_shock_numbered_in_time_order():
    shocks = realize_shocks(make_scenario([STORMS]), seed=5)
    assert len(shocks) > 0
    assert [s.occurrence for s in shocks] == list(range(1, len(shocks) + 1))
    assert all(s.index == 0 and s.kind == "weather" and s.happened and s.factor == 0.0 for s in shocks)
    assert [s.start_d for s in shocks] == sorted(s.start_d for s in shocks)
    assert len({s.duration_d for s in shocks}) == len(shocks)  # a duration drawn per occurrence
    row = shocks[0].as_dict()
    assert row["occurrence"] == 1 and row["background"] is False and row["target"] == "novo"
    assert row["end_d"] == pytest.approx(row["start_d"] + row["duration_d"])


def test_same_seed_same_occurrences_and_other_shocks_do_not_move_them():
    def draws(shocks, seed=9):
        return [(s.start_d, s.duration_d) for s in realize_shocks(make_scenario(shocks), seed=seed) if s.index == 0]

    first = draws([STORMS])
    assert first == draws([STORMS])
    other = {
        "kind": "outage",
        "target": "pipe",
        "start": {"dist": "uniform", "low": "1 d", "high": "9 d"},
        "duration": "3 d",
    }
    also_recurring = {**STORMS, "name": "more", "recurring": {"rate": {"Jul": 9}, "duration": "1 d"}}
    assert draws([STORMS, other, also_recurring]) == first
    assert draws([STORMS], seed=10) != first
    # Changing the duration's distribution does not move the start times (they are drawn first).
    longer = {
        **STORMS,
        "recurring": {**STORMS["recurring"], "duration": {"dist": "uniform", "low": "2 d", "high": "4 d"}},
    }
    assert [s for s, _ in draws([longer])] == [s for s, _ in first]


def test_replications_differ_and_each_is_reproducible():
    scenario = make_scenario([STORMS])
    runs = [[s.start_d for s in realize_shocks(scenario, replication=r)] for r in range(4)]
    assert len({tuple(r) for r in runs}) == 4
    assert runs[2] == [s.start_d for s in realize_shocks(scenario, replication=2)]


def test_any_kind_may_recur():
    recurring = {"rate": {"Jul": 3}, "duration": "2 d"}
    shocks = [
        {"kind": "outage", "target": "pipe", "factor": 0.5, "recurring": recurring},
        {"kind": "closure", "target": "bypass", "recurring": recurring},
        {"kind": "slowdown", "target": "load", "multiplier": 2, "recurring": recurring},
        {
            "kind": "production",
            "target": "field",
            "factor": {"dist": "uniform", "low": 0.2, "high": 0.8},
            "recurring": recurring,
        },
        {"kind": "derate", "target": "load", "factor": 0.8, "recurring": recurring},
    ]
    rep = run(make_scenario(shocks))
    assert {s.kind for s in rep.shocks} == {"outage", "closure", "slowdown", "production", "derate"}
    productions = [s.factor for s in rep.shocks if s.kind == "production"]
    assert len(set(productions)) == len(productions)  # a factor drawn per occurrence
    rep.scenario.check_balance()


def test_the_occurrence_limit_counts_the_horizon():
    # 40 a month for 60 days is fine; the same rate over 50 years (24,000 expected) is refused.
    ok = {"kind": "weather", "target": "novo", "recurring": {"rate": {m: 40 for m in MONTHS}, "duration": "1 h"}}
    make_scenario([ok])
    with pytest.raises(ValueError, match="refusing more than 10,000"):
        make_scenario([ok], horizon="50 yr")


# -- derate ----------------------------------------------------------------------------------------


def shuttle(shocks: list[dict]) -> dict:
    """One tanker shuttling from a well-stocked port tank to a market: 10 kt cargo, 1 h pumping + 23 h at the
    berth, 1 d out, 1 d back; a 3-day cycle, so the leg (not the field) is the bottleneck."""
    return {
        "name": "shuttle",
        "start_date": "2022-07-01",
        "horizon": "30 d",
        "seed": 1,
        "network": {
            "sources": {"field": {"production": "3 kt/d", "storage": {"capacity": "unlimited"}}},
            "ports": {"aktau": {"berths": 1}},
            "legs": {
                "ship": {
                    "kind": "sea",
                    "port": "aktau",
                    "fleet": 1,
                    "cargo": "10 kt",
                    "load_rate": "10 kt/h",
                    "berth_time": "23 h",
                    "laden_voyage": "1 d",
                    "ballast_voyage": "1 d",
                    "inlet_storage": {"capacity": "500 kt", "initial": "100 kt"},
                }
            },
            "routes": {"sea": {"source": "field", "legs": ["ship"], "market": "baku", "normal": "3 kt/d"}},
            "markets": {"baku": {}},
        },
        "shocks": shocks,
    }


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.0])
def test_derate_closed_form_a_bottleneck_leg_delivers_f_times(factor):
    # By hand: the tanker starts empty at the port (normal 3 kt/d x 1 d / 10 kt rounds to 0 at sea); it holds the
    # berth 23 h + f h, sails 1 d, discharges: arrivals at 2 + f/24 d, then every 3 - (1 - f)/24 d: 10 arrivals
    # in 30 days for any f in [0.1, 1] (the 10th at ~29 d, the 11th past 31 d). Each carries f x 10 kt.
    # Exports count at loading, at k x (3 - (1 - f)/24) d: k = 0..10 fall before day 30 when f < 1 (the 11th
    # at 30 - 10 (1 - f)/24 d), k = 0..9 when f = 1 (the 11th at exactly 30 d, the horizon).
    derate = {"kind": "derate", "target": "ship", "start": "0 d", "duration": "30 d", "factor": factor}
    rep = run(validate(shuttle([derate])))
    assert rep.baseline.arrivals.sum() == pytest.approx(10 * 10 * KT)
    assert rep.scenario.arrivals.sum() == pytest.approx(factor * 10 * 10 * KT)
    assert rep.scenario.cargoes == {"ship": 10}
    loads = 11 if factor < 1 else 10
    assert rep.baseline.exports.sum() == pytest.approx(10 * 10 * KT)
    assert rep.scenario.exports.sum() == pytest.approx(loads * factor * 10 * KT)
    assert rep.impact.values["lost_export_t"] == pytest.approx((100 - loads * factor * 10) * KT)
    rep.scenario.check_balance()


def test_derate_only_while_in_force():
    # Derated on days 0-10 only: the cargoes claimed then (arrivals on days ~2, 5, 8, 11) carry 8 kt, the rest 10.
    derate = {"kind": "derate", "target": "ship", "start": "0 d", "duration": "10 d", "factor": 0.8}
    rep = run(validate(shuttle([derate])))
    claimed_in_window = 4  # claims at ~0, 3, 6, 9 d
    assert rep.scenario.arrivals.sum() == pytest.approx((claimed_in_window * 8 + 6 * 10) * KT)
    # Loaded (exports) at 0, 2.99, 5.98, 8.98 d (8 kt), then every 3 d from 11.97 to 29.97 d: 7 x 10 kt.
    assert rep.scenario.exports.sum() == pytest.approx((claimed_in_window * 8 + 7 * 10) * KT)


# -- background shocks -------------------------------------------------------------------------------


def test_background_only_scenario_loses_nothing_and_the_baseline_has_it():
    background = {**STORMS, "background": True}
    rep = run(make_scenario([background]), seed=5)
    assert rep.shocks and all(s.background for s in rep.shocks)
    np.testing.assert_array_equal(rep.scenario.exports, rep.baseline.exports)
    values = rep.impact.values
    assert values["lost_export_t"] == 0.0 and values["peak_deficit_t"] == 0.0 and values["deferred_t"] == 0.0
    assert values["time_to_survive_d"] is None
    # The storms are in the baseline: it differs from the same network without them.
    clear = run(make_scenario([]), seed=5)
    assert not np.array_equal(rep.baseline.exports, clear.baseline.exports)


def test_background_weather_is_common_to_both_runs_and_only_the_scenario_shock_counts():
    outage = {"kind": "outage", "target": "pipe", "start": "20 d", "duration": "10 d", "factor": 0}
    background = {**STORMS, "background": True}
    # The storms come first in both files, so they draw from the same stream (shock 0) in both.
    with_weather = run(make_scenario([background, outage]), seed=5)
    alone = run(make_scenario([outage]), seed=5)
    weather = run(make_scenario([background]), seed=5)
    # Both runs of with_weather see the same storms (same draws): its baseline is the weather-only world.
    np.testing.assert_array_equal(with_weather.baseline.exports, weather.scenario.exports)
    # The outage's effect is measured against that world, and the disruption starts with the outage (day 20).
    lost = with_weather.impact.values["lost_export_t"]
    assert lost == pytest.approx(
        weather.scenario.balance().exported_t - with_weather.scenario.balance().exported_t, abs=1e-6
    )
    assert not np.array_equal(with_weather.baseline.exports, alone.baseline.exports)  # the storms are in it
    assert with_weather.impact.values["time_to_recover_d"] is not None


# -- the scenario files that use these features run -----------------------------------------------------


@pytest.mark.parametrize(
    "name", ["novorossiysk_winter_storms_2025.yaml", "cpc_closure_autumn_caspian_low_water_2025.yaml"]
)
def test_seasonal_scenario_files_run_and_balance(name):
    scenario = load_scenario(ROOT / "scenarios" / name).scenario
    for replication in range(2):
        rep = run(scenario, replication=replication)
        rep.scenario.check_balance()
        rep.baseline.check_balance()
        # A shock can leave the scenario with less oil in tanks and at sea at the horizon than its baseline
        # (cargo timing, drained field storage): exports may then exceed the baseline's, by less than a cargo.
        largest_cargo = max(leg.cargo for leg in scenario.network.legs.values() if leg.kind == "sea")
        assert rep.impact.values["lost_export_t"] >= -largest_cargo
    if name.startswith("novorossiysk"):
        expected = sum(s.recurring.expected(scenario.start_date, scenario.horizon) for s in scenario.shocks)
        assert expected == pytest.approx(2.4)
    else:
        derates = [s for s in rep.shocks if s.kind == "derate"]
        assert len(derates) == 2 and all(s.background and 0.75 <= s.factor <= 0.96 for s in derates)
