"""The handler's delayed copy at the redrive limit, as the simulator runs it: a change that
fails transiently is re-sent before SQS would redrive it, so the redrive policy never moves a
change the handler settled to the DLQ; only the horizon ends its retries."""

from __future__ import annotations

import pytest
from sim_scenarios import small_scenario

from consumer.flow_control import backoff
from sim import sqs
from sim.scenario import Outage, Scenario
from sim.simulation import Simulation


def failing_throughout(horizon_seconds: float) -> Scenario:
    """50 changes against an API that answers 503 for the whole 20-minute run, with
    `max_receive_count` 2 and a backoff capped at 30 s: each change is received many times."""
    return small_scenario(
        count=50,
        span=1.0,
        max_duration_seconds=1200.0,
        stack={
            "batch_size": 10,
            "max_receive_count": 2,
            "retry_horizon_seconds": horizon_seconds,
            "retry_backoff_max_seconds": 30.0,
        },
        api={"outages": (Outage(0.0, 10_000.0, 503),)},
    )


def test_a_change_failing_through_many_receives_is_never_redriven_within_its_horizon() -> None:
    simulation = Simulation(failing_throughout(horizon_seconds=3600.0))
    result = simulation.run()
    queue = simulation.queue
    attempts = [queue.attempts(message) for message in range(simulation.sent)]
    assert min(attempts) > 2 * queue.max_receive_count  # many receives, through several copies
    assert max(queue.receive_count) <= queue.max_receive_count
    assert result.copies > 0
    assert result.redriven_valid == 0
    assert result.valid_in_dlq == 0
    assert result.still_queued == 50  # still retrying when the run ends
    assert all(state in (sqs.WAITING, sqs.IN_FLIGHT) for state in queue.state)


def test_past_its_horizon_a_change_expires_instead_of_being_redriven() -> None:
    result = Simulation(failing_throughout(horizon_seconds=300.0)).run()
    assert result.copies > 0
    assert result.redriven_valid == 0
    assert result.expired == 50


def test_the_copy_decision_is_the_handlers_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    # the simulator asks consumer.flow_control.backoff; a policy that never copies lets SQS
    # redrive the changes after two receives, as it would in the queue
    monkeypatch.setattr(backoff, "returns_as_copy", lambda *_, **__: False)
    result = Simulation(failing_throughout(horizon_seconds=3600.0)).run()
    assert result.copies == 0
    assert result.redriven_valid == 50


def test_a_copy_restarts_the_receive_count_and_carries_the_first_send() -> None:
    simulation = Simulation(failing_throughout(horizon_seconds=3600.0))
    simulation.start()
    loop, queue = simulation.loop, simulation.queue
    while loop.now < 120.0 and queue.copies == 0:
        loop.run(loop.now + 1.0)
    assert queue.copies > 0
    copied = [m for m in range(simulation.sent) if queue.earlier_attempts[m] > 0]
    for message in copied:
        # copied on the receive before the limit (backoff.returns_as_copy)
        assert queue.earlier_attempts[message] == max(queue.max_receive_count - 1, 1)
        assert queue.sent_at[message] < 1.0  # the change's first send
        assert queue.enqueued_at[message] > queue.sent_at[message]  # the copy's own send
