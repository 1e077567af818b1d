"""Moorings and berths as units (issue 10, section 2): ``berths_out`` outages on one port add up, a
standby mooring takes over after the port's ``standby_delay``, factors (weather) combine with counts,
and the impact clock starts at the first shock that changes a capacity. Every expectation is worked out
by hand in the comments."""

from __future__ import annotations

import numpy as np
from helpers import KT, make_scenario, run

from sim.engine import realize_shocks
from sim.engine.model import port_terms, pump_stations
from sim.engine.shocks import STEPS_PER_DAY, Timelines


def port_outage(start: str, duration: str, out: int) -> dict:
    """A ``berths_out`` outage of the toy's port ``novo`` (3 SPMs, 2 active + 1 standby)."""
    return {"kind": "outage", "target": "novo", "start": start, "duration": duration, "berths_out": out}


def usable(shocks: list[dict], days: int = 20, **port: object) -> np.ndarray:
    """Moorings in use at ``novo``, one value per day (the hour at the start of each day)."""
    scenario = make_scenario(shocks, horizon=f"{days} d", network={"ports": {"novo": port}} if port else {})
    net = scenario.network
    timelines = Timelines(days, realize_shocks(scenario), pump_stations(net))
    berths, active, delay = port_terms(net.ports["novo"])
    arr = timelines.usable_berths("novo", berths, active, delay)
    assert arr is not None
    return arr[::STEPS_PER_DAY]


def test_two_overlapping_one_mooring_outages_leave_two_out():
    # Days 2..9 one SPM out, days 5..7 another: 3 - 1 = 2 in use (the standby takes over), then 3 - 2 = 1.
    got = usable([port_outage("2 d", "8 d", 1), port_outage("5 d", "3 d", 1)])
    expected = np.full(20, 2)
    expected[5:8] = 1
    np.testing.assert_array_equal(got, expected)


def test_three_overlapping_outages_close_the_port():
    # 1 + 1 + 1 = 3 of 3 out on days 4..5: nothing loads; never below zero even with 4 counted out.
    got = usable([port_outage("2 d", "6 d", 1), port_outage("3 d", "4 d", 1), port_outage("4 d", "2 d", 1)])
    np.testing.assert_array_equal(got[:9], [2, 2, 2, 1, 0, 0, 1, 2, 2])


def test_standby_takes_over_after_its_delay():
    # standby_delay 2 d: one SPM out from day 3 leaves 1 in use on days 3 and 4, then the standby loads (2).
    got = usable([port_outage("3 d", "10 d", 1)], berths=3, active_berths=2, standby_delay="2 d")
    expected = np.full(20, 2)
    expected[3:5] = 1
    np.testing.assert_array_equal(got, expected)


def test_without_standby_an_outage_costs_a_mooring_at_once():
    # 2 berths, both active: one out leaves one, whatever the delay.
    got = usable([port_outage("3 d", "4 d", 1)], berths=2, active_berths=2, standby_delay="2 d")
    np.testing.assert_array_equal(got[:9], [2, 2, 2, 1, 1, 1, 1, 2, 2])


def test_weather_and_moorings_out_take_the_smaller():
    # One SPM out days 2..9 (2 in use); weather closes the port on days 4..5 (0); a factor-1/2 outage on
    # days 6..7 leaves half up(3 x 0.5) = 2 moorings, and 3 - 1 out = 2, so 2.
    shocks = [
        port_outage("2 d", "8 d", 1),
        {"kind": "weather", "target": "novo", "start": "4 d", "duration": "2 d"},
        {"kind": "outage", "target": "novo", "start": "6 d", "duration": "2 d", "factor": 0.5},
    ]
    np.testing.assert_array_equal(usable(shocks)[:11], [2, 2, 2, 2, 0, 0, 2, 2, 2, 2, 2])


def test_a_standby_out_does_not_start_the_clock():
    # One SPM out from day 3 (the standby covers it), the pipeline halved from day 10: the clock starts
    # on day 10, not day 3.
    shocks = [
        port_outage("3 d", "30 d", 1),
        {"kind": "outage", "target": "pipe", "start": "10 d", "duration": "5 d", "factor": 0.5},
    ]
    scenario = make_scenario(shocks, horizon="40 d")
    timelines = Timelines(40, realize_shocks(scenario), pump_stations(scenario.network))
    ports = {n: port_terms(p) for n, p in scenario.network.ports.items()}
    assert timelines.first_capacity_change_d(ports) == 10.0
    # Only the standby out: nothing changes, no clock at all.
    only = make_scenario([port_outage("3 d", "30 d", 1)], horizon="40 d")
    timelines = Timelines(40, realize_shocks(only), pump_stations(only.network))
    assert timelines.first_capacity_change_d(ports) is None
    rep = run(only)
    assert rep.impact["time_to_recover_d"] == 0
    assert rep.impact["time_to_survive_d"] is None
    assert abs(rep.impact["lost_export_t"]) < 1.0


def test_one_mooring_loads_one_cargo_per_berth_cycle():
    # Toy: cargo 100 kt at 12,000 t/h = 8.33 h pumping, berth_time 0: with 2 SPMs out of 3 for 10 days
    # (days 10..19) one SPM loads at most 24 / 8.33 = 2.88 cargoes a day = 288 kt/d; the field sends
    # 100 kt/d through a 120 kt/d pipe, so one SPM is enough and nothing is lost; all three out loses it.
    one_left = run(make_scenario([port_outage("10 d", "10 d", 1), port_outage("10 d", "10 d", 1)], horizon="40 d"))
    assert abs(one_left.impact["lost_shut_in_t"]) < 1.0
    none_left = run(make_scenario([port_outage("10 d", "10 d", 1), port_outage("10 d", "10 d", 2)], horizon="40 d"))
    # 10 days without loading: the 500 kt tanks (200 kt at the start) and 300 kt field storage absorb
    # some of 1,000 kt; the rest is shut in.
    assert none_left.impact["lost_shut_in_t"] > 100 * KT


def test_a_standby_slow_to_take_over_starts_the_clock_when_the_mooring_goes_out():
    # standby_delay 1 d: one SPM out from day 3 leaves one mooring in use for a day, so capacity
    # changes at day 3 and the clock starts there.
    scenario = make_scenario(
        [port_outage("3 d", "30 d", 1)], horizon="40 d", network={"ports": {"novo": {"standby_delay": "1 d"}}}
    )
    timelines = Timelines(40, realize_shocks(scenario), pump_stations(scenario.network))
    ports = {n: port_terms(p) for n, p in scenario.network.ports.items()}
    assert timelines.first_capacity_change_d(ports) == 3.0
