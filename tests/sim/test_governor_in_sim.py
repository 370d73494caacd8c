"""The governor in the simulation: CloudWatch's lag, the runs' decisions within a minute, and
the control law moving the mapping."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path

from sim_scenarios import small_scenario

from consumer.governor.run import metric_queries
from sim import governor as sim_governor
from sim.governor import CloudWatch
from sim.scenario import Governor, Outage, RateChange
from sim.simulation import Simulation

REPO = Path(__file__).resolve().parents[2]


def test_a_second_is_published_five_to_thirty_seconds_after_it_ends() -> None:
    cloudwatch = CloudWatch(Governor(), random.Random(1))
    for second in range(500):
        assert second + 1 + 5 <= cloudwatch.published_at(second) <= second + 1 + 30


def test_a_period_is_read_as_far_as_it_is_published() -> None:
    """Seconds are published each after its own lag: a period's sum grows as they arrive."""
    cloudwatch = CloudWatch(Governor(), random.Random(2), {s: [1, 0] for s in range(100, 110)})
    governor = sim_governor.GovernorConfig.from_environ(sim_governor.environment(Governor()))

    def requests_at(now: float) -> list[float]:
        cloudwatch.clock = lambda: now
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=metric_queries(governor),
            StartTime=datetime.fromtimestamp(100, UTC),
            EndTime=datetime.fromtimestamp(110, UTC),
        )
        return list(answer["MetricDataResults"][0]["Values"])

    assert requests_at(105.0) == []
    assert requests_at(140.0) == [10.0]
    partial = [requests_at(float(now)) for now in range(106, 141)]
    assert any(values and values[0] < 10 for values in partial)


def test_a_scheduled_run_decides_every_period_as_terraform_passes_it() -> None:
    """The simulator's runs span the `run_seconds` Terraform's schedule target passes."""
    module = (REPO / "terraform" / "modules" / "governor" / "main.tf").read_text(encoding="utf-8")
    match = re.search(r"run_seconds\s*=\s*(\d+)", module)
    assert match
    assert float(match.group(1)) == sim_governor.SCHEDULE_SECONDS


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
    runner = simulation.governor
    assert runner is not None
    gaps = {
        round(b.at - a.at) for a, b in zip(runner.decisions, runner.decisions[1:], strict=False)
    }
    assert gaps == {10}  # six decisions a minute, runs back to back
    decreases = [c for c in result.changes if c.reason.startswith("decrease")]
    assert decreases
    assert decreases[0].at > 300.0  # it cannot react before the drop shows in CloudWatch
    # lag 5-30 s + the 10-s period holding the drop + the next decision
    assert decreases[0].at <= 300.0 + 60
    late = [
        m for at, m in zip(result.timeline.at, result.timeline.maximum, strict=True) if at > 600
    ]
    assert max(late) < 20


def test_an_outage_leaves_the_setting_where_it_was_for_the_recovery() -> None:
    """Every request refused for two minutes (503, counted as throttled): the governor holds
    instead of cutting to its minimum, so the backlog drains at the setting it had."""
    scenario = small_scenario(
        count=30_000,
        span=600.0,  # 50 changes/s, one operation per request
        stack={"batch_size": 10, "maximum_concurrency": 10, "max_operations_per_request": 1},
        api={
            "rate": 100,
            "burst": 100,
            "latency_median_ms": 80,
            "outages": (Outage(start=200.0, duration=120.0, status=503),),
        },
        governor={"enabled": True, "minimum": 2, "maximum": 20},
        max_duration_seconds=3600,
        sample_seconds=5,
    )
    simulation = Simulation(scenario)
    result = simulation.run()
    runner = simulation.governor
    assert runner is not None
    during = [d for d in runner.decisions if 200.0 <= d.at <= 320.0 + 40]
    assert any("accepted nothing" in d.reason for d in during)
    assert not [d for d in during if d.reason.startswith("decrease")]
    before = [d.concurrency for d in runner.decisions if d.at < 200.0][-1]
    assert min(d.concurrency for d in during) >= before  # never cut below it
    assert result.valid_in_dlq == 0
