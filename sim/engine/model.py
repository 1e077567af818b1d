"""The export network as a SimPy model, and the daily dispatcher that drives it.

``simulate(network, shocks, horizon_d)`` builds the components, runs one replication and
returns a ``RunRecord`` of daily series. Each simulated day the dispatcher:

1. sets every leg's capacity for the day (shocks: outages, slowdowns, closures);
2. moves oil already between legs (deepest legs first, so room made downstream is
   usable upstream the same day);
3. allocates what each source has (storage + today's production) to routes: first the
   normal allocations in priority order, then diversions in merit order (cheapest first)
   to routes whose lead time has passed;
4. puts what is left into field storage and shuts in what does not fit.

Tankers load and sail between the daily ticks (processes, or callbacks for a fleet whose leg
has no shock of its own). Mass balance is checked at the end.
"""

from __future__ import annotations

import gc
import math

import numpy as np

from sim.engine.components import EPS, Environment, Market, Parcel, Pipeline, Port, Rail, SeaLeg, SharedPipeline, Tank
from sim.engine.record import RunRecord
from sim.engine.shocks import RealizedShock, Timelines
from sim.scenario.schema import Network, PipelineLeg, RailLeg
from sim.scenario.schema import SeaLeg as SeaLegSpec

__all__ = ["Model", "simulate"]


class _Source:
    """A field: potential rate, storage, and the restart and ramp after a shutdown.

    A field with nowhere to put its oil is choked back (a partial cut, or no output for less than
    ``shutdown_after`` days) and returns to full rate as soon as the oil can leave; a longer stop
    is a shutdown, after which it waits ``restart_delay`` days and ramps up over ``ramp_up`` days.
    """

    def __init__(self, name: str, spec, potential: np.ndarray):
        self.name = name
        self.nominal = spec.production
        self.potential = potential  # t/d per day, after production shocks
        self.capacity = spec.storage.capacity
        self.level = spec.storage.initial
        self.peak = self.level
        self.ramp_step = self.nominal / spec.ramp_up if spec.ramp_up > 0 else math.inf
        self.restart_delay = spec.restart_delay
        self.shutdown_after = spec.shutdown_after
        self.previous = self.nominal
        self.held_back = False  # ramping back after a shutdown
        self.stopped = False  # shut down, waiting out the restart delay
        self.idle_days = 0  # days in a row with no output for lack of an outlet
        self.restart_wait = 0.0
        self.routes: list[_Route] = []
        self.waiting_routes: list[_Route] = []  # routes with a lead time that has not started yet
        self.potential_list: list[float] = []  # ``potential`` as a plain list, for the daily loop


