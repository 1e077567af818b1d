"""Mass balance over random small networks (hypothesis): every tonne is produced once, and is then
exported, stored or in transit; nothing goes negative, and markets get no more than can arrive.

The balance is recomputed here from the network spec and from the parcels held by each component,
not only read back from ``RunRecord.check_balance``.
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pytest
from helpers import KT, make_scenario, outage, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine import MassBalanceError, Model, realize_shocks
from sim.engine.pipelines import Pipeline, SharedPipeline
from sim.engine.rail import Rail
from sim.engine.sea import SeaLeg
from sim.engine.shocks import STEPS_PER_DAY
from sim.scenario.schema import PipelineLeg, Scenario
from sim.scenario.schema import SeaLeg as SeaLegSpec

TOL = 1e-6  # t, relative to the tonnes moved (see scale below)

# -- strategies ----------------------------------------------------------------------------

kt = st.integers(1, 200_000).map(float)  # whole tonnes up to 200 kt (or kt/d)
fraction = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0))


@st.composite
def storage(draw, *, allow_zero: bool):
    kind = draw(st.sampled_from(["zero", "finite", "unlimited"] if allow_zero else ["finite", "unlimited"]))
    if kind == "zero":
        return {"capacity": 0}
    if kind == "unlimited":
        return {"capacity": "unlimited", "initial": draw(st.sampled_from([0.0, 50 * KT]))}
    capacity = float(draw(st.integers(1, 800_000)))
    return {"capacity": capacity, "initial": min(capacity, round(capacity * draw(fraction)))}


@st.composite
def leg(draw, kind: str, needs_tank: bool, ports: list[str]):
    spec: dict = {"kind": kind}
    if kind == "pipeline":
        spec["capacity"] = draw(st.one_of(st.just(0.0), kt))
        spec["transit"] = draw(st.sampled_from([0, 0.5, 1, 3, 5]))
        spec["initial_linefill"] = draw(st.sampled_from(["full", "empty"]))
        if draw(st.booleans()):
            spec["third_party"] = spec["capacity"] * draw(st.floats(0.0, 0.8))
            spec["sharing"] = draw(st.sampled_from(["pro_rata", "spare"]))
        if draw(st.booleans()):
            spec["pump_stations"] = {"ps": {"capacity_without": draw(st.sampled_from([0.0, 0.3, 0.7]))}}
    elif kind == "rail":
        spec["payload"] = float(draw(st.integers(1_000, 20_000)))
        spec["trains_per_day"] = draw(st.floats(0.5, 6.0))
        spec["transit"] = draw(st.sampled_from([0, 1, 2.5, 4]))
        spec["border_delay"] = draw(st.sampled_from([0, 1]))
        spec["fleet"] = draw(st.one_of(st.none(), st.integers(1, 12)))
        spec["return_transit"] = draw(st.one_of(st.none(), st.sampled_from([1, 3])))
    else:
        spec["port"] = draw(st.sampled_from(ports))
        spec["fleet"] = draw(st.integers(1, 4))
        spec["cargo"] = float(draw(st.integers(5_000, 100_000)))
        spec["load_rate"] = draw(st.floats(1000.0, 20000.0)) * 24  # t/d
        spec["laden_voyage"] = draw(st.sampled_from([0, 0.5, 2, 5]))
        spec["ballast_voyage"] = draw(st.sampled_from([0, 1, 3]))
    if needs_tank or kind == "sea" or draw(st.integers(0, 4)) == 0:
        spec["inlet_storage"] = draw(storage(allow_zero=False))
        if kind == "sea" and spec["inlet_storage"]["capacity"] != "unlimited":
            # tanks smaller than one cargo are refused by validation (tankers could never load)
            spec["inlet_storage"]["capacity"] = max(spec["inlet_storage"]["capacity"], spec["cargo"])
        capacity = spec["inlet_storage"]["capacity"]
        if capacity != "unlimited" and draw(st.booleans()):
            # a minimum stock, leaving at least one cargo of working room on a sea leg
            room = capacity - (spec["cargo"] if kind == "sea" else 1.0)
            spec["inlet_storage"]["minimum"] = max(0.0, room * draw(st.floats(0.0, 0.9)))
    return spec


@st.composite
def scenarios(draw, leg_kinds: tuple[str, ...] = ("pipeline", "rail", "sea")) -> Scenario:
    horizon = draw(st.integers(3, 60))
    sources = {}
    for i in range(draw(st.integers(1, 3))):
        sources[f"s{i}"] = {
            "production": draw(st.one_of(st.just(0.0), kt)),
            "storage": draw(storage(allow_zero=True)),
            "ramp_up": draw(st.sampled_from([0, 1, 3.5, 10])),
            "restart_delay": draw(st.sampled_from([0, 1, 2.5])),
            "shutdown_after": draw(st.sampled_from([0, 1, 2, 7])),
        }
    ports = {}
    for i in range(draw(st.integers(1, 2))):
        berths = draw(st.integers(1, 3))
        ports[f"p{i}"] = {"berths": berths, "active_berths": draw(st.integers(1, berths))}
    markets = [f"m{i}" for i in range(draw(st.integers(1, 2)))]
    legs: dict[str, dict] = {}
    chains: list[tuple[list[str], str]] = []  # (legs, market) of routes built so far
    routes = {}
    for r in range(draw(st.integers(1, 4))):
        if chains and draw(st.integers(0, 2)) == 0:
            # Share (a suffix of) an earlier route's chain: same legs, same market, tagged oil mixes.
            chain, market = draw(st.sampled_from(chains))
            chain = chain[draw(st.integers(0, len(chain) - 1)) :]
        else:
            chain = []
            for k in range(draw(st.integers(1, 3))):
                name = f"r{r}l{k}"
                kind = draw(st.sampled_from(leg_kinds))
                legs[name] = draw(leg(kind, needs_tank=k > 0, ports=list(ports)))
                chain.append(name)
            market = draw(st.sampled_from(markets))
        chains.append((chain, market))
        route = {
            "source": draw(st.sampled_from(list(sources))),
            "legs": chain,
            "market": market,
            "normal": draw(st.one_of(st.just(0.0), kt)),
            "cost": draw(st.floats(0.0, 100.0)),
            "lead_time": draw(st.sampled_from([0, 0.5, 3, 7])),
            "priority": draw(st.integers(1, 4)),
        }
        if draw(st.booleans()):
            route["capacity"] = draw(st.one_of(st.just(0.0), kt))
        routes[f"r{r}"] = route

    def start():
        return draw(st.one_of(st.sampled_from([0.0, horizon - 1.0, horizon - 0.01]), st.floats(0.0, horizon - 0.01)))

    shocks = []
    sea_legs = [name for name, spec in legs.items() if spec["kind"] == "sea"]
    kinds = ["outage", "closure", "slowdown", "production", "weather"] + (["derate"] if sea_legs else [])
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(kinds))
        shock: dict = {"kind": kind, "background": draw(st.booleans())}
        if draw(st.integers(0, 3)) == 0:
            # recurring: a few months with a rate (the run starts 1 January), durations drawn per occurrence
            months = draw(st.lists(st.sampled_from(["Jan", "Feb", "Mar"]), min_size=1, max_size=3, unique=True))
            shock["recurring"] = {
                "rate": {m: draw(st.sampled_from([0, 0.5, 4, 30])) for m in months},
                "duration": draw(st.sampled_from([0.0, 0.3, 2.0, {"dist": "uniform", "low": 0.1, "high": 5}])),
            }
        else:
            shock["start"] = start()
            shock["duration"] = draw(st.sampled_from([0.0, 1.0, 1000.0]) | st.floats(0.0, 90.0))
        if kind == "outage":
            stations = [f"{n}.ps" for n, spec in legs.items() if "pump_stations" in spec]
            shock["target"] = draw(st.sampled_from([*legs, *ports, *sources, *stations]))
            if shock["target"] in ports and draw(st.booleans()):
                shock["berths_out"] = draw(st.integers(0, ports[shock["target"]]["berths"]))
            else:
                shock["factor"] = draw(fraction)
        elif kind == "closure":
            shock["target"] = draw(st.sampled_from([*routes, *markets]))
        elif kind == "slowdown":
            shock["target"] = draw(st.sampled_from(list(legs)))
            shock["multiplier"] = draw(st.sampled_from([1.0, 2.0]) | st.floats(1.0, 4.0))
        elif kind == "production":
            shock["target"] = draw(st.sampled_from(list(sources)))
            shock["factor"] = draw(fraction)
            shock["ramp"] = draw(st.sampled_from([0, 2.5]))
        elif kind == "derate":
            shock["target"] = draw(st.sampled_from(sea_legs))
            shock["factor"] = draw(st.sampled_from([0.1, 0.8, 1.0]) | st.floats(0.1, 1.0))
        else:
            shock["target"] = draw(st.sampled_from(list(ports)))
        shocks.append(shock)

    data = {
        "name": "random",
        "start_date": "2022-01-01",
        "horizon": horizon,
        "seed": draw(st.integers(0, 2**31)),
        "network": {
            "sources": sources,
            "ports": ports,
            "legs": legs,
            "routes": routes,
            "markets": {m: {} for m in markets},
        },
        "shocks": shocks,
    }
    return Scenario.model_validate(data)


# -- independent bookkeeping -----------------------------------------------------------------


def half_up(x: float) -> int:
    """Whole number, halves up: the engine's one rounding rule (2.5 -> 3), written out again here."""
    return math.floor(x + 0.5)


