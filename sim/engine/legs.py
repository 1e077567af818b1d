"""What the daily dispatcher needs from a transport leg, and the registry of leg kinds.

Every leg kind (pipeline, rail, sea, and any added later) implements ``Leg``; the dispatcher
(``sim/engine/dispatch.py``) talks to nothing else. A kind is added by writing a ``Leg`` subclass and
a builder, and registering them under the ``kind`` its scenario spec carries::

    register_leg_kind("conveyor", ConveyorSpec, build_conveyor)

The builder gets a ``LegContext``: the leg's outlet and inlet tanks, the daily factors the shocks
set, the routes that use it, and the SimPy environment (for legs that run processes).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.engine.env import Environment
from sim.engine.parcels import Outlet, Parcel
from sim.engine.rounding import half_up_array
from sim.engine.shocks import Timelines
from sim.engine.tanks import Market, Tank

__all__ = ["LEG_KINDS", "Leg", "LegContext", "LegKind", "build_leg", "register_leg_kind", "tank_or_none"]


class Leg(ABC):
    """A transport leg as the dispatcher sees it.

    Each day the dispatcher calls, in this order: ``start_day`` (today's capacity; deliver what
    is due), ``pull`` (take oil from the inlet tank), ``limit``/``push`` as it allocates the day's
    oil, ``end_day`` (move the line), ``transit_on`` (for the record). ``limit`` and ``push`` are the
    leg's intake from the dispatcher: a leg whose oil waits in its own inlet tank (sea) takes it there.
    """

    name: str
    eps: float = 0.0
    """Tonnes that count as zero (``zero_below`` the network's scale), set by ``build_leg``."""
    inlet: Tank | None = None
    """Tanks at the leg's inlet that ``pull`` draws on (None for a first leg fed straight)."""
    steps_daily: bool = True
    """Whether ``start_day``, ``pull`` and ``end_day`` do anything (a sea leg moves between ticks)."""
    cargoes: int | None = None
    """Cargoes discharged (legs that count them), for the record."""
    export_terminal: bool = False
    """Whether the leg is where oil leaves the system for the routes whose first such leg it is (a sea
    leg: loading at the export terminal). Such a leg calls ``depart`` for what it loads; the model sets
    ``departed``, ``n_routes`` and ``leaves_here``. Routes with none leave on arrival at their market."""
    departed: list[float] | None = None
    """Exports by day and route (flat, ``[day * n_routes + route]``), shared with the model."""
    leaves_here: frozenset[int] = frozenset()
    """Routes whose oil is exported when it enters this leg."""
    n_routes: int = 0
    """Routes in the model (the width of ``departed``)."""
    transit_attribute: str | None = None
    """An attribute that holds ``transit_on(day)`` once the day is dispatched, which the record then
    reads without a call (a speed trick for legs that step daily); None: the record calls ``transit_on``."""

    @abstractmethod
    def start_day(self, day: int) -> None:
        """Set today's capacity (shocks) and deliver what is due today."""

    @abstractmethod
    def limit(self) -> float:
        """Most tonnes the dispatcher can hand the leg right now."""

    @abstractmethod
    def push(self, parcel: Parcel, amount: float, day: int) -> None:
        """Take a parcel of ``amount`` tonnes (at most ``limit()``) on ``day``."""

    def push_route(self, route: int, amount: float, day: int) -> None:
        """``push`` for one route's oil."""
        self.push({route: amount}, amount, day)

    def take(self, route: int, amount: float, day: int) -> float:
        """Take up to ``amount`` tonnes of one route's oil (as far as ``limit()`` allows, nothing if
        that is ``eps`` or less); return what went in. The dispatcher's usual call; a leg may fuse it."""
        limit = self.limit()
        if limit < amount:
            amount = limit
        if amount <= self.eps:
            return 0.0
        self.push_route(route, amount, day)
        return amount

    def pull(self, day: int) -> None:
        """Move what fits from the inlet tank into the leg (legs that follow another leg)."""
        tank = self.inlet
        if tank is None or tank.level - tank.minimum <= self.eps:
            return
        amount = min(self.limit(), tank.level - tank.minimum)
        if amount > self.eps:
            self.push(tank.withdraw(amount), amount, day)

    def depart(self, parcel: Parcel, now: float) -> None:
        """Count oil that enters the leg at ``now`` (days) as exported, for the routes that leave here."""
        departed, leaves = self.departed, self.leaves_here
        if not leaves or departed is None:
            return
        base = int(now) * self.n_routes
        if base >= len(departed):
            return  # (nothing enters at the horizon: the run stops before)
        for route, amount in parcel.items():
            if route in leaves:
                departed[base + route] += amount

    def end_day(self, day: int) -> None:  # noqa: B027 (most legs have nothing to do)
        """After the day's dispatch: move what the day's intake pushes on."""

    @abstractmethod
    def in_transit(self) -> float:
        """Tonnes of our oil in the leg now (in the line, on trains, aboard)."""

    @abstractmethod
    def holdings(self) -> Parcel:
        """The oil in the leg by route (its parcels), for the balance of each route: at the start and
        after ``close``. Summed over routes, ``in_transit()``."""

    def transit_on(self, day: int) -> float:
        """Tonnes in transit at the tick of ``day`` (asked once per day, in order)."""
        return self.in_transit()

    def close(self, horizon: float) -> None:  # noqa: B027 (most legs have nothing to settle)
        """At the end of the run: settle what arrived before ``horizon``."""


@dataclass
class LegContext:
    """What a builder needs to make one leg of the network."""

    env: Environment
    days: int
    timelines: Timelines
    outlet: Tank | Market
    inlet: Tank | None
    ports: dict[str, Any]
    users: list[int]
    """Indices of the routes that use the leg."""
    normal_flow: float
    """Sum of the normal allocations of those routes (t/d)."""
    split: Callable[[float], Parcel]
    """Share an amount among those routes in proportion to their normal allocations."""
    eps: float
    """Tonnes that count as zero in this network."""
    fast: bool = True
    """Whether the leg may take a fast path (see ``simulate(fast=...)``)."""

    def daily_factor(self, kind: str, name: str) -> np.ndarray | None:
        """Daily mean capacity factor of a component (None if no shock touches it: always 1)."""
        return self.timelines.daily_factor(kind, name)

    def daily_multiplier(self, name: str) -> np.ndarray | None:
        """Daily mean transit multiplier of a leg (None if no slowdown touches it: always 1)."""
        return self.timelines.daily_multiplier(name)

    def travel_days(self, name: str, transit_d: float, least: int = 0) -> list[int] | None:
        """Whole days (at least ``least``) a parcel sent on each day travels, stretched by the leg's
        slowdowns; None if no slowdown touches the leg (it is always ``max(least, half_up(transit_d))``)."""
        arr = self.timelines.daily_multiplier(name)
        return None if arr is None else np.maximum(least, half_up_array(transit_d * arr)).tolist()

    def outlet_factor(self) -> np.ndarray | None:
        """Daily mean factor of the market the leg delivers to (None if it delivers to a tank, or to a
        market that never closes)."""
        if not isinstance(self.outlet, Market):
            return None
        return self.daily_factor("market", self.outlet.name)

    def outlet_open(self) -> list[bool] | None:
        """Whether the outlet takes oil on each day (None: every day; a tank always does, a market
        unless it is closed all day)."""
        factor = self.outlet_factor()
        return None if factor is None else (factor > 0).tolist()


@dataclass(frozen=True)
class LegKind:
    """A kind of leg: the scenario spec class that declares it and the builder of its component."""

    kind: str
    spec: type
    build: Callable[[LegContext, str, Any], Leg]


LEG_KINDS: dict[str, LegKind] = {}
"""Leg kinds by the ``kind`` their spec carries."""


def register_leg_kind(kind: str, spec: type, build: Callable[[LegContext, str, Any], Leg]) -> None:
    """Make ``kind`` buildable: ``build(context, name, spec)`` returns its ``Leg``."""
    LEG_KINDS[kind] = LegKind(kind, spec, build)


def build_leg(context: LegContext, name: str, spec: Any) -> Leg:
    """Build the component of leg ``name`` from its spec, by the spec's kind."""
    try:
        kind = LEG_KINDS[spec.kind]
    except KeyError:
        raise ValueError(f"leg {name!r}: no leg kind {spec.kind!r} is registered") from None
    leg = kind.build(context, name, spec)
    leg.eps = context.eps
    return leg


def tank_or_none(outlet: Outlet) -> Tank | None:
    """The tank a leg delivers into, or None for a market."""
    return outlet if isinstance(outlet, Tank) else None
