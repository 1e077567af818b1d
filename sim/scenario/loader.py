"""Load a scenario file: safe YAML, network includes, overrides, validation, clear errors.

``load_scenario(path)`` is the one entry point. Every failure is a ScenarioError whose
problems name the file, the line, the key path, what is wrong and what was expected.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import types
import typing
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.fileio import FileRefused, read_limited
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.schema import Network, Scenario
from sim.scenario.yamlio import MAX_FILE_BYTES, Located, parse_scalar, read_yaml

__all__ = [
    "MAX_INCLUDE_DEPTH",
    "LoadedScenario",
    "load_network",
    "load_resolved",
    "load_scenario",
    "parse_set",
    "resolved_sha256",
    "shipped_network",
    "shipped_networks",
]

SHIPPED_NETWORKS = Path(__file__).resolve().parents[2] / "scenarios" / "network"
"""The networks that come with routesim (in a checkout or an editable install), named by file stem."""


def shipped_networks() -> dict[str, Path]:
    """Shipped network name -> file (``kazakhstan_2022`` -> ``scenarios/network/kazakhstan_2022.yaml``)."""
    if not SHIPPED_NETWORKS.is_dir():
        return {}
    return {p.stem: p for p in sorted(SHIPPED_NETWORKS.glob("*.yaml"))}


def shipped_network(name: str) -> Path | None:
    """The shipped network a scenario's ``network: <name>`` means (a bare name, no folder or suffix), or None."""
    if not name or "/" in name or "\\" in name or name.endswith((".yaml", ".yml")):
        return None
    return shipped_networks().get(name)


MAX_INCLUDE_DEPTH = 8
"""Deepest chain of ``extends`` between network files."""


@dataclass
class LoadedScenario:
    """A validated scenario with where it came from: files read, their hash, the raw data."""

    scenario: Scenario
    path: Path
    files: list[Path] = field(default_factory=list)
    sha256: str = ""
    resolved: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)


def scenarios_root(path: Path) -> Path:
    """The folder includes must stay inside: the nearest ancestor called ``scenarios``, else the file's folder."""
    path = path.resolve()
    for parent in path.parents:
        if parent.name == "scenarios":
            return parent
    return path.parent


def _deep_merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_network(
    path: Path,
    root: Path,
    prefix: tuple,
    chain: tuple[Path, ...],
    lines: dict,
    origin: tuple[str, int | None, str] | None = None,
) -> dict:
    """Read a network file, following ``extends`` (a base network it modifies).

    ``origin`` is where ``path`` was named (file, line, key: the scenario's ``network`` or
    an including file's ``extends``), so that a chain too deep is reported there.
    """
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.name for p in (*chain, resolved))
        raise ScenarioError.single(path, f"include cycle: {cycle}", 1, ".".join(map(str, prefix)))
    if len(chain) >= MAX_INCLUDE_DEPTH:
        names = " -> ".join(p.name for p in (*chain, resolved))
        file, line, key = origin or (str(path), 1, ".".join(map(str, prefix)))
        raise ScenarioError.single(
            file, f"includes nest deeper than {MAX_INCLUDE_DEPTH} files ({names}); flatten the chain", line, key
        )
    located = read_yaml(path, prefix)
    data = located.data
    base_ref = data.pop("extends", None)
    if base_ref is None:
        lines.update(located.lines)
        return data
    extends = (*prefix, "extends")
    base_path = _resolve_include(base_ref, path, root, located, extends)
    here = (*located.where(extends), ".".join(map(str, extends)))
    base = _read_network(base_path, root, prefix, (*chain, resolved), lines, here)
    lines.update(located.lines)  # the extending file's lines win
    return _deep_merge(base, data)


def _resolve_include(ref: Any, including: Path, root: Path, located: Located, path: tuple) -> Path:
    file, line = located.where(path)
    key = ".".join(map(str, path))
    if not isinstance(ref, str) or not ref.strip():
        raise ScenarioError.single(file, "expected a path to a network file (a string)", line, key)
    try:
        target = (including.parent / ref).resolve()
        inside = root in target.parents
        exists = target.is_file()
        special = not exists and target.exists()  # a directory, FIFO or device: never opened
    except (OSError, ValueError, UnicodeError) as exc:
        raise ScenarioError.single(file, f"{ref!r} is not a usable file path ({exc})", line, key) from None
    if not inside:
        raise ScenarioError.single(
            file, f"{ref!r} points outside the scenarios folder {root}; includes must stay inside it", line, key
        )
    if special:
        raise ScenarioError.single(file, f"{ref!r} is not a regular file; expected a network file (YAML)", line, key)
    if not exists:
        raise ScenarioError.single(file, f"included file {ref!r} does not exist (looked for {target})", line, key)
    return target


def _index(part: str) -> int | None:
    """``part`` as a list index if it is a plain ASCII number."""
    return int(part) if part.isascii() and part.isdecimal() else None