def holdings_by_route(model: Model, at_start: bool = False) -> dict[int, float]:
    """Tonnes of each route's oil held anywhere in the model, summed from the parcels themselves
    (cargoes at sea: those tankers start with, or at the end those the sea legs hold)."""
    out: dict[int, float] = {}

    def add(parcel: dict[int, float]) -> None:
        for route, amount in parcel.items():
            out[route] = out.get(route, 0.0) + amount

    for tank in model.tanks.values():
        add(tank.by_route)
    for leg_ in model.legs.values():
        if isinstance(leg_, SeaLeg):
            add(leg_.initial_by_route if at_start else leg_.holdings())
        elif isinstance(leg_, SharedPipeline):
            for parcels in leg_.arrivals.values():
                for parcel in parcels:
                    add(parcel)
            for parcel in leg_.waiting:
                add(parcel)
        elif isinstance(leg_, Pipeline):
            for _, parcel in leg_.fifo:
                add(parcel)
        elif isinstance(leg_, Rail):
            for parcels in leg_.arrivals.values():
                for parcel in parcels:
                    add(parcel)
            for parcel in leg_.waiting:
                add(parcel)
    return out


def components_in_transit(model: Model) -> float:
    """In-transit tonnes from the components' own structures (fifo amounts, train parcels, aboard)."""
    total = 0.0
    for leg_ in model.legs.values():
        if isinstance(leg_, SharedPipeline):
            total += sum(sum(p.values()) for ps in leg_.arrivals.values() for p in ps)
            total += sum(sum(p.values()) for p in leg_.waiting)
        elif isinstance(leg_, Pipeline):
            total += sum(amount for amount, _ in leg_.fifo)
        elif isinstance(leg_, Rail):
            total += sum(sum(p.values()) for ps in leg_.arrivals.values() for p in ps)
            total += sum(sum(p.values()) for p in leg_.waiting)
        else:
            assert isinstance(leg_, SeaLeg)
            total += leg_.aboard
    return total


