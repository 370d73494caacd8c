"""The simulator's bulk paths compute what its one-at-a-time code computes: producers' draws
made many at a time, the queue's chunks of released groups, its deletes, releases and copies
applied to a whole invocation's records at once (numpy over the queue's arrays), a batch of
fresh messages received and planned as a run, a batch's entities read at once, receives that
skip the ages while none can be past retention, batches whose validity is not read while none
sent was invalid, one retry instant for records due together, a batch whose one request failed
sorted as a whole, and `schedule_retry` called once per key when every failed record has a
Retry-After. The oracle is the same simulator with each of those paths turned off; every
figure must agree."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sim_scenarios import small_scenario
from test_retry_grouping import figures, operation_by_operation_sort, record_by_record_plan, storm

from sim import draws, function, report, scenario, sqs
from sim.function import Function
from sim.scenario import Outage, Scenario
from sim.simulation import run


class OneAtATime:
    """`draws.Uniforms` drawn with one `random()` call per value."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def take(self, count: int) -> npt.NDArray[np.float64]:
        return np.array([self.rng.random() for _ in range(count)], dtype=np.float64)


def one_by_one(self: sqs.Runs, messages: Sequence[int]) -> None:
    """`Runs.add_group` as before the chunks: every message appended on its own."""
    for message in messages:
        self.add(message)


def every_validity_read(self: sqs.Queue, messages: Sequence[int], _: range | None) -> bool:
    """`Queue.all_valid` reading each message's validity, even when none sent was invalid."""
    return all(map(self.valid.__getitem__, messages))


def without_bulk_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draws, "Uniforms", OneAtATime)
    monkeypatch.setattr(sqs.Runs, "add_group", one_by_one)
    monkeypatch.setattr(sqs, "_all_in_state", lambda *_: False)
    monkeypatch.setattr(sqs, "as_run", lambda _: None)
    monkeypatch.setattr(Function, "_retry_plan", record_by_record_plan)
    monkeypatch.setattr(Function, "_sort_outcomes", operation_by_operation_sort)
    receive = sqs.Queue.receive
    monkeypatch.setattr(  # a batch is always a list, never a range
        sqs.Queue, "receive", lambda self, *args: list(receive(self, *args))
    )
    monkeypatch.setattr(sqs.Queue, "_none_enqueued_before", lambda *_: False)  # every age read
    monkeypatch.setattr(sqs.Queue, "all_valid", every_validity_read)
    monkeypatch.setattr(  # each entity read on its own
        sqs.Queue,
        "entities",
        lambda self, messages, _: list(map(self.entity.__getitem__, messages)),
    )
    monkeypatch.setattr(  # one addition per record
        function, "_after", lambda end, delays: [end + delay for delay in delays]
    )


def million_burst_rows(changes: int, seed: int) -> list[Scenario]:
    """The four rows of `python -m sim bench`, scaled down."""
    chosen = replace(scenario.scaled(scenario.load("million-burst"), changes), seed=seed)
    return [variant for _, variant in report.variants(chosen)]


def short_retention(case: Scenario, seconds: float) -> Scenario:
    """`case` with messages lost to retention (copies start their own retention)."""
    stack = replace(case.stack, message_retention_seconds=seconds, retry_horizon_seconds=600)
    return replace(case, stack=stack)


def one_request_per_batch(case: Scenario) -> Scenario:
    """`case` with a batch's operations in one request (a request failed as a whole is then
    the whole batch)."""
    return replace(
        case, stack=replace(case.stack, max_operations_per_request=case.stack.batch_size)
    )


def with_traffic(case: Scenario, **traffic: Any) -> Scenario:
    """`case` with other traffic settings."""
    return replace(case, traffic=replace(case.traffic, **traffic))


