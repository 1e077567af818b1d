"""Quantities with units as pydantic types: mass, duration, rate, price, fraction, and dates.

A value such as "67 Mt/yr" or "30 d" is parsed and stored in canonical units (t, d, t/d, USD/t);
barrels and cubic metres convert with the grade passed in the validation context. Stochastic
variants also accept a distribution (``{dist: lognormal, ...}``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
)

from sim.scenario.distributions import DISTRIBUTION_JSON_SCHEMA, Distribution, parse_distribution
from sim.units import DAYS_PER_YEAR, DIMENSIONS, Grade, UnitError, parse_quantity

__all__ = [
    "EARLIEST_DATE",
    "LATEST_DATE",
    "MOMENT_FORMS",
    "PHYSICAL_MAX",
    "UNLIMITED",
    "Count",
    "Date",
    "Duration",
    "Fraction",
    "Horizon",
    "Mass",
    "Moment",
    "Name",
    "PositiveCount",
    "PositiveDuration",
    "PositiveFraction",
    "PositiveMass",
    "PositiveRate",
    "Price",
    "Rate",
    "RateLimit",
    "StochasticDuration",
    "StochasticFraction",
    "StochasticMultiplier",
    "StorageCapacity",
    "looks_like_a_moment",
    "parse_moment",
    "quantity",
    "timezone_offset",
]

UNLIMITED = math.inf
"""Storage capacity written as ``unlimited`` in a file."""

PHYSICAL_MAX = {
    "mass": (1e10, "10,000 Mt"),
    "rate": (1e10 / DAYS_PER_YEAR, "10,000 Mt/yr"),
    "duration": (36_500.0, "100 years (36,500 d)"),
    "price": (1e6, "1,000,000 USD/t"),
    "fraction": (1e6, "1,000,000"),
}
"""Largest value of each dimension that any real network could hold (far above the world's total):
a larger number is a typo, and would overflow the engine's arithmetic."""

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2200, 12, 31)
"""Dates a scenario may name (later dates plus a horizon would overflow the calendar)."""


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
        physical, text = PHYSICAL_MAX.get(dimension, (math.inf, ""))
        if maximum is None and number > physical:
            raise ValueError(
                f"{label} {number:g}{suffix} is beyond any real network; expected at most {text} (a physical limit)"
            )
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
Horizon = quantity(
    "duration", minimum=1, maximum=math.inf
)  # the longest: MAX_HORIZON_D, checked with its memory estimate
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


def _date_in_range(value: dt.date) -> dt.date:
    """Refuse dates far from any real scenario (they would overflow date arithmetic)."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"{value} is out of range; expected a date from {EARLIEST_DATE} to {LATEST_DATE}")
    return value


Date = Annotated[dt.date, BeforeValidator(_date_not_number), AfterValidator(_date_in_range)]

_MOMENT = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?"
    r"\s*(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)
_LOOKS_LIKE_A_DATE = re.compile(r"\s*[0-9]{4}-[0-9]")

MOMENT_FORMS = "YYYY-MM-DD, YYYY-MM-DDTHH:MM (in the scenario's timezone) or YYYY-MM-DDTHH:MM+03:00"
"""The forms a shock's start or end may take as a point in time, for messages."""


def parse_moment(value: Any) -> dt.date | dt.datetime:
    """A date, or a date and time: naive (read in the scenario's timezone) or with a UTC offset.

    Accepts what YAML already turned into a date or datetime, and text such as ``2022-03-22``,
    ``2022-03-22 14:00``, ``2022-03-22T14:00+03:00`` or ``...Z``; anything else is refused with the
    forms it may take.
    """
    if isinstance(value, dt.datetime):
        moment: dt.date | dt.datetime = value
    elif isinstance(value, dt.date):
        moment = value
    elif isinstance(value, str) and (match := _MOMENT.fullmatch(value.strip())):
        text = match["date"] + (f"T{match['time']}" if match["time"] else "")
        zone = match["zone"]
        if zone:
            zone = "+00:00" if zone == "Z" else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
            text += zone if match["time"] else ""
            if not match["time"]:
                raise ValueError(
                    f"cannot read {value!r} as a point in time: a UTC offset needs a time; expected {MOMENT_FORMS}"
                )
        try:
            moment = dt.datetime.fromisoformat(text) if match["time"] else dt.date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"cannot read {value!r} as a point in time ({exc}); expected {MOMENT_FORMS}") from None
    else:
        raise ValueError(f"cannot read {value!r} as a point in time; expected {MOMENT_FORMS}")
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError(f"{day} is out of range; expected a date from {EARLIEST_DATE} to {LATEST_DATE}")
    return moment


def looks_like_a_moment(value: Any) -> bool:
    """Whether a value is meant as a date or time (rather than an offset such as '5 d')."""
    return isinstance(value, dt.date) or (isinstance(value, str) and bool(_LOOKS_LIKE_A_DATE.match(value)))


def _serialize_moment(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


Moment = Annotated[
    Any,
    PlainValidator(parse_moment),
    PlainSerializer(_serialize_moment),
    WithJsonSchema(
        {
            "type": "string",
            "description": f"a date or a date and time: {MOMENT_FORMS}",
        }
    ),
]
"""A point in time: a date (midnight) or a date and time, naive or with a UTC offset."""


def timezone_offset(value: Any) -> dt.timezone:
    """A fixed UTC offset from 'UTC', 'Z', '+03:00' or '+0500'."""
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in ("UTC", "Z"):
            return dt.UTC
        match = re.fullmatch(r"(?:UTC)?([+-])(\d{2}):?(\d{2})", text, flags=re.IGNORECASE)
        if match:
            sign = 1 if match[1] == "+" else -1
            hours, minutes = int(match[2]), int(match[3])
            if hours <= 14 and minutes < 60:
                return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    raise ValueError(f"cannot read {value!r} as a time zone; expected a UTC offset such as '+03:00', or 'UTC'")


class _Model(BaseModel):
    """Base: unknown keys are errors, objects are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
