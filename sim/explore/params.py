"""Parameters of a study and the scenario points they make.

A parameter is a dotted key path, as ``routesim run --set`` takes it (``shocks.0.duration``,
``network.legs.aktau_baku.fleet``), with values:

* a range with units, both ends included: ``10d:180d:10d`` (start:stop:step; a part without a
  unit takes the unit of the others, and all parts must share one unit);
* a list: ``2,4,8`` or ``40 Mt/yr,50 Mt/yr`` (commas separate values: write thousands as 1_000);
* for stress tests and sensitivity bounds, an interval ``10d:90d`` (low:high).

Keys joined with ``+`` are tied: they take the same value at every point
(``shocks.0.duration+shocks.1.duration=30d:120d:30d``: a pipeline and its terminal closed together).

A point of a study is a set of overrides (``shocks.0.duration=60 d``) applied to the base
scenario exactly as ``--set`` applies them, so a sweep point is the run ``routesim run --set ...``
would make. Bad specs raise ``ScenarioError`` naming the option and the key.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sim.scenario.distributions import Distribution
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario, load_resolved, load_scenario, parse_set
from sim.units import DIMENSIONS, UnitError, parse_quantity

__all__ = [
    "MAX_POINTS",
    "Bound",
    "Point",
    "SweepParam",
    "assignments",
    "distribution_fields",
    "get_path",
    "grid",
    "parse_bound",
    "parse_interval",
    "parse_param",
    "quantity_text",
    "set_resolved",
    "split_quantity",
    "with_overrides",
]

MAX_POINTS = 10_000
"""Most points a grid may have (each is an ensemble)."""

_NUMBER = r"[-+]?(?:\d+(?:_\d{3})*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>\S.*?)?\s*$")


def split_quantity(text: str) -> tuple[float, str]:
    """``"10d"`` -> ``(10.0, "d")``, ``"4"`` -> ``(4.0, "")``; raise ValueError if not a number with a unit."""
    match = _QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"cannot read {text!r} as a number with an optional unit")
    number = float(match["num"].replace("_", ""))
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    unit = (match["unit"] or "").strip()
    if unit and not _known_unit(unit):
        raise ValueError(f"unknown unit {unit!r} in {text!r}")
    return number, unit


def _known_unit(unit: str) -> bool:
    for dimension in DIMENSIONS:
        try:
            parse_quantity(f"1 {unit}", dimension)
            return True
        except UnitError:
            continue
    return False


def quantity_text(value: float, unit: str) -> str:
    """The override text of a value: ``60 d``, ``4`` (integers without a trailing .0)."""
    number = f"{value:.12g}"
    return f"{number} {unit}" if unit else number


def _common_unit(parts: Sequence[tuple[float, str]], text: str) -> str:
    units = {unit for _, unit in parts if unit}
    if len(units) > 1:
        raise ValueError(f"{text!r} mixes units ({', '.join(sorted(units))}); give every part in one unit")
    return units.pop() if units else ""


def _refuse(option: str, key: str, message: str) -> ScenarioError:
    return ScenarioError.single(f"<{option}>", message, None, key)


def _range_numbers(pieces: Sequence[str], spec: str, option: str, key: str, expected: str) -> tuple[list[float], str]:
    """The numbers of a range's pieces and their one unit; ScenarioError ``...; expected <expected>`` if not."""
    try:
        parts = [split_quantity(p) for p in pieces]
        unit = _common_unit(parts, spec)
    except ValueError as exc:
        raise _refuse(option, key, f"{exc}; expected {expected}") from None
    return [number for number, _ in parts], unit


@dataclass(frozen=True)
class SweepParam:
    """One swept parameter: its key path, its values (numbers in ``unit``, or None) and their override texts."""

    path: str
    texts: tuple[str, ...]
    values: tuple[float | None, ...]
    unit: str = ""
    spec: str = ""

    @property
    def numeric(self) -> bool:
        """Whether every value is a number (the parameter can be an axis)."""
        return all(v is not None for v in self.values)

    @property
    def whole(self) -> bool:
        """Whether every value is a whole number without a unit (a count: fleet, berths)."""
        return self.numeric and not self.unit and all(float(v).is_integer() for v in self.values)  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        """The axis label: path and unit."""
        return f"{self.path} ({self.unit})" if self.unit else self.path


