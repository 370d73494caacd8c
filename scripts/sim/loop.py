"""The discrete-event loop: callbacks at simulated instants, in time order."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial
from heapq import heappop, heappush
from typing import Any

Callback = Callable[[float, Any], None]


class Loop:
    """A heap of (instant, sequence, callback, argument); ties run in scheduling order."""

    __slots__ = ("_heap", "_sequence", "clock", "events", "now", "stopped")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callback, Any]] = []
        self._sequence = itertools.count()
        self.now = 0.0
        self.events = 0
        self.stopped = False
        self.clock: Callable[[], float] = partial(getattr, self, "now")
        """`now` as a callable made in C (no Python frame per reading: the Pacers read it on
        every turn and answer)."""

    def at(self, when: float, callback: Callback, argument: Any = None) -> None:
        """Run `callback(when, argument)` at `when` (never before the current instant)."""
        now = self.now
        heappush(
            self._heap, (now if now > when else when, next(self._sequence), callback, argument)
        )

    def run(self, until: float) -> None:
        """Run events in order until none is left, `stop()` is called, or `until` passes."""
        heap = self._heap
        events = self.events
        try:
            while heap and not self.stopped:
                when, _, callback, argument = heap[0]
                if when > until:
                    self.now = until
                    return
                heappop(heap)
                self.now = when
                events += 1
                callback(when, argument)
        finally:
            self.events = events

    def stop(self) -> None:
        """End `run` after the current event."""
        self.stopped = True
