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


def own_mapping_uuid(stack: Any) -> str:
    """The UUID of the stack's own event source mapping, by its function's exact name: other
    stacks share the LocalStack (sbc-integration-fifo, sbc-integration-short), and LocalStack's
    FunctionName filter also answers mappings of functions whose names merely start with it."""
    queue_name = stack.queue_url.rsplit("/", 1)[-1]
    mappings = [
        m
        for m in stack.client("lambda").list_event_source_mappings(
            FunctionName=stack.function_name
        )["EventSourceMappings"]
        if m["FunctionArn"].split(":")[6] == stack.function_name
        and m["EventSourceArn"].rsplit(":", 1)[-1] == queue_name
    ]
    assert len(mappings) == 1, f"one mapping of {stack.function_name}: {mappings}"
    return str(mappings[0]["UUID"])
