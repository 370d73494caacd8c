"""The source queue's side of a retry: visibility backoff, re-enqueue, the redrive limit.

Calls (boto3, through the DLQ's client factory, so one lazily built client per queue URL):

- ChangeMessageVisibilityBatch, 10 entries per call: a transiently failed record comes back
  after its backoff instead of the queue's whole visibility timeout.
- SendMessageBatch of a copy, with a delay (the re-enqueue before the redrive limit, see
  consumer.retries): the copy carries when the change was first sent and how many attempts
  it has had.
- GetQueueAttributes RedrivePolicy, once per invocation and queue, only when records are to be
  retried: the receive count at which SQS would move a record to the DLQ by itself. Not kept
  across invocations: a max_receive_count lowered while containers stay warm must be seen at
  once, or records would reach the DLQ by redrive before their copy is made.

Each call starts only while one SQS call still fits before the deadline; whatever fails or
does not fit is reported back, and its record stays on the normal path (it is returned in
`batchItemFailures` and comes back after the visibility timeout): nothing is lost.

The queue URL comes from the record's eventSourceARN, `arn:<partition>:sqs:<region>:
<account>:<name>`. In AWS (the DLQ_URL's host is an SQS endpoint) it is
`https://sqs.<region>.amazonaws.com[.cn]/<account>/<name>`; elsewhere (LocalStack, moto) the
source queue lives on the DLQ's endpoint: `<DLQ_URL scheme and host>/<account>/<name>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from consumer.dlq import sqs_client
from consumer.terms import DLQ_RESERVE_SECONDS
from consumer.time_budget import Deadline

BATCH_ENTRIES = 10
"""Entries per ChangeMessageVisibilityBatch and SendMessageBatch call (SQS's limit)."""
SQS_CALL_SECONDS = DLQ_RESERVE_SECONDS
"""Time one SQS call may take (the client's connect + read timeouts): no call starts with
less than this left."""
MAX_DELAY_SECONDS = 900
"""SQS's longest DelaySeconds for a message."""
MAX_MESSAGE_ATTRIBUTES = 10
FIRST_SENT_ATTRIBUTE = "retry_first_sent_timestamp"
"""Message attribute of a re-enqueued copy: the original's SentTimestamp (epoch ms)."""
ATTEMPTS_ATTRIBUTE = "retry_attempts"
"""Message attribute of a re-enqueued copy: receives of the change before this copy."""
_ARN = re.compile(r"^arn:(aws[a-z-]*):sqs:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_.-]{1,80})$")
_AWS_SQS_HOST = re.compile(r"(^|\.)amazonaws\.com(\.cn)?$|\.api\.aws$")


def queue_url_from_arn(arn: Any, dlq_url: str) -> str | None:
    """The URL of the queue an event record came from (see the module docstring), or None
    when `arn` is not an SQS queue ARN."""
    match = _ARN.match(arn) if isinstance(arn, str) else None
    if match is None:
        return None
    partition, region, account, name = match.groups()
    dlq = urlsplit(dlq_url)
    if _AWS_SQS_HOST.search(dlq.hostname or ""):
        suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
        return f"https://sqs.{region}.{suffix}/{account}/{name}"
    return f"{dlq.scheme}://{dlq.netloc}/{account}/{name}"


@dataclass(frozen=True, slots=True)
class VisibilityChange:
    """Make one received record visible again after `seconds`."""

    index: int
    queue_url: str
    receipt_handle: str
    seconds: int


@dataclass(frozen=True, slots=True)
class Requeue:
    """Send a copy of one record to its queue, visible after `delay_seconds`."""

    index: int
    queue_url: str
    body: str
    attributes: dict[str, Any]
    delay_seconds: int


def change_visibility(changes: Sequence[VisibilityChange], deadline: Deadline) -> set[int]:
    """Set each record's visibility, 10 per ChangeMessageVisibilityBatch call; return the
    indices whose change failed or did not fit before the deadline."""
    failed: set[int] = set()
    for queue_url, chunk in _chunks(changes):
        entries = {
            str(n): {
                "Id": str(n),
                "ReceiptHandle": change.receipt_handle,
                "VisibilityTimeout": change.seconds,
            }
            for n, change in enumerate(chunk)
        }
        failed |= _call(
            "change_message_visibility_batch", queue_url, chunk, list(entries.values()), deadline
        )
    return failed


def requeue(copies: Sequence[Requeue], deadline: Deadline) -> set[int]:
    """Send the copies, 10 per SendMessageBatch call; return the indices not sent."""
    failed: set[int] = set()
    for queue_url, chunk in _chunks(copies):
        entries = [
            {
                "Id": str(n),
                "MessageBody": copy.body,
                "DelaySeconds": min(MAX_DELAY_SECONDS, max(0, copy.delay_seconds)),
                "MessageAttributes": copy.attributes,
            }
            for n, copy in enumerate(chunk)
        ]
        failed |= _call("send_message_batch", queue_url, chunk, entries, deadline)
    return failed


def requeue_attributes(raw: dict[str, Any], first_sent_ms: int, attempts: int) -> dict[str, Any]:
    """The copy's message attributes: the original's (String and Number ones) plus the retry
    bookkeeping; empty when they would exceed SQS's 10 attributes."""
    kept: dict[str, Any] = {}
    original = raw.get("messageAttributes")
    if isinstance(original, dict):
        for name, value in original.items():
            if name in (FIRST_SENT_ATTRIBUTE, ATTEMPTS_ATTRIBUTE) or not isinstance(value, dict):
                continue
            kind, text = value.get("dataType"), value.get("stringValue")
            if not isinstance(kind, str) or not isinstance(text, str):
                return {}  # a binary or odd attribute cannot be copied faithfully
            kept[name] = {"DataType": kind, "StringValue": text}
    kept[FIRST_SENT_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(first_sent_ms)}
    kept[ATTEMPTS_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(attempts)}
    return kept if len(kept) <= MAX_MESSAGE_ATTRIBUTES else {}


def redrive_limit(queue_url: str, deadline: Deadline) -> tuple[bool, int | None]:
    """(known, maxReceiveCount or None without a redrive policy) of the queue; (False, None)
    when it could not be read in time."""
    if deadline.remaining() < SQS_CALL_SECONDS:
        return False, None
    try:
        answer = sqs_client(queue_url).get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]
        )
        policy = answer.get("Attributes", {}).get("RedrivePolicy")
        limit = int(json.loads(policy)["maxReceiveCount"]) if policy else None
    except Exception:  # noqa: BLE001 - unknown limit: the caller assumes the worst
        return False, None
    return True, limit


