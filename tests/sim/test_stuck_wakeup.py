"""Regression (issue 16, item 4): a planner sweep case (slow API, batch 1000, concurrency 100)
left messages hidden with every poller idle and no wake-up scheduled: "not drained"."""

from __future__ import annotations

from sim_scenarios import small_scenario

from sim.simulation import run


def test_slow_api_big_batches_many_pollers_drains() -> None:
    scenario = small_scenario(
        count=20_000,
        span=60.0,
        stack={
            "batch_size": 1000,
            "maximum_batching_window_in_seconds": 1.0,
            "maximum_concurrency": 100,
            # records on their second receive come back as delayed copies, the others
            # through their visibility: one invocation does both
            "max_receive_count": 2,
            "max_operations_per_request": 10,
        },
        api={
            "rate": 10,
            "burst": 10,
            "latency_median_ms": 800,
            "latency_sigma": 0.8,
            # a copy due 1 s after its send is due before the invocation's ~100
            # ChangeMessageVisibilityBatch calls for 1,000 records are over
            "retry_after_seconds": 1.0,
        },
        max_duration_seconds=4 * 3600,
    )
    result = run(scenario)
    assert result.copies > 0  # the delayed copies this case is about were sent
    assert result.still_queued == 0
    assert result.drain_seconds is not None
