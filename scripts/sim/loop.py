"""The discrete-event loop: callbacks at simulated instants, in time order."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

Callback = Callable[[float, Any], None]


class Loop:
    """A heap of (instant, sequence, callback, argument); ties run in scheduling order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callback, Any]] = []
        self._sequence = itertools.count()
        self.now = 0.0
        self.events = 0
        self.stopped = False

    def at(self, when: float, callback: Callback, argument: Any = None) -> None:
        """Run `callback(when, argument)` at `when` (never before the current instant)."""
        heapq.heappush(self._heap, (max(when, self.now), next(self._sequence), callback, argument))

    def run(self, until: float) -> None:
        """Run events in order until none is left, `stop()` is called, or `until` passes."""
        heap, pop = self._heap, heapq.heappop
        while heap and not self.stopped:
            when, _, callback, argument = heap[0]
            if when > until:
                self.now = until
                return
            pop(heap)
            self.now = when
            self.events += 1
            callback(when, argument)

    def stop(self) -> None:
        """End `run` after the current event."""
        self.stopped = True
