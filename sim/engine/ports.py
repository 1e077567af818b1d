"""Loading ports: berths (or single-point moorings) shared by tankers, some blocked at times.

Blocks (standby berths, berths out of service) are ordinary priority requests on a SimPy resource
and go first. Tankers take a free berth at once (``take``) or wait in a plain first-come queue
(``wait``) that is served whenever a berth frees and no block is waiting: the same order as priority
requests, without a request and a release event per cargo.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

import numpy as np
import simpy

from sim.engine.env import SHOCK_CHANGE, NotifyingResource
from sim.engine.shocks import STEPS_PER_DAY

__all__ = ["Berths", "Port"]


class _BerthUse:
    """A berth occupied by a tanker (``Berths.take`` or ``Berths.wait``)."""

    __slots__ = ()


class Berths:
    """A port's berths: blocks are SimPy priority requests, tankers queue here in arrival order."""

    def __init__(self, env: simpy.Environment, capacity: int = 1):
        self.env = env
        self.capacity = capacity
        self.resource = NotifyingResource(env, capacity, self._requests_served)
        self.users = self.resource.users  # blocks' requests and tankers' berths, one list
        self.blocks_waiting = self.resource.put_queue
        # tankers waiting for a berth, in order: an event to trigger, or a fleet's call to make
        self.waiting: deque[simpy.Event | Callable[[object], None]] = deque()

    def take(self) -> object | None:
        """Occupy a free berth now if nobody is waiting; ``None`` if the caller must ``wait``."""
        if self.blocks_waiting or self.waiting or len(self.users) >= self.capacity:
            return None
        use = _BerthUse()
        self.users.append(use)
        return use

    def wait(self) -> simpy.Event:
        """An event that triggers, with the berth as its value, once a berth is this tanker's."""
        event = simpy.Event(self.env)
        self.waiting.append(event)
        self._serve_waiting()
        return event

    def queue_call(self, call: Callable[[object], None]) -> None:
        """Queue a fleet's tanker (after ``take`` failed): ``call(berth)`` once a berth is its."""
        self.waiting.append(call)

    def block(self) -> simpy.Event:
        """Block a berth (a priority request, served before waiting tankers)."""
        return self.resource.request(priority=0)

    def unblock(self, request: simpy.Event) -> None:
        """Lift a block: free its berth, or withdraw the request if it still waits."""
        if request.triggered:
            self.resource.release(request)
        else:
            request.cancel()

    def give_back(self, use: object) -> None:
        """Free a berth taken with ``take`` or ``wait``; blocks, then waiting tankers, move in."""
        self.users.remove(use)
        if self.blocks_waiting:
            self.resource.serve_requests()  # blocks first, then waiting tankers
        elif self.waiting:
            self._serve_waiting()

    def _requests_served(self) -> None:
        if self.waiting:
            self._serve_waiting()

    def _serve_waiting(self) -> None:
        waiting = self.waiting
        while waiting and not self.blocks_waiting and len(self.users) < self.capacity:
            use = _BerthUse()
            self.users.append(use)
            waiter = waiting.popleft()
            if type(waiter) is simpy.Event:
                waiter.succeed(use)
            else:
                # a fleet: it loads after the current step, as a triggered event would resume it
                self.env.soon(lambda _event, waiter=waiter, use=use: waiter(use))


class Port:
    """A loading port: its berths, and a process that blocks and unblocks them as scheduled.

    Standby berths and berths out of service are held by blocks, which queue ahead of tankers; a
    loading under way finishes before its berth is taken. ``usable`` is the hourly count of berths in
    use (``Timelines.usable_berths``: outages counted as units, standby take-over, weather), or None
    when no shock touches the port (its active berths all the time).
    """

    def __init__(self, env: simpy.Environment, name: str, berths: int, active: int, usable: np.ndarray | None):
        self.env = env
        self.name = name
        self.berths = berths
        self.active = active
        self.resource = Berths(env, capacity=berths)
        self.blocks: list = []
        env.process(self._control(self._blocked_schedule(usable)))

    def _blocked_schedule(self, usable: np.ndarray | None) -> list[tuple[float, int]]:
        """(time, berths blocked) at each change."""
        normal = self.berths - self.active
        if usable is None:
            return [(0.0, normal)]
        blocked = self.berths - usable
        changes = np.flatnonzero(np.diff(blocked)) + 1
        schedule = [(0.0, int(blocked[0]))]
        schedule += [(i / STEPS_PER_DAY, int(blocked[i])) for i in changes]
        return schedule

    def _control(self, schedule: list[tuple[float, int]]) -> Iterator[simpy.Event]:
        for time, blocked in schedule:
            if time > self.env.now:
                yield self.env.timeout_ranked(time - self.env.now, SHOCK_CHANGE)  # before all else then
            while len(self.blocks) < blocked:
                self.blocks.append(self.resource.block())
            while len(self.blocks) > blocked:
                self.resource.unblock(self.blocks.pop())