CASES = [
    short_retention(storm(outage_retry_after_seconds=5.0), 60),  # 400 lost, 22 copies
    *(storm(outage_retry_after_seconds=after) for after in (0.0, 5.0)),
    replace(storm(transient_operation_share=0.3, rejected_operation_share=0.3), seed=3),
    one_request_per_batch(storm(transient_operation_share=0.3, rejected_operation_share=0.3)),
    replace(small_scenario(count=3000, span=5.0, traffic={"invalid_share": 0.2}), seed=5),
    small_scenario(  # a batch's records sent up to 20 s apart, refused until their horizon
        count=300,
        span=300.0,
        stack={
            "batch_size": 50,
            "maximum_batching_window_in_seconds": 20,
            "maximum_concurrency": 5,
            "retry_horizon_seconds": 45,
            "max_receive_count": 10,
            "max_operations_per_request": 50,
        },
        api={"outages": (Outage(0.0, 1000.0, 503),), "outage_retry_after_seconds": 5.0},
    ),
    with_traffic(storm(), entities=3),  # re-received batches with repeated entities
    with_traffic(storm(), message_bytes=100_000),  # every call billed by its 64 KB chunks
    *million_burst_rows(100_000, seed=1),
    *million_burst_rows(200_000, seed=4)[2:3],  # static 1000: ~1,000 429s
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.name}-{c.changes}-{c.seed}")
def test_the_bulk_paths_give_the_figures_of_the_one_at_a_time_code(
    monkeypatch: pytest.MonkeyPatch, case: Scenario
) -> None:
    fast = run(case)
    with monkeypatch.context() as patched:
        without_bulk_paths(patched)
        slow = run(case)
    assert figures(fast) == figures(slow)
    assert fast.requests > 0


def test_the_storm_rows_go_through_the_bulk_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """The storm reaches the paths checked above: groups released as chunks, records of
    throttled invocations released and copied in bulk."""
    calls = {"add_group": 0, "bulk": 0}
    add_group, all_in_state = sqs.Runs.add_group, sqs._all_in_state

    def counted_add_group(self: sqs.Runs, messages: Sequence[int]) -> None:
        calls["add_group"] += type(messages) is not range
        add_group(self, messages)

    def counted_all_in_state(*args: object) -> bool:
        result = all_in_state(*args)  # type: ignore[arg-type]
        calls["bulk"] += result
        return result

    monkeypatch.setattr(sqs.Runs, "add_group", counted_add_group)
    monkeypatch.setattr(sqs, "_all_in_state", counted_all_in_state)
    result = run(storm(outage_retry_after_seconds=5.0))
    assert result.copies > 0
    assert result.answers_429 > 100
    assert calls["add_group"] > 10
    assert calls["bulk"] > 100


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("count", [0, 1, 63, 64, 1000, 70_001])
def test_bulk_draws_are_the_values_of_random(seed: int, count: int) -> None:
    one, bulk = random.Random(seed), draws.Uniforms(random.Random(seed))
    expected = [one.random() for _ in range(count)] + [one.random() for _ in range(5)]
    assert bulk.take(count).tolist() + bulk.take(5).tolist() == expected


@pytest.mark.parametrize("count", [0, 1, 2, 1000])
def test_skipping_draws_moves_the_generator_as_drawing_them(count: int) -> None:
    drawn, skipped = random.Random(9), random.Random(9)
    for _ in range(count):
        drawn.random()
    draws.skip(skipped, count)
    assert skipped.getstate() == drawn.getstate()


@pytest.mark.parametrize("entities", [1, 3])
def test_changes_to_one_entity_in_a_batch_coalesce_into_one_operation(entities: int) -> None:
    """The handler coalesces a batch's changes per entity: with one operation per request, a
    batch of 10 changes to at most 3 entities makes at most 3 requests, not 10; each change
    still counts as applied."""
    settings = {"batch_size": 10, "max_operations_per_request": 1, "maximum_concurrency": 2}
    few = run(small_scenario(count=1000, stack=settings, traffic={"entities": entities}))
    many = run(small_scenario(count=1000, stack=settings))

    assert many.requests >= 1000  # distinct entities: an operation, so a request, each
    assert few.applied == many.applied == 1000
    assert few.requests <= entities * few.invocations < many.requests


@pytest.mark.parametrize("message_bytes", [60_000, 200_000])
def test_big_messages_are_billed_by_the_64_kb_chunk(message_bytes: int) -> None:
    """SQS bills a batch call per 64 KB chunk of its payload, beyond one per 10 entries (the
    bulk paths meet big messages in CASES too)."""
    small = run(small_scenario(count=400))
    big = run(small_scenario(count=400, traffic={"message_bytes": message_bytes}))
    assert big.sqs_requests > small.sqs_requests
