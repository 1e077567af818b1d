"""Shock starts and ends as points in time: dates, dates and times (bare or with an offset), ends.

A bare time is read in the scenario's ``timezone`` (default +03:00, Moscow time, as CPC reports);
days start at midnight in that zone. A malformed time is one line naming the key and the forms.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_scenario, run

from sim.engine.shocks import realize_shocks
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.scenario import DEFAULT_TIMEZONE

TOY_FILE = Path(__file__).parent / "data" / "toy.yaml"
HOURS = 1 / 24


def _start_d(start, **shock) -> float:
    scenario = make_scenario([{"kind": "weather", "target": "novo", "start": start, "duration": "2 d", **shock}])
    [realized] = realize_shocks(scenario)
    return realized.start_d


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2022-07-10", 9.0),
        ("2022-07-10 14:00", 9 + 14 * HOURS),
        ("2022-07-10T14:00", 9 + 14 * HOURS),
        ("2022-07-10T14:00+03:00", 9 + 14 * HOURS),
        ("2022-07-10T14:00+0300", 9 + 14 * HOURS),
        ("2022-07-10T11:00Z", 9 + 14 * HOURS),  # 11:00 UTC = 14:00 Moscow time
        ("2022-07-10T16:00+05:00", 9 + 14 * HOURS),  # Astana time
        ("9 d", 9.0),
    ],
)
def test_a_start_may_be_a_date_a_time_or_an_offset(start, expected):
    assert DEFAULT_TIMEZONE == "+03:00"
    assert _start_d(start) == pytest.approx(expected, abs=1e-12)


def test_a_bare_time_is_read_in_the_scenarios_timezone():
    scenario = make_scenario(
        [{"kind": "weather", "target": "novo", "start": "2022-07-10 14:00", "duration": "2 d"}], timezone="UTC"
    )
    assert realize_shocks(scenario)[0].start_d == pytest.approx(9 + 14 * HOURS)
    # an offset given with the time wins over the scenario's zone: 14:00 Moscow = 11:00 UTC
    scenario = make_scenario(
        [{"kind": "weather", "target": "novo", "start": "2022-07-10T14:00+03:00", "duration": "2 d"}], timezone="UTC"
    )
    assert realize_shocks(scenario)[0].start_d == pytest.approx(9 + 11 * HOURS)


def test_an_end_instead_of_a_duration_gives_the_same_run():
    by_duration = make_scenario(
        [{"kind": "weather", "target": "novo", "start": "2022-07-10 06:00", "duration": "36 h"}]
    )
    by_end = make_scenario(
        [{"kind": "weather", "target": "novo", "start": "2022-07-10 06:00", "end": "2022-07-11T18:00"}]
    )
    assert realize_shocks(by_end)[0].duration_d == pytest.approx(1.5)
    a, b = run(by_duration), run(by_end)
    assert a.impact.values == b.impact.values
    assert (a.scenario.daily_exports() == b.scenario.daily_exports()).all()


def test_a_half_day_closure_costs_less_than_a_whole_day_and_more_than_none():
    def lost(**timing) -> float:
        scenario = make_scenario([{"kind": "weather", "target": "novo", "start": "2022-07-10", **timing}])
        return run(scenario).impact.values["lost_export_t"]

    none, half, whole = lost(duration="0 d"), lost(end="2022-07-10T12:00"), lost(end="2022-07-11")
    assert none <= half <= whole


def _refused(tmp_path: Path, **shock) -> str:
    text = TOY_FILE.read_text()
    line = "  - {kind: weather, target: novo, start: 2022-07-10, duration: 10 d}"
    assert line in text
    fields = ", ".join(f"{k}: {v}" for k, v in {"kind": "weather", "target": "novo", **shock}.items())
    path = tmp_path / "toy.yaml"
    path.write_text(text.replace(line, "  - {" + fields + "}"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    [problem] = info.value.problems
    assert problem.file == str(path) and problem.line == 21, problem
    assert "\n" not in problem.message and "Traceback" not in problem.message
    return f"{problem.key}: {problem.message}"


@pytest.mark.parametrize(
    ("shock", "expected"),
    [
        (
            {"start": '"2022-13-10 04:00"', "duration": "1 d"},
            "shocks.0.start: cannot read '2022-13-10 04:00' as a point",
        ),
        (
            {"start": '"2022-07-10 25:00"', "duration": "1 d"},
            "shocks.0.start: cannot read '2022-07-10 25:00' as a point",
        ),
        ({"start": '"2022-07-10+03:00"', "duration": "1 d"}, "a UTC offset needs a time"),
        ({"start": '"2022-07-10 4pm"', "duration": "1 d"}, "expected YYYY-MM-DD, YYYY-MM-DDTHH:MM"),
        ({"start": "2022-07-10", "end": "2022-07-09"}, "shocks.0.end: 2022-07-09 is not after the start"),
        ({"start": "2022-07-10", "end": "2022-07-12", "duration": "1 d"}, "give either duration or end"),
        ({"start": "5 d", "end": "2022-07-12"}, "shocks.0.end: needs start as a date or a date and time"),
        ({"start": "2022-06-30T23:00", "duration": "1 d"}, "is before start_date"),
    ],
)
def test_a_malformed_time_is_one_line_with_the_forms_accepted(tmp_path, shock, expected):
    assert expected in _refused(tmp_path, **shock)


def test_a_bad_timezone_is_refused(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_FILE.read_text().replace("seed: 1\n", "seed: 1\ntimezone: Mars/Olympus\n"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    [problem] = info.value.problems
    assert problem.key == "timezone" and problem.line == 5 and "UTC offset" in problem.message