def initial_inventory_from_spec(scenario: Scenario) -> float:
    """Source storage + inlet tanks + full linefills: a line of our oil only holds capacity x transit;
    a line shared with third parties holds our normal flow (at most our share) for each whole day of transit."""
    net = scenario.network
    used = {name for route in net.routes.values() for name in route.legs}
    total = sum(src.storage.initial for src in net.sources.values())
    for name, spec in net.legs.items():
        if spec.inlet_storage is not None:
            total += spec.inlet_storage.initial
        if isinstance(spec, PipelineLeg) and name in used and spec.initial_linefill == "full":
            ours = max(0.0, spec.capacity - spec.third_party)
            if spec.third_party > 0:
                normal = sum(route.normal for route in net.routes.values() if name in route.legs)
                total += min(ours, normal) * max(0, half_up(spec.transit))
            else:
                total += ours * spec.transit
        if isinstance(spec, SeaLegSpec) and name in used:
            # tankers start in steady state: flow x laden voyage / cargo of them at sea, laden
            flow = sum(route.normal for route in net.routes.values() if name in route.legs)
            if flow > 0 and spec.laden_voyage > 0:
                total += min(spec.fleet, half_up(flow * spec.laden_voyage / spec.cargo)) * spec.cargo
    return total


def fully_zero_days(shocks, kind_filter, target_kind: str, name: str, days: int) -> np.ndarray:
    """Days on which some happened shock with factor 0 covers all 24 hours of ``name``."""
    hourly = np.ones(days * STEPS_PER_DAY)
    for s in shocks:
        if not (s.happened and s.duration_d > 0 and s.kind in kind_filter):
            continue
        if s.target.kind != target_kind or s.target.name != name or s.factor > 0:
            continue
        lo = max(0, half_up(s.start_d * STEPS_PER_DAY))
        hi = min(len(hourly), half_up(s.end_d * STEPS_PER_DAY))
        hourly[lo:hi] = 0.0
    return hourly.reshape(days, STEPS_PER_DAY).max(axis=1) == 0.0


