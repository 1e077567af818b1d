"""Production schedules: a field's rate may change on dated steps (a month of maintenance, a new train)."""

from __future__ import annotations

import pytest
from helpers import KT, make_scenario, run

from sim.scenario.errors import ScenarioError

HALF_IN_JULY = [{"since": "2022-07-11", "production": "50 kt/d"}, {"since": "2022-07-21", "production": "100 kt/d"}]


def test_a_scheduled_step_changes_the_rate_on_its_day_in_both_runs():
    """The toy's field at 50 kt/d from 11 to 20 July (days 10 to 19), 100 kt/d before and after; no shock, so the
    baseline has the same schedule and nothing is lost, cut or counted as an outage."""
    rep = run(make_scenario([], network={"sources": {"field": {"schedule": HALF_IN_JULY}}}))
    produced = rep.scenario.produced[:, 0]
    assert produced[9] == pytest.approx(100 * KT)
    assert produced[10:20] == pytest.approx([50 * KT] * 10)
    assert produced[20] == pytest.approx(100 * KT)
    assert rep.scenario.outage.sum() == pytest.approx(0.0)
    assert rep.impact.values["lost_export_t"] == pytest.approx(0.0, abs=1e-3)


def test_a_shock_on_a_scheduled_field_loses_the_scheduled_rate_not_the_nominal_one():
    """A production outage (factor 0) over the half-rate days loses 10 x 50 kt, not 10 x 100 kt."""
    shock = {"kind": "production", "target": "field", "start": "2022-07-11", "duration": "10 d", "factor": 0.0}
    rep = run(make_scenario([shock], network={"sources": {"field": {"schedule": HALF_IN_JULY}}}))
    assert rep.impact.values["lost_production_outage_t"] == pytest.approx(500 * KT)


def test_steps_out_of_order_are_refused():
    steps = list(reversed(HALF_IN_JULY))
    with pytest.raises((ScenarioError, ValueError), match="date order"):
        make_scenario([], network={"sources": {"field": {"schedule": steps}}})
