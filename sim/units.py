"""Quantities with units, as written in scenario files ("67 Mt/yr", "30 d", "1.5 Mbbl/d").

Every quantity is converted to one canonical unit per dimension: tonnes (t) for mass,
days (d) for time, t/d for flow rates, USD per tonne for prices and costs, and plain
numbers for fractions. Volumes (barrels, cubic metres) become tonnes through the crude
grade's conversion factors, which the caller passes in: a barrel is not a fixed mass.

We parse units ourselves instead of using pint: the vocabulary is small, and pint reads
``kt`` as knot and ``Mbbl`` ambiguously.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "DAYS_PER_YEAR",
    "DIMENSIONS",
    "Grade",
    "UnitError",
    "format_quantity",
    "parse_quantity",
]

DAYS_PER_YEAR = 365.0
"""Days in a year for rate conversions (the reference tables use 365 d/yr)."""


class UnitError(ValueError):
    """A quantity could not be read, or has the wrong dimension for its field."""


@dataclass(frozen=True)
class Grade:
    """Conversion factors of one crude grade: barrels per tonne and tonnes per m³."""

    bbl_per_t: float = 7.5
    t_per_m3: float = 0.79


_MASS = {"t": 1.0, "kt": 1e3, "Mt": 1e6, "kg": 1e-3}
_VOLUME_BBL = {"bbl": 1.0, "b": 1.0, "kbbl": 1e3, "kb": 1e3, "Mbbl": 1e6, "mbbl": 1e6}
_VOLUME_M3 = {"m3": 1.0, "m³": 1.0, "km3": 1e3, "Mm3": 1e6}
_TIME = {
    "s": 1 / 86400,
    "min": 1 / 1440,
    "h": 1 / 24,
    "hr": 1 / 24,
    "d": 1.0,
    "day": 1.0,
    "days": 1.0,
    "wk": 7.0,
    "week": 7.0,
    "weeks": 7.0,
    "month": DAYS_PER_YEAR / 12,
    "months": DAYS_PER_YEAR / 12,
    "mo": DAYS_PER_YEAR / 12,
    "yr": DAYS_PER_YEAR,
    "y": DAYS_PER_YEAR,
    "a": DAYS_PER_YEAR,
    "year": DAYS_PER_YEAR,
    "years": DAYS_PER_YEAR,
}
_MONEY = {"USD": 1.0, "$": 1.0, "kUSD": 1e3, "MUSD": 1e6}

DIMENSIONS = {
    "mass": "t",
    "duration": "d",
    "rate": "t/d",
    "price": "USD/t",
    "fraction": "1",
    "count": "1",
}
"""The dimensions a field may have, with the canonical unit values are converted to."""

_EXAMPLES = {
    "mass": '"0.8 Mt", "120 kt", "1e6 m3", "5 Mbbl"',
    "duration": '"30 d", "8 h", "2 wk"',
    "rate": '"67 Mt/yr", "180 kt/d", "1.5 Mbbl/d", "12000 t/h"',
    "price": '"80 USD/bbl", "38 USD/t"',
    "fraction": 'a number such as 0.5, or a percentage such as "50 %"',
    "count": "a whole number",
}

_UNIT_HINT = {"mass": "kt", "duration": "d", "rate": "kt/d", "price": "USD/bbl"}
"""The unit suggested for a bare number, per dimension that needs one."""

_NUMBER = r"[-+]?(?:\d+(?:[_,]\d{3})*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>\S.*?)?\s*$")


def _amount_in_tonnes(unit: str, grade: Grade) -> float | None:
    """Tonnes in one of ``unit`` (a mass or volume unit), or None if it is neither."""
    if unit in _MASS:
        return _MASS[unit]
    if unit in _VOLUME_BBL:
        return _VOLUME_BBL[unit] / grade.bbl_per_t
    if unit in _VOLUME_M3:
        return _VOLUME_M3[unit] * grade.t_per_m3
    return None


def _convert(unit: str, dimension: str, grade: Grade) -> float:
    """Factor from ``unit`` to the canonical unit of ``dimension``; raise UnitError."""
    unit = unit.replace(" ", "")
    if dimension == "mass":
        factor = _amount_in_tonnes(unit, grade)
        if factor is not None:
            return factor
    elif dimension == "duration":
        if unit in _TIME:
            return _TIME[unit]
    elif dimension == "rate":
        if "/" in unit:
            top, _, bottom = unit.partition("/")
            amount = _amount_in_tonnes(top, grade)
            if amount is not None and bottom in _TIME:
                return amount / _TIME[bottom]
    elif dimension == "price":
        if "/" in unit:
            top, _, bottom = unit.partition("/")
            if top in _MONEY:
                per = _amount_in_tonnes(bottom, grade)
                if per is not None:
                    return _MONEY[top] / per
    elif dimension == "fraction" and unit == "%":
        return 0.01
    raise UnitError(f"unit {unit!r} is not a {dimension}")


def parse_quantity(value: object, dimension: str, grade: Grade | None = None, require_unit: bool = False) -> float:
    """Read ``value`` (a number or a string with a unit) as a float in the canonical unit.

    A bare number is in the canonical unit (t, d, t/d, USD/t) — unless ``require_unit`` (files
    and ``--set``, see the loader): then a mass, duration, rate or price other than 0 given as a
    bare number is refused with an example (``80 has no unit — give one, e.g. "80 USD/bbl"``),
    since a silent USD per tonne is rarely what was meant. Fractions and counts are plain numbers.
    Raises UnitError with a message that says what was expected.
    """
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    grade = grade or Grade()
    expected = f"expected a {dimension} such as {_EXAMPLES[dimension]}"
    if isinstance(value, bool) or value is None:
        raise UnitError(f"got {value!r}; {expected}")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise UnitError(f"the number is not a finite number (far too large); {expected}") from None
        factor = 1.0
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        if not match:
            raise UnitError(f"cannot read {value!r} as a quantity; {expected}")
        number = float(match["num"].replace("_", "").replace(",", ""))
        unit = match["unit"]
        if unit is None:
            factor = 1.0
        else:
            try:
                factor = _convert(unit, dimension, grade)
            except UnitError as exc:
                raise UnitError(f"{exc} in {value!r}; {expected}") from None
    else:
        raise UnitError(f"got a {type(value).__name__}; {expected}")
    result = number * factor
    if not math.isfinite(result):
        raise UnitError(f"{value!r} is not a finite number; {expected}")
    bare = isinstance(value, int | float) or match["unit"] is None
    if require_unit and bare and number != 0 and dimension in _UNIT_HINT:
        shown = f"{number:g}"
        raise UnitError(f'{shown} has no unit — give one, e.g. "{shown} {_UNIT_HINT[dimension]}"; {expected}')
    if dimension == "count" and result != int(result):
        raise UnitError(f"{value!r} is not a whole number; {expected}")
    return result


def format_quantity(value: float | None, unit: str, missing: str = "—") -> str:
    """A compact human-readable form of ``value`` in a canonical ``unit`` ("1.23 Mt", "102.0 kt/d", "5 d", "0.71").

    The one formatter for tables, plots and messages; ``missing`` stands for a value that is not defined.
    """
    if value is None:
        return missing
    if isinstance(value, bool) or (isinstance(value, int) and unit in ("1", "")):
        return f"{value}"
    value = float(value)
    scales = {
        "t": ((1e6, "Mt"), (1e3, "kt")),
        "bbl": ((1e6, "Mbbl"), (1e3, "kbbl")),
        "USD": ((1e9, "bn USD"), (1e6, "M USD"), (1e3, "k USD")),
    }
    if unit in scales:
        for scale, name in scales[unit]:
            if abs(value) >= scale:
                return f"{value / scale:,.2f} {name}"
        return f"{value:,.0f} {unit}"
    if unit == "t/d":
        return f"{value / 1e3:,.1f} kt/d"
    if unit == "d":
        return f"{value:,.0f} d" if value == round(value) else f"{value:,.1f} d"
    if unit == "t*d":
        return f"{value / 1e6:,.1f} Mt·d"
    if unit == "USD/bbl":
        return f"{value:,.2f} USD/bbl"
    if unit in ("1", ""):
        return f"{value:.2f}"
    return f"{value:,.1f} {unit}"
