"""The handler on a FIFO queue: the message group is the unit of order (issue 12, item 3).

Real HTTP (local entity API server) and a real SQS API (moto) for the DLQ, as in
test_contract.py; the events are shaped as Lambda delivers FIFO records.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Harness

SENT_MS = int(time.time() * 1000)
"""SentTimestamp of the records: now, well within the retry horizon."""
FIFO_ARN = "arn:aws:sqs:us-east-1:123456789012:entity-changes.fifo"


class Fifo:
    """Builders of FIFO events (records as Lambda delivers them from a FIFO queue)."""

    def __init__(self, h: Harness) -> None:
        self.h = h

    def event(self, items: list[tuple[str | None, Any]], arn: str = FIFO_ARN) -> dict[str, Any]:
        """A FIFO batch: (message group or None, body) per record, message ids m0, m1, ..."""
        records = []
        for n, (group, body) in enumerate(items):
            record = self.h.record(body, f"m{n}", SENT_MS + n)
            record["eventSourceARN"] = arn
            record["attributes"]["SequenceNumber"] = str(18_000_000_000_000_000_000 + n)
            if group is not None:
                record["attributes"]["MessageGroupId"] = group
                if isinstance(body, dict):
                    record["attributes"]["MessageDeduplicationId"] = body["event_id"]
            records.append(record)
        return {"Records": records}

    def change(self, event_id: str, entity_id: str, op: str = "update", **kw: Any) -> Any:
        """(group = the entity, as the publisher sets it, change)."""
        return (f"order:{entity_id}", self.h.change(event_id, entity_id, op, **kw))


@pytest.fixture
def fifo(h: Harness) -> Fifo:
    return Fifo(h)


def test_a_failure_mid_group_fails_the_rest_of_that_group_only(h: Harness, fifo: Fifo) -> None:
    h.api.set_faults({"op_status_by_op_id": {"a2": 503}})
    event = fifo.event(
        [
            fifo.change("a1", "A", "create"),
            fifo.change("b1", "B", "create"),
            fifo.change("a2", "A", attributes={"n": 2}),
            fifo.change("b2", "B", "delete"),
            fifo.change("a3", "A", "delete"),
            fifo.change("b3", "B", "create"),
            fifo.change("a4", "A", "create"),
        ]
    )
    run = h.handle(event, h.warm())

    assert run.failed == ["m2", "m4", "m6"]  # a2 and every later record of group order:A
    applied = [(a["op_id"], a["entity"]) for a in h.api.applied()]
    assert applied == [
        ("a1", "order:A"),
        ("b1", "order:B"),
        ("b2", "order:B"),
        ("b3", "order:B"),
    ]
    # a3 and a4 were never sent: the API saw a1, b1, a2 (refused), b2, b3
    assert h.api.stats()["operations"] == 5
    assert (run.summary["held_back"], run.summary["groups_held"]) == (2, 1)
    assert run.summary["message_groups"] == 2
    assert h.dead() == []


def test_each_group_is_applied_in_queue_order_not_occurred_at_order(h: Harness, fifo: Fifo) -> None:
    # The queue's order is the truth on FIFO, even when the clocks that stamped
    # occurred_at disagree with it (a standard queue would sort these by occurred_at).
    times = ["2026-01-01T00:00:03Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:01Z"]
    ops = ["create", "delete", "create"]
    items = [
        fifo.change(f"x{n}", "X", op, occurred_at=at)
        for n, (op, at) in enumerate(zip(ops, times, strict=True))
    ]
    items.insert(1, fifo.change("y0", "Y", "create", occurred_at=times[2]))
    run = h.handle(fifo.event(items), h.warm(max_operations_per_request=1))

    assert run.failed == []
    per_entity = [a["op_id"] for a in h.api.applied() if a["entity"] == "order:X"]
    assert per_entity == ["x0", "x1", "x2"]


def test_the_same_changes_from_a_standard_queue_are_ordered_by_occurred_at(h: Harness) -> None:
    # The counterpart of the test above: what makes the difference is the FIFO event.
    times = ["2026-01-01T00:00:03Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:01Z"]
    ops = ["create", "delete", "create"]
    bodies = [
        h.change(f"x{n}", "X", op, occurred_at=at)
        for n, (op, at) in enumerate(zip(ops, times, strict=True))
    ]
    run = h.handle(h.event(bodies), h.warm())

    assert run.failed == []
    assert [a["op_id"] for a in h.api.applied()] == ["x2", "x1", "x0"]


def test_nothing_from_a_failed_groups_tail_is_applied_across_entities(
    h: Harness, fifo: Fifo
) -> None:
    # A producer may put several entities in one group: the group, not the entity, holds.
    h.api.set_faults({"op_status_by_op_id": {"t1": 500}})
    event = fifo.event(
        [
            ("tenant-1", h.change("t0", "1", "create")),
            ("tenant-1", h.change("t1", "1")),
            ("tenant-1", h.change("t2", "2", "create")),
            ("tenant-2", h.change("u0", "3", "create")),
            ("tenant-1", h.change("t3", "1", "delete")),
            ("tenant-2", h.change("u1", "3")),
        ]
    )
    run = h.handle(event, h.warm())

    assert run.failed == ["m1", "m2", "m4"]
    assert [a["op_id"] for a in h.api.applied()] == ["t0", "u0", "u1"]
    assert h.api.stats()["operations"] == 4  # t0, u0, t1 (refused), u1: t2, t3 never sent


def test_updates_coalesce_only_when_consecutive_in_their_group(h: Harness, fifo: Fifo) -> None:
    event = fifo.event(
        [
            ("g", h.change("p1", "1", attributes={"a": 1})),
            ("g", h.change("p2", "1", attributes={"b": 2})),
            ("g", h.change("q1", "2", attributes={"c": 3})),
            ("g", h.change("p3", "1", attributes={"a": 4})),
        ]
    )
    run = h.handle(event, h.warm())

    assert run.failed == []
    applied = h.api.applied()
    assert [(a["entity"], a["attributes"]) for a in applied] == [
        ("order:1", {"a": 1, "b": 2}),
        ("order:2", {"c": 3}),
        ("order:1", {"a": 4}),
    ]
    assert run.summary["coalesced"] == 1


def test_poison_goes_to_the_dlq_at_once_and_does_not_hold_its_group(h: Harness, fifo: Fifo) -> None:
    event = fifo.event(
        [
            fifo.change("k1", "K", "create"),
            ("order:K", "{not json"),
            ("order:K", json.dumps({"event_id": "k-bad", "op": "upsert"})),
            fifo.change("k2", "K", "delete"),
        ]
    )
    run = h.handle(event, h.warm())

    assert run.failed == []
    assert [a["op_id"] for a in h.api.applied()] == ["k1", "k2"]
    assert sorted(m["source_message_id"] for m in h.dead()) == ["m1", "m2"]


def test_poison_behind_a_failure_is_dead_lettered_once_not_held(h: Harness, fifo: Fifo) -> None:
    h.api.set_faults({"op_status_by_op_id": {"k1": 503}})
    event = fifo.event(
        [
            fifo.change("k1", "K", "create"),
            ("order:K", "{not json"),
            fifo.change("k2", "K", "delete"),
        ]
    )
    run = h.handle(event, h.warm())

    assert run.failed == ["m0", "m2"]  # the poison record is settled: in the DLQ, not retried
    [message] = h.dead()
    assert (message["source_message_id"], message["error_code"]) == ("m1", "invalid_json")
    assert run.summary["held_back"] == 1


def test_a_rejected_change_dead_letters_the_rest_of_its_group_in_order(
    h: Harness, fifo: Fifo
) -> None:
    h.api.set_faults({"op_status_by_op_id": {"r1": 422}})
    event = fifo.event(
        [fifo.change("r1", "R", "create"), fifo.change("r2", "R"), fifo.change("s", "S")]
    )
    run = h.handle(event, h.warm())

    assert run.failed == []
    assert [a["op_id"] for a in h.api.applied()] == ["s"]
    assert {m["source_message_id"]: m["error_code"] for m in h.dead()} == {
        "m0": "rejected_by_api",
        "m1": "rejected_by_api",
    }


def test_a_fifo_source_arn_alone_makes_the_batch_one_ordered_chain(h: Harness, fifo: Fifo) -> None:
    # No readable MessageGroupId (not how Lambda delivers FIFO records, but possible in a
    # hand-made event): the records keep their batch order as if in one group.
    h.api.set_faults({"op_status_by_op_id": {"v0": 503}})
    event = fifo.event([(None, h.change("v0", "1")), (None, h.change("w0", "2"))])
    run = h.handle(event, h.warm())

    assert run.failed == ["m0", "m1"]
    assert h.api.applied() == []
    assert run.summary["message_groups"] == 1


def test_a_standard_batch_has_no_group_fields_in_its_summary(h: Harness) -> None:
    run = h.handle(h.event([h.change("s1", "1")]), h.warm())

    assert run.failed == []
    assert "held_back" not in run.summary


def test_a_fifo_dlq_gets_each_copy_in_its_group_once(h: Harness, fifo: Fifo, sqs: Any) -> None:
    name = f"dead-{uuid.uuid4().hex[:10]}.fifo"
    dlq = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    h.api.set_faults({"op_status_by_op_id": {"j2": 422}})
    event = fifo.event(
        [("order:J", "{not json"), fifo.change("j2", "J", "create"), fifo.change("j3", "J")]
    )
    event["Records"][0]["attributes"]["MessageDeduplicationId"] = "poison-1"
    first = h.handle(event, h.warm(dlq_url=dlq))
    again = h.handle(event, h.warm(dlq_url=dlq))  # the same batch delivered once more

    assert first.failed == again.failed == []
    answer = sqs.receive_message(
        QueueUrl=dlq,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    copies = [
        (
            m["MessageAttributes"]["source_message_id"]["StringValue"],
            m["Attributes"]["MessageGroupId"],
            m["Attributes"]["MessageDeduplicationId"],
        )
        for m in answer["Messages"]
    ]
    assert copies == [
        ("m0", "order:J", "poison-1"),
        ("m1", "order:J", "j2"),
        ("m2", "order:J", "j3"),
    ]


def test_at_the_redrive_limit_a_fifo_record_is_not_copied_but_stays_in_its_place(
    h: Harness, sqs: Any
) -> None:
    # On a standard queue a delayed copy replaces a record on the receive that reaches the
    # redrive limit; on FIFO a copy would join the end of its group (and SQS refuses a
    # per-message delay there): the record keeps its place and comes back after its backoff.
    dead = sqs.create_queue(
        QueueName=f"dead-{uuid.uuid4().hex[:10]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    policy = {"deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"], "maxReceiveCount": "1"}
    url = sqs.create_queue(
        QueueName=f"src-{uuid.uuid4().hex[:10]}.fifo",
        Attributes={"FifoQueue": "true", "RedrivePolicy": json.dumps(policy)},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    for n in range(3):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(h.change(f"f{n}", "F", "create" if n == 0 else "update")),
            MessageGroupId="order:F",
            MessageDeduplicationId=f"f{n}",
        )
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": arn["Attributes"]["QueueArn"],
                "awsRegion": "us-east-1",
            }
            for m in received["Messages"]
        ]
    }
    h.api.set_faults({"status_always": 503, "retry_after": "0"})
    run = h.handle(event, h.warm())

    assert run.failed == [m["MessageId"] for m in received["Messages"]]
    summary = run.summary
    assert (summary["requeued"], summary["requeue_failed"], summary["backoff_set"]) == (0, 0, 3)
