"""The scenario file format: typed, validated models (pydantic v2).

A *network* file describes the export system (sources, ports, legs, routes, markets);
a *scenario* names a network, a horizon, a seed, a price and the shocks to inject.
Quantities carry units and are stored in canonical units: t, d, t/d, USD/t. Field
descriptions here generate the JSON Schema (``routesim schema``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sim.scenario.distributions import DISTRIBUTION_JSON_SCHEMA, Distribution, parse_distribution
from sim.units import DIMENSIONS, Grade, UnitError, parse_quantity

__all__ = [
    "IMPACT_METRICS",
    "MAX_OCCURRENCES",
    "MONTHS",
    "OBSERVED_METRICS",
    "UNLIMITED",
    "WINDOW_METRICS",
    "EnsembleEstimate",
    "GradeSpec",
    "MarketSpec",
    "Network",
    "ObservedFigure",
    "ObservedWindow",
    "PipelineLeg",
    "PortSpec",
    "PumpStationSpec",
    "RailLeg",
    "RecoverySpec",
    "RecurringSpec",
    "RouteSpec",
    "Scenario",
    "SeaLeg",
    "Shock",
    "SourceSpec",
    "StorageSpec",
    "ensemble_estimate",
    "max_replications",
    "replications_problem",
]

MAX_HORIZON_D = 50 * 365.0
"""Longest horizon accepted (50 years): longer runs are a typo or would exhaust memory."""

MAX_SERIES_BYTES = 2 * 2**30
"""Largest estimated size of a run's daily series."""

MAX_REPLICATIONS = 1_000_000
"""Most replications an ensemble may run: beyond that a count is a typo (and days of computing)."""

MAX_ENSEMBLE_BYTES = 2 * 2**30
"""Largest estimated memory an ensemble may keep (per-replication metrics and daily shortfall)."""

ENSEMBLE_SCALARS = 32
"""Numbers an ensemble keeps per replication besides its daily series (the impact metrics, the
count of shocks that happened); an upper bound, checked by the tests against the real count."""

SECONDS_PER_REPLICATION_DAY = 0.045 / 365
"""Serial cost of one replication per simulated day, an upper estimate: ~20 ms each for the scenario
and the baseline run over 365 days of the 2022 reference network on the 2-core development machine
(the baseline is made once when no background shock is drawn); smaller networks are faster."""


class EnsembleEstimate(NamedTuple):
    """What an ensemble would cost before it runs: memory kept (bytes) and serial wall time (s)."""

    memory_bytes: float
    seconds: float


def ensemble_estimate(n: int, horizon_d: float) -> EnsembleEstimate:
    """Memory and serial time of ``n`` replications of ``horizon_d`` days, before running any.

    Per replication the ensemble keeps ENSEMBLE_SCALARS floats and one float per day (the
    export shortfall for the fan chart), and needs as much again per day while it computes
    the fan's percentiles; time is SECONDS_PER_REPLICATION_DAY per simulated day.
    """
    days = max(1, math.ceil(horizon_d - 1e-9))
    per_replication = 8 * (ENSEMBLE_SCALARS + 2 * days)
    return EnsembleEstimate(float(n) * per_replication, float(n) * days * SECONDS_PER_REPLICATION_DAY)


def _duration_text(seconds: float) -> str:
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:,.1f} s"


def _bytes_text(size: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size:,.0f} B"


