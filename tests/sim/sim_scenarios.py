"""Small scenarios for the simulator's tests (each runs in well under a second)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sim.scenario import Api, Burst, Governor, Runtime, Scenario, Stack, Traffic


def small_scenario(
    *,
    count: int = 2000,
    span: float = 10.0,
    stack: dict[str, Any] | None = None,
    api: dict[str, Any] | None = None,
    runtime: dict[str, Any] | None = None,
    governor: dict[str, Any] | None = None,
    traffic: dict[str, Any] | None = None,
    **top: Any,
) -> Scenario:
    """A scenario of `count` changes over `span` seconds, with overrides per section."""
    scenario = Scenario(
        name="test",
        max_duration_seconds=3600,
        sample_seconds=1,
        traffic=Traffic(bursts=(Burst(0.0, span, count),), tick_seconds=0.1),
        stack=Stack(batch_size=10, maximum_batching_window_in_seconds=0, maximum_concurrency=20),
        api=Api(rate=100, burst=100, latency_median_ms=20),
        governor=Governor(),
        runtime=Runtime(),
    )
    return replace(
        scenario,
        stack=replace(scenario.stack, **(stack or {})),
        api=replace(scenario.api, **(api or {})),
        runtime=replace(scenario.runtime, **(runtime or {})),
        governor=replace(scenario.governor, **(governor or {})),
        traffic=replace(scenario.traffic, **(traffic or {})),
        **top,
    )
