"""Rail: block trains dispatched daily, a fleet of train sets, arrivals in whole days, a queue at the far end."""

from __future__ import annotations

import math
from collections import deque

from sim.engine.legs import Leg, LegContext, register_leg_kind
from sim.engine.parcels import Parcel, held_in, unload_queue
from sim.engine.rounding import half_up
from sim.engine.tanks import Market, Tank
from sim.scenario.schema import RailLeg

__all__ = ["Rail", "build_rail"]


class Rail(Leg):
    """Block trains: a daily dispatch limit (trains x payload), a fleet of train sets,
    transit plus border/gauge-change delay in whole days, and a queue at the far end."""

    transit_attribute = "moving"

    def __init__(
        self,
        name: str,
        payload: float,
        trains_per_day: float,
        transit_d: float,
        return_d: float,
        fleet: int | None,
        outlet: Tank | Market,
        factors: list[float] | None = None,
        travels: list[int] | None = None,
        opens: list[bool] | None = None,
    ):
        self.name = name
        self.payload = payload
        self.trains_per_day = trains_per_day
        self.transit_d = transit_d
        self.return_d = return_d
        self.return_days = max(1, half_up(return_d))  # whole days for an emptied set to come back
        self.fleet = math.inf if fleet is None else float(fleet)
        self.outlet = outlet
        self.to_market = isinstance(outlet, Market)
        self.factors, self.opens = factors, opens
        self.travels = travels  # whole days a train dispatched on each day travels (None: unchanged)
        self.travel = max(1, half_up(transit_d))
        self.arrivals: dict[int, list[Parcel]] = {}
        self.returns: dict[int, float] = {}
        self.waiting: deque[Parcel] = deque()
        self.sets_out = 0.0
        self.cap_today = 0.0
        self.used_today = 0.0
        self.outlet_open = True
        self.moving = 0.0
        self.delivered = 0.0

    def start_day(self, day: int) -> None:
        """Return train sets, set today's dispatch limit, and unload arrivals that fit."""
        factor = self.factors[day] if self.factors is not None else 1.0
        if self.returns:
            self.sets_out -= self.returns.pop(day, 0.0)
            if self.sets_out < self.eps / self.payload:
                self.sets_out = 0.0
        trains = self.trains_per_day * factor
        free = self.fleet - self.sets_out
        if free < trains:
            trains = free
        self.cap_today = trains * self.payload if trains > 0.0 else 0.0
        self.used_today = 0.0
        if self.travels is not None:
            self.travel = self.travels[day]
        self.outlet_open = self.opens[day] if self.opens is not None else True
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
        if self.to_market:
            # a market takes every train at once
            waiting = self.waiting
            moved = 0.0
            while waiting:
                parcel = waiting.popleft()
                moved += sum(parcel.values())
                outlet.receive(parcel, day)
        else:
            moved = unload_queue(self.waiting, outlet, day, self.eps)
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
        travel = self.travel
        self.arrivals.setdefault(day + travel, []).append(parcel)

    def take(self, route: int, amount: float, day: int) -> float:
        """``Leg.take`` with ``limit`` and ``push`` inlined (the dispatcher's hot call)."""
        limit = self.cap_today - self.used_today
        if limit < amount:
            amount = limit
        if amount <= self.eps:
            return 0.0
        self.push({route: amount}, amount, day)
        return amount

    def in_transit(self) -> float:
        """Tonnes on trains, moving or waiting to unload."""
        return self.moving

    def transit_on(self, day: int) -> float:
        """``in_transit`` (the same at any time of the day)."""
        return self.moving

    def holdings(self) -> Parcel:
        """Trains under way and waiting to unload, by route."""
        return held_in(self.arrivals, self.waiting)


def build_rail(ctx: LegContext, name: str, spec: RailLeg) -> Leg:
    """A ``Rail`` leg: the leg's shock factor scales the trains dispatched per day."""
    leg = Rail(
        name,
        spec.payload,
        spec.trains_per_day,
        spec.transit + spec.border_delay,
        spec.transit if spec.return_transit is None else spec.return_transit,
        spec.fleet,
        ctx.outlet,
        None if (factor := ctx.daily_factor("leg", name)) is None else factor.tolist(),
        ctx.travel_days(name, spec.transit + spec.border_delay, least=1),
        ctx.outlet_open(),
    )
    leg.inlet = ctx.inlet
    return leg


register_leg_kind("rail", RailLeg, build_rail)
