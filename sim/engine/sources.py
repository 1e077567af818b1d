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

    def __init__(
        self,
        name: str,
        spec: Any,
        potential: np.ndarray,
        eps: float,
        response: Any = None,
        base: np.ndarray | None = None,
    ):
        self.name = name
        self.eps = eps  # tonnes that count as zero
        self.nominal = spec.production
        self.potential = potential  # t/d per day, after production shocks
        self.base = np.full(len(potential), float(spec.production)) if base is None else base  # scheduled rate
        self.base_list: list[float] = self.base.tolist()
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
        # The operator's response (None: fill_then_cut, nothing to do): see respond().
        self.response = response if response is not None and response.mode != "fill_then_cut" else None
        self.throttle = 1.0  # the share of nominal output the operator allows today
        self.warned: list[bool] | None = None  # days on which a stop on the outlet is announced or under way
        self.watched: list[Any] = []  # terminal tanks watched by cut_at_level (watch: terminal)
        self.outflow = self.nominal  # tonnes that left the field the day before
        self.cut = 0.0  # tonnes of today's potential the operator chose not to produce
        self.trigger_holder: Any = None  # what the dispatcher reads to see whether to ask respond() (see arm)
        self.trigger_t = math.inf

    def most_today(self, day: int) -> float:
        """Most the field can produce today: its potential, nothing while stopped (restart delay),
        and no more than yesterday + one ramp step while ramping back."""
        if self.stopped:
            return 0.0
        cap = self.potential_list[day]
        if self.held_back and self.previous + self.ramp_step < cap:
            cap = self.previous + self.ramp_step
        return cap

    def arm(self, watched: list[Any]) -> None:
        """Set what the operator watches, and the level in tonnes at which it acts, so that the dispatcher
        can skip ``respond`` on the usual day with one comparison (one storage watched)."""
        spec = self.response
        self.watched = watched
        if spec is None:
            return
        if spec.mode == "follow_outlet":
            self.trigger_holder, self.trigger_t = self, self.eps
        elif len(watched) == 1:
            tank = watched[0]
            span = tank.capacity - tank.minimum
            self.trigger_holder = tank
            self.trigger_t = tank.minimum + spec.level * span if span > 0 else math.inf
        elif not watched and 0 < self.capacity < math.inf:
            self.trigger_holder, self.trigger_t = self, spec.level * self.capacity
        else:
            self.trigger_holder = None  # several tanks, or nothing to fill: ask respond() every day

    def respond(self, day: int, cap: float) -> float:
        """Today's output after the operator's response to the outlet: at most ``cap``; sets ``self.cut``.

        The operator aims for ``floor`` x nominal while a stop on the outlet is announced or under way;
        for what left the day before (not below the floor) while the watched storage is at least
        ``level`` full (cut_at_level) or while oil waits in field storage (follow_outlet); else for
        full rate. Output moves towards that aim by at most (1 - floor) / lag of nominal a day.
        """
        spec = self.response
        warned = self.warned is not None and self.warned[day]
        by_level = spec.mode == "cut_at_level"
        if not warned and self.throttle >= 1.0 and by_level and self.watched_fill() < spec.level:
            self.cut = 0.0  # the usual day: full rate, nothing watched is full
            return cap
        floor, eps, base = spec.floor, self.eps, self.base_list[day]
        aim = 1.0
        if warned:
            aim = floor
        elif (self.watched_fill() >= spec.level if by_level else self.level > eps) and base > 0:
            aim = min(1.0, max(floor, self.outflow / base))  # what can leave, not below the floor
        step = math.inf if spec.lag <= 0 else (1.0 - floor) / spec.lag
        if aim < self.throttle:
            self.throttle = max(aim, self.throttle - step)
        else:
            self.throttle = min(aim, self.throttle + step)
        ceiling = self.throttle * base
        if ceiling < cap - eps:
            self.cut = cap - ceiling
            return ceiling
        self.cut = 0.0
        return cap

    def watched_fill(self) -> float:
        """How full the storage the operator watches is (0 to 1): the field's, or the fullest terminal."""
        if self.watched:
            fullest = 0.0
            for tank in self.watched:
                span = tank.capacity - tank.minimum
                if span > 0:
                    fill = (tank.level - tank.minimum) / span
                    if fill > fullest:
                        fullest = fill
            return fullest
        if 0 < self.capacity < math.inf:
            return self.level / self.capacity
        return 0.0

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
