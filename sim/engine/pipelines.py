"""Pipelines: a line of our own oil (a full line: intake pushes oil out of the far end), and a line
shared with third parties (their flow keeps it moving, so our oil arrives after the transit time)."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from sim.engine.legs import Leg, LegContext, register_leg_kind, tank_or_none
from sim.engine.parcels import Parcel, add_to, held_in, unload_queue
from sim.engine.rounding import half_up
from sim.engine.tanks import Market, Tank
from sim.scenario.schema import PipelineLeg

__all__ = ["Pipeline", "SharedPipeline", "build_pipeline"]


class Pipeline(Leg):
    """A pipeline as a full line: intake pushes the same tonnage out of the far end.

    The line holds ``volume`` tonnes of our oil (capacity x transit time). A tonne injected leaves
    once ``volume`` more tonnes have entered behind it, so transit time stretches when flow is low
    and a stopped outlet stops the intake, as in a real line. Today's capacity is ``caps[day]``
    (capacity x shock factor / slowdown).
    """

    transit_attribute = "linefill"  # at the tick, after end_day has pushed the day's intake through

    def __init__(
        self,
        name: str,
        capacity: float,
        volume: float,
        initial: Parcel,
        outlet: Tank | Market,
        caps: list[float] | None = None,
        opens: list[bool] | None = None,
    ):
        self.name = name
        self.capacity = capacity
        self.volume = volume
        self.fifo: deque[list] = deque()
        self.linefill = 0.0
        if sum(initial.values()) > 0:
            self.fifo.append([sum(initial.values()), dict(initial)])
            self.linefill = sum(initial.values())
        self.outlet = outlet
        self.outlet_tank = tank_or_none(outlet)
        self.caps = caps
        self.opens = opens
        self.cap_today = capacity
        self.used_today = 0.0
        self.outlet_open = True
        self.delivered = 0.0
        self.pending: Parcel = {}
        self.pending_t = 0.0

    def start_day(self, day: int) -> None:
        """Today's capacity, and whether the outlet takes oil today."""
        self.cap_today = self.caps[day] if self.caps is not None else self.capacity
        self.used_today = 0.0
        self.outlet_open = self.opens[day] if self.opens is not None else True

    def limit(self) -> float:
        """Most tonnes that can enter today without overfilling the line or its outlet."""
        left = self.cap_today - self.used_today
        if left <= self.eps:
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
        """Inject a parcel of ``amount`` tonnes today; ``end_day`` moves the line at the end of the day's
        dispatch (one movement a day, however many routes fed it). The room the outflow will take
        in the outlet tank is held at once, so nobody else fills it meanwhile."""
        pending = self.pending
        for route, a in parcel.items():
            pending[route] = pending.get(route, 0.0) + a
        self._reserve(amount)

    def push_route(self, route: int, amount: float, day: int) -> None:
        """``push`` for one route's oil, without building a parcel."""
        pending = self.pending
        pending[route] = pending.get(route, 0.0) + amount
        self._reserve(amount)

    def take(self, route: int, amount: float, day: int) -> float:
        """``Leg.take`` with ``push_route`` inlined (the dispatcher's hot call)."""
        limit = self.limit()
        if limit < amount:
            amount = limit
        if amount <= self.eps:
            return 0.0
        pending = self.pending
        pending[route] = pending.get(route, 0.0) + amount
        self._reserve(amount)
        return amount

    def _reserve(self, amount: float) -> None:
        """Count ``amount`` against today's capacity and hold the room its outflow will take."""
        self.used_today += amount
        before = self.linefill + self.pending_t - self.volume
        self.pending_t += amount
        after = before + amount
        if after > 0.0 and self.outlet_tank is not None:
            self.outlet_tank.incoming += after - (before if before > 0.0 else 0.0)

    def end_day(self, day: int) -> None:
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
        if excess <= self.eps:
            self.linefill = linefill
            return
        out: Parcel | None = None
        moved = 0.0
        while excess > self.eps and fifo:
            head = fifo[0]
            size = head[0]
            if size <= excess + self.eps:
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
        self.outlet.receive(out, day)

    def pull(self, day: int) -> None:
        """Move oil from the inlet tank into the line (``Leg.pull``), and the line on at once."""
        super().pull(day)
        self.end_day(day)  # (nothing to move if nothing was pulled)

    def in_transit(self) -> float:
        """Tonnes of our oil in the line (including today's intake not yet pushed through)."""
        return self.linefill + self.pending_t

    def transit_on(self, day: int) -> float:
        """``in_transit`` (the same at any time of the day)."""
        return self.linefill + self.pending_t

    def holdings(self) -> Parcel:
        """The batches in the line and today's intake, by route."""
        held: Parcel = dict(self.pending)
        for _, parcel in self.fifo:
            add_to(held, parcel)
        return held


