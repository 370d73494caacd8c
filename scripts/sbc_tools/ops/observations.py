"""Read what a run left behind: per-invocation summaries, queue depths, DLQ contents, API stats.

Shared by `sbc_tools.ops.report`, `sbc_tools.ops.redrive`, the end-to-end benchmark and the
integration tests; the one SQS receive loop of the project (`receive_batches`). Reading the
DLQ does not consume it: messages are received and then made visible again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from consumer.telemetry import METRIC_NAMES  # the handler's own list of counts

SUMMARY_MESSAGE = "batch processed"
COUNTS: tuple[str, ...] = METRIC_NAMES  # the handler's per-invocation counts (contract §3)


def invocation_summaries(logs: Any, log_group: str, since_ms: int = 0) -> list[dict[str, Any]]:
    """The handler's per-invocation JSON lines in the function's log group, oldest first."""
    summaries: list[tuple[int, dict[str, Any]]] = []
    kwargs: dict[str, Any] = {"logGroupName": log_group, "startTime": since_ms}
    try:
        pages = logs.get_paginator("filter_log_events").paginate(**kwargs)
        for page in pages:
            for event in page.get("events", []):
                line = _summary(event.get("message", ""))
                if line is not None:
                    summaries.append((int(event.get("timestamp", 0)), line))
    except logs.exceptions.ResourceNotFoundException:
        return []
    summaries.sort(key=lambda pair: (pair[0], pair[1].get("_aws", {}).get("Timestamp", 0)))
    return [line for _, line in summaries]


def _summary(message: str) -> dict[str, Any] | None:
    text = message.strip()
    if not text.startswith("{") or SUMMARY_MESSAGE not in text:
        return None
    try:
        line = json.loads(text)
    except ValueError:
        return None
    if not isinstance(line, dict) or line.get("message") != SUMMARY_MESSAGE:
        return None
    return line


def queue_depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight or delayed) messages of a queue, as SQS approximates them.

    Delayed messages count as waiting: the handler's delayed copies of retried records are
    still to be delivered.
    """
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"])
        + int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


@dataclass(frozen=True)
class DlqMessage:
    """One DLQ message: its body, the handler's `error_code` (None: moved by SQS redrive)."""

    message_id: str
    body: str
    error_code: str | None
    error_detail: str | None
    receive_count: int
    group: str | None = None  # MessageGroupId, in a FIFO DLQ


def receive_batches(
    sqs: Any,
    queue_url: str,
    *,
    hold_seconds: int = 30,
    keep_going: Callable[[], bool] = lambda: True,
) -> Iterator[list[dict[str, Any]]]:
    """Receive the visible messages in batches of up to 10, each kept invisible `hold_seconds`.

    Stops after three empty receives in a row, or before a receive when `keep_going()` is
    false; the caller deletes or releases what it got.
    """
    empty = 0
    while empty < 3 and keep_going():
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=hold_seconds,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        if not messages:
            empty += 1
            time.sleep(0.05)
            continue
        empty = 0
        yield messages


def receive_all(sqs: Any, queue_url: str, hold_seconds: int = 30) -> Iterator[dict[str, Any]]:
    """Receive every visible message once (see `receive_batches`), one at a time."""
    for batch in receive_batches(sqs, queue_url, hold_seconds=hold_seconds):
        yield from batch


def release(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make received messages visible again at once."""
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(chunk)
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def attribute(message: dict[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name, {})
    text = value.get("StringValue")
    return str(text) if text is not None else None


def peek_dlq(sqs: Any, dlq_url: str) -> list[DlqMessage]:
    """Every message in the DLQ, left in place."""
    received = list(receive_all(sqs, dlq_url))
    release(sqs, dlq_url, received)
    return [
        DlqMessage(
            message_id=m["MessageId"],
            body=m["Body"],
            error_code=attribute(m, "error_code"),
            error_detail=attribute(m, "error_detail"),
            receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
            group=m.get("Attributes", {}).get("MessageGroupId"),
        )
        for m in received
    ]
