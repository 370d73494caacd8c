"""Helpers of the integration tests: the local entity API's admin endpoints, polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import stack_observations as observe


class EntityApi:
    """The local entity API server's admin endpoints."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def reset(self) -> None:
        observe.entity_api_send(self.base_url, "POST", "/_admin/reset")

    def faults(self, config: dict[str, Any]) -> None:
        observe.entity_api_send(self.base_url, "PUT", "/_admin/faults", config)

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = observe.entity_api(self.base_url, "/_admin/stats")
        return stats

    def applied(self) -> list[dict[str, Any]]:
        applied: list[dict[str, Any]] = observe.entity_api(self.base_url, "/_admin/applied")
        return applied


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
        time.sleep(0.5)
