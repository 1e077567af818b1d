"""Shocks as written in a scenario file: kind, target, timing (one-off or recurring) and magnitude."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sim.scenario.distributions import DISTRIBUTION_JSON_SCHEMA, Distribution
from sim.scenario.quantities import (
    MOMENT_FORMS,
    Count,
    Duration,
    Fraction,
    Moment,
    StochasticDuration,
    StochasticFraction,
    StochasticMultiplier,
    _Model,
    looks_like_a_moment,
    parse_moment,
)

__all__ = ["MAX_OCCURRENCES", "MIN_DERATE", "MONTHS", "EventRate", "RecurringSpec", "Shock", "ShockKind", "ShockStart"]

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


_duration_validator = StochasticDuration.__metadata__[0].func
_duration_serializer = StochasticDuration.__metadata__[1].func


def _start(value: Any, info: ValidationInfo) -> Any:
    """A shock's start: a point in time (date, date and time) or an offset from start_date ('5 d')."""
    return parse_moment(value) if looks_like_a_moment(value) else _duration_validator(value, info)


def _serialize_start(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else _duration_serializer(value)


ShockStart = Annotated[
    Any,
    PlainValidator(_start),
    PlainSerializer(_serialize_start),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "description": f"a point in time: {MOMENT_FORMS}"},
                {"type": "number"},
                {"type": "string", "description": "days after start_date, with a unit ('5 d')"},
                DISTRIBUTION_JSON_SCHEMA,
            ]
        }
    ),
]
"""When a shock starts: a date, a date and time, or days after start_date (a number or a distribution)."""


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
    start: ShockStart | None = Field(
        None,
        description=(
            "A date (midnight), a date and time ('2022-03-22T14:00', in the scenario's timezone, or with a UTC "
            "offset: '2022-03-22T14:00+03:00'), or days after start_date ('5 d'). Required unless the shock recurs."
        ),
    )
    duration: StochasticDuration | None = Field(
        None,
        description="How long it lasts. Required unless the shock gives end, or recurs (then recurring.duration).",
    )
    end: Moment | None = Field(
        None,
        description=(
            "Instead of duration: when the shock ends, a date (midnight) or a date and time, as start. "
            "Needs start as a date or a date and time."
        ),
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
    notice: Duration = Field(
        0.0,
        description=(
            "How long before the start the operators know of it (a storm warning, a court date): fields "
            "whose response is cut_at_level or follow_outlet start cutting then, if it closes their outlet."
        ),
    )
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
            if self.end is not None:
                problems.append("@end: a recurring shock's occurrences last recurring.duration; remove end")
            if self.probability != 1.0:
                problems.append("@probability: not with recurring (the rate says how often); scale the rates instead")
        else:
            if self.start is None:
                problems.append("@start: required key is missing (or give recurring: for a recurring shock)")
            if self.duration is None and self.end is None:
                problems.append(
                    "@duration: required key is missing (or give end:, or recurring: for a recurring shock)"
                )
            elif self.duration is not None and self.end is not None:
                problems.append("@end: give either duration or end, not both")
            elif self.end is not None and not isinstance(self.start, dt.date):
                problems.append(
                    "@end: needs start as a date or a date and time (an end cannot follow a start given in days)"
                )
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
