"""The registry of shock kinds: what each may target, which fields size it, which timeline it writes,
and which behaviour of the component it changes.

Components read timelines; a fast path declares the behaviours it reproduces (``SeaFleet.HANDLES``),
and is used only where every shock on the components it reads changes one of those (see
``Timelines.behaviours``). A new shock kind, or a new target of an old one, is therefore never
ignored by a fast path: its behaviour is one the fast path does not declare, so the plain path runs.

Adding a shock kind: register it here (``register_shock_kind``), add its name to ``ShockKind`` in
``sim/scenario/schema.py`` and its targets to ``ALLOWED`` in ``sim/scenario/targets.py`` (a test
checks the three agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SHOCK_KINDS", "Effect", "ShockKindSpec", "register_shock_kind"]


@dataclass(frozen=True)
class Effect:
    """What a shock does to the component it targets."""

    timeline: str
    """The timeline it writes: ``leg``, ``port``, ``source``, ``route``, ``market``, ``cargo`` (factors)
    or ``transit`` (a multiplier of travel times), keyed by the target's name."""
    behaviour: str
    """The behaviour that changes, in the words fast paths use to declare what they handle."""


@dataclass(frozen=True)
class ShockKindSpec:
    """A shock kind: its effect on each kind of target, and the fields that size it."""

    name: str
    effects: dict[str, Effect]
    """By target kind (``leg``, ``port``, ``pump_station``, ``source``, ``route``, ``market``)."""
    fields: tuple[str, ...] = ()
    """Shock fields that set its size besides start and duration."""
    fixed_factor: float | None = None
    """The factor if the kind has no size of its own (a closure closes)."""
    ramps: bool = field(default=True)
    """Whether ``ramp`` applies (a gradual return after the shock)."""

    @property
    def targets(self) -> tuple[str, ...]:
        """The kinds of component it may target."""
        return tuple(self.effects)


SHOCK_KINDS: dict[str, ShockKindSpec] = {}
"""Shock kinds by name."""


def register_shock_kind(spec: ShockKindSpec) -> None:
    """Make a shock kind known to the engine."""
    SHOCK_KINDS[spec.name] = spec


CAPACITY = "capacity"
BERTHS = "berths"
PRODUCTION = "production"

for _spec in (
    ShockKindSpec(
        "outage",
        {
            "leg": Effect("leg", CAPACITY),
            "port": Effect("port", BERTHS),
            "pump_station": Effect("leg", CAPACITY),
            "source": Effect("source", PRODUCTION),
        },
        fields=("factor", "berths_out", "ramp"),
    ),
    ShockKindSpec(
        "closure",
        {"route": Effect("route", "route open"), "market": Effect("market", "market open")},
        fixed_factor=0.0,
    ),
    ShockKindSpec("slowdown", {"leg": Effect("transit", "transit time")}, fields=("multiplier",), ramps=False),
    ShockKindSpec("production", {"source": Effect("source", PRODUCTION)}, fields=("factor", "ramp")),
    ShockKindSpec("weather", {"port": Effect("port", BERTHS)}, fixed_factor=0.0),
    ShockKindSpec("derate", {"leg": Effect("cargo", "cargo size")}, fields=("factor", "ramp")),
):
    register_shock_kind(_spec)