def assignments(path: str, text: str) -> list[str]:
    """The ``--set`` overrides that give ``path`` the value ``text``: one per key of a tied path
    (``shocks.0.duration+shocks.1.duration``: both shocks last the same)."""
    return [f"{key}={text}" for key in path.split("+")]


def _split_assignment(assignment: str, option: str) -> tuple[str, str]:
    key, sep, spec = assignment.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep or not key or not spec:
        raise _refuse(option, key, f"expected KEY.PATH=SPEC, got {assignment!r}")
    if any(not part.strip() for part in key.split("+")):
        raise _refuse(option, key, f"an empty key in {key!r}; expected KEY.PATH or KEY.PATH+KEY.PATH (tied keys)")
    return "+".join(part.strip() for part in key.split("+")), spec


def parse_param(assignment: str, option: str = "--param") -> SweepParam:
    """Read ``PATH=start:stop:step`` (with units, ends included) or ``PATH=a,b,c``; raise ScenarioError."""
    key, spec = _split_assignment(assignment, option)
    if ":" in spec:
        pieces = spec.split(":")
        if len(pieces) != 3:
            raise _refuse(option, key, f"a range is start:stop:step, got {spec!r}; e.g. 10d:180d:10d")
        (start, stop, step), unit = _range_numbers(pieces, spec, option, key, "start:stop:step such as 10d:180d:10d")
        if step <= 0:
            raise _refuse(option, key, f"the step must be > 0, got {pieces[2]!r}; expected start:stop:step")
        if stop < start:
            raise _refuse(option, key, f"stop {pieces[1]!r} is below start {pieces[0]!r}; expected start <= stop")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_POINTS:
            raise _refuse(option, key, f"{count:,} values; expected at most {MAX_POINTS:,} (use a larger step)")
        values = [float(f"{start + i * step:.12g}") for i in range(count)]
        return SweepParam(key, tuple(quantity_text(v, unit) for v in values), tuple(values), unit, spec)
    texts = [t.strip() for t in spec.split(",")]
    if any(not t for t in texts):
        raise _refuse(option, key, f"an empty value in the list {spec!r}; expected a,b,c")
    if len(texts) > MAX_POINTS:
        raise _refuse(option, key, f"{len(texts):,} values; expected at most {MAX_POINTS:,}")
    try:
        parts = [split_quantity(t) for t in texts]
        unit = _common_unit(parts, spec)
        if unit and any(not u for _, u in parts):
            raise ValueError("some values have a unit and some do not")
        values: list[float | None] = [number for number, _ in parts]
    except ValueError:
        values, unit = [None] * len(texts), ""  # not all numbers in one unit: categories
    return SweepParam(key, tuple(texts), tuple(values), unit, spec)


def parse_interval(spec: str, key: str, option: str) -> tuple[float, float, str]:
    """Read ``low:high`` with units (``10d:90d``) as (low, high, unit); raise ScenarioError."""
    pieces = spec.split(":")
    if len(pieces) != 2:
        raise _refuse(option, key, f"expected low:high such as 10d:90d, got {spec!r}")
    (low, high), unit = _range_numbers(pieces, spec, option, key, "low:high such as 10d:90d")
    if not low < high:
        raise _refuse(option, key, f"low {pieces[0]!r} must be below high {pieces[1]!r}; expected low:high")
    return low, high, unit


@dataclass(frozen=True)
class Bound:
    """An input of a sensitivity study given on the command line: uniform between low and high."""

    path: str
    low: float
    high: float
    unit: str = ""


def parse_bound(assignment: str, option: str = "--bound") -> Bound:
    """Read ``PATH=low:high`` (``shocks.0.duration=10d:90d``); raise ScenarioError."""
    key, spec = _split_assignment(assignment, option)
    low, high, unit = parse_interval(spec, key, option)
    return Bound(key, low, high, unit)