# -- the property ------------------------------------------------------------------------------


@settings(
    max_examples=int(os.environ.get("ROUTESIM_BALANCE_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scenarios())
def test_random_networks_conserve_mass_and_never_go_negative(scenario):
    net = scenario.network
    shocks = realize_shocks(scenario)
    days = math.ceil(scenario.horizon - 1e-9)
    model = Model(net, shocks, days)
    initial_by_route = holdings_by_route(model, at_start=True)
    record = model.run()  # runs check_balance: raises MassBalanceError if it does not close
    balance = record.balance()
    scale = 1.0 + balance.initial_inventory_t + balance.potential_t

    arrays = (
        "exports",
        "arrivals",
        "intake",
        "produced",
        "shut_in",
        "outage",
        "source_level",
        "tank_level",
        "leg_transit",
    )
    for name in arrays:
        assert np.isfinite(getattr(record, name)).all(), name

    # Our own balance: initial (from the spec) + produced = arrived + stored + in transit (from the
    # components' parcels), both aggregate and route by route; exports (where the oil leaves) differ
    # from arrivals by what is on its way past the export point, at the start and at the end.
    initial = initial_inventory_from_spec(scenario)
    initial_beyond = sum(record.initial_beyond_by_route_t)
    assert record.initial_inventory_t + initial_beyond == pytest.approx(initial, abs=TOL * scale)
    stored = sum(s.level for s in model.sources) + sum(sum(t.by_route.values()) for t in model.tanks.values())
    in_transit = components_in_transit(model)
    _, beyond_tanks, beyond_legs = model.beyond()
    final_beyond = sum(record.final_beyond_by_route_t)
    assert beyond_tanks + beyond_legs == pytest.approx(final_beyond, abs=TOL * scale)
    exported_minus_arrived = record.exports.sum() - record.arrivals.sum()
    assert exported_minus_arrived == pytest.approx(final_beyond - initial_beyond, abs=TOL * scale)
    for k, leg_name in enumerate(record.leg_names):  # the last tick's record is the legs' own count
        if model.legs[leg_name].steps_daily:
            assert record.leg_transit[-1, k] == pytest.approx(model.legs[leg_name].in_transit(), abs=TOL * scale)
    assert stored == pytest.approx(record.final_stored_t + beyond_tanks, abs=TOL * scale)
    assert in_transit == pytest.approx(record.final_in_transit_t + beyond_legs, abs=TOL * scale)
    residual = initial + record.produced.sum() - record.arrivals.sum() - stored - in_transit
    assert abs(residual) <= TOL * scale
    # Route by route from the parcels' tags (cargoes at sea by route sum to the tonnes aboard).
    final_by_route = holdings_by_route(model)
    for leg_ in model.legs.values():
        if isinstance(leg_, SeaLeg):
            assert sum(leg_.holdings().values()) == pytest.approx(leg_.aboard, abs=TOL * scale), leg_.name
    for r, name in enumerate(record.route_names):
        came_in = initial_by_route.get(r, 0.0) + record.intake[:, r].sum()
        went_out = record.arrivals[:, r].sum() + final_by_route.get(r, 0.0)
        assert came_in == pytest.approx(went_out, abs=TOL * scale), name

    # Nothing negative, nothing above its capacity.
    assert (record.exports >= -TOL).all() and (record.arrivals >= -TOL).all() and (record.intake >= -TOL).all()
    assert (record.leg_transit >= -TOL).all()
    assert (record.produced >= -TOL).all() and (record.shut_in >= -TOL).all() and (record.outage >= -TOL).all()
    for k, src_name in enumerate(record.source_names):
        spec = net.sources[src_name]
        assert (record.source_level[:, k] >= -TOL).all()
        assert (record.source_level[:, k] <= spec.storage.capacity + TOL * scale).all()
        # never more than the nominal rate, and nothing on a day a production shock stops the field
        assert (record.produced[:, k] <= spec.production + TOL * scale).all()
        stopped = fully_zero_days(shocks, {"production", "outage"}, "source", src_name, days)
        assert (record.produced[stopped, k] <= TOL).all(), src_name
    for k, tank_name in enumerate(record.tank_names):
        capacity = net.legs[tank_name.removesuffix(".inlet")].inlet_storage.capacity  # "<leg>.inlet"
        assert (record.tank_level[:, k] >= -TOL).all()
        assert (record.tank_level[:, k] <= capacity + TOL * scale).all()

    # Markets get no more than can physically arrive.
    cumulative_exports = np.cumsum(record.arrivals.sum(axis=1))
    cumulative_supply = initial + np.cumsum(record.produced.sum(axis=1))
    assert (cumulative_exports <= cumulative_supply + TOL * scale).all()
    route_index = {name: i for i, name in enumerate(record.route_names)}
    for leg_name, spec in net.legs.items():
        through = [route_index[r] for r, route in net.routes.items() if route.legs[-1] == leg_name]
        if not through:
            continue
        delivered = record.arrivals[:, through].sum(axis=1)
        if isinstance(spec, PipelineLeg):
            # a pipeline delivers what enters it that day: never more than our share of its capacity
            ours = max(0.0, spec.capacity - spec.third_party)
            assert (delivered <= ours + TOL * scale).all(), leg_name
    for r, route in net.routes.items():
        i = route_index[r]
        first = net.legs[route.legs[0]]
        single = len(route.legs) == 1 and first.inlet_storage is None
        if single and isinstance(first, PipelineLeg) and first.transit == 0:
            # transit 0: every tonne sent in leaves the same day, to this route's market
            np.testing.assert_allclose(record.arrivals[:, i], record.intake[:, i], atol=TOL * scale)
            np.testing.assert_allclose(record.exports[:, i], record.intake[:, i], atol=TOL * scale)
        elif single and first.kind == "rail":
            # a train takes at least a day: exports up to day d <= dispatched up to day d - 1
            dispatched = np.concatenate(([0.0], np.cumsum(record.intake[:-1, i])))
            assert (np.cumsum(record.arrivals[:, i]) <= dispatched + TOL * scale).all(), r
        # a route closed for a whole day takes nothing that day
        closed = fully_zero_days(shocks, {"closure"}, "route", r, days)
        assert (record.intake[closed, i] <= TOL).all(), r
    for market in net.markets:
        closed = fully_zero_days(shocks, {"closure"}, "market", market, days)
        to_market = [route_index[r] for r, route in net.routes.items() if route.market == market]
        assert (record.arrivals[np.ix_(closed, to_market)] <= TOL).all(), market
    for r, route in net.routes.items():
        first = net.legs[route.legs[0]]
        if isinstance(first, PipelineLeg):
            out = fully_zero_days(shocks, {"outage"}, "leg", route.legs[0], days)
            assert (record.intake[out, route_index[r]] <= TOL).all(), r


# -- the check itself ---------------------------------------------------------------------------


def test_check_balance_catches_a_missing_tonne():
    record = run(make_scenario([outage("pipe", "10 d", "5 d")])).scenario
    record.check_balance()
    exports = record.exports.copy()
    exports[20, 0] += 1.0  # one tonne exported that was never produced
    with pytest.raises(MassBalanceError, match="does not close"):
        dataclasses.replace(record, exports=exports).check_balance()


def test_check_balance_catches_a_negative_level():
    record = run(make_scenario()).scenario
    level = record.source_level.copy()
    level[5, 0] = -10.0
    with pytest.raises(MassBalanceError, match="negative"):
        dataclasses.replace(record, source_level=level).check_balance()


def test_check_balance_rejects_nan_tonnes():
    record = run(make_scenario()).scenario
    exports = record.exports.copy()
    exports[20, 0] = np.nan
    with pytest.raises(MassBalanceError):
        dataclasses.replace(record, exports=exports).check_balance()


def test_toy_balance_terms_by_hand():
    # Toy baseline, 60 d: initial = field 0 + port tanks 200 kt + linefills 120 x 5 + 20 x 2 = 840 kt
    # not yet exported; the tankers starting at sea, laden (100 kt/d x 3 d / 100 kt = 3 cargoes = 300 kt)
    # were exported before the run (on their way: ``initial_beyond``). Produced 60 x 100 kt/d = 6000 kt,
    # none shut in.
    record = run(make_scenario()).baseline
    balance = record.check_balance()
    assert balance.initial_inventory_t == pytest.approx(840 * KT)
    assert sum(record.initial_beyond_by_route_t) == pytest.approx(300 * KT)
    assert balance.produced_t == pytest.approx(6000 * KT)
    assert balance.shut_in_t == 0.0
    assert balance.exported_t + balance.stored_t + balance.in_transit_t == pytest.approx(6840 * KT)


def test_check_balance_catches_a_tank_above_its_capacity():
    record = run(make_scenario()).baseline
    level = record.tank_level.copy()
    level[10, 0] = 600 * KT  # the port tanks hold 500 kt
    with pytest.raises(MassBalanceError, match="over its"):
        dataclasses.replace(record, tank_level=level).check_balance()


def test_check_balance_catches_a_tonne_moved_from_one_route_to_another():
    # The totals still close; only the route-by-route balance sees it.
    record = run(make_scenario([outage("pipe", "10 d", "5 d")])).scenario
    day = int(np.argmax(record.exports[:, 0]))
    exports = record.exports.copy()
    exports[day, 0] -= 1_000.0
    exports[day, 1] += 1_000.0
    with pytest.raises(MassBalanceError, match="route main does not balance"):
        dataclasses.replace(record, exports=exports).check_balance()


def test_check_balance_catches_a_field_that_sends_oil_a_day_early():
    # A day's intake booked the day before: every total and every route still balances; only the
    # field's day-by-day storage balance sees it.
    record = run(make_scenario([outage("pipe", "10 d", "5 d")])).scenario
    intake = record.intake.copy()
    intake[12, 0] += 1_000.0
    intake[13, 0] -= 1_000.0
    with pytest.raises(MassBalanceError, match="field field does not balance on day 12"):
        dataclasses.replace(record, intake=intake).check_balance()
