"""One meaning everywhere (issue 9, section 3): whole-day rounding of transits, partial-day market
closures, and the tolerance of the balance, each checked on every leg kind it concerns."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import KT, line_data, validate

from sim.engine import realize_shocks, simulate
from sim.engine.rounding import half_up


@pytest.mark.parametrize(("x", "expected"), [(0.5, 1), (1.5, 2), (2.5, 3), (3.5, 4), (2.49, 2), (0.0, 0), (7.0, 7)])
def test_whole_numbers_round_half_up(x, expected):
    assert half_up(x) == expected


def shared_line(transit: str, horizon: str = "12 d") -> dict:
    data = line_data(transit=transit, capacity="200 kt/d", normal="100 kt/d", horizon=horizon, initial_linefill="empty")
    data["network"]["legs"]["main"]["third_party"] = "100 kt/d"
    return data


def rail_line(transit: str, horizon: str = "12 d") -> dict:
    data = line_data(horizon=horizon)
    data["network"]["legs"]["main"] = {"kind": "rail", "payload": "10 kt", "trains_per_day": 10, "transit": transit}
    return data


@pytest.mark.parametrize("make", [shared_line, rail_line], ids=["shared pipeline", "rail"])
@pytest.mark.parametrize(("transit", "days"), [("2.5 d", 3), ("3.5 d", 4), ("1.49 d", 1)])
def test_transits_take_whole_days_rounded_half_up(make, transit, days):
    # An empty line (or no train under way) at the start: the first oil arrives after the rounded transit.
    scenario = validate(make(transit))
    record = simulate(scenario.network, [], scenario.horizon)
    first = int(np.argmax(record.exports[:, 0] > 0))
    assert first == days
    np.testing.assert_allclose(record.exports[days:, 0], 100 * KT)


def closed_market(data: dict, hours: int) -> dict:
    data["shocks"] = [{"kind": "closure", "target": "med", "start": "5 d", "duration": f"{hours} h"}]
    return data


@pytest.mark.parametrize(
    "make",
    [
        lambda: line_data(horizon="12 d", capacity="100 kt/d", storage={"capacity": 0}),
        lambda: shared_line("0 d"),
    ],
    ids=["pipeline", "shared pipeline"],
)
def test_a_pipeline_into_a_market_closed_half_a_day_loses_half_a_days_flow(make):
    # A line at its capacity (100 kt/d, no storage) into a market closed 12 h on day 5: a line flows
    # continuously, so the closed hours take their share of the day's flow, on a shared line too.
    scenario = validate(closed_market(make(), 12))
    record = simulate(scenario.network, realize_shocks(scenario), scenario.horizon)
    assert record.exports[5, 0] == pytest.approx(50 * KT)
    assert record.shut_in[5, 0] == pytest.approx(50 * KT)


def test_trains_wait_out_a_partial_day_closure_of_their_market():
    # Trains arrive in batches and unload in the hours the market is open: 12 h closed lose nothing.
    scenario = validate(closed_market(rail_line("1 d"), 12))
    record = simulate(scenario.network, realize_shocks(scenario), scenario.horizon)
    baseline = simulate(scenario.network, [], scenario.horizon)
    np.testing.assert_allclose(record.exports, baseline.exports)


@pytest.mark.parametrize("k", [1e-13, 1e-6, 100.0])  # (above ~270 the loader refuses it as unreal)
def test_what_counts_as_zero_is_relative_to_the_network(k):
    # The same network in units k times smaller or larger gives the same series times k: no absolute
    # threshold in tonnes decides what is too small to move (a field of 10 grams a day still flows).
    def scaled(k: float) -> dict:
        return line_data(
            production=f"{100e3 * k} t/d",
            capacity=f"{120e3 * k} t/d",
            normal=f"{100e3 * k} t/d",
            transit="2 d",
            storage={"capacity": f"{150e3 * k} t", "initial": 0},
            bypass={"capacity": f"{20e3 * k} t/d", "lead_time": "3 d"},
            shocks=[{"kind": "outage", "target": "main", "start": "5 d", "duration": "10 d", "factor": 0.3}],
            horizon="30 d",
        )

    one, other = (validate(scaled(x)) for x in (1.0, k))
    a = simulate(one.network, realize_shocks(one), one.horizon)
    b = simulate(other.network, realize_shocks(other), other.horizon)
    for name in ("exports", "intake", "produced", "shut_in", "source_level", "leg_transit"):
        np.testing.assert_allclose(getattr(b, name) / k, getattr(a, name), rtol=1e-9, atol=1e-6, err_msg=name)