def replications_problem(n: int, horizon_d: float | None) -> str | None:
    """Why ``n`` replications (of ``horizon_d`` days, if known) cannot run, with the estimate; else None.

    One message for the scenario key ``replications`` and the ``-n/--replications`` option, so an
    absurd count is refused the same way, before anything runs.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        return f"{n!r} is not a replication count; expected a whole number from 1 to {MAX_REPLICATIONS:,}"
    if n < 1:
        return f"{n:,} replications cannot run; expected a whole number from 1 to {MAX_REPLICATIONS:,} (1 = one run)"
    if horizon_d is None:
        if n > MAX_REPLICATIONS:
            return f"{n:,} replications is too many; expected at most {MAX_REPLICATIONS:,}"
        return None
    estimate = ensemble_estimate(n, horizon_d)
    if n > MAX_REPLICATIONS or estimate.memory_bytes > MAX_ENSEMBLE_BYTES:
        days = max(1, math.ceil(horizon_d - 1e-9))
        return (
            f"{n:,} replications of {days:,} d would keep about {_bytes_text(estimate.memory_bytes)} in memory "
            f"and run about {_duration_text(estimate.seconds)} on one core; expected at most "
            f"{max_replications(horizon_d):,} for this horizon (limits: {_bytes_text(MAX_ENSEMBLE_BYTES)} kept, "
            f"{MAX_REPLICATIONS:,} replications)"
        )
    return None


def max_replications(horizon_d: float) -> int:
    """The largest replication count accepted for a horizon of ``horizon_d`` days."""
    per = ensemble_estimate(1, horizon_d).memory_bytes
    return int(min(MAX_REPLICATIONS, MAX_ENSEMBLE_BYTES // per))


UNLIMITED = math.inf
"""Storage capacity written as ``unlimited`` in a file."""


def _grade(info: ValidationInfo) -> Grade:
    context = info.context or {}
    return context.get("grade") or Grade()


def quantity(
    dimension: str,
    *,
    minimum: float | None = None,
    exclusive: bool = False,
    maximum: float | None = None,
    stochastic: bool = False,
    unlimited: bool = False,
) -> Any:
    """An annotated float field of ``dimension`` that reads units and checks bounds.

    ``stochastic`` also accepts a ``{dist: ...}`` mapping (see distributions.py);
    ``unlimited`` accepts the word ``unlimited`` (infinity).
    """
    unit = DIMENSIONS[dimension]
    suffix = "" if unit == "1" else f" {unit}"

    def check(number: float, what: str = "") -> float:
        label = what or "value"
        if minimum is not None and (number <= minimum if exclusive else number < minimum):
            relation = ">" if exclusive else ">="
            raise ValueError(f"{label} must be {relation} {minimum:g}{suffix}, got {number:g}")
        if maximum is not None and number > maximum:
            raise ValueError(f"{label} must be <= {maximum:g}{suffix}, got {number:g}")
        return number

    def validate(value: Any, info: ValidationInfo) -> float | Distribution:
        if isinstance(value, Distribution):
            return value
        if isinstance(value, float) and math.isinf(value) and unlimited and value > 0:
            return value
        if unlimited and isinstance(value, str) and value.strip().lower() == "unlimited":
            return math.inf
        if isinstance(value, dict):
            if not stochastic:
                raise ValueError(f"expected a {dimension}, not a mapping (distributions are allowed in shocks only)")
            dist = parse_distribution(value, dimension, _grade(info))
            lowest, highest = dist.support()
            if minimum is not None and not (dist.dist == "lognormal" and minimum <= 0):
                check(lowest, f"the lowest value of the {dist.dist} distribution")
            if maximum is not None:
                if math.isinf(highest):
                    raise ValueError(f"the {dist.dist} distribution is unbounded above; values must be <= {maximum:g}")
                check(highest, f"the highest value of the {dist.dist} distribution")
            return dist
        try:
            number = parse_quantity(
                value, dimension, _grade(info), require_unit=bool((info.context or {}).get("require_units"))
            )
        except UnitError as exc:
            raise ValueError(str(exc)) from None
        return check(number)

    def serialize(value: float | Distribution) -> Any:
        if isinstance(value, Distribution):
            return value.describe()
        if isinstance(value, float) and math.isinf(value):
            return "unlimited"
        return value

    number_or_text: dict[str, Any] = {
        "anyOf": [
            {"type": "number"},
            {"type": "string", "description": f"a {dimension} with a unit, converted to {unit}"},
        ]
    }
    if stochastic:
        number_or_text["anyOf"].append(DISTRIBUTION_JSON_SCHEMA)
    return Annotated[
        Any,
        PlainValidator(validate),
        PlainSerializer(serialize),
        WithJsonSchema(number_or_text),
    ]


Mass = quantity("mass", minimum=0)
PositiveMass = quantity("mass", minimum=0, exclusive=True)
StorageCapacity = quantity("mass", minimum=0, unlimited=True)
Duration = quantity("duration", minimum=0)
PositiveDuration = quantity("duration", minimum=0, exclusive=True)
Rate = quantity("rate", minimum=0)
PositiveRate = quantity("rate", minimum=0, exclusive=True)
RateLimit = quantity("rate", minimum=0, unlimited=True)
Price = quantity("price", minimum=0)
Fraction = quantity("fraction", minimum=0, maximum=1)
PositiveFraction = quantity("fraction", minimum=0, exclusive=True, maximum=1)
Count = Annotated[int, Field(strict=True, ge=0, le=10_000)]
PositiveCount = Annotated[int, Field(strict=True, ge=1, le=10_000)]
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")]

StochasticDuration = quantity("duration", minimum=0, stochastic=True)
StochasticFraction = quantity("fraction", minimum=0, maximum=1, stochastic=True)
StochasticMultiplier = quantity("fraction", minimum=1, stochastic=True)


def _date_not_number(value: Any) -> Any:
    """Refuse numbers for dates: pydantic would read 20220701 as seconds since 1970."""
    if isinstance(value, bool | int | float):
        raise ValueError(f"expected a date like 2022-07-06, got the number {value!r}")
    return value


Date = Annotated[dt.date, BeforeValidator(_date_not_number)]


class _Model(BaseModel):
    """Base: unknown keys are errors, objects are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class GradeSpec(_Model):
    """The crude grade, for converting barrels and cubic metres to tonnes."""

    name: str = Field("crude", description="Name of the grade (e.g. CPC Blend).")
    bbl_per_t: float = Field(
        7.5, gt=3, lt=12, description="Barrels per tonne (Reuters uses 7.5 for Kazakh crude; CPC Blend ~7.9)."
    )
    t_per_m3: float = Field(0.79, gt=0.5, lt=1.2, description="Density in tonnes per cubic metre.")


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
    description: str = Field("", description="What this source stands for, with sources of the figures.")

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
        description="Time a tanker holds a berth besides pumping: mooring, hose connection, paperwork, unmooring.",
    )

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
        0.0, description="Days from the first need to divert until the route takes extra volume."
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
    ports: dict[Name, PortSpec] = Field(default_factory=dict, description="Loading ports.")
    legs: dict[Name, Leg] = Field(min_length=1, description="Transport legs.")
    routes: dict[Name, RouteSpec] = Field(min_length=1, description="Routes from sources to markets.")
    markets: dict[Name, MarketSpec] = Field(min_length=1, description="Export markets.")

    @classmethod
    def model_validate(cls, obj: Any, *, context: dict | None = None, **kwargs: Any) -> Network:
        """Validate, converting barrels with the grade the network declares."""
        return super().model_validate(obj, context=_with_grade(obj, context, None), **kwargs)

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


