"""Sea legs: tankers claim a cargo in the port's tanks, take a berth, load, sail, discharge, return.

Two implementations of one behaviour:

* ``SeaTankers``: a SimPy process per tanker, the model as one would first write it; it handles
  every shock (a leg out of service, slow steaming, cargoes derated, a market that closes).
* ``SeaFleet``: the whole fleet as callbacks, for a leg no shock touches (see ``fleet_eligible``):
  tankers are identical, so it is enough to know how many are in port, how many hold a claimed cargo,
  and when the others come back. It makes the same loadings as a process per tanker (each tanker with
  a cargo claimed holds its own place in the berth queue), for a third of the events.
"""

from __future__ import annotations

import bisect
import heapq
import math
import operator
from abc import abstractmethod
from collections.abc import Callable

import numpy as np
import simpy

from sim.engine.legs import Leg, LegContext, register_leg_kind
from sim.engine.parcels import Parcel, add_to
from sim.engine.ports import Port
from sim.engine.rounding import half_up
from sim.engine.shock_kinds import BERTHS
from sim.engine.shocks import STEPS_PER_DAY
from sim.engine.tanks import Market, Tank
from sim.scenario.schema import SeaLeg as SeaLegSpec
from sim.scenario.schema import berth_hold_d

__all__ = ["SeaFleet", "SeaLeg", "SeaTankers", "build_sea", "fleet_eligible"]


class SeaLeg(Leg):
    """What both sea-leg implementations share: the port's tanks (the leg's intake), the fleet's
    start in steady state, and the tonnes aboard."""

    steps_daily = False  # tankers move between the daily ticks
    export_terminal = True  # oil is exported when it loads (for routes whose first sea leg this is)

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        port: Port,
        tank: Tank,
        outlet: Tank | Market,
        fleet: int,
        cargo: float,
        load_rate: float,
        laden_d: float,
        ballast_d: float,
        berth_d: float,
        normal_flow: float = 0.0,
        normal_share: Parcel | None = None,
        berth_available: float = 1.0,
    ):
        """``berth_d``: days at the berth per cargo besides pumping; ``berth_available``: the share of the
        berth's time our tankers can use (weather and other shippers' tankers as their mean effect); a cargo
        holds the berth ``berth_hold_d(berth_d, cargo, load_rate, berth_available)`` days."""
        normal_share = normal_share or {}
        self.env = env
        self.timeout = env.timeout  # (SimPy binds the method anew on every attribute access)
        self.name = name
        self.port = port
        self.tank = tank
        self.inlet = tank
        self.outlet = outlet
        self.cargo = cargo
        self.load_rate = load_rate
        self.laden_d = laden_d
        self.ballast_d = ballast_d
        self.berth_d = berth_d
        self.berth_available = berth_available
        self.aboard = 0.0
        self.loaded = 0.0
        self.delivered = 0.0
        self.cargoes = 0
        self.closed = False  # the run is over (``close``)
        # Start in steady state: as many tankers at sea, laden, as the normal flow keeps there
        # (flow x laden voyage / cargo), evenly spaced; the rest spread over the way back.
        at_sea = min(fleet, half_up(normal_flow * laden_d / cargo)) if laden_d > 0 and normal_flow > 0 else 0
        share = sum(normal_share.values())
        self.initial_by_route: Parcel = {}  # cargoes at sea at the start, by route
        laden: list[tuple[float, Parcel]] = []
        for j in range(at_sea):
            parcel = {route: cargo * w / share for route, w in normal_share.items()}
            for route, amount in parcel.items():
                self.initial_by_route[route] = self.initial_by_route.get(route, 0.0) + amount
            self.aboard += cargo
            laden.append((laden_d * (j + 0.5) / at_sea, parcel))
        empty = fleet - at_sea
        spread = ballast_d if ballast_d > 0 else berth_hold_d(berth_d, cargo, load_rate, berth_available)
        self._launch(laden, [spread * i / empty for i in range(empty)])

    @abstractmethod
    def _launch(self, laden: list[tuple[float, Parcel]], empty: list[float]) -> None:
        """Start the fleet: tankers at sea with a cargo (days from the discharge point), empty ones
        (days until they are in port)."""

    # The dispatcher's oil goes into the port's tanks; the tankers take it from there.
    def start_day(self, day: int) -> None:
        """Nothing: tankers move between the daily ticks."""

    def limit(self) -> float:
        """Room in the port's tanks."""
        return self.tank.room()

    def push(self, parcel: Parcel, amount: float, day: int) -> None:
        """Into the port's tanks."""
        self.tank.deposit(parcel)

    def push_route(self, route: int, amount: float, day: int) -> None:
        """One route's oil into the port's tanks."""
        self.tank.deposit_route(route, amount)

    def take(self, route: int, amount: float, day: int) -> float:
        """``Leg.take`` into the port's tanks, in one call."""
        tank = self.tank
        room = tank.capacity - tank.level - tank.incoming
        if room < amount:
            amount = room
        if amount <= self.eps:
            return 0.0
        tank.deposit_route(route, amount)
        return amount

    def pull(self, day: int) -> None:
        """Nothing: tankers claim their cargoes from the tanks themselves."""


