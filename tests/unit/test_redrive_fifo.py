"""Redrive between FIFO queues (moto's SQS server): each message keeps its group and
deduplication id, groups keep their order, and nothing inside the deduplication window moves."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from sbc_tools.ops import redrive


def fifo_queue(sqs: Any, name: str) -> str:
    url: str = sqs.create_queue(
        QueueName=f"{name}-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    return url


def dead_letter(sqs: Any, dlq: str, body: str, group: str, deduplication_id: str) -> None:
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=deduplication_id,
        MessageAttributes={
            "error_code": {"DataType": "String", "StringValue": "rejected_by_api"},
            "source_message_id": {"DataType": "String", "StringValue": f"src-{body}"},
        },
    )


def received(sqs: Any, url: str) -> list[tuple[str, str, str]]:
    answer = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        VisibilityTimeout=30,
    )
    return [
        (
            m["Body"],
            m["Attributes"]["MessageGroupId"],
            m["Attributes"]["MessageDeduplicationId"],
        )
        for m in answer.get("Messages", [])
    ]


def test_fifo_redrive_keeps_groups_deduplication_ids_and_order(
    sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, dlq = fifo_queue(sqs, "changes"), fifo_queue(sqs, "dead")
    for body, group in [("a1", "order:A"), ("b1", "order:B"), ("a2", "order:A")]:
        dead_letter(sqs, dlq, body, group, f"evt-{body}")
    _let_a_millisecond_pass()  # a message sent in the run's first millisecond is not "old"

    early = redrive.redrive(sqs, source, dlq)
    assert (early.moved, early.too_recent) == (0, 3)  # dead-lettered moments ago: kept
    assert received(sqs, source) == []

    monkeypatch.setattr(redrive, "DEDUPLICATION_WINDOW_MS", 0)  # as if 5 minutes had passed
    later = redrive.redrive(sqs, source, dlq)

    assert (later.moved, later.too_recent, later.failed) == (3, 0, 0)
    moved = received(sqs, source)
    assert sorted(moved) == [
        ("a1", "order:A", "evt-a1"),
        ("a2", "order:A", "evt-a2"),
        ("b1", "order:B", "evt-b1"),
    ]
    assert [body for body, group, _ in moved if group == "order:A"] == ["a1", "a2"]
    assert received(sqs, dlq) == []


def _let_a_millisecond_pass() -> None:
    """Return once the epoch-ms clock is 2 ms past now: every message sent before is older
    than a redrive run started after (SentTimestamp is whole milliseconds)."""
    until = int(time.time() * 1000) + 2
    while int(time.time() * 1000) < until:
        time.sleep(0.001)
