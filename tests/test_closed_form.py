"""Cases small enough to work out by hand: the arithmetic is in the comments, the engine must match it
to the tonne and to the day.

All networks here are one field feeding pipelines straight to a market, so exports on day d are what
the dispatcher put in on day d (transit 0) or what that pushed out of a full line (transit T).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import KT, line_data, line_scenario, make_scenario, outage, run, series, validate

from sim.engine import realize_shocks, simulate


def assert_series(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------------------------
# (a) full outage of the main line, storage, and a bypass with a lead time
# --------------------------------------------------------------------------------------------


def full_outage_with_bypass():
    """Field 100 kt/d, storage 300 kt (empty); main 120 kt/d (transit 0), cut to 0 on days 10..39;
    bypass 20 kt/d (transit 0, route capacity 20 kt/d, 60 USD/t vs 38) with a 5-day lead time."""
    scenario = line_scenario(
        storage={"capacity": "300 kt", "initial": 0},
        bypass={"capacity": "20 kt/d", "lead_time": "5 d"},
        shocks=[outage("main", "10 d", "30 d")],
        horizon="60 d",
        price="100 USD/t",
    )
    return run(scenario)


def test_full_outage_storage_fills_in_three_days_then_shuts_in():
    rep = full_outage_with_bypass()
    rec = rep.scenario
    # Days 10, 11, 12: 100 kt/d has nowhere to go -> storage 100, 200, 300 kt (full).
    # Days 13, 14: storage full, bypass not ready (needs since day 10 + 5 = day 15) -> 100 kt/d shut in.
    # Days 15..39: bypass takes 20 -> 80 kt/d shut in, storage stays 300.
    # Day 40: main back at 120 kt/d: normal 100 + 20 extra (cheapest first) + bypass 20 = 140 out of
    #   300 + 100 -> storage 260; then -40 kt/d: 220, 180, 140, 100, 60, 20 (day 46); day 47: supply
    #   20 + 100 = 120 all on main (100 normal + 20 extra), bypass gets nothing -> storage 0.
    expected_shut_in = series(60, [(13, 15, 100 * KT), (15, 40, 80 * KT)])
    assert_series(rec.shut_in[:, 0], expected_shut_in)
    expected_storage = series(60, [(10, 11, 100 * KT), (11, 12, 200 * KT), (12, 40, 300 * KT)])
    for k, day in enumerate(range(40, 47)):
        expected_storage[day] = (260 - 40 * k) * KT
    assert_series(rec.source_level[:, 0], expected_storage)
    # Produced = potential - shut-in; nothing is a production outage.
    assert_series(rec.produced[:, 0], 100 * KT - expected_shut_in)
    assert_series(rec.outage[:, 0], np.zeros(60))


def test_full_outage_exports_by_route_day_by_day():
    rec = full_outage_with_bypass().scenario
    main = rec.route_names.index("main")
    bypass = rec.route_names.index("bypass")
    # main: 100 on days 0..9, 0 on 10..39, 120 on 40..47 (backlog), 100 after.
    assert_series(rec.exports[:, main], series(60, [(0, 10, 100 * KT), (40, 48, 120 * KT), (48, 60, 100 * KT)]))
    # bypass: 20 from day 15 (10 + lead time 5) to day 46; on day 47 the main line clears the rest.
    assert_series(rec.exports[:, bypass], series(60, [(15, 47, 20 * KT)]))


def test_full_outage_headline_metrics_by_hand():
    values = full_outage_with_bypass().impact.values
    # Shut in: 2 d x 100 + 25 d x 80 = 2200 kt; storage ends empty, so all of it is lost export.
    assert values["shut_in_t"] == pytest.approx(2200 * KT, abs=1e-6)
    assert values["lost_shut_in_t"] == pytest.approx(2200 * KT, abs=1e-6)
    assert values["lost_export_t"] == pytest.approx(2200 * KT, abs=1e-6)
    assert values["lost_inventory_t"] == pytest.approx(0.0, abs=1e-6)
    assert values["lost_production_outage_t"] == pytest.approx(0.0, abs=1e-6)
    # Deficit peaks at the end of day 39: 5 d x 100 + 25 d x 80 = 2500 kt; 300 kt of it (the storage)
    # is exported later (days 40..47), so deferred = 2500 - 2200 = 300 kt.
    assert values["peak_deficit_t"] == pytest.approx(2500 * KT, abs=1e-6)
    assert values["deferred_t"] == pytest.approx(300 * KT, abs=1e-6)
    # Storage (300 kt) covers a 100 kt/d deficit for 3 days: shut-in starts on day 13 = start + 3.
    assert values["time_to_survive_d"] == 3
    # Storage full at the end of days 12..39: 28 days.
    assert values["days_storage_full_d"] == 28
    assert values["peak_storage_t"] == pytest.approx(300 * KT, abs=1e-6)
    # Bypass carries 20 kt/d on days 15..46 = 32 d x 20 = 640 kt, at 60 - 38 = 22 USD/t more.
    assert values["rerouted_t"] == pytest.approx(640 * KT, abs=1e-6)
    assert values["extra_transport_cost_usd"] == pytest.approx(640 * KT * 22, abs=1e-3)
    # Revenue at 100 USD/t.
    assert values["revenue_lost_usd"] == pytest.approx(2200 * KT * 100, abs=1e-3)
    # Resilience area = sum of the cumulative deficit over days:
    #   days 10..14: 100+200+300+400+500 = 1500; days 15..39: sum_{k=1..25} (500 + 80k) = 12500 + 26000
    #   = 38500; days 40..46: sum_{k=1..7} (2500 - 40k) = 17500 - 1120 = 16380; days 47..59: 13 x 2200
    #   = 28600. Total 84980 kt*d.
    assert values["resilience_area_td"] == pytest.approx(84980 * KT, abs=1e-3)
    # Recovery (7-day windows, 2 % tolerance, no tanker slack): exports are 100 again from day 48;
    # the window ending on day 53 still holds day 47's 120 (720 vs 700 kt: 20 kt > 14 kt), the one
    # ending on day 54 is clean -> recovered on day 54 = 44 days after the start (day 10).
    assert values["time_to_recover_d"] == 44


# --------------------------------------------------------------------------------------------
# (b) a partial outage that storage absorbs
# --------------------------------------------------------------------------------------------


def half_outage(horizon: str):
    """Field 100 kt/d, storage 300 kt; main 120 kt/d at factor 0.5 (60 kt/d) on days 10..14, no bypass."""
    return run(
        line_scenario(
            storage={"capacity": "300 kt", "initial": 0},
            shocks=[outage("main", "10 d", "5 d", factor=0.5)],
            horizon=horizon,
        )
    )


def test_partial_outage_absorbed_by_storage_is_deferred_not_lost():
    rep = half_outage("40 d")
    rec, values = rep.scenario, rep.impact.values
    # Days 10..14: 60 out, 40 into storage -> 40, 80, 120, 160, 200 kt (never full).
    # Days 15..24: 120 out (100 + 20 of backlog) -> 180, 160, ..., 0 on day 24.
    assert_series(
        rec.exports[:, 0], series(40, [(0, 10, 100 * KT), (10, 15, 60 * KT), (15, 25, 120 * KT), (25, 40, 100 * KT)])
    )
    expected_storage = np.zeros(40)
    expected_storage[10:15] = np.arange(1, 6) * 40 * KT
    expected_storage[15:25] = (200 - 20 * np.arange(1, 11)) * KT
    assert_series(rec.source_level[:, 0], expected_storage)
    assert rec.shut_in.sum() == 0.0
    assert values["shut_in_t"] == 0.0
    assert values["lost_export_t"] == pytest.approx(0.0, abs=1e-6)
    # Deficit peaks at 5 x 40 = 200 kt, all of it caught up: deferred 200 kt.
    assert values["deferred_t"] == pytest.approx(200 * KT, abs=1e-6)
    assert values["peak_storage_t"] == pytest.approx(200 * KT, abs=1e-6)
    assert values["time_to_survive_d"] is None  # shut-in never exceeds the baseline's
    assert values["days_storage_full_d"] == 0
    # Area: 40+80+120+160+200 = 600 plus 180+160+...+20+0 = 20 x 45 = 900 -> 1500 kt*d.
    assert values["resilience_area_td"] == pytest.approx(1500 * KT, abs=1e-3)
    # Exports are 100 again from day 25; window ending on day 30 holds day 24's 120 (720 vs 700 > 14),
    # window ending on day 31 is clean -> 31 - 10 = 21 days.
    assert values["time_to_recover_d"] == 21


def test_partial_outage_backlog_not_cleared_by_horizon_is_lost_inventory():
    values = half_outage("20 d").impact.values
    # Horizon 20 d: storage at the end of day 19 = 200 - 5 x 20 = 100 kt still in the field.
    assert values["lost_export_t"] == pytest.approx(100 * KT, abs=1e-6)
    assert values["lost_inventory_t"] == pytest.approx(100 * KT, abs=1e-6)
    assert values["lost_shut_in_t"] == pytest.approx(0.0, abs=1e-6)
    # Peak deficit 200 kt, 100 kt of it caught up.
    assert values["deferred_t"] == pytest.approx(100 * KT, abs=1e-6)


# --------------------------------------------------------------------------------------------
# (c) slowdowns and overlapping shocks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transit", ["0 d", "5 d"])
def test_slowdown_times_two_halves_pipeline_capacity(transit):
    # Same numbers as (b): 120 / 2 = 60 kt/d on days 10..14, the backlog of 200 kt clears at 20 kt/d.
    # With transit 5 d the line starts full (600 kt), so each day's intake pushes as much out.
    scenario = line_scenario(
        storage={"capacity": "300 kt", "initial": 0},
        transit=transit,
        shocks=[{"kind": "slowdown", "target": "main", "start": "10 d", "duration": "5 d", "multiplier": 2}],
        horizon="40 d",
    )
    rep = run(scenario)
    rec = rep.scenario
    assert_series(
        rec.intake[:, 0], series(40, [(0, 10, 100 * KT), (10, 15, 60 * KT), (15, 25, 120 * KT), (25, 40, 100 * KT)])
    )
    assert_series(rec.exports[:, 0], rec.intake[:, 0])
    linefill = 120 * KT * (5 if transit == "5 d" else 0)
    assert_series(rec.leg_transit[:, 0], np.full(40, linefill))  # a slowdown does not drain the line
    assert rep.impact.values["deferred_t"] == pytest.approx(200 * KT, abs=1e-6)
    assert rep.impact.values["lost_export_t"] == pytest.approx(0.0, abs=1e-6)


def test_slowdown_and_outage_on_one_line_multiply():
    # factor 0.5 and multiplier 2 on days 10..14: 120 x 0.5 / 2 = 30 kt/d.
    scenario = line_scenario(
        storage={"capacity": "unlimited"},
        shocks=[
            outage("main", "10 d", "5 d", factor=0.5),
            {"kind": "slowdown", "target": "main", "start": "10 d", "duration": "5 d", "multiplier": 2},
        ],
        horizon="20 d",
    )
    rec = run(scenario).scenario
    assert_series(rec.exports[10:15, 0], np.full(5, 30 * KT))
    # Storage grows by 70 kt/d: 350 kt at the end of day 14, then drains at 20 kt/d.
    assert rec.source_level[14, 0] == pytest.approx(350 * KT, abs=1e-6)
    assert rec.source_level[19, 0] == pytest.approx(250 * KT, abs=1e-6)


def test_overlapping_outages_take_the_smallest_factor():
    # Factor 0.5 on days 10..14 and 0.75 on days 12..16: min -> 0.5 on 10..14, 0.75 on 15..16.
    # Capacity 120: 60 kt/d on 10..14, 90 kt/d on 15..16; unlimited storage takes the rest.
    scenario = line_scenario(
        storage={"capacity": "unlimited"},
        shocks=[outage("main", "10 d", "5 d", factor=0.5), outage("main", "12 d", "5 d", factor=0.75)],
        horizon="30 d",
    )
    rec = run(scenario).scenario
    assert_series(rec.exports[10:17, 0], np.array([60, 60, 60, 60, 60, 90, 90]) * KT)
    # Backlog: 5 x 40 + 2 x 10 = 220 kt at the end of day 16, cleared at 20 kt/d by day 27.
    assert rec.source_level[16, 0] == pytest.approx(220 * KT, abs=1e-6)
    assert rec.source_level[27, 0] == pytest.approx(0.0, abs=1e-6)
    assert rec.source_level[26, 0] == pytest.approx(20 * KT, abs=1e-6)


def test_half_day_outage_averages_over_the_day():
    # Outage factor 0 from day 10.5 for 1 day: half of day 10 and half of day 11 -> 60 kt/d on each.
    scenario = line_scenario(
        storage={"capacity": "unlimited"}, shocks=[outage("main", "10.5 d", "1 d")], horizon="15 d"
    )
    rec = run(scenario).scenario
    assert_series(rec.exports[9:13, 0], np.array([100, 60, 60, 120]) * KT)


# --------------------------------------------------------------------------------------------
# (d) first fill of an empty line
# --------------------------------------------------------------------------------------------


def test_empty_line_delivers_nothing_for_transit_days_at_full_flow():
    # 120 kt/d into a 120 kt/d line with transit 5 d: linefill 600 kt. Days 0..4 fill it
    # (120, 240, ..., 600), day 5 pushes the first 120 kt out.
    net = line_scenario(
        production="120 kt/d", normal="120 kt/d", transit="5 d", initial_linefill="empty", horizon="10 d"
    ).network
    rec = simulate(net, [], 10)
    assert_series(rec.exports[:, 0], series(10, [(5, 10, 120 * KT)]))
    assert_series(rec.leg_transit[:, 0], np.minimum(np.arange(1, 11) * 120, 600) * KT)
    balance = rec.check_balance()
    assert balance.initial_inventory_t == 0.0
    assert balance.in_transit_t == pytest.approx(600 * KT)


def test_empty_line_at_lower_flow_takes_linefill_over_flow_days():
    # 100 kt/d into the same line: 600 / 100 = 6 days to fill, first delivery on day 6.
    net = line_scenario(transit="5 d", initial_linefill="empty", horizon="10 d").network
    rec = simulate(net, [], 10)
    assert_series(rec.exports[:, 0], series(10, [(6, 10, 100 * KT)]))


def test_full_line_delivers_from_day_zero():
    net = line_scenario(transit="5 d", horizon="10 d").network
    rec = simulate(net, [], 10)
    assert_series(rec.exports[:, 0], np.full(10, 100 * KT))
    assert rec.initial_inventory_t == pytest.approx(600 * KT)


# --------------------------------------------------------------------------------------------
# (e) production shocks are an outage, not a shut-in
# --------------------------------------------------------------------------------------------


def test_production_shock_is_reported_as_production_outage_not_shut_in():
    # Factor 0.5 on days 10..19: potential 50 kt/d -> 10 x 50 = 500 kt never produced. The field's
    # ramp_up (10 d) applies only after a shut-in cut, so it does not stretch this.
    scenario = line_scenario(
        storage={"capacity": "300 kt", "initial": 0},
        source_extra={"ramp_up": "10 d", "restart_delay": "2 d"},
        shocks=[{"kind": "production", "target": "field", "start": "10 d", "duration": "10 d", "factor": 0.5}],
        horizon="40 d",
    )
    rep = run(scenario)
    rec, values = rep.scenario, rep.impact.values
    assert_series(rec.outage[:, 0], series(40, [(10, 20, 50 * KT)]))
    assert_series(rec.produced[:, 0], 100 * KT - rec.outage[:, 0])
    assert rec.shut_in.sum() == 0.0
    assert values["lost_production_outage_t"] == pytest.approx(500 * KT, abs=1e-6)
    assert values["lost_shut_in_t"] == pytest.approx(0.0, abs=1e-6)
    assert values["lost_export_t"] == pytest.approx(500 * KT, abs=1e-6)
    assert values["time_to_survive_d"] is None


def test_production_shock_ramp_back_is_hourly_linear():
    # Factor 0.5 on days 10..19, then a 5-day ramp: hour k = 1..120 after the end runs at
    # 0.5 + 0.5 k/120. Missing: 50 kt/d x sum_k (1 - k/120) h = 50 x (120 - 60.5) / 24 = 123.958 kt.
    scenario = line_scenario(
        shocks=[
            {"kind": "production", "target": "field", "start": "10 d", "duration": "10 d", "factor": 0.5, "ramp": "5 d"}
        ],
        horizon="40 d",
    )
    values = run(scenario).impact.values
    ramp_t = 50 * KT * (120 - 60.5) / 24
    assert values["lost_production_outage_t"] == pytest.approx(500 * KT + ramp_t, abs=1e-3)
    # First ramp day (day 20) averages hours 1..24: 1 - 12.5/120 of the 50 kt/d deficit recovered.
    rec = run(scenario).scenario
    assert rec.outage[20, 0] == pytest.approx(50 * KT * (1 - 12.5 / 120), abs=1e-6)
    assert rec.outage[25, 0] == pytest.approx(0.0, abs=1e-6)


# --------------------------------------------------------------------------------------------
# (f) restart delay and ramp-up after a full shut-in
# --------------------------------------------------------------------------------------------


def test_restart_delay_then_ramp_after_full_shut_in():
    # No storage: the outage on days 10..14 shuts the field in completely (produced 0 -> stopped).
    # The line is usable again on day 15: restart delay 2 d -> zero output on days 15, 16; then the
    # ramp (4 d: +25 kt/d): 25, 50, 75 on days 17..19, full from day 20.
    scenario = line_scenario(
        source_extra={"restart_delay": "2 d", "ramp_up": "4 d"},
        shocks=[outage("main", "10 d", "5 d")],
        horizon="30 d",
    )
    rep = run(scenario)
    expected = series(
        30, [(0, 10, 100 * KT), (17, 18, 25 * KT), (18, 19, 50 * KT), (19, 20, 75 * KT), (20, 30, 100 * KT)]
    )
    assert_series(rep.scenario.produced[:, 0], expected)
    # Shut-in: 7 d x 100 + 75 + 50 + 25 = 850 kt, all lost (no storage).
    assert rep.impact.values["shut_in_t"] == pytest.approx(850 * KT, abs=1e-6)
    assert rep.impact.values["lost_export_t"] == pytest.approx(850 * KT, abs=1e-6)


def test_restart_delay_counts_from_when_a_route_can_take_oil():
    # No storage, restart delay 5 d, no ramp. Main line out on days 10..29; the only other outlet is
    # a 20 kt/d bypass with a 10-day lead time, first needed on day 10 -> usable from day 20.
    # The first day oil could go somewhere again is day 20, so the restart delay runs on days
    # 20..24 and the field produces 20 kt/d (what the bypass takes) from day 25, 100 from day 30.
    scenario = line_scenario(
        source_extra={"restart_delay": "5 d"},
        bypass={"capacity": "20 kt/d", "lead_time": "10 d"},
        shocks=[outage("main", "10 d", "20 d")],
        horizon="40 d",
    )
    produced = run(scenario).scenario.produced[:, 0]
    assert_series(produced, series(40, [(0, 10, 100 * KT), (25, 30, 20 * KT), (30, 40, 100 * KT)]))


def test_realized_shocks_of_the_hand_cases_are_what_was_written():
    # Guards the cases above against a silent change in how starts/durations are read.
    scenario = line_scenario(shocks=[outage("main", "10 d", "30 d", factor=0.25)])
    (shock,) = realize_shocks(scenario)
    assert (shock.start_d, shock.duration_d, shock.factor, shock.happened) == (10.0, 30.0, 0.25, True)


# --------------------------------------------------------------------------------------------
# (g) closures, and an outage of a tanker loading leg
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("med", id="market"),
        pytest.param("main", id="route"),
    ],
)
def test_closure_of_the_only_outlet_works_like_a_full_outage(target):
    # Field 100 kt/d, storage 300 kt, main 120 kt/d (transit 0) to market med; closed on days 10..14.
    # Days 10..12: storage 100, 200, 300; days 13, 14: 100 kt/d shut in (200 kt).
    # Day 15: 120 out, storage 280, then -20 kt/d: 0 at the end of day 29.
    scenario = line_scenario(
        storage={"capacity": "300 kt", "initial": 0},
        shocks=[{"kind": "closure", "target": target, "start": "10 d", "duration": "5 d"}],
        horizon="40 d",
    )
    rep = run(scenario)
    rec = rep.scenario
    assert np.isfinite(rec.intake).all() and np.isfinite(rec.exports).all()
    assert_series(
        rec.exports[:, 0],
        series(40, [(0, 10, 100 * KT), (15, 29, 120 * KT), (29, 30, 100 * KT + 20 * KT), (30, 40, 100 * KT)]),
    )
    assert_series(rec.shut_in[:, 0], series(40, [(13, 15, 100 * KT)]))
    assert rep.impact.values["lost_export_t"] == pytest.approx(200 * KT, abs=1e-6)
    assert rep.impact.values["time_to_survive_d"] == 3


def test_two_day_loading_outage_only_delays_a_few_cargoes():
    # The toy: 100 kt/d into port tanks of 500 kt (200 kt at the start), cargoes of 100 kt loaded at
    # 12000 t/h (0.35 d each) on 2 active berths, 12 tankers on a 6.35-day cycle. Loading stops on
    # days 10..11: the tanks (about 100 kt before) absorb the 200 kt that arrive, well under 500 kt; and
    # after day 12 the berths catch up. Expected: at most one cargo's worth missing at the horizon,
    # and tankers sailing every day of the last weeks -- as for a 2-day weather closure of the port.
    rep = run(make_scenario([outage("load", "10 d", "2 d")]))
    weather = run(make_scenario([{"kind": "weather", "target": "novo", "start": "10 d", "duration": "2 d"}]))
    assert weather.impact.values["lost_export_t"] <= 100 * KT  # the port closure is harmless
    assert rep.impact.values["lost_export_t"] <= 100 * KT
    assert rep.scenario.exports[40:, 0].min() > 0


# --------------------------------------------------------------------------------------------
# (h) shared lines and pump stations
# --------------------------------------------------------------------------------------------


def _shared_line(sharing: str, shocks: list[dict]):
    data = line_data(
        capacity="200 kt/d",
        normal="120 kt/d",
        production="120 kt/d",
        storage={"capacity": "unlimited"},
        shocks=shocks,
        horizon="20 d",
    )
    data["network"]["legs"]["main"].update(
        third_party="80 kt/d", sharing=sharing, pump_stations={"ps2": {"capacity_without": 0.3}}
    )
    return run(validate(data)).scenario


@pytest.mark.parametrize(("sharing", "ours"), [("pro_rata", 60), ("spare", 20)])
def test_third_party_sharing_in_a_half_outage(sharing, ours):
    # Line 200 kt/d, third parties 80 -> ours 120. At factor 0.5 (100 kt/d in all):
    #   pro_rata: we keep our share, 120 x 0.5 = 60; spare: we get what they leave, 100 - 80 = 20.
    rec = _shared_line(sharing, [outage("main", "5 d", "5 d", factor=0.5)])
    assert_series(rec.exports[:10, 0], series(10, [(0, 5, 120 * KT), (5, 10, ours * KT)]))


def test_pump_station_out_leaves_its_capacity_without():
    # Station ps2 fully out (factor 0) leaves 0.3 of the line; pro_rata: 120 x 0.3 = 36 kt/d.
    # Half out (factor 0.5): 1 - (1 - 0.5) x (1 - 0.3) = 0.65 -> 78 kt/d.
    rec = _shared_line("pro_rata", [outage("main.ps2", "5 d", "2 d"), outage("main.ps2", "7 d", "2 d", factor=0.5)])
    assert_series(rec.exports[4:10, 0], np.array([120, 36, 36, 78, 78, 120]) * KT)


# --------------------------------------------------------------------------------------------
# (i) block trains with a limited fleet
# --------------------------------------------------------------------------------------------


def test_rail_fleet_cycle_limits_throughput():
    # 5 trains/d of 10 kt, 10 train sets; 2 d running + 1 d border -> arrival 3 days after dispatch,
    # 2 d back -> a set is home 5 days after it left. Days 0, 1: 5 sets each (all 10 out); they arrive
    # on days 3, 4 and are back on days 5, 6, which dispatch again: 50 kt on days 3, 4, 8, 9, 13, 14, ...
    # i.e. 20 kt/d on average; the field's other 30 kt/d piles up in (unlimited) storage.
    data = line_data(production="50 kt/d", normal="50 kt/d", storage={"capacity": "unlimited"}, horizon="20 d")
    data["network"]["legs"]["main"] = {
        "kind": "rail",
        "payload": "10 kt",
        "trains_per_day": 5,
        "transit": "2 d",
        "border_delay": "1 d",
        "return_transit": "2 d",
        "fleet": 10,
    }
    rec = run(validate(data)).scenario
    arrivals = [d for start in range(3, 20, 5) for d in (start, start + 1) if d < 20]
    assert_series(rec.exports[:, 0], series(20, [(d, d + 1, 50 * KT) for d in arrivals]))
    dispatch = [d for start in range(0, 20, 5) for d in (start, start + 1)]
    assert_series(rec.intake[:, 0], series(20, [(d, d + 1, 50 * KT) for d in dispatch]))
    # Storage: +50 every day, -50 on dispatch days -> 20 d x 50 - 8 x 50 = 600 kt at the end.
    assert rec.source_level[-1, 0] == pytest.approx(600 * KT)
    # 8 dispatches (days 0, 1, 5, 6, 10, 11, 15, 16) all arrive by day 19: 400 kt out, nothing on rails.
    assert rec.exports.sum() == pytest.approx(400 * KT)
    assert rec.final_in_transit_t == pytest.approx(0.0)


def test_rail_oil_on_trains_never_exceeds_the_fleet():
    # 20 sets of 10 kt, 5 trains/d, 2 d out + 2 d back: exactly enough for the field's 50 kt/d. The
    # market closes on days 10..29. Trains that arrive cannot unload, so they stay loaded: at most
    # 20 x 10 = 200 kt can be on rails, dispatch stops once every set is waiting, and the field (no
    # storage) is shut in for most of the closure. On reopening at most 200 kt can arrive in a day.
    data = line_data(
        production="50 kt/d",
        normal="50 kt/d",
        storage={"capacity": 0},
        horizon="40 d",
        shocks=[{"kind": "closure", "target": "med", "start": "10 d", "duration": "20 d"}],
    )
    data["network"]["legs"]["main"] = {
        "kind": "rail",
        "payload": "10 kt",
        "trains_per_day": 5,
        "transit": "2 d",
        "return_transit": "2 d",
        "fleet": 20,
    }
    rep = run(validate(data))
    rec = rep.scenario
    assert (rec.exports[:, 0] >= 0).all() and rec.exports[:10, 0].sum() == pytest.approx(8 * 50 * KT)  # days 2..9
    assert rec.leg_transit[:, 0].max() <= 200 * KT + 1e-6  # engine: 1100 kt
    assert rec.exports[:, 0].max() <= 200 * KT + 1e-6  # engine: 1050 kt on day 30
    # Every set is loaded and waiting by day ~14 at the latest: >= 15 d x 50 kt shut in.
    assert rec.shut_in[10:30, 0].sum() >= 15 * 50 * KT  # engine: nothing shut in
