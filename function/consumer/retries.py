"""What becomes of a record that failed transiently (contract section 3, docs/flow-control.md).

Per record reported for retry, with the policy of consumer.flow_control.backoff:

- Its change's age counts from its first send: the original SentTimestamp, carried by a
  re-enqueued copy (consumer.copies). Its attempts are its ApproximateReceiveCount plus those
  of the copies before it. A carried first send is bounded: a copy is made before its
  horizon ends, so it never claims more than RETRY_HORIZON_SECONDS before its own send.
- Past RETRY_HORIZON_SECONDS a validated change goes to the DLQ as `expired`, with the last
  cause in its detail.
- Otherwise it comes back after a backoff (Retry-After where the API gave one, else full
  jitter exponential in the attempts, capped by RETRY_BACKOFF_MAX_SECONDS, never past the
  horizon): through its visibility while the queue's redrive limit is far; from the receive
  before the one that reaches it, as a delayed copy (SendMessageBatch, then the original is
  acknowledged), so SQS's redrive never moves a change the handler settled to the DLQ, and a
  copy that fails still leaves the record one more receive to be copied on.
- Copies are sent first, before the DLQ and the visibility calls; a copy call whose answer is
  lost (the copy may exist) is sent again once: a duplicate copy is harmless.
- RETRY_BACKOFF_MAX_SECONDS=0 turns the visibility backoff off (the record waits out the
  queue's visibility timeout); the horizon and the copy before the redrive limit remain.

A record without a receipt handle or an SQS eventSourceARN stays on the normal path.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from consumer.copies import (
    MAX_MESSAGE_BYTES,
    CarriedFacts,
    legacy_facts,
    message_bytes,
    producer_attributes,
    wrap,
)
from consumer.flow_control.backoff import (
    MIN_RETRY_SECONDS,
    RetryPlan,
    returns_as_copy,
    schedule_retry,
)
from consumer.lazy_import import on_first_call
from consumer.outcomes import ErrorCode, Outcome, bounded
from consumer.records import Record
from consumer.settings import Settings
from consumer.sqs import BATCH_ENTRIES, redrive_limit
from consumer.time_budget import Deadline
from consumer.visibility import (
    BATCH_BYTES,
    MAX_DELAY_SECONDS,
    MAX_WAIT_SECONDS,
    Requeue,
    Sent,
    VisibilityChange,
    change_visibility,
    queue_url_from_arn,
    requeue,
)

if TYPE_CHECKING:
    from consumer.dlq import DlqEntry

_dlq_entry: Callable[..., DlqEntry] = on_first_call("consumer.dlq", "DlqEntry")
"""consumer.dlq.DlqEntry, imported with the first expired record: most never expire."""

Limit = tuple[bool, int | None]
"""(known, the queue's maxReceiveCount or None without a redrive policy)."""


@dataclass(frozen=True, slots=True)
class RetryFacts:
    """What the event record says about its retries."""

    queue_url: str
    receipt_handle: str
    first_sent_ms: int
    """Epoch ms of the change's first send; 0 when unknown (the horizon then counts from now)."""
    attempts: int
    """Receives of this change so far, this one included (1 = first)."""
    receive_count: int
    """ApproximateReceiveCount of this message (what SQS's redrive counts)."""
    source_message_id: str | None = None
    """The messageId of the message the producer sent (a copy carries it)."""


def retry_facts(
    raw: Any,
    record: Record,
    dlq_url: str,
    carried: CarriedFacts | None = None,
    horizon_seconds: int | None = None,
) -> RetryFacts | None:
    """The record's queue, receipt handle, first send and attempts (with what a copy
    `carried`, else what its legacy attributes say); None when unknown. A carried first
    send is believed only back to `horizon_seconds` (less a second) before the copy's own
    send: the handler makes copies only while the horizon is open, so an older claim is not
    the handler's."""
    if not isinstance(raw, dict):
        return None
    queue_url = queue_url_from_arn(raw.get("eventSourceARN"), dlq_url)
    handle = raw.get("receiptHandle")
    if queue_url is None or not isinstance(handle, str) or not handle:
        return None
    attributes = raw.get("attributes")
    received = (
        _positive(attributes.get("ApproximateReceiveCount"))
        if isinstance(attributes, dict)
        else None
    )
    receive_count = received or 1
    sent = record.sent_timestamp if record.sent_timestamp > 0 else 0
    first_sent, earlier, source = sent, 0, record.message_id
    carried = carried or legacy_facts(raw)
    if carried is not None:
        first_sent = carried.first_sent_ms
        if sent:  # a copy is sent after the first send, while the horizon is open
            first_sent = min(first_sent, sent)
            if horizon_seconds is not None:
                oldest = sent - horizon_seconds * 1000 + math.ceil(MIN_RETRY_SECONDS * 1000)
                first_sent = max(first_sent, oldest)
        earlier, source = carried.attempts, carried.source_message_id or source
    return RetryFacts(queue_url, handle, first_sent, earlier + receive_count, receive_count, source)


@dataclass(frozen=True, slots=True)
class Backoff:
    """A record to bring back later: where from, and after how long."""

    index: int
    facts: RetryFacts
    plan: RetryPlan


@dataclass(eq=False)
class RetryDecisions:
    """Records whose horizon passed (DLQ entries, `expired`) and records to back off."""

    expired: list[DlqEntry] = field(default_factory=list)
    backoffs: list[Backoff] = field(default_factory=list)


@dataclass(eq=False)
class BackoffResult:
    """What `apply_backoffs` did: records acknowledged because a delayed copy took their
    place, and counts for the summary."""

    acknowledged: set[int] = field(default_factory=set)
    backoff_set: int = 0
    backoff_failed: int = 0
    requeued: int = 0
    requeue_failed: int = 0
    copy_unknown: int = 0
    """Copies whose answer was lost twice (they may exist; the original is kept)."""
    copy_skipped: list[str] = field(default_factory=list)
    """Why each record due a copy could not have one (too big, odd attributes)."""
    failed_at_limit: list[str | None] = field(default_factory=list)
    """Message ids of records on the receive that reaches the limit whose copy was not made:
    SQS's redrive will move them to the DLQ."""


def plan_retry(
    facts: RetryFacts, settings: Settings, now_ms: int, draw: float, retry_after: float | None
) -> RetryPlan:
    """The backoff (or expiry) of one record under the settings."""
    return schedule_retry(
        facts.attempts,
        facts.first_sent_ms,
        now_ms,
        horizon_seconds=settings.retry_horizon_seconds,
        base=settings.retry_backoff_base_seconds,
        cap=settings.retry_backoff_max_seconds,
        draw=draw,
        retry_after=retry_after,
    )


def plan_retries(
    records: list[Record],
    raw_records: list[Any],
    causes: Mapping[int, Outcome | None],
    settings: Settings,
    *,
    carried: Sequence[CarriedFacts | None] = (),
    now_ms: int | None = None,
    draw: Callable[[], float] = random.random,
) -> RetryDecisions:
    """Decide every record to retry (`causes`: index -> the transient outcome of its change,
    None when its change was never reached; `carried`: per record, what its copy carried).
    Only a validated change can expire; a record whose horizon passed but whose validity is
    unknown just comes back."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    decisions = RetryDecisions()
    for index, cause in causes.items():
        record = records[index]
        facts = retry_facts(
            raw_records[index],
            record,
            settings.dlq_url,
            carried[index] if index < len(carried) else None,
            settings.retry_horizon_seconds,
        )
        if facts is None:
            continue
        if facts.first_sent_ms <= 0:
            facts = replace(facts, first_sent_ms=now)
        plan = plan_retry(facts, settings, now, draw(), cause.retry_after if cause else None)
        validated = record.checked and record.error_code is None and record.message is not None
        if plan.expired and validated:
            decisions.expired.append(_expired_entry(record, facts, settings, cause))
        elif not plan.expired:
            decisions.backoffs.append(Backoff(index, facts, plan))
    return decisions


def copy_calls(raw_records: Sequence[Any], settings: Settings) -> int:
    """How many SendMessageBatch calls the copies of this batch may need if all its records
    fail: those on the receive before the redrive limit or later (all, with the limit not
    set), by 10 and by bytes."""
    limit = settings.source_max_receive_count
    due, size = 0, 0
    for raw in raw_records:
        if not isinstance(raw, dict):
            continue
        attributes = raw.get("attributes")
        count = (
            _positive(attributes.get("ApproximateReceiveCount"))
            if isinstance(attributes, dict)
            else None
        )
        if returns_as_copy(count or 1, limit, limit_known=limit is not None):
            due += 1
            body = raw.get("body")
            size += len(body.encode("utf-8", "replace")) if isinstance(body, str) else 0
    return max(math.ceil(due / BATCH_ENTRIES), math.ceil(size / BATCH_BYTES))


def queue_limit(
    queue_url: str, settings: Settings, deadline: Deadline, known: dict[str, Limit]
) -> Limit:
    """The redrive limit of `queue_url`: SOURCE_MAX_RECEIVE_COUNT when set, else read from
    the queue once per invocation (`known` keeps what was read)."""
    if settings.source_max_receive_count is not None:
        return True, settings.source_max_receive_count
    if queue_url not in known:
        known[queue_url] = redrive_limit(queue_url, deadline)
    return known[queue_url]


def fifo_backoffs(
    backoffs: list[Backoff],
    groups: Sequence[str | None],
    settings: Settings,
    deadline: Deadline,
    *,
    now_ms: int | None = None,
) -> list[Backoff]:
    """The backoffs of a FIFO batch: each message group waits as one, long enough that its
    receives last until the retry horizon.

    SQS hands out none of a group's messages while one of them is in flight, so every record
    of a group comes back after the backoff of the group's first record. No copy resets a
    receive count on FIFO (it would join the end of the group), so each receive brings the
    group's records closer to the queue's redrive limit: the wait is at least the time left
    until the horizon spread over the receives left (`spread_to_horizon`), for the group's
    most advanced record, so throttling shorter than the horizon never lets SQS's redrive
    dead-letter a valid change. With the limit unknown (no SOURCE_MAX_RECEIVE_COUNT and the
    queue unreadable) the group waits as if this were its last receive but one. Every wait is
    capped at MAX_WAIT_SECONDS (SQS's 12 hours, counted from the receive).
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    limits: dict[str, Limit] = {}
    by_group: dict[str | None, list[Backoff]] = {}
    for backoff in sorted(backoffs, key=lambda b: b.index):
        by_group.setdefault(groups[backoff.index], []).append(backoff)
    aligned: list[Backoff] = []
    for members in by_group.values():
        seconds = members[0].plan.visibility_seconds
        for member in members:
            known, limit = queue_limit(member.facts.queue_url, settings, deadline, limits)
            if known and limit is None:
                continue  # no redrive policy: nothing dead-letters the group
            horizon_ms = member.facts.first_sent_ms + settings.retry_horizon_seconds * 1000
            receives_left = limit - member.facts.receive_count if limit is not None else 1
            seconds = max(seconds, spread_to_horizon((horizon_ms - now) / 1000, receives_left))
        plan = replace(members[0].plan, visibility_seconds=min(seconds, MAX_WAIT_SECONDS))
        aligned += [replace(member, plan=plan) for member in members]
    return aligned


def spread_to_horizon(seconds_left: float, receives_left: int) -> int:
    """The shortest wait that keeps `receives_left` receives (before the redrive limit) from
    running out within `seconds_left` (until the horizon): whole seconds, 0 when past it."""
    if seconds_left <= 0:
        return 0
    return math.ceil(seconds_left / max(receives_left, 1))


def apply_backoffs(
    backoffs: list[Backoff],
    records: list[Record],
    raw_records: list[Any],
    settings: Settings,
    deadline: Deadline,
    *,
    allow_copies: bool = True,
    between: Callable[[], None] = lambda: None,
) -> BackoffResult:
    """Bring each record back after its backoff: a delayed copy from the receive before the
    one that reaches the queue's redrive limit (or when the limit is unknown), else its
    visibility (unless backoff is off). Copies go first, then `between()` (the DLQ calls),
    then the visibility calls; a record whose copy was not made gets its visibility set.

    `allow_copies=False` (FIFO queues) never re-enqueues: a copy would join the end of its message
    group, behind later changes, and FIFO queues refuse a per-message delay. At the redrive
    limit such a record then goes to the DLQ through the queue's redrive policy."""
    result = BackoffResult()
    limits: dict[str, Limit] = {}
    copies: list[Requeue] = []
    last_receive: dict[int, bool] = {}
    for backoff in backoffs if allow_copies else []:
        facts = backoff.facts
        known, limit = queue_limit(facts.queue_url, settings, deadline, limits)
        if not returns_as_copy(facts.receive_count, limit, limit_known=known):
            continue
        copy, why = _copy_of(backoff, records[backoff.index], raw_records[backoff.index])
        if copy is None:
            result.copy_skipped.append(why)
        else:
            copies.append(copy)
        last_receive[backoff.index] = limit is not None and facts.receive_count >= limit
    sent = _send_copies(copies, deadline)
    result.acknowledged = {copy.index for copy in copies} - sent.not_done
    result.requeued, result.requeue_failed = len(result.acknowledged), len(sent.not_done)
    result.copy_unknown = len(sent.unknown)
    result.failed_at_limit = [
        records[index].message_id
        for index, last in last_receive.items()
        if last and index not in result.acknowledged
    ]
    between()
    changes = [
        _visibility_change(b)
        for b in backoffs
        if settings.backoff_enabled and b.index not in result.acknowledged
    ]
    failed = change_visibility(changes, deadline)
    result.backoff_set, result.backoff_failed = len(changes) - len(failed), len(failed)
    return result


def _visibility_change(backoff: Backoff) -> VisibilityChange:
    facts = backoff.facts
    return VisibilityChange(
        backoff.index, facts.queue_url, facts.receipt_handle, backoff.plan.visibility_seconds
    )


def _copy_of(backoff: Backoff, record: Record, raw: Any) -> tuple[Requeue | None, str]:
    """The copy of a record (None and why when it cannot have one)."""
    facts = backoff.facts
    attributes = producer_attributes(raw if isinstance(raw, dict) else {})
    body = record.body
    if not isinstance(body, str) or not body:
        return None, "no text body"
    if attributes is None:
        return None, "message attributes that cannot be copied"
    carried = CarriedFacts(facts.first_sent_ms, facts.attempts, facts.source_message_id)
    wrapped = wrap(body, carried)
    if message_bytes(wrapped, attributes) > MAX_MESSAGE_BYTES:
        return None, "too big to take the retry facts"
    delay = min(backoff.plan.visibility_seconds, MAX_DELAY_SECONDS)
    return Requeue(backoff.index, facts.queue_url, wrapped, attributes, delay), ""


def _send_copies(copies: list[Requeue], deadline: Deadline) -> Sent:
    """Send the copies; those not known to be sent (refused, or the answer lost: the copy
    may exist, and a second one is harmless) are sent once more while time allows."""
    sent = requeue(copies, deadline)
    again = [copy for copy in copies if copy.index in sent.not_done]
    if not again:
        return sent
    retried = requeue(again, deadline)
    # lost then refused: still unknown; refused then lost: unknown
    retried.unknown |= sent.unknown & retried.failed
    retried.failed -= sent.unknown
    return retried


def _expired_entry(
    record: Record, facts: RetryFacts, settings: Settings, cause: Outcome | None
) -> DlqEntry:
    first = datetime.fromtimestamp(facts.first_sent_ms / 1000, UTC).isoformat(timespec="seconds")
    last = cause.detail if cause and cause.detail else "not sent before the time budget ran out"
    detail = bounded(
        f"retry horizon of {settings.retry_horizon_seconds} s (RETRY_HORIZON_SECONDS) passed: "
        f"first sent {first.replace('+00:00', 'Z')}, {facts.attempts} attempts; "
        f"last cause: {last}"
    )
    source = facts.source_message_id or record.message_id
    return _dlq_entry(record.index, record.body, ErrorCode.EXPIRED, detail, source)


def _positive(value: Any) -> int | None:
    """A positive integer from an SQS attribute string, else None."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number > 0 else None
