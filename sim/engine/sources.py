"""Fields: potential production, storage, and the restart and ramp after a shutdown."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Source"]


class Source:
    """A field: potential rate, storage, and the restart and ramp after a shutdown.

    A field with nowhere to put its oil is choked back (a partial cut, or no output for less than
    ``shutdown_after`` days) and returns to full rate as soon as the oil can leave; a longer stop
    is a shutdown, after which it waits ``restart_delay`` days and ramps up over ``ramp_up`` days.
    """

    def __init__(self, name: str, spec: Any, potential: np.ndarray, eps: float):
        self.name = name
        self.eps = eps  # tonnes that count as zero
        self.nominal = spec.production
        self.potential = potential  # t/d per day, after production shocks
        self.potential_list: list[float] = potential.tolist()  # the same as a plain list, for the daily loop
        self.capacity = spec.storage.capacity
        self.level = spec.storage.initial
        self.peak = self.level
        self.ramp_step = self.nominal / spec.ramp_up if spec.ramp_up > 0 else math.inf
        self.restart_delay = spec.restart_delay
        self.shutdown_after = spec.shutdown_after
        self.previous = self.nominal
        self.held_back = False  # ramping back after a shutdown
        self.stopped = False  # shut down, waiting out the restart delay
        self.idle_days = 0  # days in a row with no output for lack of an outlet
        self.restart_wait = 0.0
        self.steady = True  # neither stopped nor ramping back: it can produce its potential
        self.waiting_routes: list = []  # routes with a lead time that has not started yet

    def most_today(self, day: int) -> float:
        """Most the field can produce today: its potential, nothing while stopped (restart delay),
        and no more than yesterday + one ramp step while ramping back."""
        if self.stopped:
            return 0.0
        cap = self.potential_list[day]
        if self.held_back and self.previous + self.ramp_step < cap:
            cap = self.previous + self.ramp_step
        return cap

    def update_restart(self, produced: float, potential: float, shut: float, outlet_free: Callable[[], bool]) -> None:
        """Track choke-backs, shutdowns (restart delay applies) and the ramp back after one."""
        self._update_restart(produced, potential, shut, outlet_free)
        self.steady = not (self.stopped or self.held_back)

    def _update_restart(self, produced: float, potential: float, shut: float, outlet_free: Callable[[], bool]) -> None:
        if self.stopped:
            # The restart delay counts from the first day the oil could go somewhere again.
            if self.level < self.capacity - self.eps or outlet_free():
                self.restart_wait -= 1.0
                if self.restart_wait <= 0:
                    self.stopped = False
                    self.held_back = True
            return
        if shut > self.eps and produced <= self.eps and potential > self.eps:
            self.idle_days += 1
            if self.idle_days >= self.shutdown_after - 1e-9:
                # Shut down: wait out the restart delay, then ramp up from zero.
                self.idle_days = 0
                self.held_back = True
                if self.restart_delay > 0:
                    self.stopped = True
                    self.restart_wait = self.restart_delay
            return
        self.idle_days = 0
        if self.held_back and produced >= potential - self.eps:
            self.held_back = False
