"""The simulation environment, and the one place that touches SimPy's internals.

SimPy (pinned to 4.1.x in pyproject.toml) has no public API for a few things the engine does on
every cargo: calling a function "soon" (after the current step, at the current time) without a
process, running to a time without one method call per event, counting the events scheduled, and
being told when a resource frees a slot. Each is a few lines here, so a SimPy upgrade is checked
against this module alone.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Callable

import simpy
from simpy.events import NORMAL, URGENT

__all__ = ["DAILY_TICK", "SHOCK_CHANGE", "Environment", "NotifyingResource", "RankedTimeout"]

SHOCK_CHANGE = URGENT - 1
"""Priority of a change the shocks make (berths blocked or freed): first of all events at an instant."""
DAILY_TICK = URGENT
"""Priority of the daily dispatch: after the shocks' changes at its instant, before tankers and the rest
(events of equal time and priority go in the order they were scheduled, which differs between a fleet of
callbacks and tanker processes; ranking these two makes the order the same on both)."""


class Environment(simpy.Environment):
    """A ``simpy.Environment`` with a lean loop for running to a time (the engine's only use), calls
    made as events without a process (``soon``, ``at_start``), and ranked timeouts."""

    now = property(operator.attrgetter("_now"), doc="The current simulation time (read without a Python call).")

    def __init__(self, initial_time: float = 0):
        super().__init__(initial_time)
        # calls kept by ``soon`` during the daily dispatch, with the event id each would have had
        self.deferred: list[tuple[int, Callable[[simpy.Event | None], None]]] | None = None
        self.inlined = 0  # ids kept for calls that then ran inline, without an event

    def soon(self, call: Callable[[simpy.Event | None], None]) -> None:
        """Call ``call(event)`` from an event triggered now: after what is already due now, exactly
        where a tanker process woken at this moment (its claim met, a berth given) would resume.
        During the daily dispatch the call waits in ``deferred`` (see ``run_deferred``)."""
        if self.deferred is not None:
            self.deferred.append((next(self._eid), call))  # its place among the events of this instant
            return
        event = simpy.Event(self)  # triggered now, without the cost of ``succeed``'s checks
        event._ok, event._value = True, None
        event.callbacks.append(call)
        self.schedule(event, NORMAL)

    def defer(self) -> None:
        """From now on, ``soon`` keeps its calls for ``run_deferred`` (the daily dispatch is running)."""
        self.deferred = []

    def run_deferred(self) -> None:
        """Make the calls ``soon`` kept: at once if no other event is due at this instant (the order
        their events would have run in, without the events); else as events in the places their ids
        hold among those scheduled meanwhile (a tanker process woken by a later deposit comes after)."""
        calls, self.deferred = self.deferred, None
        if not calls:
            return
        queue, now = self._queue, self._now
        if queue and queue[0][0] <= now:
            for eid, call in calls:
                event = simpy.Event(self)
                event._ok, event._value = True, None
                event.callbacks.append(call)
                heapq.heappush(queue, (now, NORMAL, eid, event))
        else:
            self.inlined += len(calls)
            for _, call in calls:
                call(None)

    def at_start(self, call: Callable[[simpy.Event], None]) -> None:
        """Call ``call(event)`` now, before events of normal priority (as a new process would start):
        how a fleet of callbacks takes its first look, in the order of processes."""
        event = simpy.Event(self)
        event._ok, event._value = True, None
        event.callbacks.append(call)
        self.schedule(event, URGENT)

    def timeout_ranked(self, delay: float, priority: int) -> simpy.Event:
        """A timeout that fires ``delay`` from now with ``priority`` (``SHOCK_CHANGE`` or ``DAILY_TICK``)
        among the events due at that instant, whenever it was scheduled."""
        return RankedTimeout(self, delay, priority)

    def events_scheduled(self) -> int:
        """Events scheduled since the start (SimPy's own counter, less the ids kept for calls that ran
        inline): a machine-independent cost."""
        return next(self._eid) - self.inlined

    def run_until(self, at: float) -> None:
        """Process every event scheduled before ``at``, then set the clock to ``at``.

        The same as ``run(until=at)`` (events at exactly ``at`` are left), with ``step`` inlined:
        one method call less per event, which is a few per cent of a run.
        """
        queue = self._queue
        while queue and queue[0][0] < at:
            self._now, _, _, event = heapq.heappop(queue)
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
        self._now = at


class RankedTimeout(simpy.Event):
    """``simpy.Timeout`` with a priority of its own (see ``Environment.timeout_ranked``)."""

    def __init__(self, env: simpy.Environment, delay: float, priority: int):
        self.env = env
        self.callbacks: list = []
        self._ok, self._value = True, None
        env.schedule(self, priority, delay)


class NotifyingResource(simpy.PriorityResource):
    """A ``simpy.PriorityResource`` that calls ``on_freed`` each time it has served its queued
    requests (after a request arrives or a slot frees), so its owner can hand what is left on to
    users it keeps outside SimPy's queue (tankers waiting for a berth)."""

    def __init__(self, env: simpy.Environment, capacity: int, on_freed: Callable[[], None]):
        super().__init__(env, capacity)
        self.on_freed = on_freed

    def serve_requests(self) -> None:
        """Give free slots to waiting requests (in priority order), then call ``on_freed``."""
        self._trigger_put(None)

    def _trigger_put(self, get_event: simpy.Event | None) -> None:
        super()._trigger_put(get_event)  # requests first
        self.on_freed()
