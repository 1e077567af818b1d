"""The parts of the export network as the simulation sees them.

Oil is tracked as *parcels*: a mapping route index -> tonnes, so that every tonne that
reaches a market is credited to the route it took. Tanks are ``simpy.Container``s whose
oil carries those tags. Pipelines are full-line delay lines (no process per day), rail
legs are daily dispatch with scheduled arrivals, sea legs are tanker fleets loading at
berths that are a ``simpy.PriorityResource`` (a process per tanker on a leg with shocks of its
own, callbacks for the whole fleet otherwise).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable

import numpy as np
import simpy

from sim.engine.shocks import STEPS_PER_DAY

__all__ = ["EPS", "Environment", "Market", "Parcel", "Pipeline", "Port", "Rail", "SeaLeg", "Tank"]

Parcel = dict[int, float]
"""Tonnes of oil by route index."""

EPS = 1e-9
"""Tonnes below which an amount is treated as zero."""


def scale(parcel: Parcel, factor: float) -> Parcel:
    """The parcel multiplied by ``factor`` (a fraction of it)."""
    return {r: a * factor for r, a in parcel.items()}


class Environment(simpy.Environment):
    """A ``simpy.Environment`` with a lean loop for running to a time (the engine's only use), and
    a list of calls deferred to the end of the daily dispatch (``deferred``, None outside it)."""

    def __init__(self, initial_time: float = 0):
        super().__init__(initial_time)
        self.deferred: list[Callable[[], None]] | None = None

    def soon(self, call: Callable[[], None]) -> None:
        """Call ``call`` after the current step, at the current time: at the end of the daily
        dispatch if it is running, else from a zero-delay event (as a triggered event would)."""
        if self.deferred is not None:
            self.deferred.append(call)
        else:
            event = simpy.Event(self)  # triggered now: processed after the events already due now
            event._ok, event._value = True, None
            event.callbacks.append(lambda _event: call())
            self.schedule(event)

    def run_until(self, at: float) -> None:
        """Process every event scheduled before ``at``, then set the clock to ``at``.

        The same as ``run(until=at)`` (events at exactly ``at`` are left), with ``step`` inlined:
        one method call less per event, which is a few per cent of a run.
        """
        queue = self._queue
        while queue and queue[0][0] < at:
            self._now, _, _, event = heapq.heappop(queue)
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
        self._now = at


class Tank(simpy.Container):
    """Tanks at a terminal: a ``simpy.Container`` whose oil is tagged by route.

    ``get(amount)`` *claims* a cargo: it triggers once ``amount`` unclaimed tonnes are in
    the tank (claims are served first come, first served), and the oil stays in the tank
    (taking up room) until ``withdraw``. So a queue of tankers waiting for a berth does not
    empty the tanks, as in reality. Deposits are immediate (the caller checks ``room``).
    Claims wait in a plain queue of events rather than as ``ContainerGet`` requests: the
    same semantics at a fraction of the cost, which matters at one claim per cargo.
    """

    def __init__(self, env: simpy.Environment, name: str, capacity: float, initial: Parcel, minimum: float = 0.0):
        super().__init__(env, capacity=capacity, init=sum(initial.values()))
        self.name = name
        self.minimum = minimum  # stock kept in the tanks: never claimed or pumped on
        self.by_route: Parcel = dict(initial)
        self.claimed = 0.0
        self.claims: deque[tuple[simpy.Event, float]] = deque()  # waiting claims, in order
        self.waiting_fleet: Callable[[], None] | None = None  # a fleet waiting for oil: call after a deposit
        self.incoming = 0.0  # room promised to a pipeline's outflow later in the same tick
        self.peak = self._level

    def room(self) -> float:
        """Free capacity in tonnes (less room already promised to incoming oil)."""
        return self._capacity - self._level - self.incoming

    def deposit(self, parcel: Parcel) -> None:
        """Add a parcel (must fit)."""
        total = 0.0
        by_route = self.by_route
        for route, amount in parcel.items():
            by_route[route] = by_route.get(route, 0.0) + amount
            total += amount
        self._added(total)

    def deposit_route(self, route: int, amount: float) -> None:
        """Add ``amount`` tonnes of one route's oil (must fit): ``deposit`` without a parcel."""
        by_route = self.by_route
        by_route[route] = by_route.get(route, 0.0) + amount
        self._added(amount)

    def _added(self, amount: float) -> None:
        """Raise the level by ``amount``; serve the claims and wake the fleet that wait for oil."""
        self._level += amount
        if self._level > self.peak:
            self.peak = self._level
        if self.claims:
            self._serve_claims()
        if self.waiting_fleet is not None:
            self._wake_fleet()

    def get(self, amount: float) -> simpy.Event:  # type: ignore[override]
        """Claim ``amount`` tonnes: an event that triggers once they are in the tank, unclaimed."""
        event = simpy.Event(self._env)
        if not self.claims and self._level - self.claimed - self.minimum >= amount - EPS:
            self.claimed += amount
            event.succeed()
        else:
            self.claims.append((event, amount))
        return event

    def try_claim(self, amount: float) -> bool:
        """Claim ``amount`` at once if it is free and nobody waits before us (no event needed)."""
        if not self.claims and self._level - self.claimed - self.minimum >= amount - EPS:
            self.claimed += amount
            return True
        return False

    def _wake_fleet(self) -> None:
        wake, self.waiting_fleet = self.waiting_fleet, None
        self._env.soon(wake)

    def _serve_claims(self) -> None:
        claims = self.claims
        while claims:
            event, amount = claims[0]
            if self._level - self.claimed - self.minimum < amount - EPS:
                return
            claims.popleft()
            self.claimed += amount
            event.succeed()

    def withdraw(self, amount: float, claimed: bool = False) -> Parcel:
        """Take ``amount`` tonnes out, split across routes in proportion to what is held."""
        level = self._level
        if claimed:
            claimed_left = self.claimed - amount
            self.claimed = claimed_left if claimed_left > 0.0 else 0.0
        if amount >= level - EPS:
            parcel = self.by_route
            self.by_route = {}
            self._level = 0.0
            return parcel
        keep = 1.0 - amount / level
        parcel = {}
        by_route = self.by_route
        for route, held in by_route.items():
            parcel[route] = held - held * keep
            by_route[route] = held * keep
        self._level = level - amount
        return parcel


class Market:
    """Where a tonne counts as exported; closed while its factor is zero."""

    def __init__(self, name: str, exports: list[float], n_routes: int, hourly_factor: np.ndarray | None):
        self.name = name
        self.exports = exports  # t by day and route, flat ([day * n_routes + route]), shared with the model
        self.n_routes = n_routes
        self.days = len(exports) // n_routes if n_routes else 0
        self.hourly = hourly_factor

    def is_open(self, time_d: float) -> bool:
        """Whether the market takes oil at ``time_d``."""
        if self.hourly is None:
            return True
        step = min(int(time_d * STEPS_PER_DAY), len(self.hourly) - 1)
        return self.hourly[step] > 0

    def room(self) -> float:
        """A market takes any amount while open."""
        return math.inf

    def deposit(self, parcel: Parcel, day: int) -> None:
        """Count a parcel as exported on ``day``."""
        exports = self.exports
        base = (day if day < self.days else self.days - 1) * self.n_routes
        for route, amount in parcel.items():
            exports[base + route] += amount


class Pipeline:
    """A pipeline as a full line: intake pushes the same tonnage out of the far end.

    The line holds ``volume`` tonnes of our oil (capacity x transit time). A tonne
    injected leaves once ``volume`` more tonnes have entered behind it, so transit time
    stretches when flow is low and a stopped outlet stops the intake, as in a real line.
    Each day the dispatcher sets ``cap_today`` (capacity x shock factor / slowdown),
    ``used_today`` and ``outlet_open`` (and, on a shared line, ``multiplier`` and ``out_today``,
    then unloads what is due): see ``Model._tick``.
    """

    def __init__(self, name: str, capacity: float, volume: float, initial: Parcel, outlet: Tank | Market | None):
        self.name = name
        self.capacity = capacity
        self.volume = volume
        self.fifo: deque[list] = deque()
        self.linefill = 0.0
        if sum(initial.values()) > 0:
            self.fifo.append([sum(initial.values()), dict(initial)])
            self.linefill = sum(initial.values())
        self.outlet = outlet
        self.outlet_tank = outlet if isinstance(outlet, Tank) else None
        self.inlet: Tank | None = None
        self.cap_today = capacity
        self.used_today = 0.0
        self.outlet_open = True
        self.delivered = 0.0
        self.pending: Parcel = {}
        self.pending_t = 0.0

    def limit(self) -> float:
        """Most tonnes that can enter today without overfilling the line or its outlet."""
        left = self.cap_today - self.used_today
        if left <= EPS:
            return 0.0
        if not self.outlet_open:
            room = 0.0
        elif self.outlet_tank is None:
            return left  # a market takes anything while open
        else:
            room = self.outlet_tank.room()
        free = self.volume - self.linefill - self.pending_t  # room left in the line itself
        if free > 0.0:
            room += free  # (oil already due out of a full line has its room reserved in the tank)
        if room < left:
            return room if room > 0.0 else 0.0
        return left

    def push(self, parcel: Parcel, amount: float, day: int) -> None:
        """Inject a parcel of ``amount`` tonnes today; ``flush`` moves the line at the end of the day's
        dispatch (one movement a day, however many routes fed it). The room the outflow will take
        in the outlet tank is held at once, so nobody else fills it meanwhile."""
        pending = self.pending
        for route, a in parcel.items():
            pending[route] = pending.get(route, 0.0) + a
        self._reserve(amount)

    def push_route(self, route: int, amount: float, day: int) -> None:
        """``push`` for one route's oil (the dispatcher's case), without building a parcel."""
        pending = self.pending
        pending[route] = pending.get(route, 0.0) + amount
        self._reserve(amount)

    def _reserve(self, amount: float) -> None:
        """Count ``amount`` against today's capacity and hold the room its outflow will take."""
        self.used_today += amount
        before = self.linefill + self.pending_t - self.volume
        self.pending_t += amount
        after = before + amount
        if after > 0.0 and self.outlet_tank is not None:
            self.outlet_tank.incoming += after - (before if before > 0.0 else 0.0)

    def flush(self, day: int) -> None:
        """Push today's intake into the line and deliver what comes out of the far end."""
        amount = self.pending_t
        if amount <= 0.0:
            return
        fifo = self.fifo
        fifo.append([amount, self.pending])
        self.pending = {}
        self.pending_t = 0.0
        linefill = self.linefill + amount
        excess = linefill - self.volume
        tank = self.outlet_tank
        if tank is not None and excess > 0:
            incoming = tank.incoming - excess
            tank.incoming = incoming if incoming > 0.0 else 0.0
        if excess <= EPS:
            self.linefill = linefill
            return
        out: Parcel | None = None
        moved = 0.0
        while excess > EPS and fifo:
            head = fifo[0]
            size = head[0]
            if size <= excess + EPS:
                fifo.popleft()
                excess -= size
                linefill -= size
                moved += size
                if out is None:
                    out = head[1]  # the whole batch leaves: hand its parcel on as it is
                else:
                    for route, a in head[1].items():
                        out[route] = out.get(route, 0.0) + a
            else:
                part = excess / size
                if out is None:
                    out = {}
                batch = head[1]
                for route, a in batch.items():
                    take = a * part
                    out[route] = out.get(route, 0.0) + take
                    batch[route] = a - take
                head[0] = size - excess
                linefill -= excess
                moved += excess
                excess = 0.0
        self.linefill = linefill if fifo else 0.0
        if out is None:
            return
        self.delivered += moved
        if tank is not None:
            tank.deposit(out)
        else:
            self.outlet.deposit(out, day)

    def pull(self, day: int) -> None:
        """Move oil from the inlet tank into the line (legs that follow another leg)."""
        tank = self.inlet
        if tank is None or tank.level - tank.minimum <= EPS:
            return
        amount = min(self.limit(), tank.level - tank.minimum)
        if amount > EPS:
            self.push(tank.withdraw(amount), amount, day)
            self.flush(day)

    def in_transit(self) -> float:
        """Tonnes of our oil in the line (including today's intake not yet pushed through)."""
        return self.linefill + self.pending_t


class SharedPipeline(Pipeline):
    """A pipeline shared with third parties, whose flow keeps the line moving.

    Our oil is a small part of the linefill, so it arrives ``transit`` days after it
    enters whatever our own flow is, and leaves at most at our capacity today: a cut slows the
    oil already in the line (what arrives beyond that waits a day or more, as in a slower line)
    without stopping what we inject. Parcels that find the outlet full or closed wait in the line,
    and while they do we inject nothing more (back-pressure).
    """

    def __init__(self, name: str, capacity: float, transit_d: float, initial: list[Parcel], outlet: Tank | Market):
        super().__init__(name, capacity, 0.0, {}, outlet)
        self.transit_d = transit_d
        self.arrivals: dict[int, list[Parcel]] = {}
        self.waiting: deque[Parcel] = deque()
        for day, parcel in enumerate(initial):
            amount = sum(parcel.values())
            if amount > 0:
                self.arrivals.setdefault(day, []).append(parcel)
                self.linefill += amount
        self.multiplier = 1.0
        self.out_today = 0.0  # our oil delivered today
        self.backed_up = False  # our oil waits because the outlet is full or closed

    def _unload(self, day: int) -> None:
        due = self.arrivals.pop(day, None)
        if due is not None:
            self.waiting.extend(due)
        self.backed_up = False
        waiting = self.waiting
        if not waiting:
            return
        if not self.outlet_open:
            self.backed_up = True
            return
        most = self.cap_today - self.out_today
        if self.outlet_tank is None and len(waiting) == 1:
            # the usual day: one parcel due, into a market
            parcel = waiting[0]
            amount = sum(parcel.values())
            if amount <= most + EPS:
                waiting.popleft()
                self.outlet.deposit(parcel, day)
                self.out_today += amount
                self.linefill -= amount
                self.delivered += amount
                return
        moved = unload_queue(waiting, self.outlet, day, most)
        self.out_today += moved  # the line's outflow is capped per day, however often we unload
        self.linefill -= moved
        self.delivered += moved
        # oil left waiting with the day's flow not used up: the outlet is full
        self.backed_up = bool(waiting) and moved < most - EPS

    def limit(self) -> float:
        """Today's capacity left, or nothing while our oil waits at a full or closed outlet."""
        if self.backed_up:
            return 0.0
        return max(0.0, self.cap_today - self.used_today)

    def flush(self, day: int) -> None:
        """Nothing to do: parcels are scheduled as they are pushed."""

    def push(self, parcel: Parcel, amount: float, day: int) -> None:
        """Inject a parcel; it arrives after the transit time (stretched by a slowdown)."""
        self.used_today += amount
        self.linefill += amount
        travel = round(self.transit_d * self.multiplier)
        self.arrivals.setdefault(day + max(0, travel), []).append(parcel)
        if travel <= 0:
            self._unload(day)

    def push_route(self, route: int, amount: float, day: int) -> None:
        """``push`` for one route's oil."""
        self.push({route: amount}, amount, day)


def deposit(outlet: Tank | Market, parcel: Parcel, day: int) -> None:
    """Hand a parcel to a tank or a market."""
    if isinstance(outlet, Market):
        outlet.deposit(parcel, day)
    else:
        outlet.deposit(parcel)


def unload_queue(waiting: deque[Parcel], outlet: Tank | Market, day: int, most: float = math.inf) -> float:
    """Hand queued parcels to ``outlet`` in order, as far as it has room (and up to ``most``
    tonnes); return the tonnes moved."""
    moved = 0.0
    market = outlet if isinstance(outlet, Market) else None
    while waiting:
        parcel = waiting[0]
        amount = sum(parcel.values())
        room = most - moved
        if market is None:
            tank_room = outlet.room()
            if tank_room < room:
                room = tank_room
        if room <= EPS:
            break
        if amount <= room + EPS:
            waiting.popleft()
        else:
            part = room / amount
            waiting[0] = scale(parcel, 1.0 - part)
            parcel = scale(parcel, part)
            amount = room
        moved += amount
        if market is None:
            outlet.deposit(parcel)
        else:
            market.deposit(parcel, day)
    return moved


class Rail:
    """Block trains: a daily dispatch limit (trains x payload), a fleet of train sets,
    transit plus border/gauge-change delay in whole days, and a queue at the far end."""

    def __init__(
        self,
        name: str,
        payload: float,
        trains_per_day: float,
        transit_d: float,
        return_d: float,
        fleet: int | None,
        outlet: Tank | Market,
    ):
        self.name = name
        self.payload = payload
        self.trains_per_day = trains_per_day
        self.transit_d = transit_d
        self.return_d = return_d
        self.return_days = max(1, round(return_d))  # whole days for an emptied set to come back
        self.fleet = math.inf if fleet is None else float(fleet)
        self.outlet = outlet
        self.inlet: Tank | None = None
        self.arrivals: dict[int, list[Parcel]] = {}
        self.returns: dict[int, float] = {}
        self.waiting: deque[Parcel] = deque()
        self.sets_out = 0.0
        self.cap_today = 0.0
        self.used_today = 0.0
        self.multiplier = 1.0
        self.outlet_open = True
        self.moving = 0.0
        self.delivered = 0.0

    def start_day(self, day: int, factor: float, multiplier: float, outlet_open: bool) -> None:
        """Return train sets, set today's dispatch limit, and unload arrivals that fit."""
        if self.returns:
            self.sets_out -= self.returns.pop(day, 0.0)
            if self.sets_out < EPS:
                self.sets_out = 0.0
        trains = self.trains_per_day * factor
        free = self.fleet - self.sets_out
        if free < trains:
            trains = free
        self.cap_today = trains * self.payload if trains > 0.0 else 0.0
        self.used_today = 0.0
        self.multiplier = multiplier
        self.outlet_open = outlet_open
        if self.arrivals:
            due = self.arrivals.pop(day, None)
            if due is not None:
                self.waiting.extend(due)
        if self.waiting:
            self.unload(day)

    def unload(self, day: int) -> None:
        """Deliver waiting trains to the outlet as far as it has room; emptied sets head back."""
        if not self.outlet_open:
            return
        outlet = self.outlet
        if type(outlet) is Market:
            # a market takes every train at once
            waiting = self.waiting
            moved = 0.0
            while waiting:
                parcel = waiting.popleft()
                moved += sum(parcel.values())
                outlet.deposit(parcel, day)
        else:
            moved = unload_queue(self.waiting, outlet, day)
        if moved > 0:
            self.moving -= moved
            self.delivered += moved
            back = day + self.return_days
            self.returns[back] = self.returns.get(back, 0.0) + moved / self.payload

    def limit(self) -> float:
        """Tonnes that can still be dispatched today."""
        return max(0.0, self.cap_today - self.used_today)

    def push(self, parcel: Parcel, amount: float, day: int) -> None:
        """Dispatch ``amount`` tonnes today; they arrive after transit and border delay."""
        self.used_today += amount
        self.moving += amount
        sets = amount / self.payload
        self.sets_out += sets
        travel = max(1, round(self.transit_d * self.multiplier))
        self.arrivals.setdefault(day + travel, []).append(parcel)

    def push_route(self, route: int, amount: float, day: int) -> None:
        """``push`` for one route's oil."""
        self.push({route: amount}, amount, day)

    def pull(self, day: int) -> None:
        """Load trains from the inlet tank (legs that follow another leg)."""
        tank = self.inlet
        if tank is None or tank.level - tank.minimum <= EPS:
            return
        amount = min(self.limit(), tank.level - tank.minimum)
        if amount > EPS:
            self.push(tank.withdraw(amount), amount, day)

    def in_transit(self) -> float:
        """Tonnes on trains, moving or waiting to unload."""
        return self.moving


class Berths(simpy.PriorityResource):
    """A port's berths: a ``simpy.PriorityResource`` whose users are tankers and blocks.

    Blocks (standby berths, berths out of service) are ordinary priority requests and go first.
    Tankers take a free berth at once (``take``) or wait in a plain first-come queue (``wait``)
    that is served whenever a berth frees and no block is waiting: the same order as priority
    requests, without a request and a release event per cargo.
    """

    def __init__(self, env: simpy.Environment, capacity: int = 1):
        super().__init__(env, capacity)
        # tankers waiting for a berth, in order: an event to trigger, or a fleet's call to make
        self.waiting: deque[simpy.Event | Callable[[object], None]] = deque()

    def take(self) -> object | None:
        """Occupy a free berth now if nobody is waiting; ``None`` if the caller must ``wait``."""
        if self.put_queue or self.waiting or len(self.users) >= self._capacity:
            return None
        use = _BerthUse()
        self.users.append(use)
        return use

    def wait(self) -> simpy.Event:
        """An event that triggers, with the berth as its value, once a berth is this tanker's."""
        event = simpy.Event(self._env)
        self.waiting.append(event)
        self._serve_waiting()
        return event

    def give_back(self, use: object) -> None:
        """Free a berth taken with ``take`` or ``wait``; blocks, then waiting tankers, move in."""
        self.users.remove(use)
        if self.put_queue:
            self._trigger_put(None)  # blocks first, then waiting tankers
        elif self.waiting:
            self._serve_waiting()

    def _trigger_put(self, get_event: simpy.Event | None) -> None:
        super()._trigger_put(get_event)  # blocks first
        if self.waiting:
            self._serve_waiting()

    def _serve_waiting(self) -> None:
        waiting = self.waiting
        while waiting and not self.put_queue and len(self.users) < self._capacity:
            use = _BerthUse()
            self.users.append(use)
            waiter = waiting.popleft()
            if type(waiter) is simpy.Event:
                waiter.succeed(use)
            else:
                # a fleet: it loads after the current step, as a triggered event would resume it
                self._env.soon(lambda waiter=waiter, use=use: waiter(use))


class _BerthUse:
    """A berth occupied through ``Berths.take``."""

    __slots__ = ()


class Port:
    """A loading port whose berths (or single-point moorings) are a ``simpy.PriorityResource``.

    Standby berths and berths out of service are held by blocking requests, which
    queue ahead of tankers; a loading under way finishes before its berth is taken.
    """

    def __init__(self, env: simpy.Environment, name: str, berths: int, active: int, hourly: np.ndarray | None):
        self.env = env
        self.name = name
        self.berths = berths
        self.active = active
        self.resource = Berths(env, capacity=berths)
        self.blocks: list = []
        schedule = self._blocked_schedule(hourly)
        env.process(self._control(schedule))

    def _blocked_schedule(self, hourly: np.ndarray | None) -> list[tuple[float, int]]:
        """(time, berths blocked) at each change."""
        normal = self.berths - self.active
        if hourly is None:
            return [(0.0, normal)]
        usable = np.minimum(self.active, np.round(self.berths * hourly).astype(int))
        blocked = self.berths - usable
        changes = np.flatnonzero(np.diff(blocked)) + 1
        schedule = [(0.0, int(blocked[0]))]
        schedule += [(i / STEPS_PER_DAY, int(blocked[i])) for i in changes]
        return schedule

    def _control(self, schedule: list[tuple[float, int]]):
        for time, blocked in schedule:
            if time > self.env.now:
                yield self.env.timeout(time - self.env.now)
            while len(self.blocks) < blocked:
                self.blocks.append(self.resource.request(priority=0))
            while len(self.blocks) > blocked:
                request = self.blocks.pop()
                if request.triggered:
                    self.resource.release(request)
                else:
                    request.cancel()


class SeaLeg:
    """A tanker fleet: each tanker claims a cargo, takes a berth, loads, sails, discharges, returns.

    A leg with no shock of its own (no outage, slowdown or derate on the leg, a market that never
    closes) runs its whole fleet as callbacks: tankers are identical, so it is enough to know how
    many are in port, how many hold a claimed cargo, and when the others come back. It makes the
    same loadings as a process per tanker (each tanker with a cargo claimed holds its own place in
    the berth queue), for a third of the events. A leg with shocks runs a process per tanker.
    """

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
        hourly_factor: np.ndarray | None,
        hourly_multiplier: np.ndarray | None,
        normal_flow: float = 0.0,
        normal_share: Parcel | None = None,
        hourly_cargo: np.ndarray | None = None,
    ):
        normal_share = normal_share or {}
        self.hourly_cargo = hourly_cargo  # fraction of a cargo loaded (a derate, e.g. low water), or None
        self.env = env
        self.timeout = env.timeout  # (SimPy binds the method anew on every attribute access)
        self.name = name
        self.port = port
        self.tank = tank
        self.outlet = outlet
        self.cargo = cargo
        self.load_rate = load_rate
        self.laden_d = laden_d
        self.ballast_d = ballast_d
        self.berth_d = berth_d
        self.hourly_factor = hourly_factor
        self.hourly_multiplier = hourly_multiplier
        self.aboard = 0.0
        self.always_open = isinstance(outlet, Market) and outlet.hourly is None
        self.due: list[tuple[float, int, Parcel, float]] = []  # fast-path cargoes at sea: (arrival, order, parcel, t)
        self.sequence = 0
        self.loaded = 0.0
        self.delivered = 0.0
        self.cargoes = 0
        # Start in steady state: as many tankers at sea, laden, as the normal flow keeps there
        # (flow x laden voyage / cargo), evenly spaced; the rest spread over the way back.
        at_sea = min(fleet, round(normal_flow * laden_d / cargo)) if laden_d > 0 and normal_flow > 0 else 0
        share = sum(normal_share.values())
        self.initial_by_route: Parcel = {}  # cargoes at sea at the start, by route
        plain = hourly_factor is None and hourly_multiplier is None and hourly_cargo is None and self.always_open
        self.plain = plain
        self.returns: list[float] = []  # a fleet of callbacks: when each tanker at sea is back in port
        # One process for the fleet credits each cargo to the market's row of its arrival day when it
        # loads (an always-open market takes it whenever it comes), and keeps what arrives by each
        # day for the in-transit series: arrivals[k] = tonnes that arrive in (k-1, k].
        horizon = outlet.days if plain else 0
        self.arrivals: list[float] = [0.0] * (horizon + 1)
        self.arrival_log: list[tuple[float, float]] = []  # (arrival time, tonnes), for the end of the run
        self.arrived = 0.0  # tonnes arrived by the last day asked for (``transit_on``)
        self.closed = False  # the run is over (``close``)
        for j in range(at_sea):
            parcel = {route: cargo * w / share for route, w in normal_share.items()}
            for route, amount in parcel.items():
                self.initial_by_route[route] = self.initial_by_route.get(route, 0.0) + amount
            self.aboard += cargo
            offset = laden_d * (j + 0.5) / at_sea
            if plain:
                self._credit(parcel, cargo, offset)
                heapq.heappush(self.returns, offset + ballast_d)
            else:
                env.process(self._tanker(offset, parcel))
        empty = fleet - at_sea
        spread = ballast_d if ballast_d > 0 else berth_d + cargo / load_rate
        for i in range(empty):
            if plain:
                heapq.heappush(self.returns, spread * i / empty)
            else:
                env.process(self._tanker(spread * i / empty))
        if plain:
            self.in_port = 0  # tankers of the fleet in port without a cargo claimed
            self.homecoming = False  # a call back is due when the next tanker is home
            self.load_d = berth_d + cargo / load_rate
            self.round_trip_d = laden_d + ballast_d
            start = simpy.Event(env)  # first look at time 0, in the order a process would start
            start._ok, start._value = True, None
            start.callbacks.append(lambda _event: self._fleet())
            env.schedule(start, simpy.events.URGENT)

    def _fleet(self) -> None:
        """The whole fleet of a leg with no shock of its own, as callbacks rather than processes,
        doing what a process per tanker would: each tanker in port claims a cargo as soon as one is
        in the tanks, then takes a free berth or queues for one (one place in the queue per tanker);
        the fleet is called back by the next deposit when oil is short, and when the next tanker is
        home if none is in port. Each tanker is back ``load + round trip`` after it starts loading."""
        env, tank, cargo, returns = self.env, self.tank, self.cargo, self.returns
        berths = self.port.resource
        now = env._now
        while returns and returns[0] <= now:
            heapq.heappop(returns)
            self.in_port += 1
        while self.in_port:
            if tank._level - tank.claimed - tank.minimum < cargo - EPS:
                tank.waiting_fleet = self._fleet  # the next deposit calls back
                break
            tank.claimed += cargo
            self.in_port -= 1
            berth = berths.take()
            if berth is None:
                berths.waiting.append(self._berth_granted)
            else:
                self._load(berth, now)
        self._call_when_home()

    def _call_when_home(self) -> None:
        """With no tanker in port, be called back when the next one is home (it may claim at once)."""
        if not self.in_port and self.returns and not self.homecoming:
            self.homecoming = True
            self.timeout(self.returns[0] - self.env._now).callbacks.append(self._tanker_back)

    def _tanker_back(self, _event: simpy.Event) -> None:
        self.homecoming = False
        self._fleet()

    def _berth_granted(self, berth: object) -> None:
        # A tanker with a claimed cargo got its berth; it will be home after the round trip.
        self._load(berth, self.env._now)
        self._call_when_home()

    def _load(self, berth: object, now: float) -> None:
        """Start loading a cargo at ``berth``: it is credited to its arrival day, the berth frees
        after the loading, the tanker is back after the round trip."""
        cargo = self.cargo
        parcel = self.tank.withdraw(cargo, claimed=True)
        self.aboard += cargo
        self.loaded += cargo
        load_d = self.load_d
        self._credit(parcel, cargo, (now + load_d) + self.laden_d)
        berths = self.port.resource
        self.timeout(load_d).callbacks.append(lambda _event: berths.give_back(berth))
        heapq.heappush(self.returns, (now + load_d) + self.round_trip_d)  # as a tanker process adds it

    def _credit(self, parcel: Parcel, cargo: float, arrival: float) -> None:
        """Count a cargo as exported on its arrival day (a fleet of callbacks, always-open market)."""
        self.arrival_log.append((arrival, cargo))
        day = int(arrival)
        arrivals = self.arrivals
        if day < len(arrivals) - 1:
            exports = self.outlet.exports
            base = day * self.outlet.n_routes
            for route, amount in parcel.items():
                exports[base + route] += amount
        bucket = day if arrival == day else day + 1  # first day whose tick sees it arrived
        if bucket < len(arrivals):
            arrivals[bucket] += cargo

    def transit_on(self, day: int) -> float:
        """Tonnes aboard at the tick of ``day`` (a fleet of callbacks; ask once per day, in order)."""
        self.arrived += self.arrivals[day]
        return self.aboard - self.arrived

    def close(self, horizon: float) -> None:
        """At the end of a run: settle what arrived before ``horizon``, and count the cargoes."""
        self.closed = True  # from now on in_transit() counts what is aboard, settling nothing more
        if not self.plain:
            self.settle(before=horizon)
            return
        delivered = [cargo for arrival, cargo in self.arrival_log if arrival < horizon]
        self.delivered = sum(delivered)
        self.cargoes = len(delivered)
        self.aboard -= self.delivered
        self.arrival_log = []

    def _lookup(self, hourly: np.ndarray | None, default: float) -> float:
        if hourly is None:
            return default
        step = min(int(self.env.now * STEPS_PER_DAY), len(hourly) - 1)
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
                yield tank.get(cargo)  # wait until a cargo is in the tanks for us
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
            self.aboard += cargo
            self.loaded += cargo
            yield env.timeout(self.berth_d + cargo / (self.load_rate * self._lookup(hourly, 1.0)))
            berths.give_back(berth)
            yield from self._voyage(parcel, self.laden_d * self._lookup(self.hourly_multiplier, 1.0), cargo)

    def _voyage(self, parcel: Parcel, laden_d: float, cargo: float | None = None):
        """Sail laden for ``laden_d`` days, discharge (waiting if the outlet cannot take it), sail back."""
        env = self.env
        cargo = self.cargo if cargo is None else cargo
        outlet = self.outlet
        ballast_d = self.ballast_d * self._lookup(self.hourly_multiplier, 1.0)
        if self.always_open:
            # Fast path: a market that never closes takes the cargo on arrival. Note the arrival
            # (``settle`` credits it once the clock has passed it) and sleep through the round trip
            # in one timeout.
            self.sequence += 1
            heapq.heappush(self.due, (env.now + laden_d, self.sequence, parcel, cargo))
            yield env.timeout(laden_d + ballast_d)
            return
        yield env.timeout(laden_d)
        if isinstance(outlet, Market):
            if not outlet.is_open(env.now):
                yield from self._wait_until(lambda: outlet.is_open(env.now))
        else:
            yield from self._wait_until(lambda: outlet.room() >= cargo - EPS)
        self._deliver(parcel, cargo)
        yield env.timeout(self.ballast_d * self._lookup(self.hourly_multiplier, 1.0))

    def _deliver(self, parcel: Parcel, cargo: float, day: int | None = None) -> None:
        """Discharge a cargo of ``cargo`` tonnes into the outlet (on ``day``, default today)."""
        self.aboard -= cargo
        self.delivered += cargo
        self.cargoes += 1
        deposit(self.outlet, parcel, int(self.env.now) if day is None else day)

    def settle(self, before: float | None = None) -> None:
        """Credit the fast-path cargoes that have arrived (at or before now, or strictly before ``before``)."""
        due = self.due
        if before is None:
            now = self.env._now
            while due and due[0][0] <= now:
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
        if self.plain and self.arrival_log:
            now = self.env._now
            return self.aboard - sum(cargo for arrival, cargo in self.arrival_log if arrival <= now)
        due = self.due
        if due and due[0][0] <= self.env._now:
            self.settle()
        return self.aboard
