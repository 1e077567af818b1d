"""The export network as a SimPy model: build the components, run the daily dispatcher, keep the record.

``simulate(network, shocks, horizon_d)`` builds the components (legs through the registry of leg
kinds, ``sim/engine/legs.py``), runs one replication and returns a ``RunRecord`` of daily series.
Tankers load and sail between the daily ticks. Mass balance is checked at the end.
"""

from __future__ import annotations

import datetime as dt
import gc
import math

import numpy as np
import simpy

# The built-in leg kinds register themselves when imported.
import sim.engine.pipelines
import sim.engine.rail
import sim.engine.sea  # noqa: F401
from sim.engine.dispatch import Dispatcher, Route
from sim.engine.env import DAILY_TICK, Environment, RankedTimeout
from sim.engine.legs import Leg, LegContext, build_leg
from sim.engine.parcels import Parcel, add_to, zero_below
from sim.engine.ports import Port
from sim.engine.record import RunRecord
from sim.engine.shocks import RealizedShock, Timelines
from sim.engine.sources import Source
from sim.engine.tanks import Market, Tank
from sim.scenario.schema import Network, PortSpec

__all__ = ["Model", "port_terms", "pump_stations", "simulate"]


class Model:
    """One replication of the network under a set of drawn shocks.

    ``fast=False`` builds the plain reference model: a process per tanker on every sea leg, no
    fast path anywhere (the equivalence tests run both and compare).
    """

    def __init__(
        self,
        network: Network,
        shocks: list[RealizedShock],
        horizon_d: int,
        fast: bool = True,
        start_date: dt.date | None = None,
    ):
        self.network = network
        self.days = horizon_d
        self.start_date = start_date
        self.fast = fast
        self.env = Environment()
        self.route_names = list(network.routes)
        self.source_names = list(network.sources)
        self.timelines = Timelines(horizon_d, shocks, pump_stations(network))
        self.shocks = shocks
        self.eps = zero_below(network_scale(network))  # tonnes that count as zero
        # t by day and route, [day * n_routes + route]: arrived at the market, and exported where the oil
        # leaves the system (loading at the export terminal, or arrival for a route without a sea leg)
        self.arrivals = [0.0] * (horizon_d * len(self.route_names))
        self.departed = [0.0] * (horizon_d * len(self.route_names))
        self._build()

    def _build(self) -> None:
        net, env, tl = self.network, self.env, self.timelines
        route_index = {name: i for i, name in enumerate(self.route_names)}
        n_routes = len(self.route_names)
        self.markets = {
            name: Market(name, self.arrivals, n_routes, tl.hourly_factor("market", name)) for name in net.markets
        }
        # Where each leg delivers: the next leg's inlet tank, or the market.
        outlet_of: dict[str, tuple[str, str]] = {}
        depth: dict[str, int] = {}
        users: dict[str, list[int]] = {name: [] for name in net.legs}
        for rname, route in net.routes.items():
            for i, leg_name in enumerate(route.legs):
                nxt = ("leg", route.legs[i + 1]) if i + 1 < len(route.legs) else ("market", route.market)
                if outlet_of.setdefault(leg_name, nxt) != nxt:
                    raise ValueError(
                        f"leg {leg_name!r} leads to {outlet_of[leg_name][1]!r} in one route and to "
                        f"{nxt[1]!r} in route {rname!r}; a leg has one outlet"
                    )
                depth[leg_name] = max(depth.get(leg_name, 0), i)
                users[leg_name].append(route_index[rname])
        # Inlet tanks (at the start, oil in them belongs to the routes using the leg).
        self.tanks: dict[str, Tank] = {}
        for leg_name, spec in net.legs.items():
            storage = getattr(spec, "inlet_storage", None)
            if storage is not None:
                initial = self._split(storage.initial, users[leg_name])
                self.tanks[leg_name] = Tank(
                    env, f"{leg_name}.inlet", storage.capacity, initial, storage.minimum, self.eps
                )
        self.ports = {}
        for name, spec in net.ports.items():
            berths, active, delay = port_terms(spec)
            self.ports[name] = Port(env, name, berths, active, tl.usable_berths(name, berths, active, delay))
        self.legs: dict[str, Leg] = {}
        for leg_name, spec in net.legs.items():
            if leg_name not in outlet_of:
                continue  # a leg no route uses carries nothing
            kind, name = outlet_of[leg_name]
            on_leg = users[leg_name]
            context = LegContext(
                env=env,
                days=self.days,
                timelines=tl,
                outlet=self.markets[name] if kind == "market" else self.tanks[name],
                inlet=self.tanks.get(leg_name),
                ports=self.ports,
                users=on_leg,
                normal_flow=sum(net.routes[self.route_names[r]].normal for r in on_leg),
                split=lambda amount, on_leg=on_leg: self._split(amount, on_leg),
                eps=self.eps,
                fast=self.fast,
            )
            self.legs[leg_name] = build_leg(context, leg_name, spec)
        self._set_exits()
        self.sources = [self._source(name, spec) for name, spec in net.sources.items()]
        self._operators(net)
        source_index = {name: i for i, name in enumerate(self.source_names)}
        ones = [1.0] * self.days  # the daily factors of every route never closed
        self.routes = [
            Route(
                index=route_index[rname],
                source=source_index[spec.source],
                first=self.legs[spec.legs[0]],
                normal=spec.normal,
                capacity=spec.capacity,
                cost=spec.cost,
                lead_time=spec.lead_time,
                priority=spec.priority,
                factor_list=ones if (factor := tl.daily_factor("route", rname)) is None else factor.tolist(),
                contracted=spec.contracted,
            )
            for rname, spec in net.routes.items()
        ]
        holdings = self.holdings()
        beyond, beyond_tanks, beyond_legs = self.beyond(holdings)
        self.initial_beyond = beyond
        self.initial_inventory = self.inventory() - beyond_tanks - beyond_legs
        self.initial_source_levels = [src.level for src in self.sources]
        self.initial_by_route = [held - out for held, out in zip(self.by_route(holdings), beyond, strict=True)]
        self.dispatcher = Dispatcher(
            self.sources, self.routes, list(self.legs.values()), depth, list(self.tanks.values()), self.eps, self.fast
        )

    def _set_exits(self) -> None:
        """Where each route's oil leaves the system: its first export terminal (a leg with
        ``export_terminal``: loading aboard a tanker), else arrival at its market. Tell those legs and
        markets, and keep per route the tanks and legs its oil is in once it has left."""
        routes = self.network.routes
        self.past_exit: list[tuple[list[Leg], list[Tank]]] = []
        self.leave_on_arrival: list[int] = []  # routes exported on arrival at their market (no export terminal)
        for r, name in enumerate(self.route_names):
            legs = routes[name].legs
            k = next((i for i, leg in enumerate(legs) if self.legs[leg].export_terminal), None)
            after = [] if k is None else legs[k:]
            self.past_exit.append(
                ([self.legs[leg] for leg in after], [self.tanks[leg] for leg in after[1:] if leg in self.tanks])
            )
            if k is None:
                self.leave_on_arrival.append(r)
                continue
            leg = self.legs[legs[k]]
            leg.departed, leg.n_routes = self.departed, len(self.route_names)
            leg.leaves_here = leg.leaves_here | {r}

    def beyond(self, holdings: dict[str, Parcel] | None = None) -> tuple[list[float], float, float]:
        """Oil that has left the system (exported) and is still on its way to the market, by route, and
        how much of it is in tanks and in legs (the ``exports`` accounting leaves it out of inventories).
        ``holdings``: each leg's, if already asked (``holdings``)."""
        holdings = self.holdings() if holdings is None else holdings
        by_route, in_tanks, in_legs = [], 0.0, 0.0
        for r, (legs, tanks) in enumerate(self.past_exit):
            on_legs = 0.0
            for leg in legs:
                on_legs += holdings[leg.name].get(r, 0.0)
            in_store = sum(tank.by_route.get(r, 0.0) for tank in tanks)
            by_route.append(on_legs + in_store)
            in_tanks += in_store
            in_legs += on_legs
        return by_route, in_tanks, in_legs

    def holdings(self) -> dict[str, Parcel]:
        """Each leg's oil by route (``Leg.holdings``), by leg name."""
        return {name: leg.holdings() for name, leg in self.legs.items()}

    def _split(self, amount: float, route_ids: list[int]) -> Parcel:
        """Share ``amount`` among routes in proportion to their normal allocation (equal if none)."""
        if amount <= 0 or not route_ids:
            return {}
        weights = [self.network.routes[self.route_names[r]].normal for r in route_ids]
        total = sum(weights)
        if total <= 0:
            weights, total = [1.0] * len(route_ids), float(len(route_ids))
        return {r: amount * w / total for r, w in zip(route_ids, weights, strict=True)}

    def _source(self, name: str, spec) -> Source:
        """A field, with its scheduled rate and its potential after the production shocks."""
        scheduled = self._scheduled(spec)
        factor = self.timelines.daily_factor("source", name)
        potential = scheduled if factor is None else scheduled * factor  # (no shock: the same array, never changed)
        return Source(name, spec, potential, self.eps, spec.response or self.network.response, base=scheduled)

    def _scheduled(self, spec) -> np.ndarray:
        """A field's production rate day by day: its schedule's steps (read from start_date), else constant."""
        if not spec.schedule or self.start_date is None:
            return np.full(self.days, float(spec.production))
        return np.array([spec.rate_on(self.start_date + dt.timedelta(days=d)) for d in range(self.days)], dtype=float)

    def _operators(self, net: Network) -> None:
        """What each responding field's operator watches: the terminal tanks its normal routes load from
        (watch: terminal), and the days on which a stop on its outlet is announced or under way."""
        for i, src in enumerate(self.sources):
            if src.response is None:
                continue
            name = self.source_names[i]
            routes = [r for r in net.routes.values() if r.source == name and r.normal > 0]
            watched = []
            if src.response.watch == "terminal":
                watched = [self.tanks[leg] for r in routes for leg in r.legs[1:] if leg in self.tanks]
                watched = list(dict.fromkeys(watched))  # a terminal several routes load from, once
            src.arm(watched)
            if not any(shock.notice_d > 0 for shock in self.shocks):
                continue  # nothing is ever announced
            outlet = {("route", rn) for rn, r in net.routes.items() if r.source == name and r.normal > 0}
            for r in routes:
                outlet.add(("market", r.market))
                for leg in r.legs:
                    outlet.add(("leg", leg))
                    outlet.add(("pump_station", leg))
                    port = getattr(net.legs[leg], "port", None)
                    if port is not None:
                        outlet.add(("port", port))
            warned = [False] * self.days
            for shock in self.shocks:
                if shock.notice_d <= 0 or not shock.happened or shock.duration_d <= 0:
                    continue
                if (
                    shock.kind not in ("outage", "weather", "closure")
                    or (shock.target.kind, shock.target.name) not in outlet
                ):
                    continue
                first = max(0, math.floor(shock.start_d - shock.notice_d))
                for day in range(first, min(self.days, math.ceil(shock.end_d))):
                    warned[day] = True
            src.warned = warned if any(warned) else None

    # -- running ------------------------------------------------------------------
    def inventory(self) -> float:
        """Tonnes in storage, tanks and transit right now."""
        return self.stored() + self.in_transit()

    def stored(self) -> float:
        """Tonnes in field storage and terminal tanks."""
        return sum(s.level for s in self.sources) + sum(t.level for t in self.tanks.values())

    def in_transit(self) -> float:
        """Tonnes in pipelines, on trains and aboard tankers."""
        return sum(leg.in_transit() for leg in self.legs.values())

    def by_route(self, holdings: dict[str, Parcel] | None = None) -> list[float]:
        """Tonnes of each route's oil in terminal tanks and legs, from the parcels themselves (``holdings``:
        each leg's, if already asked)."""
        holdings = self.holdings() if holdings is None else holdings
        held: Parcel = {}
        for tank in self.tanks.values():
            add_to(held, tank.by_route)
        for parcel in holdings.values():
            add_to(held, parcel)
        return [held.get(r, 0.0) for r in range(len(self.route_names))]

    def _tick(self, _event: simpy.Event | None = None) -> None:
        """The daily dispatch: dispatch today, then come back at the next day's tick (a callback on a
        ranked timeout rather than a process: the same events in the same order, without a process's
        resumption each day)."""
        env, day = self.env, self.day
        env.defer()  # fleets woken by the day's deposits act once it is dispatched
        self.dispatcher.day(day)
        env.run_deferred()
        self.day = day + 1  # (the last day's next tick is at the horizon, where the run stops)
        RankedTimeout(env, 1, DAILY_TICK).callbacks.append(self._tick)  # after the shocks' changes, before tankers

    def run(self) -> RunRecord:
        """Run to the horizon and return the record; raise MassBalanceError if tonnes go missing."""
        self.day = 0
        RankedTimeout(self.env, 0, DAILY_TICK).callbacks.append(self._tick)  # where a process would start
        self.env.run_until(self.days)
        for leg in self.legs.values():
            leg.close(self.days)  # e.g. cargoes that arrived before the horizon are delivered
        rows = self.dispatcher.rows

        def table(values: list[float] | str, columns: int) -> np.ndarray:
            """A flat list (or the dispatcher's rows of that name) as a (days, columns) array."""
            flat = rows[values] if isinstance(values, str) else values
            return np.fromiter(flat, float, len(flat)).reshape(self.days, columns)  # (faster than np.array)

        n_s, n_r = len(self.sources), len(self.route_names)
        produced = table("produced", n_s)
        cut = table("cut", n_s)
        potential = np.array([src.potential for src in self.sources], dtype=float).T.reshape(self.days, n_s)
        nominal = np.array([src.base for src in self.sources], dtype=float).T.reshape(self.days, n_s)
        holdings = self.holdings()
        beyond, beyond_tanks, beyond_legs = self.beyond(holdings)
        by_route = self.by_route(holdings)
        arrivals = table(self.arrivals, n_r)
        exports = table(self.departed, n_r)  # loaded at an export terminal
        exports[:, self.leave_on_arrival] = arrivals[:, self.leave_on_arrival]  # the others: on arrival
        record = RunRecord(
            route_names=self.route_names,
            source_names=self.source_names,
            tank_names=[t.name for t in self.tanks.values()],
            leg_names=list(self.legs),
            exports=exports,
            arrivals=arrivals,
            intake=table("intake", n_r),
            produced=produced,
            shut_in=potential - produced - cut,  # potential never produced for want of room, or ramping back
            cut=cut,  # potential the operators chose not to produce (their response to the outlet)
            outage=nominal - potential,  # production lost to production shocks
            source_level=table("source_level", n_s),
            tank_level=table("tank_level", len(self.tanks)),
            leg_transit=table("leg_transit", len(self.legs)),
            initial_inventory_t=self.initial_inventory,
            final_stored_t=self.stored() - beyond_tanks,
            final_in_transit_t=self.in_transit() - beyond_legs,
            events=self.env.events_scheduled(),
            peak_storage_t={**{s.name: s.peak for s in self.sources}, **{t.name: t.peak for t in self.tanks.values()}},
            storage_capacity_t={
                **{s.name: s.capacity for s in self.sources},
                **{t.name: t.capacity for t in self.tanks.values()},
            },
            cargoes={leg.name: leg.cargoes for leg in self.legs.values() if leg.cargoes is not None},
            route_source=[route.source for route in self.routes],
            initial_source_level_t=self.initial_source_levels,
            initial_by_route_t=self.initial_by_route,
            final_by_route_t=[held - out for held, out in zip(by_route, beyond, strict=True)],
            initial_beyond_by_route_t=self.initial_beyond,
            final_beyond_by_route_t=beyond,
        )
        record.check_balance()
        return record


