"""The network file: sources, ports, legs (pipeline, sea, rail), routes and markets."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.scenario.quantities import (
    Date,
    Duration,
    Fraction,
    Mass,
    Name,
    PositiveCount,
    PositiveMass,
    PositiveRate,
    Price,
    Rate,
    RateLimit,
    StorageCapacity,
    _Model,
)
from sim.units import Grade

__all__ = [
    "GradeSpec",
    "Leg",
    "LoadingCycle",
    "MarketSpec",
    "Network",
    "PipelineLeg",
    "PortSpec",
    "PumpStationSpec",
    "RailLeg",
    "ResponseSpec",
    "RouteSpec",
    "ScheduleStep",
    "SeaLeg",
    "SourceSpec",
    "StorageSpec",
    "berth_hold_d",
]


class GradeSpec(_Model):
    """The crude grade, for converting barrels and cubic metres to tonnes."""

    name: str = Field("crude", description="Name of the grade (e.g. CPC Blend).")
    bbl_per_t: float = Field(
        7.5, gt=3, lt=12, description="Barrels per tonne (Reuters uses 7.5 for Kazakh crude; CPC Blend ~7.9)."
    )
    t_per_m3: float = Field(0.79, gt=0.5, lt=1.2, description="Density in tonnes per cubic metre.")

    def as_grade(self) -> Grade:
        """The conversion factors (``sim.units.Grade``) of this grade."""
        return Grade(bbl_per_t=self.bbl_per_t, t_per_m3=self.t_per_m3)


class StorageSpec(_Model):
    """A tank farm: capacity and the level at the start of the run."""

    capacity: StorageCapacity = Field(description="Working capacity (mass or volume), or 'unlimited'.")
    initial: Mass = Field(0.0, description="Level at the start of the run.")
    minimum: Mass = Field(
        0.0,
        description=(
            "Stock the tanks keep (terminal tanks only): oil below this level is not lifted or pumped on "
            "(tank heels and the stock built up for the lifting schedule), so it leaves no room in a stop."
        ),
    )

    @model_validator(mode="after")
    def _initial_fits(self) -> StorageSpec:
        if self.initial > self.capacity:
            raise ValueError(f"initial level {self.initial:g} t is above the capacity {self.capacity:g} t")
        if math.isinf(self.initial):
            raise ValueError("initial level must be finite")
        if math.isinf(self.minimum):
            raise ValueError("minimum must be finite")
        if self.minimum > 0 and self.minimum >= self.capacity:
            raise ValueError(f"minimum {self.minimum:g} t must be below the capacity {self.capacity:g} t")
        return self


class ResponseSpec(_Model):
    """How a field's operator answers a shrinking outlet (see README, "Operator response").

    ``fill_then_cut``: produce at full rate and fill storage; only oil with nowhere to go is shut in.
    ``cut_at_level``: cut towards ``floor`` x nominal once the watched storage passes ``level`` full,
    or as soon as a stop on the field's outlet is announced (a shock's ``notice``), and keep storage
    as a buffer; back to full rate once neither holds. ``follow_outlet``: output follows what left
    the field the day before (not below ``floor``) while oil waits in field storage or a stop is
    announced. Every change of rate takes ``lag`` days from full rate to the floor (or back).
    """

    mode: Literal["fill_then_cut", "cut_at_level", "follow_outlet"] = Field(
        "fill_then_cut",
        description="fill_then_cut (produce, fill storage, shut in what cannot fit), cut_at_level or follow_outlet.",
    )
    level: Fraction = Field(
        0.6, description="cut_at_level: how full the watched storage is when the cut starts (0 to 1)."
    )
    watch: Literal["field", "terminal"] = Field(
        "field",
        description=(
            "cut_at_level: the storage watched, the field's own or the terminal tanks its normal routes "
            "load from (the fullest of them, above their minimum stock)."
        ),
    )
    floor: Fraction = Field(
        0.5,
        description="The lowest share of nominal output the operator cuts to; below it only oil with "
        "nowhere to go is shut in.",
    )
    lag: Duration = Field(1.0, description="Days to move output from full rate to the floor, or back.")


class ScheduleStep(_Model):
    """From a date on, a field produces at another rate (a month of maintenance, a new train on stream)."""

    since: Date = Field(description="First day of the new rate.")
    production: Rate = Field(description="Production available for export from that day on.")


class SourceSpec(_Model):
    """A producing field (or an aggregate producer) with its own storage."""

    production: Rate = Field(description="Production available for export at full rate.")
    storage: StorageSpec = Field(
        default_factory=lambda: StorageSpec(capacity=0.0),
        description="Field/hub storage that absorbs what cannot leave today.",
    )
    restart_delay: Duration = Field(0.0, description="Days at zero output after a shutdown, before the ramp starts.")
    ramp_up: Duration = Field(
        0.0, description="Days to ramp from zero back to full rate after a shutdown (0 = instant)."
    )
    shutdown_after: Duration = Field(
        1.0,
        description=(
            "Days in a row with no output (for lack of an outlet) after which the field counts as shut down, "
            "so that restart_delay and ramp_up apply. Shorter stops and partial cuts are choke-backs: the "
            "field returns to full rate as soon as its oil can leave."
        ),
    )
    response: ResponseSpec | None = Field(
        None, description="How the operator answers a shrinking outlet; default: the network's response."
    )
    schedule: list[ScheduleStep] = Field(
        default_factory=list,
        description=(
            "Dated changes of the production rate, in date order: before the first, the field produces "
            "`production`; from each step's `since` on, that step's rate (monthly rates are a step a month)."
        ),
    )
    description: str = Field("", description="What this source stands for, with sources of the figures.")

    def rate_on(self, day: dt.date) -> float:
        """The scheduled production rate on ``day`` (t/d)."""
        rate = self.production
        for step in self.schedule:
            if step.since > day:
                break
            rate = step.production
        return rate

    @model_validator(mode="after")
    def _schedule_in_order(self) -> SourceSpec:
        days = [step.since for step in self.schedule]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("schedule: the steps must be in date order, one per date")
        return self

    @model_validator(mode="after")
    def _no_field_minimum(self) -> SourceSpec:
        if self.storage.minimum > 0:
            raise ValueError("storage.minimum applies to terminal tanks (a leg's inlet_storage), not field storage")
        return self


class PortSpec(_Model):
    """A loading port: berths or single-point moorings (a simpy.Resource)."""

    berths: PositiveCount = Field(description="Berths or single-point moorings installed.")
    active_berths: PositiveCount | None = Field(
        None, description="Berths used in normal operation (the rest are standby); default all."
    )
    standby_delay: Duration = Field(
        0.0,
        description=(
            "Time for a standby berth or mooring to take over from an active one that is out of service "
            "(a berths_out outage); default 0, at once."
        ),
    )
    description: str = Field("", description="Notes and sources.")

    @model_validator(mode="after")
    def _active_fits(self) -> PortSpec:
        if self.active_berths is not None and self.active_berths > self.berths:
            raise ValueError(f"active_berths ({self.active_berths}) exceeds berths ({self.berths})")
        return self


class PumpStationSpec(_Model):
    """A pump station of a pipeline: losing it leaves only part of the line's capacity."""

    capacity_without: Fraction = Field(
        description="Fraction of the line's capacity left when the station is fully out."
    )
    description: str = Field("", description="Notes and sources.")


