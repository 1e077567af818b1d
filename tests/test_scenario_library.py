"""Every scenario file of the library runs, balances, and tells a story in the right direction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import run

from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def outcomes() -> dict[str, object]:
    return {path.stem: run(load_scenario(path).scenario) for path in SCENARIOS}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_scenario_runs_and_balances(path, outcomes):
    rep = outcomes[path.stem]
    rep.scenario.check_balance()
    rep.baseline.check_balance()
    values = rep.impact.values
    for key in ("lost_export_t", "lost_shut_in_t", "rerouted_t", "revenue_lost_usd"):
        assert np.isfinite(values[key]), key
    assert values["lost_shut_in_t"] >= -1e-6
    # Lost volume may be off by cargo timing at the horizon (see the README), never by more than a cargo.
    largest_cargo = max(leg.cargo for leg in load_scenario(path).scenario.network.legs.values() if leg.kind == "sea")
    assert values["lost_export_t"] >= -largest_cargo


def test_the_baseline_loses_nothing(outcomes):
    assert outcomes["baseline_2022"].impact.values["lost_export_t"] == pytest.approx(0.0, abs=1e-6)


def test_a_longer_cpc_closure_with_more_alternatives_still_loses_more(outcomes):
    closed_90 = outcomes["cpc_full_closure_90d_2025"].impact.values
    closed_180 = outcomes["cpc_closure_180d_transcaspian_2025"].impact.values
    assert closed_180["lost_export_t"] > closed_90["lost_export_t"] > 0
    assert closed_180["rerouted_t"] > closed_90["rerouted_t"] > 0


def test_losing_an_alternative_never_helps(outcomes):
    # Same 90-day CPC closure; without the Iran rail, or with Atyrau-Samara closed too, more is lost.
    base = outcomes["cpc_full_closure_90d_2025"].impact.values["lost_export_t"]
    assert outcomes["kti_closed_during_cpc_outage_2025"].impact.values["lost_export_t"] >= base - 1.0
    assert outcomes["russia_closes_cpc_and_samara_2025"].impact.values["lost_export_t"] > base


def test_the_reference_network_starts_in_its_steady_cycle_without_a_warm_up():
    """No start-up spike: the baseline's first two weeks export what any two weeks do, to within one cargo
    (tanks, lines and tankers start as they run; exports are counted as cargoes load, so days are lumpy)."""
    from sim.engine.runner import run_replication
    from sim.scenario.loader import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "baseline_2022.yaml").scenario
    exports = run_replication(scenario, scenario.seed, 0).baseline.daily_exports()
    fortnights = [exports[a : a + 14].sum() for a in range(0, exports.size - 13, 14)]
    cargo = scenario.network.legs["cpc_loading"].cargo
    assert abs(fortnights[0] - np.median(fortnights)) <= cargo