def _with_grade(data: Any, context: dict | None, network_key: str | None) -> dict:
    """A validation context holding the grade declared in ``data`` (so barrels convert right)."""
    context = dict(context or {})
    if "grade" not in context:
        network = data.get(network_key) if network_key and isinstance(data, dict) else data
        raw = network.get("grade") if isinstance(network, dict) else None
        if isinstance(raw, dict):
            try:
                spec = GradeSpec.model_validate(raw)
                context["grade"] = Grade(bbl_per_t=spec.bbl_per_t, t_per_m3=spec.t_per_m3)
            except ValueError:
                pass  # the grade's own errors are reported when the network is validated
    return context


ShockKind = Literal["outage", "closure", "slowdown", "production", "weather", "derate"]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
"""Month keys of a recurring shock's rate (full English names are read too)."""

_MONTH_NAMES = {
    **{m.lower(): m for m in MONTHS},
    **{
        full.lower(): MONTHS[i]
        for i, full in enumerate(
            (
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            )
        )
    },
}

MAX_OCCURRENCES = 10_000
"""Most occurrences the recurring shocks of a scenario may expect over its horizon: each one is a
realized shock in summaries and manifests, and more than this is a typo in a rate, not weather."""

MIN_DERATE = 0.1
"""Smallest cargo factor a derate accepts: below it tankers would shuttle crumbs (use an outage)."""

_PER_MONTH = re.compile(
    r"^\s*(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:/\s*(?:month|mo)|per\s+month)?\s*$"
)