class _LegBase(_Model):
    inlet_storage: StorageSpec | None = Field(
        None, description="Tanks at the leg's inlet (terminal tank farm); needed when the leg follows another leg."
    )
    description: str = Field("", description="Notes and sources.")


class PipelineLeg(_LegBase):
    """A pipeline: a rate limit and a transit time, modelled as a full line (delay line)."""

    kind: Literal["pipeline"]
    capacity: Rate = Field(description="Total capacity of the line (all shippers).")
    transit: Duration = Field(
        0.0,
        description=(
            "Transit time at full capacity. A line of our oil only is a full line (linefill = capacity x transit); "
            "a line shared with third parties, whose flow keeps it moving, delivers our oil after this time."
        ),
    )
    third_party: Rate = Field(
        0.0, description="Flow of other shippers' oil on the same leg (Russian oil in CPC, Azeri oil in BTC)."
    )
    sharing: Literal["pro_rata", "spare"] = Field(
        "pro_rata",
        description="How capacity is split with third parties: pro_rata keeps our share in an outage; spare gives us only what they leave.",
    )
    initial_linefill: Literal["full", "empty"] = Field("full", description="Whether the line starts full of our oil.")
    pump_stations: dict[Name, PumpStationSpec] = Field(
        default_factory=dict, description="Pump stations that shocks can target as LEG.STATION."
    )


