"""Exports counted where the oil leaves the system (issue 10, section 4): at loading for a route with a
sea leg, at the end of the last leg for a route without one; arrivals at the market are their own series.
Worked by hand on the toy network (``helpers.TOY``): cargo 100 kt at 12,000 t/h, laden 3 d, ballast 3 d."""

from __future__ import annotations

import numpy as np
from helpers import KT, line_scenario, make_scenario, run


def test_a_pipeline_route_exports_when_it_arrives():
    # No sea leg: the oil leaves the system where the line ends, so exports are arrivals.
    rec = run(line_scenario(transit="3 d")).scenario
    np.testing.assert_allclose(rec.exports, rec.arrivals, atol=1e-6)


def test_a_sea_route_exports_at_loading_and_arrives_a_voyage_later():
    # Toy baseline: 3 cargoes (300 kt) at sea at the start were exported before the run; each later
    # cargo is exported when it loads and arrives 8.33 h + 3 d later. So exported - arrived = on its way
    # at the end - 300 kt, and the first 3 days' arrivals are the cargoes that started at sea.
    rec = run(make_scenario()).baseline
    main = rec.route_names.index("main")
    assert abs(sum(rec.initial_beyond_by_route_t) - 300 * KT) < 1e-6
    on_way = rec.final_beyond_by_route_t[main] - rec.initial_beyond_by_route_t[main]
    assert abs(rec.exports[:, main].sum() - rec.arrivals[:, main].sum() - on_way) < 1e-3
    assert abs(rec.arrivals[:3, main].sum() - 300 * KT) < 1e-6
    # Cumulative exports lead arrivals: never less by more than the cargoes at sea at the start.
    lead = np.cumsum(rec.exports[:, main]) - np.cumsum(rec.arrivals[:, main])
    assert (lead >= -300 * KT - 1e-6).all()


def test_a_closed_market_stops_arrivals_not_loadings():
    # Market "med" closed days 10..14: no arrivals then, but tankers still load (exports) while they
    # are in port, as loaded cargoes wait at sea.
    closure = {"kind": "closure", "target": "med", "start": "10 d", "duration": "5 d"}
    rec = run(make_scenario([closure], horizon="30 d")).scenario
    main = rec.route_names.index("main")
    assert rec.arrivals[10:15, main].sum() == 0.0
    assert rec.exports[10:13, main].sum() > 0.0
