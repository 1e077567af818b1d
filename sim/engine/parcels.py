"""Oil tagged by route: a parcel maps route index -> tonnes, so every tonne that reaches a market is
credited to the route it took; and the tolerance below which an amount counts as zero."""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

__all__ = ["EPS", "Outlet", "Parcel", "scale", "unload_queue"]

Parcel = dict[int, float]
"""Tonnes of oil by route index."""

EPS = 1e-9
"""Tonnes below which an amount is treated as zero."""


def scale(parcel: Parcel, factor: float) -> Parcel:
    """The parcel multiplied by ``factor`` (a fraction of it)."""
    return {r: a * factor for r, a in parcel.items()}


class Outlet(Protocol):
    """Where a leg delivers: the next leg's inlet tank or a market."""

    name: str

    def room(self) -> float:
        """Tonnes it can take now."""
        ...

    def receive(self, parcel: Parcel, day: int) -> None:
        """Take a parcel delivered on ``day`` (it must fit)."""
        ...


def unload_queue(waiting: deque[Parcel], outlet: Outlet, day: int, most: float = math.inf) -> float:
    """Hand queued parcels to ``outlet`` in order, as far as it has room (and up to ``most``
    tonnes); return the tonnes moved."""
    moved = 0.0
    while waiting:
        parcel = waiting[0]
        amount = sum(parcel.values())
        room = most - moved
        outlet_room = outlet.room()
        if outlet_room < room:
            room = outlet_room
        if room <= EPS:
            break
        if amount <= room + EPS:
            waiting.popleft()
        else:
            part = room / amount
            waiting[0] = scale(parcel, 1.0 - part)
            parcel = scale(parcel, part)
            amount = room
        moved += amount
        outlet.receive(parcel, day)
    return moved
