"""The invocation's time budget: a deadline taken from the Lambda context, minus a margin."""

from __future__ import annotations

import time
from typing import Any

from consumer.terms import SQS_CALL_SECONDS, SQS_CLIENT_SECONDS, SQS_FURTHER_CALL_SECONDS

SAFETY_MARGIN_SECONDS = 0.5
"""Kept free at the end of every invocation to log and return."""
DEFAULT_BUDGET_SECONDS = 60.0
"""Budget when there is no Lambda context (local runs)."""


class Deadline:
    """A point in monotonic time; `remaining()` is what is left before it."""

    def __init__(self, seconds: float) -> None:
        self._at = time.monotonic() + seconds

    @classmethod
    def from_context(cls, context: Any, margin: float = SAFETY_MARGIN_SECONDS) -> Deadline:
        """Deadline = now + remaining invocation time - margin (a default budget without one)."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        try:
            seconds = float(remaining()) / 1000 if callable(remaining) else DEFAULT_BUDGET_SECONDS
        except (TypeError, ValueError):
            seconds = DEFAULT_BUDGET_SECONDS
        return cls(seconds - margin)

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self._at - time.monotonic()

    def earlier_by(self, seconds: float) -> Deadline:
        """A deadline `seconds` before this one."""
        deadline = Deadline(0)
        deadline._at = self._at - seconds
        return deadline


def settling_reserve(calls: int, client_ready: bool, available: float) -> float:
    """The time kept free after delivery for `calls` SQS calls (copies, DLQ, visibility):
    the first its whole timeout, each further one what a call takes when SQS is well, plus
    building the client when there is none yet. Never more than half of `available` (the
    time left before delivery) beyond one call: delivery keeps its share."""
    least = SQS_CALL_SECONDS + (0.0 if client_ready else SQS_CLIENT_SECONDS)
    wanted = least + max(calls - 1, 0) * SQS_FURTHER_CALL_SECONDS
    return max(least, min(wanted, available / 2))
