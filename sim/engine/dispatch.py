"""The daily dispatcher: how each day's oil is shared among routes, through the ``Leg`` interface only.

Each simulated day:

1. every leg that steps daily sets its capacity for the day (shocks: outages, slowdowns, closures)
   and delivers what is due, deepest legs first, so room made downstream is usable upstream;
2. legs that follow another leg pull oil from their inlet tanks;
3. each source's oil (storage + today's production) goes to routes: first the normal allocations
   in priority order (routes with one priority and one first leg share it pro rata), then
   diversions in merit order (cheapest first) to routes whose lead time has passed (a route's
   contract: see ``Route``);
4. the legs move the day's intake on; what is left goes into field storage, and what does not fit
   is shut in (a field stopped long enough is shut down: restart delay, then a ramp).
"""

from __future__ import annotations

import math

from sim.engine.legs import Leg
from sim.engine.parcels import Parcel
from sim.engine.sources import Source
from sim.engine.tanks import Tank

__all__ = ["Dispatcher", "Group", "Route"]


class Route:
    """A route as the dispatcher sees it: its source, its first leg, and its terms.

    A route with a lead time is set up while it is needed, that is while its source has production it
    cannot place: each day of need advances the set-up by a day, each day without takes a day back, and
    the route may take diverted volume once the set-up has reached its lead time (a set-up back at zero
    is dropped). So a need of n days helps a later one only if it comes back within n days: an extra
    one-day stop a week earlier never shortens a later closure's wait, while a need that comes and goes
    with cargo timing, more days on than off, still gets there. Once set up, the contract lapses after
    the route has gone its own lead time unused (no diverted volume and no need at its source) and must
    be set up again. A route ``contracted`` at the start takes diverted volume from day 0 and never lapses.
    """

    __slots__ = (
        "capacity",
        "contracted",
        "cost",
        "factor_list",
        "first",
        "index",
        "last_used",
        "lead_time",
        "normal",
        "normal_cap",
        "priority",
        "progress",
        "ready_from",
        "source",
    )

    def __init__(
        self,
        index: int,
        source: int,
        first: Leg,
        normal: float,
        capacity: float,
        cost: float,
        lead_time: float,
        priority: int,
        factor_list: list[float],
        contracted: bool = False,
    ):
        self.index = index
        self.source = source
        self.first = first
        self.normal = normal
        self.capacity = capacity
        self.cost = cost
        self.lead_time = lead_time
        self.priority = priority
        self.factor_list = factor_list  # daily factor of closures on the route (read only: may be shared)
        self.progress = 0  # days of set-up done (need days less days without)
        self.ready_from: int | None = None  # first day it may take diverted volume, once set up
        self.last_used = 0  # last day it was needed or carried diverted volume, once set up
        self.contracted = contracted
        self.normal_cap = min(normal, capacity)

    def diverts_on(self, day: int) -> bool:
        """Whether the route may take diverted volume on ``day`` (contracted, or set up by then)."""
        return self.lead_time <= 0 or self.contracted or (self.ready_from is not None and day >= self.ready_from)

    def end_day(self, day: int, needed: bool, used: bool) -> None:
        """Keep the contract's state after ``day``: a set-up advances on a day of need and goes back on a
        day without; a contract in place lapses after its lead time unused."""
        if self.ready_from is not None:
            if needed or used:
                self.last_used = day
            elif day - self.last_used >= self.lead_time:
                self.ready_from, self.progress = None, 0  # lapsed: set up again when needed
        elif needed:
            self.progress += 1
            if self.progress >= self.lead_time:
                self.ready_from, self.last_used = day + 1, day
        elif self.progress > 0:
            self.progress -= 1


class Group:
    """Routes with one priority and one first leg, which share that leg pro rata (CPC shippers)."""

    __slots__ = ("eps", "leg", "members", "routes", "shared_sources")

    def __init__(self, routes: list[Route], eps: float):
        self.eps = eps
        self.routes = routes
        self.members = [(route.index, route.source, route.normal_cap, route.factor_list) for route in routes]
        self.leg = routes[0].first
        self.shared_sources = len({route.source for route in routes}) < len(routes)

    def send(self, supply: list[float], allocated: list[float], flows: list[float], day: int) -> None:
        """The members' normal allocations: if the leg cannot take all they want today, each gets
        the same fraction of what it wants (shippers' pro-rata cut)."""
        wants = []
        total = 0.0
        reserved: dict[int, float] | None = {} if self.shared_sources else None
        for _, source, normal_cap, factors in self.members:
            want = normal_cap * factors[day]
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
        eps = self.eps
        if total <= eps:
            return
        leg = self.leg
        limit = leg.limit()
        if limit <= eps:
            return
        share = 1.0 if limit >= total else limit / total
        # One parcel for the whole group: the shares fit the leg's limit together.
        parcel: Parcel = {}
        sent = 0.0
        for (index, source, _, _), want in zip(self.members, wants, strict=True):
            amount = want * share
            if amount <= eps:
                continue
            parcel[index] = amount
            sent += amount
            flows[index] += amount
            allocated[source] += amount
        if parcel:
            leg.push(parcel, sent, day)