class SeaFleet(SeaLeg):
    """The fleet of a leg no shock touches, as callbacks rather than a process per tanker.

    Each cargo is credited to the market's row of its arrival day when it loads (an always-open
    market takes it whenever it comes), and ``arrivals[k]`` keeps the tonnes that arrive in
    (k-1, k] for the in-transit series.
    """

    HANDLES = frozenset({BERTHS})
    """Behaviours changed by shocks that the fleet reproduces exactly: berths blocked at its port
    (blocks queue ahead of its tankers as they do ahead of tanker processes)."""

    def __init__(self, env: simpy.Environment, name: str, port: Port, tank: Tank, outlet: Market, *args, **kwargs):
        self.returns: list[float] = []  # when each tanker at sea is back in port
        self.arrivals: list[float] = [0.0] * (outlet.days + 1)
        self.days = outlet.days
        self.log: list[tuple[float, float, Parcel]] = []  # (arrival time, tonnes, cargo), in order of arrival
        self.arrived = 0.0  # tonnes arrived by the last day asked for (``transit_on``)
        self.in_port = 0  # tankers of the fleet in port without a cargo claimed
        self.homecoming = False  # a call back is due when the next tanker is home
        super().__init__(env, name, port, tank, outlet, *args, **kwargs)
        self.load_d = berth_hold_d(self.berth_d, self.cargo, self.load_rate, self.berth_available)
        self.round_trip_d = self.laden_d + self.ballast_d

    def _launch(self, laden: list[tuple[float, Parcel]], empty: list[float]) -> None:
        for offset, parcel in laden:
            self._credit(parcel, self.cargo, offset)
            heapq.heappush(self.returns, offset + self.ballast_d)
        for offset in empty:
            heapq.heappush(self.returns, offset)
        self.env.at_start(self._fleet)  # first look at time 0, in the order a process would start

    def _fleet(self, _event: object = None) -> None:
        """Do what a process per tanker would: each tanker in port claims a cargo as soon as one is
        in the tanks, then takes a free berth or queues for one (one place in the queue per tanker);
        the fleet is called back by the next deposit when oil is short, and when the next tanker is
        home if none is in port. Each tanker is back ``load + round trip`` after it starts loading."""
        env, tank, cargo, returns = self.env, self.tank, self.cargo, self.returns
        berths = self.port.resource
        now = env.now
        while returns and returns[0] <= now:
            heapq.heappop(returns)
            self.in_port += 1
        while self.in_port:
            if tank.level - tank.claimed - tank.minimum < cargo - self.eps:
                tank.waiting_fleet = self._fleet  # the deposit that completes a cargo calls back
                tank.fleet_needs = cargo
                break
            tank.claimed += cargo
            self.in_port -= 1
            berth = berths.take()
            if berth is None:
                berths.queue_call(self._berth_granted)
            else:
                self._load(berth, now)
        self._call_when_home()

    def _call_when_home(self) -> None:
        """With no tanker in port, be called back when the next one is home (it may claim at once)."""
        if not self.in_port and self.returns and not self.homecoming:
            self.homecoming = True
            self.timeout(self.returns[0] - self.env.now).callbacks.append(self._tanker_back)

    def _tanker_back(self, _event: simpy.Event) -> None:
        self.homecoming = False
        self._fleet()

    def _berth_granted(self, berth: object) -> None:
        # A tanker with a claimed cargo got its berth; it will be home after the round trip.
        self._load(berth, self.env.now)
        self._call_when_home()

    def _load(self, berth: object, now: float) -> None:
        """Start loading a cargo at ``berth``: exported now for the routes that leave here (``depart``),
        credited to its arrival day; the berth frees after the loading, the tanker is back after the
        round trip."""
        cargo = self.cargo
        parcel = self.tank.withdraw(cargo, claimed=True)
        self.aboard += cargo
        self.loaded += cargo
        self.depart(parcel, now)
        load_d = self.load_d
        self._credit(parcel, cargo, (now + load_d) + self.laden_d)
        self.timeout(load_d, berth).callbacks.append(self._unberth)
        heapq.heappush(self.returns, (now + load_d) + self.round_trip_d)  # as a tanker process adds it

    def _unberth(self, loaded: simpy.Event) -> None:
        """The loading is over: its berth (the timeout's value) frees."""
        self.port.resource.give_back(loaded.value)

    def _credit(self, parcel: Parcel, cargo: float, arrival: float) -> None:
        """Count a cargo as arrived on its arrival day, and keep it in the log until ``close``."""
        self.log.append((arrival, cargo, parcel))
        day = int(arrival)
        if day < self.days:
            exports = self.outlet.exports  # (the market's arrivals)
            base = day * self.outlet.n_routes
            for route, amount in parcel.items():
                exports[base + route] += amount
            # the first tick that sees it arrived (a tick comes before arrivals at its time)
            self.arrivals[day + 1] += cargo

    def transit_on(self, day: int) -> float:
        """Tonnes aboard at the tick of ``day`` (ask once per day, in order)."""
        self.arrived += self.arrivals[day]
        return self.aboard - self.arrived

    def in_transit(self) -> float:
        """Tonnes aboard tankers (loading, sailing or waiting to discharge)."""
        if self.closed or not self.log:
            return self.aboard  # after ``close``, a cargo due exactly at the horizon is still at sea
        now = self.env.now
        return self.aboard - sum(cargo for arrival, cargo, _ in self.log if arrival < now)

    def close(self, horizon: float) -> None:
        """Settle what arrived before ``horizon``, and count the cargoes."""
        self.closed = True
        # The log is in order of arrival: the cargoes at sea at the start arrive within the laden voyage,
        # and each later one a fixed time after it loads.
        arrived = bisect.bisect_left(self.log, (horizon, -math.inf))
        self.delivered = sum(map(operator.itemgetter(1), self.log[:arrived]))
        self.cargoes = arrived
        self.aboard -= self.delivered
        del self.log[:arrived]  # cargoes arriving at the horizon or later

    def holdings(self) -> Parcel:
        """Cargoes aboard by route: not yet arrived (after ``close``: arriving at the horizon or later)."""
        held: Parcel = {}
        now = self.env.now
        for arrival, _, parcel in self.log:
            if self.closed or arrival >= now:
                add_to(held, parcel)
        return held