def _events_per_month(value: Any) -> float:
    """Read an event rate: a number or ``"N /month"``, meaning N occurrences expected per calendar month."""
    expected = 'expected occurrences per calendar month, e.g. 2 or "2 /month"'
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"got {value!r}; {expected}")
    if isinstance(value, str):
        match = _PER_MONTH.match(value)
        if not match:
            raise ValueError(f"cannot read {value!r} as a rate per month; {expected}")
        value = match["num"]
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"the number is far too large; {expected}") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number; {expected}")
    if number < 0:
        raise ValueError(f"a rate must be >= 0 per month, got {number:g}")
    return number


EventRate = Annotated[
    float,
    PlainValidator(_events_per_month),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "description": "occurrences per calendar month, e.g. '2 /month'"},
            ]
        }
    ),
]


def _days_in_month(year: int, month: int) -> int:
    """Days in a calendar month."""
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.date(year, month, 1)).days


class RecurringSpec(_Model):
    """A shock that recurs: occurrences form a Poisson process with a rate per calendar month."""

    rate: dict[str, EventRate] = Field(
        min_length=1,
        description=(
            "Occurrences expected per calendar month, by month (Jan..Dec or full names): a number or '2 /month'. "
            "Months not named have rate 0. Within a month the rate is uniform (per day: rate / days in the month)."
        ),
    )
    duration: StochasticDuration = Field(
        description="How long each occurrence lasts; a distribution is drawn anew for each."
    )

    @field_validator("rate", mode="after")
    @classmethod
    def _known_months(cls, rate: dict[str, float]) -> dict[str, float]:
        problems, out = [], {}
        for key, value in rate.items():
            month = _MONTH_NAMES.get(str(key).strip().lower())
            if month is None:
                from difflib import get_close_matches

                near = get_close_matches(str(key).lower(), list(_MONTH_NAMES), n=1)
                hint = f"did you mean {_MONTH_NAMES[near[0]]!r}?" if near else f"expected one of {', '.join(MONTHS)}"
                problems.append(f"@{key}: unknown month {key!r}; {hint}")
            elif month in out:
                problems.append(f"@{key}: {month} is given twice")
            else:
                out[month] = value
        if problems:
            raise ValueError("\n".join(problems))
        return {m: out[m] for m in MONTHS if m in out}

    def segments(self, start_date: dt.date, horizon_d: float) -> list[tuple[float, float, float]]:
        """(start day, end day, occurrences per day) for each calendar month the horizon touches."""
        out = []
        year, month, day0 = start_date.year, start_date.month, 0.0
        first = start_date.day - 1  # days of the first month before start_date
        while day0 < horizon_d:
            days = _days_in_month(year, month)
            end = min(horizon_d, day0 + days - first)
            out.append((day0, end, self.rate.get(MONTHS[month - 1], 0.0) / days))
            day0, first = end, 0
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    def expected(self, start_date: dt.date, horizon_d: float) -> float:
        """Occurrences expected over the horizon (the integral of the rate)."""
        return sum((end - start) * per_day for start, end, per_day in self.segments(start_date, horizon_d))


