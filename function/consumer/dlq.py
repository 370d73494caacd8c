"""Route records to the dead-letter queue with the reason as message attributes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from consumer.message_groups import FIFO_SUFFIX
from consumer.outcomes import ErrorCode, bounded
from consumer.sqs import DLQ_RESERVE_SECONDS, chunks, sqs_client
from consumer.time_budget import Deadline, call_within

DLQ_BATCH_BYTES = 1_048_576
"""Most bytes (estimated by `_size`) per SendMessageBatch call to the DLQ."""
EMPTY_BODY_PLACEHOLDER = "(empty body)"
UNKNOWN_GROUP = "unknown"
"""The message group in a FIFO DLQ of a record that came without one."""
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters SQS refuses in a message body or attribute value (InvalidMessageContents)."""


@dataclass(frozen=True, slots=True)
class DlqEntry:
    """One record to dead-letter: its index in the batch and why."""

    index: int
    body: Any
    error_code: ErrorCode
    error_detail: str
    source_message_id: str | None


FifoKeys = Sequence[tuple[str | None, str | None]]
"""Per record of the batch: (MessageGroupId, MessageDeduplicationId) it came with."""


def route_to_dlq(
    entries: Sequence[DlqEntry],
    dlq_url: str,
    deadline: Deadline,
    fifo_keys: FifoKeys | None = None,
) -> set[int]:
    """Send `entries` to the DLQ, 10 per SendMessageBatch call, retrying failed entries once.

    A FIFO DLQ (`.fifo` URL) gets each copy in the record's message group, with its
    deduplication id (`fifo_keys[entry.index]`, see `dlq_fifo_keys`), so a record
    dead-lettered twice is stored once and a redrive can restore both.
    Returns the indices of the records that could not be sent (to report for retry).
    """
    if not entries:
        return set()
    # no SendMessageBatch call starts unless it can time out before the deadline
    if deadline.remaining() < DLQ_RESERVE_SECONDS:  # no call could be made: skip the import
        return {entry.index for entry in entries}
    try:
        sqs_client(dlq_url)  # the lazy boto3 import happens before the clock is checked
    except Exception:  # noqa: BLE001 - no client, no sending: the records are retried
        return {entry.index for entry in entries}
    pending = list(entries)
    fifo = dlq_url.endswith(FIFO_SUFFIX)
    for _ in range(2):
        pending = _send_all(pending, dlq_url, deadline, fifo_keys if fifo else None)
        if not pending:
            break
    return {entry.index for entry in pending}


def _send_all(
    entries: list[DlqEntry], dlq_url: str, deadline: Deadline, fifo_keys: FifoKeys | None
) -> list[DlqEntry]:
    failed: list[DlqEntry] = []
    for chunk in chunks(entries, _size, DLQ_BATCH_BYTES):
        if deadline.remaining() < DLQ_RESERVE_SECONDS:
            failed.extend(chunk)
            continue
        by_id = {str(n): entry for n, entry in enumerate(chunk)}
        messages = [_message(n, entry, fifo_keys) for n, entry in by_id.items()]
        try:
            send = partial(sqs_client(dlq_url).send_message_batch, QueueUrl=dlq_url)
            answer = call_within(partial(send, Entries=messages), DLQ_RESERVE_SECONDS)
        except Exception:  # noqa: BLE001 - any SDK or network failure: the entries are retried
            failed.extend(chunk)
            continue
        failed.extend(by_id[item["Id"]] for item in answer.get("Failed", []) if item["Id"] in by_id)
    return failed


def body_text(body: Any) -> str | None:
    """The record's body as text for the DLQ copy: a string as is, bytes decoded, any other
    content (a body Lambda delivered as an object, say) as JSON; None when empty."""
    if isinstance(body, str):
        return body or None
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace") or None
    if body is None:
        return None
    try:
        return json.dumps(body, ensure_ascii=False, default=repr)
    except (ValueError, TypeError, RecursionError):
        return repr(body)


def dlq_fifo_keys(entry: DlqEntry, body: str, fifo_keys: FifoKeys) -> tuple[str, str]:
    """(MessageGroupId, MessageDeduplicationId) of the copy in a FIFO DLQ: the record's own,
    else a group for records without one and a digest of the source message id and body."""
    group, deduplication_id = (
        fifo_keys[entry.index] if entry.index < len(fifo_keys) else (None, None)
    )
    if not deduplication_id:
        source = f"{entry.source_message_id}\n{body}".encode("utf-8", "replace")
        deduplication_id = hashlib.sha256(source).hexdigest()
    return group or UNKNOWN_GROUP, deduplication_id


def _message(entry_id: str, entry: DlqEntry, fifo_keys: FifoKeys | None) -> dict[str, Any]:
    body = body_text(entry.body)
    if body is not None:
        body = _NOT_XML.sub("\ufffd", body.encode("utf-8", "replace").decode("utf-8"))
    detail = bounded(_NOT_XML.sub("\ufffd", entry.error_detail)) if entry.error_detail else "-"
    fifo: dict[str, str] = {}
    if fifo_keys is not None:
        group, deduplication_id = dlq_fifo_keys(entry, body or "", fifo_keys)
        fifo = {"MessageGroupId": group, "MessageDeduplicationId": deduplication_id}
    return {
        "Id": entry_id,
        **fifo,
        "MessageBody": body or EMPTY_BODY_PLACEHOLDER,
        "MessageAttributes": {
            "error_code": {"DataType": "String", "StringValue": entry.error_code},
            "error_detail": {"DataType": "String", "StringValue": detail},
            "source_message_id": {
                "DataType": "String",
                "StringValue": entry.source_message_id or "unknown",
            },
        },
    }


def _size(entry: DlqEntry) -> int:
    body = entry.body if isinstance(entry.body, str | bytes) else body_text(entry.body) or ""
    return len(body) * 4 + len(entry.error_detail.encode()) + 200
