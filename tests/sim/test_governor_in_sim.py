"""The governor in the simulation: CloudWatch's lag, and the control law moving the mapping."""

from __future__ import annotations

import random

from sim_scenarios import small_scenario

from sim.governor import CloudWatch
from sim.scenario import Governor, RateChange
from sim.simulation import Simulation


def test_a_minute_is_published_one_to_two_minutes_after_it_ends() -> None:
    cloudwatch = CloudWatch(Governor(), random.Random(1))
    for minute in range(50):
        published = cloudwatch.published_at(minute)
        assert (minute + 1) * 60 + 60 <= published <= (minute + 1) * 60 + 120
    assert cloudwatch.newest_published(100.0) is None
    newest = cloudwatch.newest_published(1000.0)
    assert newest is not None
    assert cloudwatch.published_at(newest) <= 1000.0
    assert cloudwatch.published_at(newest + 1) > 1000.0


def test_governor_backs_off_when_the_api_limit_drops_and_stays_in_bounds() -> None:
    scenario = small_scenario(
        count=30_000,
        span=600.0,  # 50 changes/s, one operation per request: 50 requests/s needed
        stack={"batch_size": 10, "maximum_concurrency": 20, "max_operations_per_request": 1},
        api={
            "rate": 100,
            "burst": 100,
            "latency_median_ms": 80,
            "retry_after_seconds": 1.0,
            "rate_changes": (RateChange(at=300.0, rate=10.0),),
        },
        governor={"enabled": True, "minimum": 2, "maximum": 20},
        max_duration_seconds=3600,
        sample_seconds=5,
    )
    simulation = Simulation(scenario)
    result = simulation.run()
    assert result.changes, "the governor never moved"
    assert all(2 <= change.concurrency <= 20 for change in result.changes)
    decreases = [c for c in result.changes if c.reason.startswith("decrease")]
    assert decreases
    assert decreases[0].at > 300.0  # it cannot react before the drop shows in CloudWatch
    assert decreases[0].at <= 300.0 + 4 * 60  # lag 1-2 min + one period + one run
    late = [
        m for at, m in zip(result.timeline.at, result.timeline.maximum, strict=True) if at > 600
    ]
    assert max(late) < 20
