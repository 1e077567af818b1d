"""A diversion's lead time when the need ends and comes back (issue 10, section 3): a set-up advances a
day for each day of need and goes back a day for each day without, a contract lapses after its lead time
unused, and a route may be contracted at the start. Hand-worked on the line network of ``helpers.line_data``: one field of
100 kt/d, no field storage, the main line (120 kt/d, transit 0) and a bypass of 20 kt/d (transit 0)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import KT, line_scenario, outage, run

from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def bypass_run(shocks: list[dict], **bypass: object):
    """Shocked run of the line network with a 5-day bypass (or ``bypass`` terms)."""
    terms = {"capacity": "20 kt/d", "lead_time": "5 d", **bypass}
    scenario = line_scenario(bypass=terms, shocks=shocks, horizon="60 d", price="100 USD/t")
    return run(scenario)


def test_the_bypass_is_ready_after_its_lead_time_of_unbroken_need():
    # Main closed days 20..39: need from day 20, bypass takes 20 kt/d from day 25 to 39.
    rec = bypass_run([outage("main", "20 d", "20 d")]).scenario
    np.testing.assert_allclose(rec.intake[:, 1], np.r_[np.zeros(25), np.full(15, 20 * KT), np.zeros(20)], atol=1e-6)


def test_an_extra_early_one_day_stop_never_makes_a_later_closure_cheaper():
    # Old rule: a stop on day 13 started the lead time, so the bypass was ready on day 18 for a closure
    # from day 20 (cheaper by 2 d x 20 kt). Now the set-up made on day 13 goes back to zero on day 14 (no
    # storage, the line takes it all again), and the closure waits its full 5 days as without the stop.
    closure = [outage("main", "20 d", "20 d")]
    alone = bypass_run(closure)
    with_stop = bypass_run([outage("main", "13 d", "1 d"), *closure])
    np.testing.assert_allclose(with_stop.scenario.intake[20:, 1], alone.scenario.intake[20:, 1], atol=1e-6)
    # The stop itself loses its own day (100 kt) and nothing is gained later.
    extra = with_stop.impact["lost_export_t"] - alone.impact["lost_export_t"]
    assert abs(extra - 100 * KT) < 1.0
    # And for every day of the early stop from 1 to 14 days before the closure.
    for gap in range(2, 15):
        early = bypass_run([outage("main", f"{20 - gap} d", "1 d"), *closure])
        assert early.impact["lost_export_t"] >= alone.impact["lost_export_t"] + 100 * KT - 1.0, gap


def test_a_ready_contract_lapses_after_its_lead_time_unused():
    # Closure A days 10..19 sets the bypass up (ready day 15, used to 19). After day 19 it is unused;
    # it lapses at the end of day 24 (5 days unused: 20..24). Closure B from day 23 keeps it (need on
    # day 23 before the lapse): diverts at once. Closure B from day 30 finds it lapsed: waits to day 35.
    a = outage("main", "10 d", "10 d")
    soon = bypass_run([a, outage("main", "23 d", "10 d")]).scenario.intake[:, 1]
    np.testing.assert_allclose(soon[23:33], 20 * KT, atol=1e-6)
    late = bypass_run([a, outage("main", "30 d", "10 d")]).scenario.intake[:, 1]
    np.testing.assert_allclose(late[30:35], 0.0, atol=1e-6)
    np.testing.assert_allclose(late[35:40], 20 * KT, atol=1e-6)


def test_a_route_contracted_at_the_start_diverts_at_once():
    # contracted: true: the bypass takes 20 kt/d from the closure's first day (day 20), not day 25.
    rec = bypass_run([outage("main", "20 d", "20 d")], contracted=True).scenario
    np.testing.assert_allclose(rec.intake[20:40, 1], 20 * KT, atol=1e-6)


@pytest.mark.parametrize("gap", [2, 7, 14])
def test_on_the_2022_network_an_early_one_day_stop_never_makes_a_cpc_closure_cheaper(tmp_path, gap):
    # CPC closed 30 days from day 30; a one-day CPC stop `gap` days before it. The diversions' set-ups the
    # stop started go back to zero the next day without need: the closure waits its full lead times, so the
    # pair loses at least what the closure alone loses.
    (tmp_path / "network").mkdir()
    shutil.copy(ROOT / "scenarios" / "network" / "kazakhstan_2022.yaml", tmp_path / "network")
    closure = {"kind": "outage", "target": "cpc_pipeline", "start": "30 d", "duration": "30 d", "factor": 0}
    stop = {"kind": "outage", "target": "cpc_pipeline", "start": f"{30 - gap} d", "duration": "1 d", "factor": 0}

    def lost(shocks: list[dict]) -> float:
        data = {"name": "pair", "network": "network/kazakhstan_2022.yaml", "start_date": "2022-01-01"}
        data.update({"horizon": "120 d", "seed": 1, "price": "100 USD/bbl", "shocks": shocks})
        path = tmp_path / "pair.yaml"
        path.write_text(yaml.safe_dump(data))
        return float(run(load_scenario(path).scenario).impact["lost_export_t"])

    assert lost([stop, closure]) >= lost([closure]) - 1.0


def test_a_need_that_comes_and_goes_still_sets_a_route_up():
    # Main at half capacity (60 kt/d < 100) on days 10..29 except one day in three (11, 14, ...) at full:
    # need two days in three, so the set-up goes +1 +1 -1 ...: progress 1, 0, 1, 2, 1, 2, 3, 2, 3, 4, 3,
    # 4, 5 on days 10..22 -> ready from day 23 (without the breaks: day 15). Day 23 is a full day (nothing
    # to divert, no storage); on day 24 the bypass takes its 20 kt.
    shocks = [outage("main", f"{d} d", "1 d", factor=0.6) for d in range(10, 30) if (d - 11) % 3]
    rec = bypass_run(shocks).scenario
    bypass = rec.intake[:, 1]
    np.testing.assert_allclose(bypass[:24], 0.0, atol=1e-6)
    np.testing.assert_allclose(bypass[24], 20 * KT, atol=1e-6)