def pump_stations(network: Network) -> dict[tuple[str, str], float]:
    """(leg, station) -> fraction of the line's capacity left without the station, as ``Timelines`` takes it."""
    return {
        (leg_name, station): spec.capacity_without
        for leg_name, leg in network.legs.items()
        for station, spec in getattr(leg, "pump_stations", {}).items()
    }


def port_terms(spec: PortSpec) -> tuple[int, int, float]:
    """A port's (berths, active berths, standby delay in days), as ``Timelines.usable_berths`` takes them."""
    return spec.berths, spec.active_berths or spec.berths, spec.standby_delay


def network_scale(network: Network) -> float:
    """Tonnes the network handles, for what counts as zero: a day's nominal production plus the stocks
    it starts with (fields and terminal tanks)."""
    stocks = [src.storage.initial for src in network.sources.values()]
    stocks += [leg.inlet_storage.initial for leg in network.legs.values() if getattr(leg, "inlet_storage", None)]
    return sum(src.production for src in network.sources.values()) + sum(stocks)


def simulate(
    network: Network,
    shocks: list[RealizedShock],
    horizon_d: float,
    fast: bool = True,
    start_date: dt.date | None = None,
) -> RunRecord:
    """Run one replication of ``network`` with ``shocks`` over ``horizon_d`` days.

    ``fast=False`` runs the plain reference model (a process per tanker): the same daily series
    to a relative 1e-9, slower; the tests use it to check the fast paths.

    Python's cyclic garbage collector is paused during the run (as ``timeit`` does): a run makes
    many short-lived objects, which reference counting frees, and the collector's passes over
    them cost a few per cent; what is cyclic is collected once the run is over.
    """
    days = math.ceil(horizon_d - 1e-9)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return Model(network, shocks, days, fast=fast, start_date=start_date).run()
    finally:
        if collecting:
            gc.enable()
