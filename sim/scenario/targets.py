"""What a shock's ``target`` names: a leg, a port, a pump station, a source, a route or a market."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.scenario.network import Network
    from sim.scenario.shocks import Shock

__all__ = ["ALLOWED", "Target", "resolve_target"]

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
    near = get_close_matches(name, candidates, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else f"; expected one of: {', '.join(sorted(candidates)) or 'none'}"
    return_kind = " or ".join(allowed)
    raise ValueError(f"no {return_kind} named {name!r}{hint}")