class SeaTankers(SeaLeg):
    """A process per tanker: loads at the rate the leg's shocks allow, sails as slow as a slowdown
    makes it, loads a derated cargo, waits for a closed market or a full outlet tank."""

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        port: Port,
        tank: Tank,
        outlet: Tank | Market,
        *args,
        hourly_factor: np.ndarray | None = None,
        hourly_multiplier: np.ndarray | None = None,
        hourly_cargo: np.ndarray | None = None,
        fast: bool = True,
        **kwargs,
    ):
        self.hourly_factor = hourly_factor
        self.hourly_multiplier = hourly_multiplier
        self.hourly_cargo = hourly_cargo  # fraction of a cargo loaded (a derate, e.g. low water), or None
        # a market that never closes: note arrivals rather than wake the tanker to discharge (fast path)
        self.always_open = fast and isinstance(outlet, Market) and outlet.hourly is None
        self.due: list[tuple[float, int, Parcel, float]] = []  # cargoes bound for an always-open market
        self.aboard_by_route: Parcel = {}  # cargoes loaded and not discharged, by route
        self.sequence = 0
        super().__init__(env, name, port, tank, outlet, *args, **kwargs)

    def _launch(self, laden: list[tuple[float, Parcel]], empty: list[float]) -> None:
        for offset, parcel in laden:
            add_to(self.aboard_by_route, parcel)
            self.env.process(self._tanker(offset, parcel))
        for offset in empty:
            self.env.process(self._tanker(offset))

    def _lookup(self, hourly: np.ndarray | None, default: float, at: float | None = None) -> float:
        """The hourly value in force now (or at time ``at``)."""
        if hourly is None:
            return default
        step = min(int((self.env.now if at is None else at) * STEPS_PER_DAY), len(hourly) - 1)
        return float(hourly[step])

    def _wait_until(self, ok: Callable[[], bool]):
        """Hourly polling while a rare blocking condition lasts (a closed leg or market)."""
        while not ok():
            yield self.env.timeout(1.0 / STEPS_PER_DAY)

    def _tanker(self, offset: float, parcel: Parcel | None = None):
        """One tanker's life; it may start at sea with ``parcel`` aboard, ``offset`` days from port."""
        env = self.env
        if parcel is not None:
            yield from self._voyage(parcel, offset)
        elif offset > 0:
            yield env.timeout(offset)
        tank, berths, cargo = self.tank, self.port.resource, self.cargo
        hourly = self.hourly_factor
        while True:
            if hourly is not None:
                yield from self._wait_until(lambda: self._lookup(hourly, 1.0) > 0)
            if self.hourly_cargo is not None:  # low water: tankers load less than their cargo size
                cargo = self.cargo * self._lookup(self.hourly_cargo, 1.0)
            if not tank.try_claim(cargo):
                yield tank.claim(cargo)  # wait until a cargo is in the tanks for us
            berth = berths.take() if hourly is None or self._lookup(hourly, 1.0) > 0 else None
            while berth is None:
                berth = yield berths.wait()
                if self._lookup(hourly, 1.0) > 0:
                    break
                # The leg went out of service while we queued: free the berth and wait.
                berths.give_back(berth)
                berth = None
                yield from self._wait_until(lambda: self._lookup(hourly, 1.0) > 0)
            parcel = tank.withdraw(cargo, claimed=True)
            self.depart(parcel, env.now)
            self.aboard += cargo
            self.loaded += cargo
            add_to(self.aboard_by_route, parcel)
            rate = self.load_rate * self._lookup(hourly, 1.0)
            yield env.timeout(berth_hold_d(self.berth_d, cargo, rate, self.berth_available))
            berths.give_back(berth)
            yield from self._voyage(parcel, self.laden_d * self._lookup(self.hourly_multiplier, 1.0), cargo)

    def _voyage(self, parcel: Parcel, laden_d: float, cargo: float | None = None):
        """Sail laden for ``laden_d`` days, discharge (waiting if the outlet cannot take it), sail back."""
        env = self.env
        cargo = self.cargo if cargo is None else cargo
        outlet = self.outlet
        if self.always_open:
            # A market that never closes takes the cargo on arrival. Note the arrival (``settle``
            # credits it once the clock has passed it) and sleep through the round trip in one timeout.
            # The way back is as slow as a slowdown in force when it starts (at the discharge), as below.
            arrival = env.now + laden_d
            self.sequence += 1
            heapq.heappush(self.due, (arrival, self.sequence, parcel, cargo))
            round_trip = laden_d + self.ballast_d * self._lookup(self.hourly_multiplier, 1.0, at=arrival)
            if round_trip > 0:  # (no zero-delay hop: a fleet of callbacks makes none)
                yield env.timeout(round_trip)
            return
        if laden_d > 0:
            yield env.timeout(laden_d)
        if isinstance(outlet, Market):
            if not outlet.is_open(env.now):
                yield from self._wait_until(lambda: outlet.is_open(env.now))
        else:
            yield from self._wait_until(lambda: outlet.room() >= cargo - self.eps)
        self._deliver(parcel, cargo)
        ballast_d = self.ballast_d * self._lookup(self.hourly_multiplier, 1.0)
        if ballast_d > 0:
            yield env.timeout(ballast_d)

    def _deliver(self, parcel: Parcel, cargo: float, day: int | None = None) -> None:
        """Discharge a cargo of ``cargo`` tonnes into the outlet (on ``day``, default today)."""
        self.aboard -= cargo
        self.delivered += cargo
        self.cargoes += 1
        add_to(self.aboard_by_route, parcel, -1.0)
        self.outlet.receive(parcel, int(self.env.now) if day is None else day)

    def settle(self, before: float | None = None) -> None:
        """Credit the cargoes bound for an always-open market that have arrived (at or before now, or
        strictly before ``before``)."""
        due = self.due
        if before is None:
            now = self.env.now
            while due and due[0][0] < now:
                arrival, _, parcel, cargo = heapq.heappop(due)
                self._deliver(parcel, cargo, int(arrival))
        else:
            while due and due[0][0] < before:
                arrival, _, parcel, cargo = heapq.heappop(due)
                self._deliver(parcel, cargo, int(arrival))

    def in_transit(self) -> float:
        """Tonnes aboard tankers (loading, sailing or waiting to discharge)."""
        if self.closed:
            return self.aboard  # a cargo due exactly at the horizon is still at sea
        due = self.due
        if due and due[0][0] < self.env.now:
            self.settle()
        return self.aboard

    def close(self, horizon: float) -> None:
        """Settle what arrived before ``horizon``."""
        self.closed = True
        self.settle(before=horizon)

    def holdings(self) -> Parcel:
        """Cargoes aboard by route (loading, sailing, waiting to discharge)."""
        return dict(self.aboard_by_route)