class Shock(_Model):
    """A change to the network over a time window; numbers may be distributions."""

    name: str = Field("", description="A label for tables and plots.")
    kind: ShockKind = Field(
        description=(
            "outage: capacity factor on a leg, port, pump station (LEG.STATION) or source; "
            "closure: a route or market forbidden; slowdown: transit time multiplied; "
            "production: a source's rate cut; weather: a port closed; "
            "derate: a sea leg's tankers load only factor x cargo (e.g. low water)."
        )
    )
    target: str = Field(
        min_length=1, description="The component hit: a leg, port, LEG.STATION, source, route or market."
    )
    start: Date | StochasticDuration | None = Field(
        None, description="A date, or days after start_date ('5 d'). Required unless the shock is recurring."
    )
    duration: StochasticDuration | None = Field(
        None, description="How long it lasts. Required unless the shock is recurring (then recurring.duration)."
    )
    recurring: RecurringSpec | None = Field(
        None,
        description=(
            "Instead of start and duration: occurrences drawn as a Poisson process with a seasonal rate "
            "(thinning by calendar month), each lasting recurring.duration."
        ),
    )
    factor: StochasticFraction | None = Field(
        None,
        description=(
            "Capacity left during the shock (0 = fully out). For outage and production; default 0. "
            f"For derate (required): the fraction of a cargo tankers load, at least {MIN_DERATE:g}."
        ),
    )
    berths_out: Count | None = Field(
        None, description="For a port outage: berths/moorings out of service (instead of factor)."
    )
    multiplier: StochasticMultiplier | None = Field(
        None, description="For slowdown: transit time multiplied by this (>= 1)."
    )
    ramp: Duration = Field(0.0, description="For production: days to ramp back to full after the shock ends.")
    probability: Fraction = Field(
        1.0, description="Chance the shock happens at all (e.g. a court order upheld on appeal). Not with recurring."
    )
    background: bool = Field(
        False,
        strict=True,
        description=(
            "Part of the world, not of the scenario: applied to the baseline too, with the same draws, so the "
            "reported loss is the other shocks' effect alone (e.g. seasonal weather, low water)."
        ),
    )
    description: str = Field("", description="What happened or is assumed, with sources.")

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Shock:
        problems = []
        if self.recurring is not None:
            if self.start is not None:
                problems.append("@start: give either start or recurring, not both (occurrences start at random)")
            if self.duration is not None:
                problems.append("@duration: a recurring shock's occurrences last recurring.duration; move it there")
            if self.probability != 1.0:
                problems.append("@probability: not with recurring (the rate says how often); scale the rates instead")
        else:
            if self.start is None:
                problems.append("@start: required key is missing (or give recurring: for a recurring shock)")
            if self.duration is None:
                problems.append("@duration: required key is missing (or give recurring: for a recurring shock)")
        if self.kind == "derate":
            if self.factor is None:
                problems.append(f"@factor: a derate needs a factor (the fraction of a cargo loaded, >= {MIN_DERATE:g})")
            else:
                lowest = self.factor.support()[0] if isinstance(self.factor, Distribution) else self.factor
                if lowest < MIN_DERATE:
                    problems.append(
                        f"@factor: a derate loads at least {MIN_DERATE:g} of a cargo, got {lowest:g} "
                        "(a leg that loads nothing is an outage)"
                    )
        if problems:
            raise ValueError("\n".join(problems))
        if self.multiplier is not None and self.kind != "slowdown":
            raise ValueError(f"multiplier applies to slowdown shocks, not {self.kind}")
        if self.kind == "slowdown" and self.multiplier is None:
            raise ValueError("a slowdown needs a multiplier (>= 1)")
        if self.factor is not None and self.kind not in ("outage", "production", "derate"):
            raise ValueError(f"factor applies to outage, production and derate shocks, not {self.kind}")
        if self.berths_out is not None and self.kind != "outage":
            raise ValueError("berths_out applies to outage shocks of a port")
        if self.berths_out is not None and self.factor is not None:
            raise ValueError("give either factor or berths_out, not both")
        if self.ramp and self.kind != "production":
            raise ValueError("ramp applies to production shocks")
        return self


class RecoverySpec(_Model):
    """How 'recovered' is judged: daily exports within a tolerance of the baseline."""

    tolerance: Fraction = Field(0.02, description="Relative tolerance on windowed exports (default 2 %).")
    window: PositiveDuration = Field(7.0, description="Window over which daily exports are compared.")


# --- observed figures (backtests) --------------------------------------------------------

IMPACT_METRICS: dict[str, str] = {
    "exported_t": "mass",
    "baseline_exported_t": "mass",
    "lost_export_t": "mass",
    "lost_shut_in_t": "mass",
    "lost_production_outage_t": "mass",
    "lost_inventory_t": "mass",
    "deferred_t": "mass",
    "peak_deficit_t": "mass",
    "shut_in_t": "mass",
    "rerouted_t": "mass",
    "peak_storage_t": "mass",
    "days_storage_full_d": "duration",
    "time_to_survive_d": "duration",
    "time_to_recover_d": "duration",
}
"""Whole-run metrics (keys of ``Impact.values``) an observed figure may name, with their dimension.

Barrel metrics are not listed: write a figure reported in barrels on the tonne metric with a
barrel unit (``lost_export_t: "30 Mbbl"``); it is converted with the network's grade.
"""