def _set_path(data: dict, dotted: str, value: Any, origin: tuple[str, int | None], lines: dict, base: tuple) -> None:
    """Set ``data[a][b]... = value`` for ``dotted`` = "a.b...", refusing paths that do not exist.

    ``base`` is where ``data`` sits in the scenario (``("network",)`` for a file's ``overrides:``),
    so that problems name the full key path, as every other problem does.
    """
    parts = [p for p in dotted.split(".")]
    full_key = ".".join([*map(str, base), dotted])

    def where(depth: int) -> str:
        return ".".join([*map(str, base), *parts[:depth]]) or "top level"

    if not dotted or any(not p for p in parts):
        raise ScenarioError.single(origin[0], f"{dotted!r} is not a dotted key path", origin[1], full_key)
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        key: Any = part
        if isinstance(node, list):
            if _index(part) is None or _index(part) >= len(node):
                raise ScenarioError.single(
                    origin[0], f"no item {part} in the list at {where(depth)}", origin[1], full_key
                )
            key = _index(part)
        elif isinstance(node, dict):
            if part not in node:
                near = get_close_matches(part, [str(k) for k in node], n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ScenarioError.single(origin[0], f"no key {part!r} at {where(depth)}{hint}", origin[1], full_key)
        else:
            raise ScenarioError.single(origin[0], f"{where(depth)} is not a mapping", origin[1], full_key)
        node = node[key]
    last: Any = parts[-1]
    if isinstance(node, list):
        if _index(last) is None or _index(last) >= len(node):
            raise ScenarioError.single(
                origin[0], f"no item {last} in the list at {where(len(parts) - 1)}", origin[1], full_key
            )
        last = _index(last)
    elif not isinstance(node, dict):
        raise ScenarioError.single(origin[0], f"{where(len(parts) - 1)} is not a mapping", origin[1], full_key)
    node[last] = value
    full = base + tuple(p if _index(p) is None else _index(p) for p in parts)
    for key in [k for k in lines if k[: len(full)] == full]:
        del lines[key]
    lines[full] = origin


NETWORK_KEYS = ("legs", "ports", "sources", "routes", "markets", "grade")
"""Top-level keys of a network: a --set path starting with one means the scenario's network."""


def network_path_of(key: str) -> str:
    """A --set path as a scenario path: ``legs.x.capacity`` (the spelling of ``overrides:``) is ``network.legs.x.capacity``."""
    return f"network.{key}" if key.split(".", 1)[0] in NETWORK_KEYS else key


def parse_set(assignment: str) -> tuple[str, Any]:
    """Split a ``key.path=value`` command-line override; the value is read as YAML."""
    key, sep, value = assignment.partition("=")
    if not sep or not key.strip():
        raise ScenarioError.single("<--set>", f"expected KEY.PATH=VALUE, got {assignment!r}")
    return key.strip(), parse_scalar(value)


def _strip_tags(loc: tuple) -> tuple:
    """Remove pydantic's union-tag elements (legs.cpc.pipeline.capacity -> legs.cpc.capacity)."""
    out: list = []
    for i, part in enumerate(loc):
        if part in ("pipeline", "sea", "rail") and i >= 2 and loc[i - 2] == "legs":
            continue
        if isinstance(part, str) and (part.startswith("function-") or part in ("date", "float", "int")) and out:
            continue
        out.append(part)
    return tuple(out)


def _fields_at(model: type[BaseModel], loc: tuple, data: Any) -> list[str]:
    """The field names accepted at ``loc`` below ``model`` (for 'did you mean')."""
    annotation: Any = model
    node = data
    for part in loc:
        annotation = _unwrap(annotation, node)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            info = annotation.model_fields.get(str(part))
            if info is None:
                return []
            annotation = info.annotation
        else:
            origin = typing.get_origin(annotation)
            args = typing.get_args(annotation)
            if origin is dict:
                annotation = args[1]
            elif origin is list:
                annotation = args[0]
            else:
                return []
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
        )
    annotation = _unwrap(annotation, node)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any, node: Any) -> Any:
    """Strip Annotated/Optional, and pick the union member whose ``kind`` matches the data."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        kind = node.get("kind") if isinstance(node, dict) else None
        for m in models:
            field_info = m.model_fields.get("kind")
            if field_info is not None and kind in typing.get_args(field_info.annotation):
                return m
        if len(models) == 1:
            return models[0]
        if members:
            return _unwrap(members[0], node)
    return annotation


def _problems_from(
    exc: ValidationError, data: dict, lines: dict, fallback: str, model: type[BaseModel] = Scenario
) -> list[Problem]:
    """Turn pydantic's errors into file/line/key problems with a readable cause."""
    problems: list[Problem] = []
    location = Located(data, lines)
    for error in exc.errors(include_url=False):
        loc = _strip_tags(tuple(error["loc"]))
        message = str(error["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            if message.startswith(prefix):
                message = message[len(prefix) :]
        kind = error["type"]
        if kind == "extra_forbidden":
            allowed = _fields_at(model, loc[:-1], data)
            near = get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"expected one of: {', '.join(allowed)}"
            message = f"unknown key {loc[-1]!r}; {hint}"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "union_tag_invalid" or kind == "union_tag_not_found":
            message = f"{message} (a leg's kind is pipeline, sea or rail)"
        elif kind in ("date_from_datetime_parsing", "date_parsing", "date_type"):
            message = f"{message}; expected a date like 2022-07-06"
        if kind == "value_error" and message.startswith("@"):
            # Model validators report problems below them as "@sub.path: message" lines.
            for segment in message.split("\n"):
                sub, _, text = segment[1:].partition(": ")
                subloc = loc + tuple(p if _index(p) is None else _index(p) for p in sub.split("."))
                file, line = location.where(subloc)
                problems.append(Problem(file, line, ".".join(map(str, subloc)), text))
            continue
        file, line = location.where(loc)
        if file == "<unknown>":
            file = fallback
        problems.append(Problem(file, line, ".".join(map(str, loc)), message))
    return problems


def _hash_files(files: list[Path], overrides: list[str]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(os.fsencode(path.name))
        try:  # read again: the same limits, in case the file was swapped for a device meanwhile
            digest.update(read_limited(path, MAX_FILE_BYTES, "scenario or network file (YAML)"))
        except FileRefused as exc:
            raise ScenarioError.single(path, str(exc)) from None
    for item in overrides:
        digest.update(b"--set " + item.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LoadedScenario:
    """Read, resolve and validate a scenario file; raise ScenarioError on any problem.

    ``overrides`` are ``key.path=value`` strings applied last (as ``routesim run --set``).
    """
    path = Path(path)
    root = scenarios_root(path)
    located = read_yaml(path)
    data, lines = located.data, dict(located.lines)
    files = [path]
    network = data.get("network")
    if isinstance(network, str):
        shipped = shipped_network(network)
        net_root = root if shipped is None else shipped.parent
        network_path = shipped or _resolve_include(network, path, root, located, ("network",))
        net_lines: dict = {}
        origin = (*located.where(("network",)), "network")
        data["network"] = _read_network(network_path, net_root, ("network",), (path.resolve(),), net_lines, origin)
        lines.update({k: v for k, v in net_lines.items() if k != ("network",)})
        files.append(network_path)
    net_overrides = data.pop("overrides", None)
    if net_overrides is not None:
        if not isinstance(net_overrides, dict):
            file, line = located.where(("overrides",))
            raise ScenarioError.single(file, "expected a mapping of key.path: value on the network", line, "overrides")
        if not isinstance(data.get("network"), dict):
            raise ScenarioError.single(
                path, "overrides need a network to change", located.where(("overrides",))[1], "overrides"
            )
        for key, value in net_overrides.items():
            origin = located.where(("overrides", key))
            dotted = str(key).removeprefix("network.")  # the --set spelling is accepted here too
            _set_path(data["network"], dotted, value, origin, lines, ("network",))
    for assignment in overrides:
        key, value = parse_set(assignment)
        _set_path(data, network_path_of(key), value, ("<--set>", None), lines, ())
    resolved = copy.deepcopy(data)
    try:  # the network's grade converts barrels: Scenario.model_validate puts it in the context
        scenario = Scenario.model_validate(data, context={"require_units": True})
    except ValidationError as exc:
        raise ScenarioError(_problems_from(exc, data, lines, str(path))) from None
    return LoadedScenario(
        scenario=scenario,
        path=path,
        files=files,
        sha256=_hash_files(files, list(overrides)),
        resolved=resolved,
        overrides=list(overrides),
    )


def load_resolved(data: dict[str, Any], origin: str | Path) -> LoadedScenario:
    """Validate already-resolved scenario data (as a manifest stores it), e.g. to rerun a run."""
    data = copy.deepcopy(data)
    lines: dict = {(): (str(origin), None)}
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_problems_from(exc, data, lines, str(origin))) from None
    return LoadedScenario(scenario=scenario, path=Path(origin), files=[], sha256=resolved_sha256(data), resolved=data)


def resolved_sha256(data: dict[str, Any]) -> str:
    """A hash of resolved scenario data, independent of how the files were laid out."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def load_network(path: str | Path) -> Network:
    """Read and validate a network file on its own (following ``extends``)."""
    path = Path(path)
    lines: dict = {}
    data = _read_network(path, scenarios_root(path), (), (), lines)
    try:
        return Network.model_validate(data, context={"require_units": True})
    except ValidationError as exc:
        raise ScenarioError(_problems_from(exc, data, lines, str(path), Network)) from None