def _chunks[T: (VisibilityChange, Requeue)](
    items: Sequence[T],
) -> Iterator[tuple[str, list[T]]]:
    """(queue URL, up to 10 items of that queue), in order."""
    by_queue: dict[str, list[T]] = {}
    for item in items:
        by_queue.setdefault(item.queue_url, []).append(item)
    for queue_url, queued in by_queue.items():
        for start in range(0, len(queued), BATCH_ENTRIES):
            yield queue_url, queued[start : start + BATCH_ENTRIES]


def _call(
    operation: str,
    queue_url: str,
    chunk: Sequence[VisibilityChange | Requeue],
    entries: list[dict[str, Any]],
    deadline: Deadline,
) -> set[int]:
    """One batch call; the indices of the chunk's items that failed (all, when the call did
    not fit before the deadline or failed as a whole)."""
    everything = {item.index for item in chunk}
    if deadline.remaining() < SQS_CALL_SECONDS:
        return everything
    try:
        answer = getattr(sqs_client(queue_url), operation)(QueueUrl=queue_url, Entries=entries)
    except Exception:  # noqa: BLE001 - any SDK or network failure: the records stay as they are
        return everything
    by_id = {str(n): item.index for n, item in enumerate(chunk)}
    return {by_id[f["Id"]] for f in answer.get("Failed", []) if f.get("Id") in by_id}
