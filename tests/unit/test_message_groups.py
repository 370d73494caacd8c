"""FIFO message groups: detection, the held-back rule and group chains (pure logic)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from test_aggregation import make_record, validate

from consumer.aggregation import plan_operations
from consumer.message_groups import held_back, is_fifo_batch, message_group

FIFO_ARN = "arn:aws:sqs:eu-west-1:123456789012:changes.fifo"
STANDARD_ARN = "arn:aws:sqs:eu-west-1:123456789012:changes"


def raw(group: str | None = None, arn: str = STANDARD_ARN) -> dict[str, Any]:
    attributes = {"SentTimestamp": "1"} | ({"MessageGroupId": group} if group else {})
    return {"messageId": "m", "attributes": attributes, "eventSourceARN": arn}


@pytest.mark.parametrize(
    ("records", "fifo"),
    [
        ([raw(), raw()], False),
        ([raw("g1"), raw("g2")], True),
        ([raw(arn=FIFO_ARN)], True),
        ([raw(), "not a record", None], False),
        ([{"attributes": {"MessageGroupId": 7}}], False),
        ([], False),
    ],
)
def test_a_fifo_batch_is_recognised_by_a_group_or_a_fifo_arn(
    records: list[Any], fifo: bool
) -> None:
    assert is_fifo_batch(records) is fifo


def test_message_group_reads_only_a_non_empty_string() -> None:
    assert message_group(raw("order:1")) == "order:1"
    assert message_group({"attributes": {"MessageGroupId": ""}}) is None
    assert message_group({"attributes": "x"}) is None
    assert message_group(42) is None


def test_held_back_is_every_later_record_of_a_failed_records_group() -> None:
    groups = ["a", "b", "a", "a", "b", "c", "a"]
    assert held_back(groups, {2}) == {3, 6}
    assert held_back(groups, {3, 2}) == {3, 6}  # the first failure counts
    assert held_back(groups, {4}) == set()  # the last of its group: nothing behind it
    assert held_back(groups, {0, 1}) == {2, 3, 4, 6}
    assert held_back(groups, set()) == set()


def test_records_without_a_group_hold_each_other_back() -> None:
    assert held_back([None, "a", None, None], {0}) == {2, 3}


def group_chains(records: list[Any], groups: list[str | None]) -> list[list[str]]:
    plan = plan_operations(records, validate, message_groups=groups)
    return [[op.op_id for op in chain] for chain in plan.chains() if chain]


def test_a_fifo_plan_keeps_batch_order_whatever_occurred_at_says() -> None:
    records = [
        make_record(0, "late", "1", "create", at="2026-01-01T00:00:09Z"),
        make_record(1, "early", "1", "delete", at="2026-01-01T00:00:01Z"),
    ]
    assert group_chains(records, ["g", "g"]) == [["late", "early"]]
    # without groups (a standard queue) occurred_at decides
    plan = plan_operations(records, validate)
    assert [[op.op_id for op in chain] for chain in plan.chains()] == [["early", "late"]]


def test_a_fifo_plan_has_one_chain_per_group_even_across_entities() -> None:
    records = [
        make_record(0, "a", "1", "create"),
        make_record(1, "b", "2", "create"),
        make_record(2, "c", "1", "delete"),
        make_record(3, "d", "3", "create"),
    ]
    assert group_chains(records, ["t1", "t1", "t1", "t2"]) == [["a", "b", "c"], ["d"]]


def test_in_fifo_order_an_older_change_after_a_newer_one_is_not_coalesced_into_it() -> None:
    # merged, x=2 (00:00:01) would be sent as of 00:00:09: an API that refuses stale writes
    # would take it, where it refuses u2 sent alone (contract section 3)
    records = [
        make_record(0, "u1", "1", attributes={"x": 1}, at="2026-01-01T00:00:09Z"),
        make_record(1, "u2", "1", attributes={"x": 2}, at="2026-01-01T00:00:01Z"),
        make_record(2, "u3", "1", attributes={"x": 3}, at="2026-01-01T00:00:01Z"),
    ]
    plan = plan_operations(records, validate, message_groups=["g", "g", "g"])
    [[first, second]] = list(plan.chains())
    assert (first.op_id, first.records) == ("u1", [0])
    assert second.message["attributes"] == {"x": 3}  # queue order: the later change wins
    assert second.records == [1, 2]


def test_applied_sequences_expand_coalesced_operations_in_publishing_order() -> None:
    from sbc_tools.ops.messages import applied_sequences

    applied = [
        {"op_id": "r-000001", "attributes": {"k1": 1}},
        {"op_id": "merged:abc", "attributes": {"k10": 10, "k4": 4, "status": "paid"}},
        {"op_id": "r-000002", "attributes": {}},
    ]
    sequences = {"order:a": ["r-000001", "merged:abc"], "order:b": ["r-000002"]}
    assert applied_sequences(sequences, applied, "r") == {
        "order:a": ["r-000001", "r-000004", "r-000010"],
        "order:b": ["r-000002"],
    }


def fifo_source(sqs: Any, max_receive_count: int | None) -> str:
    attributes = {"FifoQueue": "true"}
    if max_receive_count is not None:
        dead = sqs.create_queue(
            QueueName=f"dead-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": arn["Attributes"]["QueueArn"],
                "maxReceiveCount": str(max_receive_count),
            }
        )
    url: str = sqs.create_queue(
        QueueName=f"src-{uuid.uuid4().hex[:8]}.fifo", Attributes=attributes
    )["QueueUrl"]
    return url


def backoffs_at(queue_url: str, now_ms: int) -> list[Any]:
    """Group a: records 0 and 2 (the second older and received more often); group b: 1."""
    from consumer.flow_control.backoff import RetryPlan
    from consumer.retries import Backoff, RetryFacts

    def backoff(index: int, seconds: int, age_s: int, receives: int) -> Backoff:
        facts = RetryFacts(queue_url, f"rh{index}", now_ms - age_s * 1000, receives, receives)
        return Backoff(index, facts, RetryPlan(expired=False, visibility_seconds=seconds))

    return [backoff(2, 900, 600, 3), backoff(0, 7, 0, 1), backoff(1, 5, 0, 1)]


@pytest.mark.parametrize(
    ("max_receive_count", "waits"),
    [
        # 3,600 s to the horizon over 4 receives left: 900 s; the older record of group a
        # has 3,000 s over 2: 1,500 s, and its group waits as long as that
        (5, {0: 1500, 2: 1500, 1: 900}),
        # receives are plenty: the group's first record's backoff decides
        (1000, {0: 7, 2: 7, 1: 5}),
        # no redrive policy: nothing to spread, the first record decides
        (None, {0: 7, 2: 7, 1: 5}),
    ],
)
def test_a_fifo_group_waits_as_one_and_its_receives_last_until_the_horizon(
    sqs: Any, max_receive_count: int | None, waits: dict[int, int]
) -> None:
    from consumer.retries import fifo_backoffs
    from consumer.settings import Settings
    from consumer.time_budget import Deadline

    now_ms = 1_800_000_000_000
    queue_url = fifo_source(sqs, max_receive_count)
    settings = Settings(entity_api_url="http://127.0.0.1:9/x", dlq_url=queue_url)
    assert settings.retry_horizon_seconds == 3600
    aligned = fifo_backoffs(
        backoffs_at(queue_url, now_ms), ["a", "b", "a"], settings, Deadline(30), now_ms=now_ms
    )
    assert {b.index: b.plan.visibility_seconds for b in aligned} == waits


@pytest.mark.parametrize(
    ("seconds_left", "receives_left", "wait"),
    [(3600, 4, 900), (3600, 0, 3600), (3600, -2, 3600), (0, 4, 0), (-5, 4, 0), (10, 3, 4)],
)
def test_spread_to_horizon(seconds_left: float, receives_left: int, wait: int) -> None:
    from consumer.retries import spread_to_horizon

    assert spread_to_horizon(seconds_left, receives_left) == wait
