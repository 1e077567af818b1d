"""Oil tagged by route: a parcel maps route index -> tonnes, so every tonne that reaches a market is
credited to the route it took; and the tolerance below which an amount counts as zero."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Protocol

__all__ = ["REL_TOL", "Outlet", "Parcel", "add_to", "held_in", "scale", "unload_queue", "zero_below"]

Parcel = dict[int, float]
"""Tonnes of oil by route index."""

REL_TOL = 1e-12
"""Amounts below this fraction of the network's scale count as zero: float noise on sums of many
terms of its size, never a real amount (a gram in a network moving a million tonnes a day)."""


def zero_below(scale_t: float) -> float:
    """Tonnes below which an amount counts as zero in a network that handles ``scale_t`` tonnes
    (a day's production plus its stocks; at least a tonne)."""
    return REL_TOL * max(scale_t, 1.0)


def scale(parcel: Parcel, factor: float) -> Parcel:
    """The parcel multiplied by ``factor`` (a fraction of it)."""
    return {r: a * factor for r, a in parcel.items()}


def add_to(total: Parcel, parcel: Parcel, sign: float = 1.0) -> Parcel:
    """Add ``parcel`` (times ``sign``) into ``total``, route by route; return ``total``."""
    for route, amount in parcel.items():
        total[route] = total.get(route, 0.0) + sign * amount
    return total


class Outlet(Protocol):
    """Where a leg delivers: the next leg's inlet tank or a market."""

    name: str

    def room(self) -> float:
        """Tonnes it can take now."""
        ...

    def receive(self, parcel: Parcel, day: int) -> None:
        """Take a parcel delivered on ``day`` (it must fit)."""
        ...


def unload_queue(waiting: deque[Parcel], outlet: Outlet, day: int, eps: float, most: float = math.inf) -> float:
    """Hand queued parcels to ``outlet`` in order, as far as it has room (and up to ``most``
    tonnes); return the tonnes moved. ``eps``: tonnes that count as zero."""
    moved = 0.0
    while waiting:
        parcel = waiting[0]
        amount = sum(parcel.values())
        room = most - moved
        outlet_room = outlet.room()
        if outlet_room < room:
            room = outlet_room
        if room <= eps:
            break
        if amount <= room + eps:
            waiting.popleft()
        else:
            part = room / amount
            waiting[0] = scale(parcel, 1.0 - part)
            parcel = scale(parcel, part)
            amount = room
        moved += amount
        outlet.receive(parcel, day)
    return moved


def held_in(arrivals: dict[int, list[Parcel]], waiting: Iterable[Parcel]) -> Parcel:
    """Tonnes by route in parcels under way (``arrivals``: day -> parcels) and waiting to unload."""
    held: Parcel = {}
    for parcels in arrivals.values():
        for parcel in parcels:
            add_to(held, parcel)
    for parcel in waiting:
        add_to(held, parcel)
    return held