WINDOW_METRICS: dict[str, tuple[str, str]] = {
    "loaded_t": ("mass", "loading"),
    "loading_rate": ("rate", "loading"),
    "loading_ratio": ("fraction", "loading"),
    "loading_loss_t": ("mass", "loading"),
    "loading_stop_d": ("duration", "loading"),
    "tank_full_after_d": ("duration", "tank"),
    "production_rate": ("rate", "production"),
    "production_loss_t": ("mass", "production"),
    "min_production_ratio": ("fraction", "production"),
    "shut_in_window_t": ("mass", "production"),
}
"""Metrics of the daily series over a ``window`` (dates, both included): name -> (dimension, target kind).

loading (``target``: a sea leg that delivers to a market; tonnes loaded per day are what
goes aboard its tankers): ``loaded_t`` total loaded; ``loading_rate`` mean t/d loaded;
``loading_ratio`` loaded / the baseline's loaded; ``loading_loss_t`` baseline's loaded -
loaded; ``loading_stop_d`` longest run of consecutive days with nothing loaded.
tank (``target``: a leg with inlet tanks): ``tank_full_after_d`` days from the window's
start to the first day the tanks are at least 99 % full (none if they never are).
production (``target``: a source, a list of sources, or omitted for all):
``production_rate`` mean t/d produced; ``production_loss_t`` baseline's produced - produced;
``min_production_ratio`` lowest daily produced / baseline's produced; ``shut_in_window_t``
shut-in above the baseline's (production held back for lack of an outlet, not outages).
"""

OBSERVED_METRICS: dict[str, str] = {**IMPACT_METRICS, **{k: v[0] for k, v in WINDOW_METRICS.items()}}
"""Every metric an observed figure may name, with the dimension its value is read in."""

_OBSERVED_QUANTITIES = {dimension: quantity(dimension) for dimension in set(OBSERVED_METRICS.values())}

Confidence = Literal["H", "M", "L", "D", "U"]
Tolerance = quantity("fraction", minimum=0)


class ObservedWindow(_Model):
    """The days a windowed metric covers (both dates included)."""

    start: Date = Field(description="First day of the window.")
    end: Date = Field(description="Last day of the window (included).")

    @model_validator(mode="after")
    def _ordered(self) -> ObservedWindow:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self


_REPORTED_JSON = {
    "anyOf": [
        {"type": "number"},
        {"type": "string", "description": "a quantity with a unit, in the metric's dimension (e.g. '3.5 Mt', '5 d')"},
        {"type": "null"},
    ]
}


