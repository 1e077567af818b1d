"""Operator response: how a field answers a shrinking outlet (cut_at_level, follow_outlet, notice).

Hand-checked on the toy network: a field of 100 kt/d with 300 kt of storage, a 120 kt/d pipeline to a
tanker terminal (500 kt of tanks, 200 kt in them), a 20 kt/d bypass after a 5-day lead time; the port is
closed by weather from 10 July (day 9) for 10 days.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import KT, make_scenario, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine import realize_shocks, simulate

STORM = {"kind": "weather", "target": "novo", "start": "2022-07-10", "duration": "10 d"}
FIELD = 0  # the toy's only source


def _toy(response: dict | None = None, **storm) -> object:
    network = {} if response is None else {"network": {"response": response}}
    return make_scenario([{**STORM, **storm}], **network)


def test_fill_then_cut_is_the_default_and_cuts_nothing():
    default, explicit = run(_toy()), run(_toy({"mode": "fill_then_cut"}))
    assert default.impact.values == explicit.impact.values
    assert default.scenario.cut.sum() == 0.0 and default.impact.values["lost_cut_t"] == 0.0


def test_an_announced_stop_cuts_to_the_floor_from_the_warning_on():
    """notice 2 d, lag 0: from day 7 the field produces floor x nominal = 50 kt/d; on day 6 it is at 100."""
    rep = run(_toy({"mode": "cut_at_level", "floor": 0.5, "lag": "0 d", "level": 1.0}, notice="2 d"))
    produced, cut = rep.scenario.produced[:, FIELD], rep.scenario.cut[:, FIELD]
    assert produced[6] == pytest.approx(100 * KT)
    assert produced[7] == pytest.approx(50 * KT) and cut[7] == pytest.approx(50 * KT)
    assert rep.impact.values["lost_cut_t"] > 0


def test_the_lag_spreads_the_cut_over_days():
    """lag 2 d, floor 0.5: 0.25 of nominal less each day: 75 kt, then 50 kt."""
    rep = run(_toy({"mode": "cut_at_level", "floor": 0.5, "lag": "2 d", "level": 1.0}, notice="2 d"))
    produced = rep.scenario.produced[:, FIELD]
    assert produced[7] == pytest.approx(75 * KT) and produced[8] == pytest.approx(50 * KT)


def test_an_unannounced_stop_is_cut_once_field_storage_passes_the_level():
    """No notice: the field fills its storage; the day after it is 60 % full (180 kt), output is 50 kt/d."""
    rep = run(_toy({"mode": "cut_at_level", "floor": 0.5, "lag": "0 d", "level": 0.6, "watch": "field"}))
    level, produced = rep.scenario.source_level[:, FIELD], rep.scenario.produced[:, FIELD]
    first = int(np.flatnonzero(level >= 0.6 * 300 * KT)[0])
    assert first > 9  # the terminal tanks fill first, then the field's own storage
    assert produced[first + 1] <= 50 * KT + 1e-6
    assert np.all(produced[: first + 1] == pytest.approx(100 * KT))


def test_watching_the_terminal_cuts_earlier_than_watching_the_field():
    terminal = run(_toy({"mode": "cut_at_level", "level": 0.6, "watch": "terminal", "lag": "0 d"}))
    field = run(_toy({"mode": "cut_at_level", "level": 0.6, "watch": "field", "lag": "0 d"}))
    first_cut = [int(np.flatnonzero(r.scenario.cut[:, FIELD] > 0)[0]) for r in (terminal, field)]
    assert first_cut[0] < first_cut[1]


def test_follow_outlet_produces_what_left_the_day_before_while_oil_waits():
    rep = run(_toy({"mode": "follow_outlet", "floor": 0.1, "lag": "0 d"}))
    s = rep.scenario
    sent = s.intake.sum(axis=1)
    waiting = np.flatnonzero(s.source_level[:-1, FIELD] > 1.0)
    assert waiting.size
    for day in waiting:
        aim = max(0.1 * 100 * KT, min(100 * KT, sent[day]))
        assert s.produced[day + 1, FIELD] <= aim + 1e-6


def test_a_cut_keeps_storage_for_later_and_never_loses_more_than_it_cuts():
    """The lost volume splits exactly into shut-in, cut, outage and inventory; with a precautionary cut the
    field shuts in less than without one."""
    plain = run(_toy())
    cutting = run(_toy({"mode": "cut_at_level", "floor": 0.5, "lag": "1 d", "level": 1.0}, notice="1 d"))
    for rep in (plain, cutting):
        v = rep.impact.values
        parts = v["lost_shut_in_t"] + v["lost_cut_t"] + v["lost_production_outage_t"] + v["lost_inventory_t"]
        assert parts == pytest.approx(v["lost_export_t"], abs=1e-3)
    assert cutting.impact.values["lost_shut_in_t"] < plain.impact.values["lost_shut_in_t"]


def test_notice_only_warns_the_fields_whose_outlet_the_shock_closes():
    """A closure of the bypass (not a normal route of the field) with notice warns nobody."""
    scenario = make_scenario(
        [{"kind": "closure", "target": "bypass", "start": "2022-07-10", "duration": "10 d", "notice": "3 d"}],
        network={"response": {"mode": "cut_at_level", "level": 1.0, "lag": "0 d"}},
    )
    assert run(scenario).scenario.cut.sum() == 0.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    mode=st.sampled_from(["cut_at_level", "follow_outlet"]),
    watch=st.sampled_from(["field", "terminal"]),
    level=st.floats(0.0, 1.0),
    floor=st.floats(0.0, 1.0),
    lag=st.integers(0, 5),
    notice=st.integers(0, 6),
    start=st.integers(0, 40),
    duration=st.integers(0, 25),
)
def test_responses_balance_and_the_fast_path_equals_the_plain_one(
    mode, watch, level, floor, lag, notice, start, duration
):
    storm = {**STORM, "start": f"{start} d", "duration": f"{duration} d", "notice": f"{notice} d"}
    response = {"mode": mode, "watch": watch, "level": level, "floor": floor, "lag": f"{lag} d"}
    scenario = make_scenario([storm], network={"response": response})
    shocks = realize_shocks(scenario)
    fast = simulate(scenario.network, shocks, scenario.horizon)  # check_balance runs inside
    plain = simulate(scenario.network, shocks, scenario.horizon, fast=False)
    for name in ("produced", "cut", "shut_in", "source_level", "exports"):
        np.testing.assert_allclose(getattr(fast, name), getattr(plain, name), rtol=0, atol=1e-6, err_msg=name)
    nominal = 100 * KT
    assert np.all(fast.cut >= -1e-9) and np.all(fast.produced + fast.cut + fast.shut_in <= nominal + 1e-6)
    assert not math.isnan(fast.cut.sum())
