"""Backtest figures that compare two windows (month-on-month changes) and what a route takes in.

Checked by hand on the toy network: a field at 100 kt/d, cut to half by a production shock, with
room everywhere downstream, so every tonne it produces is sent into its route the same day.
"""

from __future__ import annotations

import pytest
from helpers import make_scenario, run

from sim import backtest
from sim.scenario.schema import ObservedFigure

HALF = [{"kind": "production", "target": "field", "start": "2022-07-21", "duration": "20 d", "factor": 0.5}]
"""The field at 50 kt/d from 21 July to 9 August (days 20 to 39 of the toy's run from 1 July)."""

BEFORE = {"start": "2022-07-01", "end": "2022-07-20"}
DURING = {"start": "2022-07-21", "end": "2022-08-09"}


def _figure(metric: str, **fields) -> ObservedFigure:
    data = {"metric": metric, "value": 1, "tolerance": 0, "why": "test", "source": "test", "confidence": "D"}
    return ObservedFigure.model_validate(data | fields)


@pytest.fixture(scope="module")
def halved():
    scenario = make_scenario(HALF)
    return scenario, run(scenario)


@pytest.mark.parametrize("metric", ["production_change", "intake_change"])
def test_a_halved_field_shows_a_change_of_one_half(halved, metric):
    scenario, rep = halved
    target = {"production_change": "field", "intake_change": "main"}[metric]
    figure = _figure(metric, target=target, window=DURING, versus=BEFORE)
    assert backtest.measure(figure, rep, scenario) == pytest.approx(0.5, rel=1e-12)
    back = _figure(metric, target=target, window=BEFORE, versus=DURING)
    assert backtest.measure(back, rep, scenario) == pytest.approx(2.0, rel=1e-12)


def test_intake_of_a_route_in_tonnes_and_per_day(halved):
    scenario, rep = halved
    total = _figure("intake_t", target="main", window=DURING)
    rate = _figure("intake_rate", target=["main", "bypass"], window=BEFORE)
    assert backtest.measure(total, rep, scenario) == pytest.approx(20 * 50e3, rel=1e-12)
    assert backtest.measure(rate, rep, scenario) == pytest.approx(100e3, rel=1e-12)


def test_intake_stops_while_the_terminal_tanks_are_full():
    """Loading stops for 10 days; the tanks fill and the pipeline stops taking oil; the count is whole days."""
    scenario = make_scenario([{"kind": "weather", "target": "novo", "start": "2022-07-10", "duration": "10 d"}])
    rep = run(scenario)
    figure = _figure("intake_stop_d", target="main", window={"start": "2022-07-01", "end": "2022-08-20"})
    stopped = backtest.measure(figure, rep, scenario)
    intake = rep.scenario.intake[:, rep.scenario.route_names.index("main")]
    by_hand = max(len(run) for run in "".join("0" if x <= 1.0 else "1" for x in intake).split("1"))
    assert stopped == by_hand and 0 < stopped < 10


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric": "production_change", "window": DURING}, "give versus"),
        ({"metric": "production_rate", "window": DURING, "versus": BEFORE}, "versus applies to"),
        ({"metric": "intake_t", "window": DURING}, "needs a target: a route name"),
    ],
)
def test_a_figure_without_what_it_needs_is_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        _figure(**fields)


def test_an_unknown_route_or_a_versus_outside_the_run_is_refused():
    observed = {
        "a": {"metric": "intake_t", "target": "nowhere", "window": DURING},
        "b": {"metric": "production_change", "window": DURING, "versus": {"start": "2022-06-01", "end": "2022-06-30"}},
    }
    for figure in observed.values():
        figure |= {"value": 1, "tolerance": 0, "why": "test", "source": "test", "confidence": "D"}
    with pytest.raises(ValueError) as info:
        make_scenario(HALF, observed=observed)
    text = str(info.value)
    assert "no route named 'nowhere'; known: bypass, main" in text
    assert "observed.b.versus.start: 2022-06-01 is outside the run" in text
