"""The engine's registries: a leg kind defined here (not in the engine) runs through the dispatcher
with mass balance; shock kinds agree with the scenario format; the fleet fast path is derived from
what each shock kind changes, so an unknown behaviour falls back to a process per tanker; and the
metrics registry is what impact reports and what the tables, ensembles and backtests read."""

from __future__ import annotations

import typing
from collections import deque
from dataclasses import dataclass

import numpy as np
import pytest
from helpers import KT, line_scenario, make_scenario, run

from sim.engine import Model, simulate
from sim.engine.legs import LEG_KINDS, Leg, LegContext, register_leg_kind
from sim.engine.metrics import ENSEMBLE_SCALARS, METRICS, headline_rows, observable_metrics, unit_of
from sim.engine.parcels import Parcel
from sim.engine.sea import SeaFleet, SeaTankers
from sim.engine.shock_kinds import SHOCK_KINDS, Effect, ShockKindSpec, register_shock_kind
from sim.engine.shocks import RealizedShock
from sim.scenario.schema import ENSEMBLE_SCALARS as SCHEMA_ENSEMBLE_SCALARS
from sim.scenario.schema import IMPACT_METRICS, ShockKind
from sim.scenario.targets import ALLOWED, Target

# -- a new leg kind, defined in this file only ----------------------------------------------------


@dataclass(frozen=True)
class ConveyorSpec:
    """A belt that carries at most ``capacity`` t/d and delivers a day later (a test-only kind)."""

    capacity: float
    kind: str = "conveyor"
    inlet_storage: None = None


class Conveyor(Leg):
    """Oil put on the belt today reaches the outlet tomorrow."""

    def __init__(self, name: str, capacity: float, outlet):
        self.name, self.capacity, self.outlet = name, capacity, outlet
        self.belt: deque[tuple[int, Parcel, float]] = deque()
        self.used = 0.0

    def start_day(self, day: int) -> None:
        self.used = 0.0
        while self.belt and self.belt[0][0] <= day:
            _, parcel, _ = self.belt.popleft()
            self.outlet.receive(parcel, day)

    def limit(self) -> float:
        return self.capacity - self.used

    def push(self, parcel: Parcel, amount: float, day: int) -> None:
        self.used += amount
        self.belt.append((day + 1, parcel, amount))

    def in_transit(self) -> float:
        return sum(amount for _, _, amount in self.belt)

    def holdings(self) -> Parcel:
        held: Parcel = {}
        for _, parcel, _ in self.belt:
            for route, amount in parcel.items():
                held[route] = held.get(route, 0.0) + amount
        return held


def build_conveyor(ctx: LegContext, name: str, spec: ConveyorSpec) -> Leg:
    return Conveyor(name, spec.capacity, ctx.outlet)


@pytest.fixture
def conveyor_kind():
    register_leg_kind("conveyor", ConveyorSpec, build_conveyor)
    yield
    del LEG_KINDS["conveyor"]


def test_a_leg_kind_registered_outside_the_engine_runs_with_mass_balance(conveyor_kind):
    # One field (100 kt/d, no storage) into a 60 kt/d conveyor: 60 kt/d go in, arrive a day later;
    # 40 kt/d are shut in. simulate() checks the balance (initial + produced = exported + stored + transit).
    base = line_scenario(horizon="10 d")
    network = base.network.model_copy(update={"legs": {"main": ConveyorSpec(capacity=60 * KT)}})
    record = simulate(network, [], 10)
    np.testing.assert_allclose(record.intake[:, 0], 60 * KT)
    np.testing.assert_allclose(record.exports[:, 0], [0.0] + [60 * KT] * 9)
    np.testing.assert_allclose(record.shut_in[:, 0], 40 * KT)
    np.testing.assert_allclose(record.leg_transit[:, 0], 60 * KT)  # one day of flow on the belt at each tick
    assert record.final_in_transit_t == pytest.approx(60 * KT)


def test_an_unregistered_leg_kind_is_refused_by_name():
    network = line_scenario().network
    network = network.model_copy(update={"legs": {"main": ConveyorSpec(capacity=1.0, kind="teleporter")}})
    with pytest.raises(ValueError, match="no leg kind 'teleporter'"):
        simulate(network, [], 5)


# -- shock kinds -------------------------------------------------------------------------------------


def test_shock_kinds_agree_with_the_scenario_format():
    assert set(typing.get_args(ShockKind)) == set(SHOCK_KINDS)
    for name, spec in SHOCK_KINDS.items():
        assert set(ALLOWED[name]) == set(spec.targets), name


def shock(kind: str, target: Target, factor: float = 0.5, multiplier: float = 1.0) -> RealizedShock:
    return RealizedShock(0, kind, kind, target, 5.0, 2.0, factor, multiplier, 0.0, True)


def sea_leg_class(shocks: list[RealizedShock], fast: bool = True) -> type:
    model = Model(make_scenario().network, shocks, 30, fast=fast)
    return type(model.legs["load"])


@pytest.mark.parametrize(
    ("shocks", "expected"),
    [
        ([], SeaFleet),
        ([shock("weather", Target("port", "novo"), 0.0)], SeaFleet),  # berths blocked: the fleet queues behind
        ([shock("outage", Target("leg", "pipe"))], SeaFleet),  # upstream: the tanks fill more slowly
        ([shock("outage", Target("leg", "load"))], SeaTankers),
        ([shock("slowdown", Target("leg", "load"), 1.0, 2.0)], SeaTankers),
        ([shock("derate", Target("leg", "load"))], SeaTankers),
        ([shock("closure", Target("market", "med"), 0.0)], SeaTankers),
    ],
)
def test_the_fleet_fast_path_follows_what_the_shocks_change(shocks, expected):
    assert sea_leg_class(shocks) is expected
    assert sea_leg_class(shocks, fast=False) is SeaTankers


def test_a_new_shock_kind_on_a_sea_leg_is_never_ignored_by_the_fast_path():
    # A kind the fleet was not written for ("boarding inspections") changes a behaviour the fleet does
    # not declare it handles: the leg runs a process per tanker, with no edit to the sea leg.
    register_shock_kind(ShockKindSpec("inspection", {"leg": Effect("leg", "boarding inspections")}))
    try:
        assert sea_leg_class([shock("inspection", Target("leg", "load"))]) is SeaTankers
    finally:
        del SHOCK_KINDS["inspection"]


# -- metrics -----------------------------------------------------------------------------------------


def test_impact_reports_exactly_the_registered_metrics_in_order():
    values = run(make_scenario()).impact.values
    assert list(values) == list(METRICS)


def test_backtests_may_observe_exactly_the_metrics_the_registry_marks_observable():
    # The scenario format keeps its own copy (it cannot import the engine); it must agree.
    assert observable_metrics() == IMPACT_METRICS


def test_the_ensemble_memory_estimate_counts_at_least_the_registered_metrics():
    assert SCHEMA_ENSEMBLE_SCALARS >= ENSEMBLE_SCALARS


def test_every_headline_metric_has_a_unit_and_a_label():
    rows = headline_rows()
    assert rows[0] == ("Exports, baseline", "baseline_exported_t")
    for label, name in rows:
        assert label.strip() and METRICS[name].unit


def test_a_metric_unit_comes_from_the_registry_and_a_derived_name_from_its_suffix():
    assert unit_of("resilience_area_td") == "t*d"
    assert unit_of("price_usd_per_bbl") == "USD/bbl"
    assert unit_of("loaded_t") == "t"  # not registered (a backtest's window metric): by its suffix
    assert unit_of("loading_ratio") == "1"
