"""When one scheduled run of the governor decides: every PERIOD_SECONDS within the span the
schedule gives it.

EventBridge runs the governor at most once a minute (`rate(1 minute)`); its target passes
`{"run_seconds": 60}`, so a run decides at its start and every period after it until the next
run takes over: six decisions a minute with 10-s periods, one with 60-s ones. A direct
invocation without `run_seconds` decides once. Pure: shared by the entry point (which sleeps
between decisions) and the simulator (which schedules them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

RUN_SECONDS_KEY = "run_seconds"
MAXIMUM_RUN_SECONDS = 600
"""Longer than any schedule the module creates; a larger value is refused."""
DECISION_RESERVE_SECONDS = 15.0
"""A decision starts only while at least this much of the invocation's time is left: more
than one AWS call may take when it is refused or late and tried again (the entry point's
client settings). A decision whose calls all stall outlasts it: Lambda's timeout ends the run,
which fails (the governor's error alarm); the next run decides afresh."""


def run_seconds(event: Any) -> float:
    """The span the event gives this run (0: one decision); ValueError naming the key when it
    is not a number of seconds from 0 to MAXIMUM_RUN_SECONDS."""
    if not isinstance(event, Mapping) or RUN_SECONDS_KEY not in event:
        return 0.0
    value = event[RUN_SECONDS_KEY]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAXIMUM_RUN_SECONDS
    ):
        raise ValueError(
            f"{RUN_SECONDS_KEY} must be a number of seconds from 0 to {MAXIMUM_RUN_SECONDS}, "
            f"got {value!r}"
        )
    return float(value)


def decision_offsets(period_seconds: float, span_seconds: float) -> list[float]:
    """Seconds after the run's start at which it decides: 0, one period, two, ... while
    under `span_seconds` (at least the first)."""
    count = max(1, math.ceil(span_seconds / period_seconds - 1e-9))
    return [k * period_seconds for k in range(count)]
