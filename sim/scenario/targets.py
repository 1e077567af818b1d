"""What a shock's ``target`` names: a leg, a port, a pump station, a source, a route or a market."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.scenario.network import Network
    from sim.scenario.shocks import Shock

__all__ = ["ALLOWED", "Target", "TargetInfo", "list_targets", "resolve_target", "suggest"]

ALLOWED: dict[str, tuple[str, ...]] = {
    "outage": ("leg", "port", "pump_station", "source"),
    "closure": ("route", "market"),
    "slowdown": ("leg",),
    "production": ("source",),
    "weather": ("port",),
    "derate": ("leg",),  # sea legs only: see resolve_target
}
"""Which kinds of component each shock kind may target."""


@dataclass(frozen=True)
class Target:
    """A resolved shock target: the component kind, its name, and a station name if any."""

    kind: str
    name: str
    station: str = ""


def resolve_target(network: Network, shock: Shock) -> Target:
    """Find what ``shock.target`` names in ``network``; raise ValueError with a hint if nothing."""
    name = shock.target
    found: list[Target] = []
    if "." in name:
        leg, _, station = name.partition(".")
        spec = network.legs.get(leg)
        if spec is not None and getattr(spec, "pump_stations", {}).get(station) is not None:
            found.append(Target("pump_station", leg, station))
    for kind, table in (
        ("leg", network.legs),
        ("port", network.ports),
        ("source", network.sources),
        ("route", network.routes),
        ("market", network.markets),
    ):
        if name in table:
            found.append(Target(kind, name))
    allowed = ALLOWED[shock.kind]
    usable = [t for t in found if t.kind in allowed]
    if usable and shock.kind == "derate" and getattr(network.legs[name], "kind", "") != "sea":
        raise ValueError(f"{name!r} is a {network.legs[name].kind} leg; a derate shock targets a sea leg (its cargoes)")
    if usable:
        return usable[0]
    if found:
        raise ValueError(f"{name!r} is a {found[0].kind}; a {shock.kind} shock targets a {' or '.join(allowed)}")
    candidates: list[str] = []
    for kind in allowed:
        if kind == "pump_station":
            candidates += [
                f"{leg}.{station}"
                for leg, spec in network.legs.items()
                for station in getattr(spec, "pump_stations", {})
            ]
        elif shock.kind == "derate":
            candidates += [leg for leg, spec in network.legs.items() if getattr(spec, "kind", "") == "sea"]
        else:
            candidates += list(getattr(network, kind + "s"))
    everything = {t.name: t for t in list_targets(network)}
    near = suggest(name, [c for c in candidates if c in everything]) or suggest(name, list(everything))
    if near:
        info = everything[near]
        hint = f"; did you mean {near!r} ({info.component}: {', '.join(info.shocks)})?"
    else:
        hint = f"; expected one of: {', '.join(sorted(candidates)) or 'none'}"
    return_kind = " or ".join(allowed)
    raise ValueError(f"no {return_kind} named {name!r}{hint} (routesim targets FILE lists every target)")


@dataclass(frozen=True)
class TargetInfo:
    """Something a shock can target: its name, what it is, and the shock kinds that accept it."""

    name: str
    component: str
    shocks: tuple[str, ...]
    description: str = ""


def list_targets(network: Network) -> list[TargetInfo]:
    """Every target of the network (legs, pump stations, ports, sources, routes, markets) with the kinds it accepts."""
    out: list[TargetInfo] = []
    for name, spec in network.legs.items():
        kind = getattr(spec, "kind", "")
        shocks = ("outage", "slowdown", "derate") if kind == "sea" else ("outage", "slowdown")
        out.append(TargetInfo(name, f"{kind} leg" if kind else "leg", shocks, _text(spec)))
        for station, station_spec in (getattr(spec, "pump_stations", None) or {}).items():
            out.append(TargetInfo(f"{name}.{station}", "pump station", ("outage",), _text(station_spec)))
    out += [TargetInfo(n, "port", ("outage", "weather"), _text(s)) for n, s in network.ports.items()]
    out += [TargetInfo(n, "source", ("outage", "production"), _text(s)) for n, s in network.sources.items()]
    out += [TargetInfo(n, "route", ("closure",), _text(s)) for n, s in network.routes.items()]
    out += [TargetInfo(n, "market", ("closure",), _text(s)) for n, s in network.markets.items()]
    return out


def _text(spec: object) -> str:
    text = getattr(spec, "description", "") or getattr(spec, "name", "") or ""
    return " ".join(str(text).split())


def suggest(name: str, candidates: list[str]) -> str | None:
    """The candidate ``name`` most likely meant: one it starts or ends with (``btc_pipeline`` -> ``btc``), else the closest."""
    lowered = name.lower()
    parts = [c for c in candidates if lowered.startswith(c.lower() + "_") or lowered.endswith("_" + c.lower())]
    parts += [c for c in candidates if c.lower().startswith(lowered + "_")]
    if parts:
        return max(parts, key=len)
    near = get_close_matches(name, candidates, n=1, cutoff=0.7)
    return near[0] if near else None