class ObservedFigure(_Model):
    """A reported figure a backtest compares with the model's value of ``metric``."""

    metric: str = Field(
        description=(
            "What is compared: a whole-run metric (a key of the impact table: lost_export_t, "
            "time_to_survive_d, ...) or a windowed metric of the daily series (loaded_t, loading_rate, "
            "loading_ratio, loading_loss_t, loading_stop_d, tank_full_after_d, production_rate, "
            "production_loss_t, min_production_ratio, shut_in_window_t); see sim/scenario/schema.py."
        ),
        json_schema_extra={"enum": sorted(OBSERVED_METRICS)},
    )
    target: str | list[str] | None = Field(
        None,
        description=(
            "For windowed metrics: the sea leg (loading metrics), the leg with inlet tanks (tank metric), "
            "or the source(s) (production metrics; omitted = all sources)."
        ),
    )
    window: ObservedWindow | None = Field(None, description="Days a windowed metric covers; required for those.")
    value: Annotated[float | None, WithJsonSchema(_REPORTED_JSON)] = Field(
        None, description="The reported value, with a unit of the metric's dimension (or give low/high)."
    )
    low: Annotated[float | None, WithJsonSchema(_REPORTED_JSON)] = Field(
        None, description="Lower end of a reported range (alone: 'at least')."
    )
    high: Annotated[float | None, WithJsonSchema(_REPORTED_JSON)] = Field(
        None, description="Upper end of a reported range (alone: 'at most')."
    )
    tolerance: Tolerance = Field(
        description="Relative tolerance: the model agrees if within value x (1 +/- tolerance), or the range widened so."
    )
    why: str = Field(min_length=1, description="One line justifying the tolerance.")
    source: str = Field(min_length=1, description="URL of the report (or 'D: ...' for a derived figure).")
    date: Date | None = Field(None, description="Date of the report.")
    confidence: Confidence = Field(
        description="Confidence grade of the figure as in the reference: H, M, L, D (derived) or U (unverified)."
    )
    note: str = Field("", description="Quote, derivation, or caveat.")

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        if metric not in OBSERVED_METRICS:
            from difflib import get_close_matches

            near = get_close_matches(metric, list(OBSERVED_METRICS), n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"expected one of: {', '.join(sorted(OBSERVED_METRICS))}"
            raise ValueError(f"unknown metric {metric!r}; {hint}")
        return metric

    @field_validator("value", "low", "high", mode="plain")
    @classmethod
    def _reported_quantity(cls, raw: Any, info: ValidationInfo) -> float | None:
        if raw is None:
            return None
        metric = info.data.get("metric")
        if metric is None:
            return None  # the metric's own error is reported; the value cannot be read without it
        dimension = OBSERVED_METRICS[metric]
        try:
            return TypeAdapter(_OBSERVED_QUANTITIES[dimension]).validate_python(raw, context=info.context)
        except ValidationError as exc:
            message = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
            raise ValueError(f"{message} ({metric} is a {dimension})") from None

    @model_validator(mode="after")
    def _consistent(self) -> ObservedFigure:
        if self.value is None and self.low is None and self.high is None:
            raise ValueError("give the reported value, or low and/or high")
        if self.value is not None and (self.low is not None or self.high is not None):
            raise ValueError("give either value or low/high, not both")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low:g}) is above high ({self.high:g})")
        windowed = self.metric in WINDOW_METRICS
        if windowed and self.window is None:
            raise ValueError(f"{self.metric} is measured over a window: give window.start and window.end")
        if not windowed and (self.window is not None or self.target is not None):
            raise ValueError(f"{self.metric} covers the whole run: it takes no window or target")
        if windowed and WINDOW_METRICS[self.metric][1] != "production" and not isinstance(self.target, str):
            raise ValueError(f"{self.metric} needs a target: one leg name")
        return self

    def targets(self) -> list[str]:
        """The target as a list of names (empty: all sources)."""
        if self.target is None:
            return []
        return [self.target] if isinstance(self.target, str) else list(self.target)


