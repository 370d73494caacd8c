"""The host's cores: work that shares them waits for one to be free (LocalStack on this
machine runs the poller, its own work and the functions' cold starts on 2 cores)."""

from __future__ import annotations

import heapq


class Cores:
    """`count` cores, each doing one piece of work at a time; none (0): work never waits."""

    __slots__ = ("_free",)

    def __init__(self, count: int) -> None:
        self._free = [0.0] * max(count, 0)
        """When each core is free (a heap)."""

    def done(self, now: float, seconds: float) -> float:
        """When `seconds` of work asked for at `now` ends: at once, or on the first core free."""
        free = self._free
        if not free:
            return now + seconds
        end = max(now, free[0]) + seconds
        heapq.heapreplace(free, end)
        return end
