"""Helpers of the integration tests: the local entity API's admin endpoints, polling."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest

from consumer.governor.run import WINDOW_PERIODS
from sbc_tools.entity_api_admin import EntityApiAdmin

# The local entity API server's admin endpoints (the project's one admin client).
EntityApi = EntityApiAdmin


Waiter = Callable[[Callable[[], Any], float, str], Any]


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `condition` until it returns something truthy; fail naming `what` on timeout."""
    give_up = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > give_up:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


GOVERNOR_WAITING = "hold: waiting for metrics after the last change"
"""The governor's answer while its window still reaches back before its last change."""


def wait_for_governor_window_after(changed_at: float, period: float) -> None:
    """Until the governor's window (WINDOW_PERIODS whole periods) starts after `changed_at`."""
    while math.floor(time.time() / period) * period - WINDOW_PERIODS * period < changed_at:
        time.sleep(1)