def fleet_eligible(ctx: LegContext, name: str, port: str) -> bool:
    """Whether the leg's fleet may run as callbacks (``SeaFleet``): the fast path is allowed, the leg
    delivers to a market, and every shock on what a tanker depends on (the leg, its cargoes, its
    transit, its port, the market) changes only behaviours the fleet handles. Derived from the shock
    kinds' registry, so a new kind of shock falls back to a process per tanker until declared handled."""
    if not ctx.fast or not isinstance(ctx.outlet, Market):
        return False
    timelines = ctx.timelines
    reads = [("leg", name), ("cargo", name), ("transit", name), ("port", port), ("market", ctx.outlet.name)]
    return all(timelines.behaviours(timeline, target) <= SeaFleet.HANDLES for timeline, target in reads)


def build_sea(ctx: LegContext, name: str, spec: SeaLegSpec) -> Leg:
    """A ``SeaFleet`` where no shock touches the leg, else ``SeaTankers``."""
    assert ctx.inlet is not None  # validation: a sea leg has its port tanks
    args = (ctx.env, name, ctx.ports[spec.port], ctx.inlet, ctx.outlet, spec.fleet, spec.cargo, spec.load_rate)
    berth_d, available = spec.berth_cycle()
    voyage = (spec.laden_voyage, spec.ballast_voyage, berth_d)
    normal = {"normal_flow": ctx.normal_flow, "normal_share": ctx.split(1.0), "berth_available": available}
    if fleet_eligible(ctx, name, spec.port):
        return SeaFleet(*args, *voyage, **normal)
    tl = ctx.timelines
    return SeaTankers(
        *args,
        *voyage,
        **normal,
        hourly_factor=tl.hourly_factor("leg", name),
        hourly_multiplier=tl.hourly_multiplier(name),
        hourly_cargo=tl.hourly_factor("cargo", name),
        fast=ctx.fast,
    )


register_leg_kind("sea", SeaLegSpec, build_sea)
