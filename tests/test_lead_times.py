"""A diversion's lead time when the need ends and comes back (issue 10, section 3): a set-up is dropped
if the need ends before it is ready, a contract lapses after its lead time unused, and a route may be
contracted at the start. Hand-worked on the line network of ``helpers.line_data``: one field of
100 kt/d, no field storage, the main line (120 kt/d, transit 0) and a bypass of 20 kt/d (transit 0)."""

from __future__ import annotations

import numpy as np
from helpers import KT, line_scenario, outage, run


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
    # from day 20 (cheaper by 2 d x 20 kt). Now the need ends on day 14 (no storage, the line takes it
    # all again), the set-up is dropped, and the closure waits its full 5 days as without the stop.
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
