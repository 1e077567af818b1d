"""Where oil rests: terminal tanks (tagged by route, with cargo claims) and markets (where it counts).

A ``Tank`` is a plain level with a capacity, not a ``simpy.Container``: nothing in the engine puts
or gets through SimPy's queues. Tankers *claim* a cargo (``claim``, an event that triggers once that
much unclaimed oil is in the tank, first come first served) and the oil stays in the tank, taking up
room, until ``withdraw``; so a queue of tankers waiting for a berth does not empty the tanks.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np
import simpy

from sim.engine.parcels import Parcel
from sim.engine.shocks import STEPS_PER_DAY

__all__ = ["Market", "Tank"]


class Tank:
    """Tanks at a terminal: a level, a capacity and a minimum stock, the oil tagged by route."""

    def __init__(self, env: simpy.Environment, name: str, capacity: float, initial: Parcel, minimum: float, eps: float):
        self.env = env
        self.eps = eps  # tonnes that count as zero
        self.name = name
        self.capacity = capacity
        self.level = sum(initial.values())
        self.minimum = minimum  # stock kept in the tanks: never claimed or pumped on
        self.by_route: Parcel = dict(initial)
        self.claimed = 0.0
        self.claims: deque[tuple[simpy.Event, float]] = deque()  # waiting claims, in order
        self.waiting_fleet: Callable[[object], None] | None = None  # a fleet waiting for a cargo: call once one is in
        self.fleet_needs = 0.0  # the cargo it waits for (unclaimed tonnes above the minimum)
        self.incoming = 0.0  # room promised to a pipeline's outflow later in the same tick
        self.peak = self.level

    def room(self) -> float:
        """Free capacity in tonnes (less room already promised to incoming oil)."""
        return self.capacity - self.level - self.incoming

    def free(self) -> float:
        """Tonnes above the minimum stock that nobody has claimed."""
        return self.level - self.claimed - self.minimum

    def receive(self, parcel: Parcel, day: int) -> None:
        """Take a parcel from the leg that feeds the tank (``Outlet``): ``deposit``."""
        self.deposit(parcel)

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
        self.level += amount
        if self.level > self.peak:
            self.peak = self.level
        if self.claims:
            self._serve_claims()
        if self.waiting_fleet is not None and self.level - self.claimed - self.minimum >= self.fleet_needs - self.eps:
            # as a tanker's claim would succeed: on the deposit that completes its cargo
            wake, self.waiting_fleet = self.waiting_fleet, None
            self.env.soon(wake)

    def claim(self, amount: float) -> simpy.Event:
        """Claim ``amount`` tonnes: an event that triggers once they are in the tank, unclaimed."""
        event = simpy.Event(self.env)
        if not self.claims and self.free() >= amount - self.eps:
            self.claimed += amount
            event.succeed()
        else:
            self.claims.append((event, amount))
        return event

    def try_claim(self, amount: float) -> bool:
        """Claim ``amount`` at once if it is free and nobody waits before us (no event needed)."""
        if not self.claims and self.level - self.claimed - self.minimum >= amount - self.eps:
            self.claimed += amount
            return True
        return False

    def _serve_claims(self) -> None:
        claims = self.claims
        while claims:
            event, amount = claims[0]
            if self.level - self.claimed - self.minimum < amount - self.eps:
                return
            claims.popleft()
            self.claimed += amount
            event.succeed()

    def withdraw(self, amount: float, claimed: bool = False) -> Parcel:
        """Take ``amount`` tonnes out, split across routes in proportion to what is held."""
        level = self.level
        if claimed:
            claimed_left = self.claimed - amount
            self.claimed = claimed_left if claimed_left > 0.0 else 0.0
        if amount >= level - self.eps:
            parcel = self.by_route
            self.by_route = {}
            self.level = 0.0
            return parcel
        keep = 1.0 - amount / level
        parcel = {}
        by_route = self.by_route
        for route, held in by_route.items():
            parcel[route] = held - held * keep
            by_route[route] = held * keep
        self.level = level - amount
        return parcel


class Market:
    """Where a tonne arrives (its ``exports`` list holds arrivals); closed while its factor is zero.

    For routes that leave the system here (no sea leg: the border, the foreign pipeline) an arrival is
    also the export, so the model takes their export series from the arrivals; routes with a sea leg
    were exported when their tanker loaded.
    """

    def __init__(self, name: str, exports: list[float], n_routes: int, hourly_factor: np.ndarray | None):
        self.name = name
        self.exports = exports  # t arrived by day and route, flat ([day * n_routes + route]), shared with the model
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

    def receive(self, parcel: Parcel, day: int) -> None:
        """Count a parcel as arrived on ``day`` (the last day for a later one)."""
        exports = self.exports
        base = (day if day < self.days else self.days - 1) * self.n_routes
        for route, amount in parcel.items():
            exports[base + route] += amount