class Model:
    """One replication of the network under a set of drawn shocks."""

    def __init__(self, network: Network, shocks: list[RealizedShock], horizon_d: int):
        self.network = network
        self.days = horizon_d
        self.env = Environment()
        self.route_names = list(network.routes)
        self.source_names = list(network.sources)
        self.leg_names = list(network.legs)
        stations = {
            (leg_name, station): spec.capacity_without
            for leg_name, leg in network.legs.items()
            if isinstance(leg, PipelineLeg)
            for station, spec in leg.pump_stations.items()
        }
        self.timelines = Timelines(horizon_d, shocks, stations)
        self._ones = np.ones(horizon_d)  # daily factors of components no shock touches (read only)
        self._ones.flags.writeable = False
        n_routes, days = len(self.route_names), horizon_d
        self.exports = [0.0] * (days * n_routes)  # t exported by day and route, flat: [day * n_routes + route]
        self._build()

    # -- construction -------------------------------------------------------------
    def _daily(self, kind: str, name: str) -> np.ndarray:
        """Daily mean factor of a component (the shared array of ones if no shock touches it)."""
        arr = self.timelines.daily_factor(kind, name)
        return self._ones if arr is None else arr

    def _build(self) -> None:
        net, env, tl = self.network, self.env, self.timelines
        route_index = {name: i for i, name in enumerate(self.route_names)}
        n_routes = len(self.route_names)
        self.markets = {
            name: Market(name, self.exports, n_routes, tl.hourly_factor("market", name)) for name in net.markets
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
            if spec.inlet_storage is not None:
                initial = _split(spec.inlet_storage.initial, users[leg_name], net, self.route_names)
                self.tanks[leg_name] = Tank(
                    env, f"{leg_name}.inlet", spec.inlet_storage.capacity, initial, spec.inlet_storage.minimum
                )
        self.ports = {}
        for port_name, spec in net.ports.items():
            self.ports[port_name] = Port(
                env, port_name, spec.berths, spec.active_berths or spec.berths, tl.hourly_factor("port", port_name)
            )

        def outlet(leg_name: str) -> Tank | Market:
            kind, name = outlet_of[leg_name]
            return self.markets[name] if kind == "market" else self.tanks[name]

        self.legs: dict[str, Pipeline | Rail | SeaLeg] = {}
        self.leg_factor: dict[str, np.ndarray] = {}
        self.leg_multiplier: dict[str, np.ndarray] = {}
        self.leg_market: dict[str, Market | None] = {}
        for leg_name, spec in net.legs.items():
            if leg_name not in outlet_of:
                continue  # a leg no route uses carries nothing
            ours = _our_capacity(spec.capacity if isinstance(spec, PipelineLeg) else math.inf, spec)
            if isinstance(spec, PipelineLeg) and spec.third_party > 0:
                # whole days of oil in the line at the start, rounded as a parcel's travel time is
                days_full = max(0, round(spec.transit)) if spec.initial_linefill == "full" else 0
                normal = min(ours, sum(net.routes[self.route_names[r]].normal for r in users[leg_name]))
                daily = _split(normal, users[leg_name], net, self.route_names)
                leg = SharedPipeline(
                    leg_name, ours, spec.transit, [dict(daily) for _ in range(days_full)], outlet(leg_name)
                )
            elif isinstance(spec, PipelineLeg):
                volume = ours * spec.transit
                initial = (
                    _split(volume, users[leg_name], net, self.route_names) if spec.initial_linefill == "full" else {}
                )
                leg = Pipeline(leg_name, ours, volume, initial, outlet(leg_name))
            elif isinstance(spec, RailLeg):
                leg = Rail(
                    leg_name,
                    spec.payload,
                    spec.trains_per_day,
                    spec.transit + spec.border_delay,
                    spec.transit if spec.return_transit is None else spec.return_transit,
                    spec.fleet,
                    outlet(leg_name),
                )
            else:
                assert isinstance(spec, SeaLegSpec)
                leg = SeaLeg(
                    env,
                    leg_name,
                    self.ports[spec.port],
                    self.tanks[leg_name],
                    outlet(leg_name),
                    spec.fleet,
                    spec.cargo,
                    spec.load_rate,
                    spec.laden_voyage,
                    spec.ballast_voyage,
                    spec.berth_time,
                    tl.hourly_factor("leg", leg_name),
                    tl.hourly_multiplier(leg_name),
                    normal_flow=sum(net.routes[self.route_names[r]].normal for r in users[leg_name]),
                    normal_share=_split(1.0, users[leg_name], net, self.route_names),
                    hourly_cargo=tl.hourly_factor("cargo", leg_name),
                )
            if isinstance(leg, Pipeline | Rail):
                leg.inlet = self.tanks.get(leg_name)
            self.legs[leg_name] = leg
            factor = self._daily("leg", leg_name)
            if isinstance(spec, PipelineLeg) and spec.sharing == "spare" and spec.third_party > 0 and ours > 0:
                # Third parties keep their flow; we get what the reduced line has left.
                factor = np.maximum(0.0, spec.capacity * factor - spec.third_party) / ours
            self.leg_factor[leg_name] = factor
            multiplier = tl.daily_multiplier(leg_name)
            self.leg_multiplier[leg_name] = np.ones(self.days) if multiplier is None else multiplier
            kind, name = outlet_of[leg_name]
            self.leg_market[leg_name] = self.markets[name] if kind == "market" else None
        self.market_factor = {name: self._daily("market", name) for name in net.markets}
        # Legs that move oil between ticks by themselves are sea legs; the rest step daily,
        # deepest first.
        self.daily_legs = sorted(
            (leg for leg in self.legs.values() if not isinstance(leg, SeaLeg)),
            key=lambda leg: -depth[leg.name],
        )
        self.sources = [
            _Source(name, spec, spec.production * self._daily("source", name)) for name, spec in net.sources.items()
        ]
        source_index = {name: i for i, name in enumerate(self.source_names)}
        self.routes = []
        for rname, spec in net.routes.items():
            first = spec.legs[0]
            self.routes.append(
                _Route(
                    index=route_index[rname],
                    source=source_index[spec.source],
                    first=self.legs[first],
                    first_is_sea=isinstance(self.legs[first], SeaLeg),
                    normal=spec.normal,
                    capacity=spec.capacity,
                    cost=spec.cost,
                    lead_time=spec.lead_time,
                    priority=spec.priority,
                    factor=self._daily("route", rname),
                )
            )
        self.by_priority = sorted((r for r in self.routes if r.normal > 0), key=lambda r: (r.priority, r.index))
        # Routes with the same priority entering the same first leg share it pro rata (CPC shippers).
        groups: dict[tuple[int, int], list[_Route]] = {}
        for route in self.by_priority:
            groups.setdefault((route.priority, id(route.first)), []).append(route)
        # in order of each group's first route; a lone route is dispatched as itself
        self.normal_groups = [members[0] if len(members) == 1 else _Group(members) for members in groups.values()]
        self.by_merit = sorted(self.routes, key=lambda r: (r.cost, r.priority, r.index))
        self.initial_inventory = self.inventory()
        for src_index, src in enumerate(self.sources):
            src.routes = [r for r in self.routes if r.source == src_index]
            src.waiting_routes = [r for r in src.routes if r.lead_time > 0]  # lead time not yet started
        self._rows: dict[str, list[float]] = {
            key: [] for key in ("produced", "source_level", "intake", "tank_level", "leg_transit")
        }

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

    def _leg_plan(self) -> list[tuple]:
        """Per daily leg: (leg, kind, capacity or factor by day, multiplier by day, outlet open by day) as
        plain lists. Kinds: 0 shared pipeline, 1 pipeline, 2 rail."""
        plan = []
        for leg in self.daily_legs:
            market = self.leg_market[leg.name]
            factor = self.leg_factor[leg.name]
            multiplier = self.leg_multiplier[leg.name]
            market_factor = None if market is None else self.market_factor[market.name]
            opens = [True] * self.days if market_factor is None else (market_factor > 0).tolist()
            if isinstance(leg, Rail):
                plan.append((leg, 2, factor.tolist(), multiplier.tolist(), opens))
                continue
            if isinstance(leg, SharedPipeline):
                kind = 0
            else:
                kind = 1
                if market_factor is not None:
                    factor = factor * market_factor
            caps = (leg.capacity * factor / multiplier).tolist()  # elementwise, as the scalar formula
            plan.append((leg, kind, caps, multiplier.tolist(), opens))
        return plan

    def _tick(self):
        # Hot loop: daily arrays are plain lists (indexing numpy scalars is slow), the common
        # calls are inlined, and the records are rows appended to lists, turned into arrays at
        # the end.
        env = self.env
        sources, routes = self.sources, self.routes
        n_sources = len(sources)
        source_range = range(n_sources)
        tanks = list(self.tanks.values())
        legs = list(self.legs.values())
        plan = self._leg_plan()
        pulling = [leg for leg in self.daily_legs if leg.inlet is not None]
        pipelines = [leg for leg in self.daily_legs if type(leg) is Pipeline]
        ones = [1.0] * self.days
        route_factor = [ones if route.factor is self._ones else route.factor.tolist() for route in routes]
        normal_groups, by_merit = self.normal_groups, self.by_merit
        send_pro_rata = self._send_pro_rata
        timeout = env.timeout  # (SimPy binds the method anew on every attribute access)
        send = self._send
        rows = self._rows  # flat lists, day after day
        produced_rows, level_rows, intake_rows = rows["produced"], rows["source_level"], rows["intake"]
        tank_rows, transit_rows = rows["tank_level"], rows["leg_transit"]
        n_routes = len(routes)
        for src in sources:
            src.potential_list = src.potential.tolist()
        # Normal allocations in order: (group, None...) for a pro-rata group, else the route's
        # (None, index, source, normal cap, daily factors, first leg, its tank if a sea leg).
        for entry in normal_groups:
            if type(entry) is _Group:
                entry.plan(route_factor)
        dispatch_plan = [
            (entry, 0, 0, 0.0, None, None, None)
            if type(entry) is _Group
            else (
                None,
                entry.index,
                entry.source,
                entry.normal_cap,
                route_factor[entry.index],
                entry.first,
                entry.first.tank if entry.first_is_sea else None,
            )
            for entry in normal_groups
        ]
        # How to read each leg's oil in transit (in the record's leg order) without a call per leg:
        # 0 pipeline (linefill and today's intake), 1 rail (tonnes on trains), 3 a fleet process, 2 ask the leg.
        transit_plan = [
            (0 if isinstance(leg, Pipeline) else 1 if isinstance(leg, Rail) else 3 if leg.plain else 2, leg)
            for leg in legs
        ]
        deferred: list = []
        for day in range(self.days):
            env.deferred = deferred  # fleets woken by today's deposits act once the day is dispatched
            # 1. today's capacities
            for leg, kind, caps, multiplier, opens in plan:
                if kind == 2:
                    leg.start_day(day, caps[day], multiplier[day], opens[day])
                    continue
                leg.cap_today = caps[day]
                leg.used_today = 0.0
                leg.outlet_open = opens[day]
                if kind == 0:
                    leg.multiplier = multiplier[day]
                    leg.out_today = 0.0
                    if leg.waiting or day in leg.arrivals:
                        leg._unload(day)
            # 2. oil between legs moves on
            for leg in pulling:
                leg.pull(day)
            # 3. dispatch
            production_cap = []
            supply = []
            for src in sources:  # most each field can produce today: its potential, nothing while
                # stopped (restart delay), and no more than yesterday + one ramp step while ramping
                if src.stopped:
                    cap = 0.0
                else:
                    cap = src.potential_list[day]
                    if src.held_back and src.previous + src.ramp_step < cap:
                        cap = src.previous + src.ramp_step
                production_cap.append(cap)
                supply.append(src.level + cap)
            allocated = [0.0] * n_sources
            flows = [0.0] * n_routes
            for group, index, source, normal_cap, factor, leg, tank in dispatch_plan:
                if group is not None:
                    send_pro_rata(group, supply, allocated, flows, day)
                    continue
                amount = supply[source] - allocated[source]
                want = normal_cap * factor[day]
                if want < amount:
                    amount = want
                if amount <= EPS:
                    continue
                # Inlined ``_send`` (the hot path).
                if tank is not None:
                    room = tank._capacity - tank._level - tank.incoming
                    if room < amount:
                        amount = room
                    if amount <= EPS:
                        continue
                    tank.deposit_route(index, amount)
                else:
                    limit = leg.limit()
                    if limit < amount:
                        amount = limit
                    if amount <= EPS:
                        continue
                    leg.push_route(index, amount, day)
                flows[index] += amount
                allocated[source] += amount
            left_over = False
            for i in source_range:
                if supply[i] - allocated[i] > EPS:
                    left_over = True
                    break
            for route in by_merit if left_over else ():
                source = route.source
                left = supply[source] - allocated[source]
                if left <= EPS:
                    continue  # nothing left at this source to divert
                factor = route_factor[route.index][day]
                if factor <= 0 or not route.diverts_on(day):
                    continue
                amount = route.capacity * factor - flows[route.index]
                if left < amount:
                    amount = left
                if amount > EPS:
                    amount = send(route, amount, day)
                    flows[route.index] += amount
                    allocated[source] += amount
            for leg in pipelines:
                leg.flush(day)
            # 4. storage and shut-in
            for i, src in enumerate(sources):
                cap = production_cap[i]
                left = supply[i] - allocated[i]
                shut = left - src.capacity
                if shut < 0.0:
                    shut = 0.0
                elif shut > cap:  # guard float noise
                    shut = cap
                produced = cap - shut
                src.level = left - shut
                if src.level > src.peak:
                    src.peak = src.level
                produced_rows.append(produced)
                if src.waiting_routes and cap - allocated[i] > 1.0:
                    # the source has oil it cannot place: its routes' lead times start now
                    for route in src.waiting_routes:
                        route.activated = day
                    src.waiting_routes = []
                if src.stopped or shut > EPS or src.held_back or src.idle_days:
                    self._update_restart(i, src, produced, src.potential_list[day], shut, day)
                src.previous = produced
                level_rows.append(src.level)
            intake_rows.extend(flows)
            tank_rows.extend([tank._level for tank in tanks])
            transit_rows.extend(
                [
                    leg.linefill + leg.pending_t
                    if kind == 0
                    else leg.moving
                    if kind == 1
                    else leg.transit_on(day)
                    if kind == 3
                    else leg.in_transit()
                    for kind, leg in transit_plan
                ]
            )
            env.deferred = None
            if deferred:
                for call in deferred:
                    call()
                deferred.clear()
            yield timeout(1)

    @staticmethod
    def _send_pro_rata(group: _Group, supply: list, allocated: list, flows: list, day: int) -> None:
        """Normal allocations of routes that share a first leg at one priority: if the leg cannot take
        all they want today, each gets the same fraction of what it wants (shippers' pro-rata cut)."""
        wants = []
        total = 0.0
        reserved = {} if group.shared_sources else None
        for _index, source, normal_cap, factor in group.members:
            want = normal_cap * factor[day]
            available = supply[source] - allocated[source]
            if reserved is not None:
                available -= reserved.get(source, 0.0)
                if want > available:
                    want = available
                reserved[source] = reserved.get(source, 0.0) + (want if want > 0.0 else 0.0)
            elif want > available:
                want = available
            if want < 0.0:
                want = 0.0
            wants.append(want)
            total += want
        if total <= EPS:
            return
        leg = group.leg
        limit = leg.tank.room() if group.first_is_sea else leg.limit()
        if limit <= EPS:
            return
        share = 1.0 if limit >= total else limit / total
        # One parcel for the whole group: the shares fit the leg's limit together.
        parcel: Parcel = {}
        sent = 0.0
        for (index, source, _, _), want in zip(group.members, wants, strict=True):
            amount = want * share
            if amount <= EPS:
                continue
            parcel[index] = amount
            sent += amount
            flows[index] += amount
            allocated[source] += amount
        if not parcel:
            return
        if group.first_is_sea:
            leg.tank.deposit(parcel)
        else:
            leg.push(parcel, sent, day)

    @staticmethod
    def _send(route: _Route, amount: float, day: int) -> float:
        """Put up to ``amount`` tonnes into the route's first leg; return what went in."""
        leg = route.first
        if route.first_is_sea:
            tank = leg.tank
            room = tank.room()
            if room < amount:
                amount = room
            if amount <= EPS:
                return 0.0
            tank.deposit_route(route.index, amount)
        else:
            limit = leg.limit()
            if limit < amount:
                amount = limit
            if amount <= EPS:
                return 0.0
            leg.push_route(route.index, amount, day)
        return amount

    def _update_restart(self, i: int, src: _Source, produced: float, potential: float, shut: float, day: int) -> None:
        """Track choke-backs, shutdowns (restart delay applies) and the ramp back after one."""
        if src.stopped:
            # The restart delay counts from the first day the oil could go somewhere again.
            if src.level < src.capacity - EPS or self._outlet_free(i, day):
                src.restart_wait -= 1.0
                if src.restart_wait <= 0:
                    src.stopped = False
                    src.held_back = True
            return
        if shut > EPS and produced <= EPS and potential > EPS:
            src.idle_days += 1
            if src.idle_days >= src.shutdown_after - 1e-9:
                # Shut down: wait out the restart delay, then ramp up from zero.
                src.idle_days = 0
                src.held_back = True
                if src.restart_delay > 0:
                    src.stopped = True
                    src.restart_wait = src.restart_delay
            return
        src.idle_days = 0
        if src.held_back and produced >= potential - EPS:
            src.held_back = False

    def _outlet_free(self, source: int, day: int) -> bool:
        """Whether any route of ``source`` open today could take oil right now."""
        for route in self.routes:
            if route.source != source or route.factor[day] <= 0 or route.capacity <= 0:
                continue
            if route.normal <= 0 and not route.diverts_on(day):
                continue
            limit = route.first.tank.room() if route.first_is_sea else route.first.limit()
            if limit > EPS:
                return True
        return False

    def run(self) -> RunRecord:
        """Run to the horizon and return the record; raise MassBalanceError if tonnes go missing."""
        self.env.process(self._tick())
        self.env.run_until(self.days)
        for leg in self.legs.values():
            if isinstance(leg, SeaLeg):
                leg.close(self.days)  # cargoes that arrived before the horizon are delivered
        rows = self._rows

        def table(key: str, columns: int) -> np.ndarray:
            return np.array(rows[key], dtype=float).reshape(self.days, columns)

        n_s, n_r = len(self.sources), len(self.route_names)
        produced = table("produced", n_s)
        potential = np.array([src.potential for src in self.sources], dtype=float).T.reshape(self.days, n_s)
        nominal = np.array([src.nominal for src in self.sources], dtype=float)
        record = RunRecord(
            route_names=self.route_names,
            source_names=self.source_names,
            tank_names=[t.name for t in self.tanks.values()],
            leg_names=list(self.legs),
            exports=np.array(self.exports, dtype=float).reshape(self.days, n_r),
            intake=table("intake", n_r),
            produced=produced,
            shut_in=potential - produced,  # potential production never produced
            outage=nominal - potential,  # production lost to production shocks
            source_level=table("source_level", n_s),
            tank_level=table("tank_level", len(self.tanks)),
            leg_transit=table("leg_transit", len(self.legs)),
            initial_inventory_t=self.initial_inventory,
            final_stored_t=self.stored(),
            final_in_transit_t=self.in_transit(),
            events=next(self.env._eid),  # events scheduled so far (SimPy's counter)
            peak_storage_t={**{s.name: s.peak for s in self.sources}, **{t.name: t.peak for t in self.tanks.values()}},
            storage_capacity_t={
                **{s.name: s.capacity for s in self.sources},
                **{t.name: t.capacity for t in self.tanks.values()},
            },
            cargoes={leg.name: leg.cargoes for leg in self.legs.values() if isinstance(leg, SeaLeg)},
        )
        record.check_balance()
        return record


class _Group:
    """Routes with one priority and one first leg, which share that leg pro rata."""

    __slots__ = ("first_is_sea", "leg", "members", "routes", "shared_sources")

    def __init__(self, routes: list[_Route]):
        self.routes = routes
        self.leg = routes[0].first
        self.first_is_sea = routes[0].first_is_sea
        self.shared_sources = len({route.source for route in routes}) < len(routes)
        self.members: list[tuple] = []  # (index, source, normal cap, daily factors), set by the tick

    def plan(self, route_factor: list[list[float]]) -> None:
        """Fix the members' daily factors (plain lists) for the run."""
        self.members = [(r.index, r.source, r.normal_cap, route_factor[r.index]) for r in self.routes]


class _Route:
    """A route as the dispatcher sees it."""

    __slots__ = (
        "activated",
        "capacity",
        "cost",
        "factor",
        "first",
        "first_is_sea",
        "index",
        "lead_time",
        "normal",
        "normal_cap",
        "priority",
        "source",
    )

    def __init__(self, index, source, first, first_is_sea, normal, capacity, cost, lead_time, priority, factor):
        self.index = index
        self.source = source
        self.first = first
        self.first_is_sea = first_is_sea
        self.normal = normal
        self.capacity = capacity
        self.cost = cost
        self.lead_time = lead_time
        self.priority = priority
        self.factor = factor
        self.activated: int | None = None
        self.normal_cap = min(normal, capacity)

    def diverts_on(self, day: int) -> bool:
        """Whether the route may take diverted volume on ``day`` (its lead time has passed)."""
        return self.lead_time <= 0 or (self.activated is not None and day >= self.activated + self.lead_time)


def _our_capacity(total: float, spec) -> float:
    """Capacity left for our oil on a leg shared with third parties (normal conditions)."""
    third_party = getattr(spec, "third_party", 0.0)
    if third_party <= 0 or math.isinf(total):
        return total
    return max(0.0, total - third_party)


def _split(amount: float, route_ids: list[int], net: Network, names: list[str]) -> Parcel:
    """Share ``amount`` among routes in proportion to their normal allocation (equal if none)."""
    if amount <= 0 or not route_ids:
        return {}
    weights = [net.routes[names[r]].normal for r in route_ids]
    total = sum(weights)
    if total <= 0:
        weights, total = [1.0] * len(route_ids), float(len(route_ids))
    return {r: amount * w / total for r, w in zip(route_ids, weights, strict=True)}


def simulate(network: Network, shocks: list[RealizedShock], horizon_d: float) -> RunRecord:
    """Run one replication of ``network`` with ``shocks`` over ``horizon_d`` days.

    Python's cyclic garbage collector is paused during the run (as ``timeit`` does): a run makes
    many short-lived objects, which reference counting frees, and the collector's passes over
    them cost a few per cent; what is cyclic is collected once the run is over.
    """
    days = math.ceil(horizon_d - 1e-9)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return Model(network, shocks, days).run()
    finally:
        if collecting:
            gc.enable()