class Dispatcher:
    """Moves one day's oil through sources, routes and legs, and keeps the day's record rows.

    ``fast=False`` takes none of the shortcuts: every leg takes oil through ``Leg.take`` as the base
    class writes it (limit, then push), reports its in-transit through ``transit_on``, every field's
    most for the day is asked of it, and every responding field is asked every day (no ``_usual_day``); the
    equivalence tests compare it with the fast dispatcher.
    """

    def __init__(
        self,
        sources: list[Source],
        routes: list[Route],
        legs: list[Leg],
        depth: dict[str, int],
        tanks: list[Tank],
        eps: float,
        fast: bool = True,
    ):
        self.eps = eps  # tonnes that count as zero
        self.fast = fast
        self.sources = sources
        # fields whose operators respond to the outlet, with what the usual day's check reads (``Source.arm``,
        # set when the model was built): the storage watched and its level in tonnes, the days announced
        self.responding = [
            (i, src, src.trigger_holder, src.trigger_t, src.warned)
            for i, src in enumerate(sources)
            if src.response is not None
        ]
        # The usual day, checked once for all of them: every such field at full rate with nothing cut after
        # the day before (``responses_idle``), nothing announced today, each storage watched below the lowest
        # level any field acts at. A field that watches several storages (no holder) is asked every day.
        lowest: dict[int, tuple[object, float]] = {}
        for _, _, holder, trigger, _ in self.responding:
            if holder is not None and trigger < lowest.get(id(holder), (holder, math.inf))[1]:
                lowest[id(holder)] = (holder, trigger)
        self.watched = list(lowest.values())
        self.always_asked = any(holder is None for _, _, holder, _, _ in self.responding)
        warned = [w for *_, w in self.responding if w is not None]
        self.announced = [any(day) for day in zip(*warned, strict=True)] if warned else None
        self.responses_idle = True
        self.n_sources, self.n_routes = len(sources), len(routes)
        # see Leg.transit_attribute
        self.transit_read = [(leg, leg.transit_attribute if fast else None) for leg in legs]
        self.routes = routes
        self.legs = legs  # in the record's order
        self.tanks = tanks
        self.daily = sorted((leg for leg in legs if leg.steps_daily), key=lambda leg: -depth[leg.name])
        self.pulling = [leg for leg in self.daily if leg.inlet is not None]
        self.ending = [leg for leg in self.daily if type(leg).end_day is not Leg.end_day]  # (others: nothing to do)
        normal = sorted((r for r in routes if r.normal > 0), key=lambda r: (r.priority, r.index))
        groups: dict[tuple[int, int], list[Route]] = {}
        for route in normal:
            groups.setdefault((route.priority, id(route.first)), []).append(route)
        # in order of each group's first route; a lone route is dispatched as itself
        self.normal: list[Route | Group] = [m[0] if len(m) == 1 else Group(m, eps) for m in groups.values()]
        # the same as (group, None, ...) or (None, route's index, source, normal cap, daily factors, first leg)
        self.normal_plan = [
            (entry, 0, 0, 0.0, [], None)
            if type(entry) is Group
            else (None, entry.index, entry.source, entry.normal_cap, entry.factor_list, entry.first)
            for entry in self.normal
        ]
        self.by_merit = sorted(routes, key=lambda r: (r.cost, r.priority, r.index))
        # routes whose contract has a state to keep (a lead time, not contracted at the start), by source
        contracts = [
            [r for r in routes if r.source == i and r.lead_time > 0 and not r.contracted] for i in range(len(sources))
        ]
        self.contracts: list[list[Route] | None] = [found or None for found in contracts]
        # per source: whether some contract of its has a state (set up, or being set up); a source without
        # one needs no look on a day without need
        self.contracts_astir = [False] * len(sources)
        self.rows: dict[str, list[float]] = {
            key: [] for key in ("produced", "cut", "source_level", "intake", "tank_level", "leg_transit")
        }
        self._intake_rows, self._tank_rows = self.rows["intake"], self.rows["tank_level"]
        self._transit_rows = self.rows["leg_transit"]

    def day(self, day: int) -> None:
        """Dispatch ``day``: capacities, oil between legs, allocations, storage and shut-in, records."""
        for leg in self.daily:
            leg.start_day(day)
        for leg in self.pulling:
            leg.pull(day)
        sources, eps, fast = self.sources, self.eps, self.fast
        production_cap = []  # most each field can produce today
        supply = []  # and the oil it has to send: storage + that
        for src in sources:
            cap = src.potential_list[day] if src.steady and fast else src.most_today(day)  # (steady: no call)
            production_cap.append(cap)
            supply.append(src.level + cap)
        # the operators' cut (cut_at_level, follow_outlet); the plain path asks every field every day
        if self.responding and not (fast and self._usual_day(day)):
            idle = True
            for i, src, holder, trigger, warned in self.responding:
                if (
                    holder is None
                    or src.throttle < 1.0
                    or holder.level >= trigger
                    or (warned is not None and warned[day])
                ):
                    cap = production_cap[i] = src.respond(day, production_cap[i])
                    supply[i] = src.level + cap
                elif src.cut:
                    src.cut = 0.0  # its usual day: full rate, nothing it watches is full, nothing announced
                if src.throttle < 1.0 or src.cut:
                    idle = False
            self.responses_idle = idle
        allocated = [0.0] * self.n_sources
        flows = [0.0] * self.n_routes
        for group, index, source, normal_cap, factors, leg in self.normal_plan:
            if group is not None:
                group.send(supply, allocated, flows, day)
                continue
            amount = supply[source] - allocated[source]
            want = normal_cap * factors[day]
            if want < amount:
                amount = want
            if amount > eps:
                amount = leg.take(index, amount, day) if fast else Leg.take(leg, index, amount, day)
                flows[index] += amount
                allocated[source] += amount
        for has, sent in zip(supply, allocated, strict=True):
            if has - sent > eps:  # oil left somewhere: divert it
                self._divert(supply, allocated, flows, day)
                break
        for leg in self.ending:
            leg.end_day(day)
        self._store_and_shut_in(production_cap, supply, allocated, flows, day)
        self._intake_rows.extend(flows)
        self._tank_rows.extend([tank.level for tank in self.tanks])
        self._transit_rows.extend(
            [leg.transit_on(day) if name is None else getattr(leg, name) for leg, name in self.transit_read]
        )

    def _usual_day(self, day: int) -> bool:
        """Whether no responding field need be asked today (see ``responses_idle``): then each would answer
        full rate with nothing cut, as the day before."""
        if not self.responses_idle or self.always_asked or (self.announced is not None and self.announced[day]):
            return False
        for holder, trigger in self.watched:  # noqa: SIM110 (a loop: no generator on the daily path)
            if holder.level >= trigger:
                return False
        return True

    def _divert(self, supply: list[float], allocated: list[float], flows: list[float], day: int) -> None:
        """Oil left after the normal allocations goes to routes in merit order, up to their capacity."""
        eps = self.eps
        for route in self.by_merit:
            source = route.source
            left = supply[source] - allocated[source]
            if left <= eps:
                continue  # nothing left at this source to divert
            factor = route.factor_list[day]
            if factor <= 0 or not route.diverts_on(day):
                continue
            amount = route.capacity * factor - flows[route.index]
            if left < amount:
                amount = left
            if amount > eps:
                leg = route.first
                amount = leg.take(route.index, amount, day) if self.fast else Leg.take(leg, route.index, amount, day)
                flows[route.index] += amount
                allocated[source] += amount

    def _store_and_shut_in(
        self, production_cap: list[float], supply: list[float], allocated: list[float], flows: list[float], day: int
    ) -> None:
        """What no route took goes into field storage; what does not fit is never produced. Then the state
        of each field's contracts (``_keep_contracts``)."""
        produced_rows, level_rows, cut_rows = self.rows["produced"], self.rows["source_level"], self.rows["cut"]
        eps, contracts, astir = self.eps, self.contracts, self.contracts_astir
        for i, src in enumerate(self.sources):
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
            cut_rows.append(src.cut)
            src.outflow = allocated[i]
            if shut > eps or not src.steady or src.idle_days:  # (steady: neither stopped nor ramping back)
                src.update_restart(produced, src.potential_list[day], shut, lambda i=i: self.outlet_free(i, day))
            src.previous = produced
            level_rows.append(src.level)
            routes = contracts[i]
            if routes is not None:
                # needed if its routes took less than it could produce today (its potential, so a field
                # stopped for want of an outlet still needs one)
                needed = src.potential_list[day] - allocated[i] > eps
                if needed or astir[i]:  # (else idle and not needed: nothing changes, the usual day)
                    astir[i] = self._keep_contracts(routes, needed, flows, day)

    def _keep_contracts(self, routes: list[Route], needed: bool, flows: list[float], day: int) -> bool:
        """The contracts of one field's routes with a lead time after ``day`` (``Route`` says what follows):
        a route was used if it carried more than its normal allocation. Whether any has a state now."""
        eps = self.eps
        stirring = False
        for route in routes:
            if needed or route.ready_from is not None or route.progress != 0:
                diverted = flows[route.index] - route.normal_cap * route.factor_list[day]
                route.end_day(day, needed, diverted > eps)
                stirring = stirring or route.ready_from is not None or route.progress != 0
        return stirring

    def outlet_free(self, source: int, day: int) -> bool:
        """Whether any route of ``source`` open today could take oil right now."""
        for route in self.routes:
            if route.source != source or route.factor_list[day] <= 0 or route.capacity <= 0:
                continue
            if route.normal <= 0 and not route.diverts_on(day):
                continue
            if route.first.limit() > self.eps:
                return True
        return False