@dataclass(frozen=True)
class Point:
    """One point of a grid: the overrides that make it and each parameter's value."""

    overrides: tuple[str, ...]
    values: tuple[float | None, ...]
    texts: tuple[str, ...] = field(default=())


def grid(params: Sequence[SweepParam]) -> list[Point]:
    """Every combination of the parameters' values (the last parameter varies fastest)."""
    total = math.prod(len(p.texts) for p in params)
    if total > MAX_POINTS:
        raise ScenarioError.single("<--param>", f"the grid has {total:,} points; expected at most {MAX_POINTS:,}")
    paths = [p.path for p in params]
    if len(set(paths)) != len(paths):
        raise ScenarioError.single("<--param>", "a parameter is given twice; expected each key path once")
    points = []
    for combo in itertools.product(*[range(len(p.texts)) for p in params]):
        overrides = tuple(a for p, i in zip(params, combo, strict=True) for a in assignments(p.path, p.texts[i]))
        values = tuple(p.values[i] for p, i in zip(params, combo, strict=True))
        texts = tuple(p.texts[i] for p, i in zip(params, combo, strict=True))
        points.append(Point(overrides, values, texts))
    return points


def with_overrides(loaded: LoadedScenario, overrides: Sequence[str]) -> LoadedScenario:
    """The scenario with more ``--set`` overrides: reloaded from its file (so errors name it), or
    from its resolved data when it has no file (a scenario read back from a manifest)."""
    if loaded.files and Path(loaded.path).is_file():
        return load_scenario(loaded.path, [*loaded.overrides, *overrides])
    data = copy.deepcopy(loaded.resolved)
    for assignment in overrides:
        key, value = parse_set(assignment)
        set_resolved(data, key, value)
    out = load_resolved(data, loaded.path)
    out.overrides = [*loaded.overrides, *overrides]
    return out


def _step(node: Any, part: str, path: str) -> Any:
    if isinstance(node, list):
        if not (part.isascii() and part.isdecimal()) or int(part) >= len(node):
            raise ScenarioError.single("<--set>", f"no item {part} in the list", None, path)
        return node[int(part)]
    if isinstance(node, dict):
        if part not in node:
            raise ScenarioError.single("<--set>", f"no key {part!r}", None, path)
        return node[part]
    if isinstance(node, BaseModel):
        if not hasattr(node, part):
            raise ScenarioError.single("<--set>", f"no field {part!r}", None, path)
        return getattr(node, part)
    raise ScenarioError.single("<--set>", f"{part!r} is below a plain value", None, path)


def get_path(node: Any, path: str) -> Any:
    """The value at a dotted key path in plain data or a validated model (ScenarioError if absent)."""
    for part in path.split("."):
        node = _step(node, part, path)
    return node


def set_resolved(data: dict, path: str, value: Any) -> None:
    """Set a dotted key path in resolved scenario data that must already exist (ScenarioError if not)."""
    *head, last = path.split(".")
    node = get_path(data, ".".join(head)) if head else data
    if isinstance(node, list) and last.isascii() and last.isdecimal() and int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, dict) and last in node:
        node[last] = value
    else:
        raise ScenarioError.single("<--set>", f"no key {last!r}", None, path)


def _find_dists(node: Any, prefix: str, out: list[str]) -> None:
    if isinstance(node, dict):
        if "dist" in node:
            out.append(prefix)
            return
        for key, value in node.items():
            _find_dists(value, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _find_dists(value, f"{prefix}.{i}" if prefix else str(i), out)


def distribution_fields(loaded: LoadedScenario) -> dict[str, Distribution]:
    """The scenario's fields given as distributions: key path -> the validated distribution."""
    paths: list[str] = []
    _find_dists(loaded.resolved, "", paths)
    out: dict[str, Distribution] = {}
    for path in paths:
        value = get_path(loaded.scenario, path)
        if isinstance(value, Distribution):
            out[path] = value
    return out
