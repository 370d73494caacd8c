"""The source queue's side of a retry: visibility backoff and re-enqueue.

Calls (boto3, through consumer.sqs: one lazily built client per endpoint, shared with the
DLQ):

- ChangeMessageVisibilityBatch, 10 entries per call: a transiently failed record comes back
  after its backoff instead of the queue's whole visibility timeout.
- SendMessageBatch of a copy, with a delay (the re-enqueue before the redrive limit, see
  consumer.retries and consumer.copies), at most 10 copies and BATCH_BYTES per call.
- (GetQueueAttributes RedrivePolicy, the redrive limit when SOURCE_MAX_RECEIVE_COUNT is not
  set, is consumer.sqs.redrive_limit.)

Each call starts only while one SQS call still fits before the deadline; whatever fails or
does not fit is reported back, and its record stays on the normal path (it is returned in
`batchItemFailures`): nothing is lost. A call whose answer was late or cut off is reported
as `unknown` apart from a refusal: SQS may have carried it out.

The queue URL comes from the record's eventSourceARN, `arn:<partition>:sqs:<region>:
<account>:<name>`. In AWS (the DLQ_URL's host is an SQS endpoint) it is
`https://sqs.<region>.amazonaws.com[.cn]/<account>/<name>`; elsewhere (LocalStack, moto) the
source queue lives on the DLQ's endpoint: `<DLQ_URL scheme and host>/<account>/<name>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from consumer.copies import MAX_MESSAGE_BYTES, message_bytes
from consumer.sqs import SQS_CALL_SECONDS, chunks, is_aws_host, sqs_client
from consumer.time_budget import CallTimeoutError, Deadline, call_within

BATCH_BYTES = MAX_MESSAGE_BYTES
"""Most bytes of messages per SendMessageBatch call of copies. SQS takes 1 MiB per batch in
AWS since 2025; LocalStack and queues of the default MaximumMessageSize take 256 KiB, and a
copy never exceeds that, so every copy fits a call of its own."""
MAX_DELAY_SECONDS = 900
"""SQS's longest DelaySeconds for a message."""
MAX_WAIT_SECONDS = 43_200 - 1_200
"""The longest visibility the handler sets: SQS refuses a visibility that ends more than 12
hours (43,200 s) after the message's receive, and the receive may lie up to 1,200 s back
(a 300 s batching window and a 900 s invocation)."""
_ARN = re.compile(r"^arn:(aws[a-z-]*):sqs:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_.-]{1,80})$")


def queue_url_from_arn(arn: Any, dlq_url: str) -> str | None:
    """The URL of the queue an event record came from (see the module docstring), or None
    when `arn` is not an SQS queue ARN."""
    match = _ARN.match(arn) if isinstance(arn, str) else None
    if match is None:
        return None
    partition, region, account, name = match.groups()
    dlq = urlsplit(dlq_url)
    if is_aws_host(dlq.hostname):
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

    @property
    def size(self) -> int:
        """Bytes SQS counts for this copy."""
        return message_bytes(self.body, self.attributes)


@dataclass(eq=False)
class Sent:
    """What became of a batch of calls: indices refused or not sent (`failed`), and those
    whose answer never came (`unknown`: SQS may have done it)."""

    failed: set[int]
    unknown: set[int]

    @property
    def not_done(self) -> set[int]:
        """Every index not known to be done."""
        return self.failed | self.unknown


def change_visibility(changes: Sequence[VisibilityChange], deadline: Deadline) -> set[int]:
    """Set each record's visibility, 10 per ChangeMessageVisibilityBatch call; return the
    indices whose change failed or did not fit before the deadline."""
    failed: set[int] = set()
    for queue_url, chunk in _chunks(changes):
        entries = {
            str(n): {
                "Id": str(n),
                "ReceiptHandle": change.receipt_handle,
                "VisibilityTimeout": min(max(change.seconds, 0), MAX_WAIT_SECONDS),
            }
            for n, change in enumerate(chunk)
        }
        failed |= _call(
            "change_message_visibility_batch", queue_url, chunk, list(entries.values()), deadline
        ).not_done  # a visibility change may be made twice: unknown counts as not made
    return failed


def requeue(copies: Sequence[Requeue], deadline: Deadline) -> Sent:
    """Send the copies, at most 10 and BATCH_BYTES per SendMessageBatch call."""
    sent = Sent(set(), set())
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
        answer = _call("send_message_batch", queue_url, chunk, entries, deadline)
        sent.failed |= answer.failed
        sent.unknown |= answer.unknown
    return sent


def _chunks[T: (VisibilityChange, Requeue)](
    items: Sequence[T],
) -> Iterator[tuple[str, list[T]]]:
    """(queue URL, up to 10 items of that queue and BATCH_BYTES of copies), in order."""
    by_queue: dict[str, list[T]] = {}
    for item in items:
        by_queue.setdefault(item.queue_url, []).append(item)
    for queue_url, queued in by_queue.items():
        for chunk in chunks(queued, _size, BATCH_BYTES):
            yield queue_url, chunk


def _size(item: VisibilityChange | Requeue) -> int:
    return item.size if isinstance(item, Requeue) else 0


def _call(
    operation: str,
    queue_url: str,
    chunk: Sequence[VisibilityChange | Requeue],
    entries: list[dict[str, Any]],
    deadline: Deadline,
) -> Sent:
    """One batch call: the chunk's items SQS refused (all, when the call did not fit before
    the deadline or failed as a whole), or all as unknown when the answer did not come."""
    everything = {item.index for item in chunk}
    if deadline.remaining() < SQS_CALL_SECONDS:
        return Sent(everything, set())
    try:
        method = getattr(sqs_client(queue_url), operation)
        answer = call_within(lambda: method(QueueUrl=queue_url, Entries=entries), SQS_CALL_SECONDS)
    except Exception as exc:  # noqa: BLE001 - any SDK or network failure: the records stay
        return Sent(set(), everything) if answer_lost(exc) else Sent(everything, set())
    by_id = {str(n): item.index for n, item in enumerate(chunk)}
    return Sent({by_id[f["Id"]] for f in answer.get("Failed", []) if f.get("Id") in by_id}, set())


def answer_lost(error: Exception) -> bool:
    """Whether a failed call may have been carried out: the request went out and its answer
    was late, cut off or still trickling in (read timeout, connection closed, no answer within
    SQS_CALL_SECONDS), rather than refused or never sent."""
    from botocore.exceptions import (  # noqa: PLC0415 - botocore is loaded with the client
        ConnectionClosedError,
        ReadTimeoutError,
    )

    return isinstance(error, ReadTimeoutError | ConnectionClosedError | CallTimeoutError)