class SharedPipeline(Leg):
    """A pipeline shared with third parties, whose flow keeps the line moving.

    Our oil is a small part of the linefill, so it arrives ``transit`` days after it enters whatever
    our own flow is, and leaves at most at our capacity today: a cut slows the oil already in the
    line (what arrives beyond that waits a day or more, as in a slower line) without stopping what
    we inject. Parcels that find the outlet full or closed wait in the line, and while they do we
    inject nothing more (back-pressure).
    """

    transit_attribute = "linefill"

    def __init__(
        self,
        name: str,
        capacity: float,
        transit_d: float,
        initial: list[Parcel],
        outlet: Tank | Market,
        caps: list[float] | None = None,
        travels: list[int] | None = None,
        opens: list[bool] | None = None,
    ):
        self.name = name
        self.capacity = capacity
        self.transit_d = transit_d
        self.outlet = outlet
        self.outlet_tank = tank_or_none(outlet)
        self.caps, self.opens = caps, opens
        self.travels = travels  # whole days a parcel injected on each day travels (None: unchanged)
        self.travel = half_up(transit_d)
        self.arrivals: dict[int, list[Parcel]] = {}
        self.waiting: deque[Parcel] = deque()
        self.linefill = 0.0
        for day, parcel in enumerate(initial):
            amount = sum(parcel.values())
            if amount > 0:
                self.arrivals.setdefault(day, []).append(parcel)
                self.linefill += amount
        self.cap_today = capacity
        self.used_today = 0.0
        self.outlet_open = True
        self.out_today = 0.0  # our oil delivered today
        self.backed_up = False  # our oil waits because the outlet is full or closed
        self.delivered = 0.0

    def start_day(self, day: int) -> None:
        """Today's capacity and slowdown; deliver what is due (and what waited) as far as it fits."""
        self.cap_today = self.caps[day] if self.caps is not None else self.capacity
        self.used_today = 0.0
        self.outlet_open = self.opens[day] if self.opens is not None else True
        if self.travels is not None:
            self.travel = self.travels[day]
        self.out_today = 0.0
        if self.waiting or day in self.arrivals:
            self._unload(day)

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
            if amount <= most + self.eps:
                waiting.popleft()
                self.outlet.receive(parcel, day)
                self.out_today += amount
                self.linefill -= amount
                self.delivered += amount
                return
        moved = unload_queue(waiting, self.outlet, day, self.eps, most)
        self.out_today += moved  # the line's outflow is capped per day, however often we unload
        self.linefill -= moved
        self.delivered += moved
        # oil left waiting with the day's flow not used up: the outlet is full
        self.backed_up = bool(waiting) and moved < most - self.eps

    def limit(self) -> float:
        """Today's capacity left, or nothing while our oil waits at a full or closed outlet."""
        if self.backed_up:
            return 0.0
        return max(0.0, self.cap_today - self.used_today)

    def push(self, parcel: Parcel, amount: float, day: int) -> None:
        """Inject a parcel; it arrives after the transit time (stretched by a slowdown)."""
        self.used_today += amount
        self.linefill += amount
        travel = self.travel
        self.arrivals.setdefault(day + max(0, travel), []).append(parcel)
        if travel <= 0:
            self._unload(day)

    def in_transit(self) -> float:
        """Tonnes of our oil in the line, travelling or waiting at the outlet."""
        return self.linefill

    def transit_on(self, day: int) -> float:
        """``in_transit`` (the same at any time of the day)."""
        return self.linefill

    def holdings(self) -> Parcel:
        """Parcels travelling and waiting at the outlet, by route."""
        return held_in(self.arrivals, self.waiting)


def our_capacity(spec: PipelineLeg) -> float:
    """Capacity left for our oil on a line shared with third parties (normal conditions)."""
    if spec.third_party <= 0 or math.isinf(spec.capacity):
        return spec.capacity
    return max(0.0, spec.capacity - spec.third_party)


def daily_capacity(capacity: float, factor: np.ndarray | None, multiplier: np.ndarray | None) -> list[float] | None:
    """Capacity by day, ``capacity x factor / multiplier``; None if neither varies (it is ``capacity``)."""
    if factor is None and multiplier is None:
        return None
    return (capacity * (1.0 if factor is None else factor) / (1.0 if multiplier is None else multiplier)).tolist()


def build_pipeline(ctx: LegContext, name: str, spec: PipelineLeg) -> Leg:
    """A ``SharedPipeline`` if third parties use the line, else a ``Pipeline``; full at the start
    unless ``initial_linefill: empty``."""
    ours = our_capacity(spec)
    factor = ctx.daily_factor("leg", name)
    multiplier = ctx.daily_multiplier(name)
    opens = ctx.outlet_open()
    market = ctx.outlet_factor()  # a line flows all day: hours its market is closed take their share
    if spec.third_party > 0 and spec.sharing == "spare" and ours > 0 and factor is not None:
        # Third parties keep their flow; we get what the reduced line has left.
        factor = np.maximum(0.0, spec.capacity * factor - spec.third_party) / ours
    if market is not None:
        factor = market if factor is None else factor * market
    caps = daily_capacity(ours, factor, multiplier)
    if spec.third_party > 0:
        # whole days of oil in the line at the start, rounded as a parcel's travel time is
        days_full = max(0, half_up(spec.transit)) if spec.initial_linefill == "full" else 0
        daily = ctx.split(min(ours, ctx.normal_flow))
        initial = [dict(daily) for _ in range(days_full)]
        leg: Leg = SharedPipeline(
            name, ours, spec.transit, initial, ctx.outlet, caps, ctx.travel_days(name, spec.transit), opens
        )
    else:
        volume = ours * spec.transit
        initial = ctx.split(volume) if spec.initial_linefill == "full" else {}
        leg = Pipeline(name, ours, volume, initial, ctx.outlet, caps, opens)
    leg.inlet = ctx.inlet
    return leg


register_leg_kind("pipeline", PipelineLeg, build_pipeline)