def berth_hold_d(fixed_d: float, cargo: float, load_rate: float, available: float = 1.0) -> float:
    """Mean days a berth is held per cargo of our oil: ``(fixed_d + cargo / load_rate) / available``.

    ``fixed_d`` is the time at the berth besides pumping, ``available`` the share of the berth's time our
    tankers can use (1 with a plain ``berth_time``; see ``LoadingCycle.available``). The one formula both
    sea-leg implementations and ``docs/checks/mooring_throughput.py`` use.
    """
    return (fixed_d + cargo / load_rate) / available


class LoadingCycle(_Model):
    """A sea leg's loading cycle at one berth, in parts: berthing, pumping, unberthing, and the time the
    berth is lost to weather and to other shippers' tankers.

    Weather downtime and other shippers' tankers enter as their *mean* effect on berth time: every cargo of
    our oil holds the berth ``(berthing + cargo / load_rate + unberthing) / (1 - weather_downtime) /
    (1 - third_party_share)``. Explicit storm shocks (kind ``weather``) are separate and come on top.
    """

    berthing: Duration = Field(
        description="Time from the tanker's arrival at the berth to the start of pumping: approach, mooring, hose connection."
    )
    unberthing: Duration = Field(
        description="Time from the end of pumping until the berth is free: hose disconnection, documents, unmooring."
    )
    weather_downtime: Fraction = Field(
        0.0,
        description=(
            "Mean share of the time the berth cannot be worked for weather (e.g. waves above the mooring limit); "
            "below 1. Enters as its mean effect on berth time; storm shocks (kind weather) come on top."
        ),
    )
    third_party_share: Fraction = Field(
        0.0,
        description=(
            "Share of berth time taken by other shippers' tankers (oil the model does not carry); below 1. "
            "Enters as its mean effect on berth time."
        ),
    )
    description: str = Field("", description="Notes and sources.")

    @field_validator("weather_downtime", "third_party_share")
    @classmethod
    def _below_one(cls, value: float, info: ValidationInfo) -> float:
        if value >= 1:
            what = (
                "the berth could never be worked"
                if info.field_name == "weather_downtime"
                else "no berth time would be left for our tankers"
            )
            raise ValueError(f"must be < 1 ({what}), got {value:g}")
        return value

    def fixed_d(self) -> float:
        """Days at the berth per cargo besides pumping: berthing + unberthing."""
        return self.berthing + self.unberthing

    def available(self) -> float:
        """Share of the berth's time our tankers can use: (1 - weather_downtime) x (1 - third_party_share)."""
        return (1.0 - self.weather_downtime) * (1.0 - self.third_party_share)


