"""A sea leg's loading cycle in parts (``loading:``): berthing, pumping, unberthing, and the berth time lost
to weather and to other shippers' tankers, as their mean effect. Every expectation is worked out by hand
in the comments."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import KT, make_scenario, toy_data, validate

from sim.engine import realize_shocks, simulate
from sim.scenario.schema import berth_hold_d

HOURS = 1.0 / 24.0


def one_spm(loading: dict | None = None, berth_time: str | None = None, shocks: list[dict] | None = None):
    """The toy with one mooring (1 berth, 1 active), a queue of tankers that never runs dry, and port
    tanks that always hold a cargo: the mooring is busy all the time, so it alone sets the throughput.

    Cargo 100 kt at 10 kt/h: 10 h of pumping. 30 tankers on a 2-day round trip could bring ~10 cargoes a
    day; the tanks start with 9,000 kt (and the field adds 100 kt/d), far more than one mooring lifts.
    """
    leg: dict = {
        "cargo": "100 kt",
        "load_rate": "10 kt/h",
        "fleet": 30,
        "laden_voyage": "1 d",
        "ballast_voyage": "1 d",
        "inlet_storage": {"capacity": "20000 kt", "initial": "9000 kt"},
    }
    if loading is not None:
        leg["loading"] = loading
    if berth_time is not None:
        leg["berth_time"] = berth_time
    data = toy_data(network={"ports": {"novo": {"berths": 1, "active_berths": 1}}, "legs": {"load": leg}})
    data["shocks"] = shocks or []
    return validate(data)


def loaded_t(scenario, fast: bool) -> np.ndarray:
    """Tonnes loaded (exported) through the toy's sea leg, day by day."""
    record = simulate(scenario.network, realize_shocks(scenario), scenario.horizon, fast=fast)
    return record.exports[:, 0]


CYCLE = {"berthing": "3 h", "unberthing": "3 h", "weather_downtime": 0.2, "third_party_share": 0.2}
"""(3 h + 10 h pumping + 3 h) / (1 - 0.2) / (1 - 0.2) = 16 h / 0.64 = 25 h per cargo of our oil."""


def test_the_berth_hold_is_the_hand_formula():
    spec = one_spm(CYCLE).network.legs["load"]
    assert spec.berth_cycle() == pytest.approx((6 * HOURS, 0.64))
    assert spec.berth_hold() == pytest.approx(25 * HOURS)
    assert berth_hold_d(6 * HOURS, 100 * KT, 240 * KT, 0.64) == pytest.approx(25 * HOURS)
    # A plain berth_time is the same formula with nothing lost to weather or other shippers.
    plain = one_spm(berth_time="15 h").network.legs["load"]
    assert plain.berth_cycle() == (15 * HOURS, 1.0)
    assert plain.berth_hold() == pytest.approx(25 * HOURS)


@pytest.mark.parametrize("fast", [True, False])
def test_one_mooring_loads_one_cargo_per_berth_hold(fast):
    # 60 days x 24 h / 25 h = 57.6 cargoes: a cargo is counted when it starts loading (t = 0, 25 h, 50 h,
    # ...), so 58 cargoes start before day 60, 5,800 kt; the hand formula (57.6 x 100 kt) within one cargo.
    loaded = loaded_t(one_spm(CYCLE), fast)
    expected = 60 * 24 / 25 * 100 * KT
    assert abs(loaded.sum() - expected) <= 100 * KT
    assert loaded.sum() == pytest.approx(58 * 100 * KT)
    # Day by day: cargoes start at 25 h x k, so by the end of day d, floor(24 (d + 1) / 25) + 1 have started
    # (to within one cargo: a start due exactly at midnight, day 25 or 50, may fall either side in floats).
    by_hand = (np.floor(24 * np.arange(1, 61) / 25) + 1) * 100 * KT
    assert np.abs(np.cumsum(loaded) - by_hand).max() <= 100 * KT + 1e-6


def test_without_weather_or_other_shippers_the_parts_equal_berth_time_bit_for_bit():
    # berthing + unberthing = 8 h + 8 h = the 16 h of berth_time; nothing lost to weather or other shippers:
    # the same hold, so the same run to the last bit, with a fleet of callbacks and with tanker processes
    # (a half-rate outage of the leg runs the processes even on the fast path).
    cycle = {"berthing": "8 h", "unberthing": "8 h", "weather_downtime": 0, "third_party_share": 0}
    half = [{"kind": "outage", "target": "load", "start": "10 d", "duration": "5 d", "factor": 0.5}]
    for shocks in ([], half):
        for fast in (True, False):
            parts = loaded_t(one_spm(cycle, shocks=shocks), fast)
            single = loaded_t(one_spm(berth_time="16 h", shocks=shocks), fast)
            np.testing.assert_array_equal(parts, single)


@pytest.mark.parametrize(
    "shocks",
    [[], [{"kind": "outage", "target": "load", "start": "10 d", "duration": "5 d", "factor": 0.5}]],
    ids=["fleet", "tanker-processes"],
)
def test_fast_and_plain_paths_agree_with_a_loading_cycle(shocks):
    # The toy's own port (2 active moorings + 1 standby) and flow, with the cycle above.
    scenario = make_scenario(shocks, network={"legs": {"load": {"loading": CYCLE}}})
    np.testing.assert_allclose(loaded_t(scenario, True), loaded_t(scenario, False), rtol=1e-9, atol=1e-6)


def test_a_slower_loading_rate_stretches_only_the_pumping():
    # A leg outage at factor 0.5 halves the pumping rate: (3 h + 20 h + 3 h) / 0.64 = 40.625 h per cargo.
    # Days 10..14 (120 h) under it; the rest at 25 h. Tanker processes on both paths.
    half = [{"kind": "outage", "target": "load", "start": "10 d", "duration": "5 d", "factor": 0.5}]
    loaded = loaded_t(one_spm(CYCLE, shocks=half), fast=False)
    # 55 d at 25 h and 5 d at 40.625 h: 52.8 + 2.95 = 55.75 cargoes (within one cargo: the switch falls
    # inside a cargo's hold, and the hold is fixed at its start).
    expected = (55 * 24 / 25 + 5 * 24 / 40.625) * 100 * KT
    assert abs(loaded.sum() - expected) <= 100 * KT
