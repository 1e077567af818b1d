"""Dispatcher rules worked out by hand: choke-back versus shutdown, pro-rata sharing of a short leg,
the terminal's minimum stock, and the line limit when the line is full and its outlet tank nearly so.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import KT, line_scenario, outage, run, series, validate

from sim.engine import realize_shocks, simulate
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario


def assert_series(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6)


# -- choke-back or shutdown ----------------------------------------------------------------------


def test_stop_shorter_than_shutdown_after_is_a_choke_back():
    # No storage; main out on days 10..14 -> no output on those 5 days. shutdown_after 7 d: not a
    # shutdown, so no restart delay and no ramp: full 100 kt/d again from day 15.
    scenario = line_scenario(
        source_extra={"restart_delay": "2 d", "ramp_up": "4 d", "shutdown_after": "7 d"},
        shocks=[outage("main", "10 d", "5 d")],
        horizon="30 d",
    )
    produced = run(scenario).scenario.produced[:, 0]
    assert_series(produced, series(30, [(10, 15, 0.0)], default=100 * KT))


def test_stop_of_shutdown_after_days_is_a_shutdown():
    # shutdown_after 3 d: days 10, 11, 12 without output -> shut down on day 12. The line is back on
    # day 15; the 2-day restart delay runs on days 15, 16; the 4-day ramp gives 25, 50, 75 on days
    # 17..19; full from day 20 (the same as a shutdown on the first day, the default).
    expected = series(30, [(0, 10, 100 * KT), (17, 18, 25 * KT), (18, 19, 50 * KT), (19, 20, 75 * KT)])
    expected[20:] = 100 * KT
    for after in ("3 d", "1 d"):
        scenario = line_scenario(
            source_extra={"restart_delay": "2 d", "ramp_up": "4 d", "shutdown_after": after},
            shocks=[outage("main", "10 d", "5 d")],
            horizon="30 d",
        )
        assert_series(run(scenario).scenario.produced[:, 0], expected)


def test_partial_cut_lifts_without_a_ramp():
    # Main at half capacity (60 kt/d) on days 10..19, no storage: 60 kt/d produced, 40 shut in; the
    # field never stops, so from day 20 it is back at 100 at once although ramp_up is 10 d.
    scenario = line_scenario(
        source_extra={"restart_delay": "2 d", "ramp_up": "10 d"},
        shocks=[outage("main", "10 d", "10 d", factor=0.5)],
        horizon="30 d",
    )
    produced = run(scenario).scenario.produced[:, 0]
    assert_series(produced, series(30, [(10, 20, 60 * KT)], default=100 * KT))


# -- pro-rata sharing ----------------------------------------------------------------------------


def two_fields(priority_b: int, factor: float) -> dict:
    """Fields A (100 kt/d) and B (50 kt/d), no storage, one 150 kt/d line (transit 0) to a market,
    cut to ``factor`` on days 5..14."""
    return {
        "name": "two_fields",
        "start_date": "2022-07-01",
        "horizon": "20 d",
        "seed": 3,
        "price": "100 USD/t",
        "network": {
            "sources": {
                "a": {"production": "100 kt/d", "storage": {"capacity": 0}},
                "b": {"production": "50 kt/d", "storage": {"capacity": 0}},
            },
            "legs": {"line": {"kind": "pipeline", "capacity": "150 kt/d", "transit": "0 d"}},
            "routes": {
                "a_line": {"source": "a", "legs": ["line"], "market": "med", "normal": "100 kt/d", "priority": 1},
                "b_line": {
                    "source": "b",
                    "legs": ["line"],
                    "market": "med",
                    "normal": "50 kt/d",
                    "priority": priority_b,
                },
            },
            "markets": {"med": {}},
        },
        "shocks": [outage("line", "5 d", "10 d", factor=factor)],
    }


def test_same_priority_shares_a_short_leg_pro_rata():
    # Line at 0.5: 75 kt/d for 150 wanted -> each field gets half of what it wants: A 50, B 25.
    rec = run(validate(two_fields(priority_b=1, factor=0.5))).scenario
    assert_series(rec.intake[:, 0], series(20, [(5, 15, 50 * KT)], default=100 * KT))
    assert_series(rec.intake[:, 1], series(20, [(5, 15, 25 * KT)], default=50 * KT))
    assert_series(rec.shut_in.sum(axis=1), series(20, [(5, 15, 75 * KT)]))


def test_different_priorities_ration_a_short_leg_in_order():
    # B after A: A takes its 100 of the 75 available -> 75; B gets nothing.
    rec = run(validate(two_fields(priority_b=2, factor=0.5))).scenario
    assert_series(rec.intake[:, 0], series(20, [(5, 15, 75 * KT)], default=100 * KT))
    assert_series(rec.intake[:, 1], series(20, [(5, 15, 0.0)], default=50 * KT))


# -- the line limit with a full line into a nearly full tank -------------------------------------


def chain(minimum: str = "0 kt") -> dict:
    """A (40 kt/d, priority 1) and B (40 kt/d, priority 2) into line ``up`` (200 kt/d, 1 d, full),
    which feeds the 100 kt tank of line ``down`` (60 kt/d, transit 0) to the market. No storage."""
    return {
        "name": "chain",
        "start_date": "2022-07-01",
        "horizon": "30 d",
        "seed": 3,
        "price": "100 USD/t",
        "network": {
            "sources": {
                "a": {"production": "40 kt/d", "storage": {"capacity": 0}},
                "b": {"production": "40 kt/d", "storage": {"capacity": 0}},
            },
            "legs": {
                "up": {"kind": "pipeline", "capacity": "200 kt/d", "transit": "1 d"},
                "down": {
                    "kind": "pipeline",
                    "capacity": "60 kt/d",
                    "transit": "0 d",
                    "inlet_storage": {"capacity": "100 kt", "initial": 0, "minimum": minimum},
                },
            },
            "routes": {
                "a_chain": {"source": "a", "legs": ["up", "down"], "market": "med", "normal": "40 kt/d", "priority": 1},
                "b_chain": {"source": "b", "legs": ["up", "down"], "market": "med", "normal": "40 kt/d", "priority": 2},
            },
            "markets": {"med": {}},
        },
        "shocks": [],
    }


def test_second_route_gets_the_room_left_in_a_full_line_and_tank():
    # 80 kt/d in, 60 kt/d out: the tank fills, then the chain takes 60 kt/d: A its 40, B the 20 left
    # (room is counted once, not once for the line and again for the tank).
    rec = run(validate(chain())).scenario
    assert_series(rec.intake[-10:, 0], np.full(10, 40 * KT))
    assert_series(rec.intake[-10:, 1], np.full(10, 20 * KT))
    assert_series(rec.exports[-10:].sum(axis=1), np.full(10, 60 * KT))


def test_minimum_stock_is_never_drawn_down():
    # The tank starts empty and keeps 30 kt: line down takes nothing until the tank holds more than
    # 30 kt, and the level never falls below 30 kt again.
    data = chain(minimum="30 kt")
    scenario = validate(data)
    rec = simulate(scenario.network, realize_shocks(scenario), scenario.horizon)
    level = rec.tank_level[:, 0]
    first = int(np.argmax(level > 0))
    assert np.all(level[first:] >= 30 * KT - 1e-6)
    # Down still carries 60 kt/d once the stock is built; the stock stays in the tank at the end.
    assert_series(rec.exports[-10:].sum(axis=1), np.full(10, 60 * KT))
    assert rec.tank_level[-1, 0] >= 30 * KT - 1e-6


def test_minimum_stock_is_refused_on_field_storage_and_at_capacity(tmp_path):
    base = chain()
    bad_field = dict(base)
    bad_field["network"] = dict(base["network"])
    bad_field["network"]["sources"] = {
        "a": {"production": "40 kt/d", "storage": {"capacity": "10 kt", "minimum": "5 kt"}},
        "b": {"production": "40 kt/d", "storage": {"capacity": 0}},
    }
    with pytest.raises(Exception, match="terminal tanks"):
        validate(bad_field)
    with pytest.raises(Exception, match="below the capacity"):
        validate(chain(minimum="100 kt"))
    # Through the loader: one clean ScenarioError naming the key.
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nstart_date: 2022-07-01\nhorizon: 10 d\nseed: 1\nprice: 1 USD/t\nnetwork:\n"
        "  sources:\n    f:\n      production: 1 kt/d\n      storage: {capacity: 10 kt, minimum: 5 kt}\n"
        "  legs:\n    l: {kind: pipeline, capacity: 2 kt/d, transit: 0 d}\n"
        "  routes:\n    r: {source: f, legs: [l], market: m, normal: 1 kt/d}\n"
        "  markets: {m: {}}\nshocks: []\n"
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "network.sources.f" in str(err.value)