class SeaLeg(_LegBase):
    """Tankers loading at a port, sailing laden, discharging, and sailing back."""

    kind: Literal["sea"]
    port: Name = Field(description="The loading port (a key of ports).")
    fleet: PositiveCount = Field(description="Tankers serving this leg.")
    cargo: PositiveMass = Field(description="Cargo per tanker.")
    load_rate: PositiveRate = Field(description="Loading rate at one berth.")
    laden_voyage: Duration = Field(description="Sailing time loaded, to the discharge point.")
    ballast_voyage: Duration = Field(0.0, description="Sailing time back, empty.")
    berth_time: Duration = Field(
        0.0,
        description=(
            "Time a tanker holds a berth besides pumping, in one figure: mooring, hose connection, paperwork, "
            "unmooring. Give either this or loading, not both."
        ),
    )
    loading: LoadingCycle | None = Field(
        None,
        description=(
            "The loading cycle in parts (berthing, unberthing, weather downtime, other shippers' share), instead of "
            "berth_time: each cargo holds the berth (berthing + cargo / load_rate + unberthing) / (1 - weather_downtime) "
            "/ (1 - third_party_share), weather and other shippers as their mean effect; storm shocks come on top."
        ),
    )

    @model_validator(mode="after")
    def _one_berth_cycle(self) -> SeaLeg:
        if self.loading is not None and "berth_time" in self.model_fields_set:
            raise ValueError(
                "@berth_time: give either berth_time (one figure) or loading (the cycle in parts), not both; "
                "loading's berthing + unberthing replace berth_time"
            )
        return self

    def berth_cycle(self) -> tuple[float, float]:
        """(days at the berth per cargo besides pumping, share of the berth's time our tankers can use)."""
        if self.loading is None:
            return self.berth_time, 1.0
        return self.loading.fixed_d(), self.loading.available()

    def berth_hold(self) -> float:
        """Mean days one berth is held per full cargo of our oil (``berth_hold_d``)."""
        fixed_d, available = self.berth_cycle()
        return berth_hold_d(fixed_d, self.cargo, self.load_rate, available)

    @model_validator(mode="after")
    def _tanks_hold_a_cargo(self) -> SeaLeg:
        if self.inlet_storage is not None and self.inlet_storage.capacity < self.cargo:
            raise ValueError(
                f"@inlet_storage.capacity: {self.inlet_storage.capacity:g} t is less than one cargo "
                f"({self.cargo:g} t); tankers could never load"
            )
        tanks = self.inlet_storage
        if tanks is not None and tanks.minimum > 0 and tanks.capacity - tanks.minimum < self.cargo:
            raise ValueError(
                f"@inlet_storage.minimum: {tanks.minimum:g} t leaves {tanks.capacity - tanks.minimum:g} t above it, "
                f"less than one cargo ({self.cargo:g} t); tankers could never load"
            )
        return self


class RailLeg(_LegBase):
    """Block trains of tank cars: dispatch rate, transit, border/gauge-change delay."""

    kind: Literal["rail"]
    payload: PositiveMass = Field(description="Oil per train.")
    trains_per_day: float = Field(gt=0, le=1000, description="Most trains dispatched per day.")
    transit: Duration = Field(description="Running time, loaded.")
    border_delay: Duration = Field(0.0, description="Border and gauge-change handling time.")
    fleet: PositiveCount | None = Field(None, description="Train sets in service (None = not limiting).")
    return_transit: Duration | None = Field(None, description="Running time back, empty (default: transit).")


Leg = Annotated[PipelineLeg | SeaLeg | RailLeg, Field(discriminator="kind")]


class RouteSpec(_Model):
    """A chain of legs from a source to a market, with its cost and readiness."""

    source: Name = Field(description="Where the oil comes from (a key of sources).")
    legs: list[Name] = Field(min_length=1, description="Legs in order, from the source to the market.")
    market: Name = Field(description="Where a tonne counts as exported (a key of markets).")
    normal: Rate = Field(0.0, description="Normal (baseline) allocation to this route.")
    capacity: RateLimit = Field(
        math.inf, description="Most this route may carry (contract or quota); default unlimited."
    )
    cost: Price = Field(0.0, description="Transport cost per tonne, all legs.")
    lead_time: Duration = Field(
        0.0,
        description=(
            "Days of need (less days without) before the route takes diverted volume; once set up, its "
            "contract lapses after this long unused."
        ),
    )
    contracted: bool = Field(
        False,
        description="Already contracted at the start: takes diverted volume from day 0, and the contract never lapses.",
    )
    priority: int = Field(
        100, strict=True, ge=-1_000_000, le=1_000_000, description="Merit order for normal allocations (lower first)."
    )
    description: str = Field("", description="Notes and sources.")


class MarketSpec(_Model):
    """A place where exported oil is counted."""

    description: str = Field("", description="Notes.")


