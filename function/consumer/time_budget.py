"""The invocation's time budget: a deadline taken from the Lambda context, minus a margin."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

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


class CallTimeoutError(Exception):
    """A call did not return within its time (it may still be running, and take effect)."""


def call_within[T](call: Callable[[], T], seconds: float) -> T:
    """`call()`'s result, or CallTimeoutError once `seconds` have passed without one. The call runs
    in a daemon thread, left behind when it overruns: an SQS answer trickled byte by byte
    keeps every socket read under the client's read timeout, and would otherwise hold the
    invocation past its deadline."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True, name="sqs-call")
    thread.start()
    thread.join(max(seconds, 0.0))
    if failure:
        raise failure[0]
    if not outcome:
        raise CallTimeoutError(f"no answer within {seconds:.1f} s")
    return outcome[0]
