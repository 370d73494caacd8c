"""How many invocations really ran at once, from their start and end times (measured, not assumed).

`measure(intervals)` sweeps the starts and ends: the most invocations in flight at one moment,
and the time-weighted mean while at least one was in flight (busy time), so idle gaps between
bursts do not dilute it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Overlap:
    """Concurrency figures of a set of invocation intervals."""

    invocations: int
    maximum: int  # most invocations in flight at one moment
    mean: float  # time-weighted mean in flight while busy (0 without invocations)
    busy_seconds: float  # time with at least one invocation in flight


def measure(intervals: list[tuple[float, float]]) -> Overlap:
    """Overlap of (start, end) intervals; an end equal to a start does not overlap it."""
    events: list[tuple[float, int]] = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((max(start, end), -1))
    events.sort(key=lambda item: (item[0], item[1]))  # ends before starts at the same time
    in_flight = maximum = 0
    busy = weighted = 0.0
    previous = events[0][0] if events else 0.0
    for time, change in events:
        if in_flight:
            busy += time - previous
            weighted += in_flight * (time - previous)
        previous = time
        in_flight += change
        maximum = max(maximum, in_flight)
    return Overlap(
        invocations=len(intervals),
        maximum=maximum,
        mean=weighted / busy if busy > 0 else float(maximum),
        busy_seconds=busy,
    )