class Network(_Model):
    """The export system: sources, ports, legs, routes, markets."""

    name: str = Field("network", description="Name of the network.")
    description: str = Field("", description="What the network represents, and its period.")
    grade: GradeSpec = Field(default_factory=GradeSpec, description="The crude grade (unit conversions).")
    sources: dict[Name, SourceSpec] = Field(min_length=1, description="Producing fields or aggregates.")
    response: ResponseSpec = Field(
        default_factory=ResponseSpec,
        description="The operators' response to a shrinking outlet, for every source that names none.",
    )
    ports: dict[Name, PortSpec] = Field(default_factory=dict, description="Loading ports.")
    legs: dict[Name, Leg] = Field(min_length=1, description="Transport legs.")
    routes: dict[Name, RouteSpec] = Field(min_length=1, description="Routes from sources to markets.")
    markets: dict[Name, MarketSpec] = Field(min_length=1, description="Export markets.")

    @classmethod
    def model_validate(cls, obj: Any, *, context: dict | None = None, **kwargs: Any) -> Network:
        """Validate, converting barrels with the grade the network declares."""
        return super().model_validate(obj, context=grade_context(obj, context, None), **kwargs)

    @model_validator(mode="after")
    def _references_exist(self) -> Network:
        problems: list[str] = []

        def need(kind: str, name: str, table: dict, where: str) -> None:
            if name not in table:
                from difflib import get_close_matches

                near = get_close_matches(name, list(table), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else f"; known: {', '.join(sorted(table)) or 'none'}"
                problems.append(f"@{where}: unknown {kind} {name!r}{hint}")

        for leg_name, leg in self.legs.items():
            if isinstance(leg, SeaLeg):
                need("port", leg.port, self.ports, f"legs.{leg_name}.port")
        outlets: dict[str, tuple[str, str]] = {}
        for leg_name, leg in self.legs.items():
            if leg.inlet_storage is not None and leg.inlet_storage.capacity <= 0:
                problems.append(f"@legs.{leg_name}.inlet_storage.capacity: must be > 0 (omit inlet_storage for none)")
        for route_name, route in self.routes.items():
            need("source", route.source, self.sources, f"routes.{route_name}.source")
            need("market", route.market, self.markets, f"routes.{route_name}.market")
            for i, leg_name in enumerate(route.legs):
                need("leg", leg_name, self.legs, f"routes.{route_name}.legs.{i}")
            if len(set(route.legs)) != len(route.legs):
                problems.append(f"@routes.{route_name}.legs: a leg appears twice in one route")
            for i, leg_name in enumerate(route.legs[1:], start=1):
                leg = self.legs.get(leg_name)
                if leg is not None and leg.inlet_storage is None:
                    problems.append(
                        f"@routes.{route_name}.legs.{i}: leg {leg_name!r} follows {route.legs[i - 1]!r} "
                        "and needs inlet_storage (the terminal tanks between them)"
                    )
            for i, leg_name in enumerate(route.legs):
                nxt = route.legs[i + 1] if i + 1 < len(route.legs) else f"market {route.market}"
                seen = outlets.setdefault(leg_name, (nxt, route_name))
                if seen[0] != nxt:
                    problems.append(
                        f"@routes.{route_name}.legs.{i}: leg {leg_name!r} leads to {nxt!r} here but to "
                        f"{seen[0]!r} in route {seen[1]!r} (a leg has one outlet: split it into two legs)"
                    )
            first = self.legs.get(route.legs[0])
            if isinstance(first, SeaLeg) and first.inlet_storage is None:
                problems.append(
                    f"@routes.{route_name}.legs.0: sea leg {route.legs[0]!r} needs inlet_storage (the port tanks)"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self


def grade_context(data: Any, context: dict | None, network_key: str | None) -> dict:
    """A validation context holding the grade declared in ``data`` (so barrels convert right).

    The one place raw data's grade becomes conversion factors: ``Network`` and ``Scenario``
    validation call it (a scenario's network under ``network_key``); a grade already in
    ``context`` wins; an absent or invalid grade leaves the default (``Grade()``) to the fields.
    """
    context = dict(context or {})
    if "grade" not in context:
        network = data.get(network_key) if network_key and isinstance(data, dict) else data
        raw = network.get("grade") if isinstance(network, dict) else None
        if isinstance(raw, dict):
            try:
                spec = GradeSpec.model_validate(raw)
                context["grade"] = spec.as_grade()
            except ValueError:
                pass  # the grade's own errors are reported when the network is validated
    return context
