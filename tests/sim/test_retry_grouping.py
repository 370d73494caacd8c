"""The simulator's fast paths for failed requests compute what the record-by-record code did:
one `schedule_retry` call serves the records of a throttled request that share a key (the
shipped function does not read the draw when a Retry-After is given), and a request whose
operations all failed or all applied is sorted as a whole."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from sim_scenarios import small_scenario

from consumer.flow_control import backoff
from consumer.visibility import MAX_DELAY_SECONDS
from sim.entity_api import APPLIED, REJECTED
from sim.function import Function, Invocation
from sim.scenario import Outage, Scenario
from sim.simulation import Result, Simulation, run


def record_by_record_plan(
    self: Function,
    now: float,
    failed: list[int],
    retry_after: list[float | None],
    to_dlq: list[int],
) -> tuple[list[int], list[int], list[int], list[int]]:
    """The oracle: one `schedule_retry` call per failed record, as before the grouping."""
    if not failed or not self.stack.visibility_backoff:
        return failed, [], [], []
    stack, queue = self.stack, self.queue
    now_ms = math.floor(now * 1000)
    retried: list[int] = []
    delays: list[int] = []
    copied: list[int] = []
    copy_delays: list[int] = []
    for message, seconds in zip(failed, retry_after, strict=True):
        plan = backoff.schedule_retry(
            queue.attempts(message),
            math.floor(queue.sent_at[message] * 1000),
            now_ms,
            horizon_seconds=stack.retry_horizon_seconds,
            base=stack.retry_backoff_base_seconds,
            cap=stack.retry_backoff_max_seconds,
            draw=self.rng.random(),
            retry_after=seconds,
        )
        if plan.expired:
            to_dlq.append(message)
        elif backoff.returns_as_copy(queue.receive_count[message], queue.max_receive_count):
            copied.append(message)
            copy_delays.append(min(plan.visibility_seconds, MAX_DELAY_SECONDS))
        else:
            retried.append(message)
            delays.append(plan.visibility_seconds)
    return retried, delays, copied, copy_delays


def operation_by_operation_sort(
    self: Function, invocation: Invocation
) -> tuple[list[int], list[int], list[int], list[float | None]]:
    """The oracle: every operation of every request looked at on its own."""
    done: list[int] = []
    to_dlq: list[int] = list(invocation.invalid)
    failed: list[int] = []
    retry_after: list[float | None] = []
    for index, (first, size) in enumerate(invocation.requests):
        seconds = invocation.retry_after.get(index)
        for position in range(first, first + size):
            operation = (
                [invocation.messages[position]]
                if invocation.plain
                else invocation.operations[position]
            )
            outcome = invocation.outcome[position]
            if outcome == APPLIED:
                done.extend(operation)
            elif outcome == REJECTED:
                to_dlq.extend(operation)
            else:
                failed.extend(operation)
                retry_after.extend([seconds] * len(operation))
    return done, to_dlq, failed, retry_after


def storm(**api: Any) -> Scenario:
    """A 429 storm with an outage, operations failing one by one, rejects, invalid records,
    and a redrive limit low enough for copies and a horizon short enough for expiry."""
    return small_scenario(
        count=6000,
        span=30.0,
        stack={
            "batch_size": 10,
            "maximum_concurrency": 40,
            "max_operations_per_request": 5,
            "max_receive_count": 3,
            "retry_horizon_seconds": 45,
        },
        api={
            "rate": 20,
            "burst": 20,
            "latency_median_ms": 50,
            "retry_after_seconds": 1.0,
            "outages": (Outage(40.0, 30.0, 503),),
            "transient_operation_share": 0.05,
            "rejected_operation_share": 0.02,
            **api,
        },
        traffic={"invalid_share": 0.01, "entities": 500},
    )


def figures(result: Result) -> dict[str, object]:
    """Every figure of a run but its wall-clock time."""
    values = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    for name in ("wall_seconds", "scenario"):
        values.pop(name)
    values["timeline"] = dataclasses.asdict(result.timeline)
    return values


@pytest.mark.parametrize(
    "api",
    [
        {"outage_retry_after_seconds": 0.0},  # 503s without Retry-After: jittered, one by one
        {"outage_retry_after_seconds": 5.0},
        {"transient_operation_share": 0.3, "rejected_operation_share": 0.3},  # mixed requests
    ],
)
def test_the_fast_paths_give_the_figures_of_the_record_by_record_code(
    monkeypatch: pytest.MonkeyPatch, api: dict[str, float]
) -> None:
    scenario = storm(**api)
    fast = run(scenario)
    for figure in ("copies", "expired", "rejected_in_dlq", "invalid_in_dlq"):
        assert getattr(fast, figure) > 0, figure
    assert fast.answers_429 > 400  # a storm: hundreds of 429s (483-599 with today's pacing)
    monkeypatch.setattr(Function, "_retry_plan", record_by_record_plan)
    monkeypatch.setattr(Function, "_sort_outcomes", operation_by_operation_sort)
    assert figures(run(scenario)) == figures(fast)


def test_a_throttled_request_takes_fewer_schedule_retry_calls_than_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    shipped = backoff.schedule_retry

    def counted(*args: Any, **kwargs: Any) -> backoff.RetryPlan:
        nonlocal calls
        calls += 1
        return shipped(*args, **kwargs)

    monkeypatch.setattr(backoff, "schedule_retry", counted)
    scenario = small_scenario(
        count=6000,
        span=1.0,
        stack={"batch_size": 10, "maximum_concurrency": 40, "max_operations_per_request": 10},
        api={"rate": 20, "burst": 20, "retry_after_seconds": 1.0},
    )
    simulation = Simulation(scenario)
    result = simulation.run()
    failed = simulation.function.counters.retried + result.copies + result.expired
    assert failed > 2 * calls


@pytest.mark.parametrize("retry_after", [0.2, 1.0, 7.5, 50_000.0])
@pytest.mark.parametrize("receive_count", [1, 4, 30])
def test_schedule_retry_does_not_read_the_draw_given_a_retry_after(
    retry_after: float, receive_count: int
) -> None:
    """The premise of the grouping: with a Retry-After the plan is the same for every draw."""
    plans = {
        backoff.schedule_retry(
            receive_count,
            1_000_000,
            1_040_000,
            horizon_seconds=3600,
            base=1.0,
            cap=900.0,
            draw=draw,
            retry_after=retry_after,
        )
        for draw in (0.0, 0.3, 0.999999)
    }
    assert len(plans) == 1