class Scenario(_Model):
    """A run: a network, a horizon from a start date, a seed, a price and shocks."""

    name: str = Field(description="Scenario name (used for the results folder).")
    description: str = Field("", description="The question this scenario answers.")
    network: Network = Field(description="The network, inline or as a path to a network file (with overrides).")
    start_date: Date = Field(description="First simulated day.")
    horizon: PositiveDuration = Field(description="Simulated length (e.g. '365 d').")
    seed: int = Field(0, strict=True, ge=0, lt=2**63, description="Root seed; fixes every random draw.")
    replications: int = Field(
        1,
        strict=True,
        description=(
            "Replications to run (an ensemble when more than 1): each draws its shocks from its own "
            "streams of the seed; results give mean, P10/P50/P90 per metric. 'routesim run -n' overrides it. "
            f"At most {MAX_REPLICATIONS:,} and about {MAX_ENSEMBLE_BYTES // 2**30} GiB of kept results."
        ),
    )
    price: Price = Field(0.0, description="Crude price for revenue (e.g. '100 USD/bbl').")
    recovery: RecoverySpec = Field(default_factory=RecoverySpec, description="Recovery criterion.")
    shocks: list[Shock] = Field(default_factory=list, description="Shocks injected into the network.")
    observed: dict[str, ObservedFigure] = Field(
        default_factory=dict,
        description="Reported figures a backtest compares with the model (routesim backtest), by figure name.",
    )

    @classmethod
    def model_validate(cls, obj: Any, *, context: dict | None = None, **kwargs: Any) -> Scenario:
        """Validate, converting barrels with the grade the scenario's network declares."""
        return super().model_validate(obj, context=_with_grade(obj, context, "network"), **kwargs)

    @field_validator("replications")
    @classmethod
    def _replications_fit(cls, value: int, info: ValidationInfo) -> int:
        horizon = info.data.get("horizon")
        problem = replications_problem(value, horizon if isinstance(horizon, float) else None)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _shocks_fit(self) -> Scenario:
        from sim.scenario.targets import resolve_target

        problems = []
        net = self.network
        columns = 4 * len(net.routes) + 5 * len(net.sources) + 2 * len(net.legs) + 6
        estimate = self.horizon * columns * 8 * 3  # float64 series, scenario + baseline + CSV text
        if self.horizon > MAX_HORIZON_D or estimate > MAX_SERIES_BYTES:
            problems.append(
                f"@horizon: {self.horizon:g} d would need about {estimate / 2**20:,.0f} MiB of daily series "
                f"and a run of {self.horizon / 365:,.0f} years; refusing (at most {MAX_HORIZON_D:g} d)"
            )
        occurrences = 0.0
        for i, shock in enumerate(self.shocks):
            where = f"shocks.{i}"
            try:
                resolve_target(self.network, shock)
            except ValueError as exc:
                problems.append(f"@{where}.target: {exc}")
            if isinstance(shock.start, dt.date):
                offset = (shock.start - self.start_date).days
                if offset < 0:
                    problems.append(f"@{where}.start: {shock.start} is before start_date {self.start_date}")
                elif offset >= self.horizon:
                    problems.append(f"@{where}.start: {shock.start} is after the horizon ends")
            elif isinstance(shock.start, float) and shock.start >= self.horizon:
                problems.append(f"@{where}.start: day {shock.start:g} is not inside the horizon ({self.horizon:g} d)")
            if shock.recurring is not None and self.horizon <= MAX_HORIZON_D:
                expected = shock.recurring.expected(self.start_date, self.horizon)
                occurrences += expected
                if occurrences > MAX_OCCURRENCES:
                    problems.append(
                        f"@{where}.recurring.rate: the recurring shocks would have about {occurrences:,.0f} "
                        f"occurrences over the horizon ({expected:,.0f} from this one); refusing more than "
                        f"{MAX_OCCURRENCES:,} (a rate is per calendar month)"
                    )
                    occurrences = -math.inf  # report once
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _observed_fit(self) -> Scenario:
        problems = []
        net = self.network
        last_legs = {route.legs[-1] for route in net.routes.values()}
        end = self.start_date + dt.timedelta(days=math.ceil(self.horizon - 1e-9) - 1)
        for name, figure in self.observed.items():
            where = f"observed.{name}"
            if figure.window is not None:
                for key in ("start", "end"):
                    day = getattr(figure.window, key)
                    if not self.start_date <= day <= end:
                        problems.append(f"@{where}.window.{key}: {day} is outside the run ({self.start_date} to {end})")
            kind = WINDOW_METRICS.get(figure.metric, ("", ""))[1]
            for target in figure.targets():
                if kind == "production" and target not in net.sources:
                    known = ", ".join(sorted(net.sources))
                    problems.append(f"@{where}.target: no source named {target!r}; known: {known}")
                elif kind == "loading" and not (isinstance(net.legs.get(target), SeaLeg) and target in last_legs):
                    known = ", ".join(
                        sorted(n for n, leg in net.legs.items() if isinstance(leg, SeaLeg) and n in last_legs)
                    )
                    problems.append(
                        f"@{where}.target: {target!r} is not a sea leg that delivers to a market; known: {known}"
                    )
                elif kind == "tank" and (target not in net.legs or net.legs[target].inlet_storage is None):
                    known = ", ".join(sorted(n for n, leg in net.legs.items() if leg.inlet_storage is not None))
                    problems.append(f"@{where}.target: {target!r} is not a leg with inlet tanks; known: {known}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def start_offset(self, shock: Shock) -> float | Distribution:
        """The shock's start as days after start_date (a number or a distribution)."""
        if shock.start is None:
            raise ValueError(f"shock {shock.name or shock.kind!r} recurs: it has no single start")
        if isinstance(shock.start, dt.date):
            return float((shock.start - self.start_date).days)
        return shock.start
