"""What becomes of a record that failed transiently (contract section 3, docs/flow-control.md).

Per record reported for retry, with the policy of consumer.flow_control.backoff:

- Its change's age counts from its first send: the original SentTimestamp, carried by a
  re-enqueued copy in the `retry_first_sent_timestamp` attribute. Its attempts are its
  ApproximateReceiveCount plus those of the copies before it (`retry_attempts`).
- Past RETRY_HORIZON_SECONDS a validated change goes to the DLQ as `expired`, with the last
  cause in its detail.
- Otherwise it comes back after a backoff (Retry-After where the API gave one, else full
  jitter exponential in the attempts, capped by RETRY_BACKOFF_MAX_SECONDS, never past the
  horizon): through its visibility while the queue's redrive limit is not reached; on the
  receive that reached it, as a delayed copy (SendMessageBatch, then the original is
  acknowledged), so SQS's redrive never moves a change the handler settled to the DLQ.
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
from typing import Any

from consumer.dlq import DlqEntry
from consumer.flow_control.backoff import (
    MAX_VISIBILITY_SECONDS,
    RetryPlan,
    returns_as_copy,
    schedule_retry,
)
from consumer.records import Record
from consumer.settings import Settings
from consumer.terms import ErrorCode, Outcome, bounded
from consumer.time_budget import Deadline
from consumer.visibility import (
    ATTEMPTS_ATTRIBUTE,
    FIRST_SENT_ATTRIBUTE,
    MAX_DELAY_SECONDS,
    Requeue,
    VisibilityChange,
    change_visibility,
    queue_url_from_arn,
    redrive_limit,
    requeue,
    requeue_attributes,
)


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


def retry_facts(raw: Any, record: Record, dlq_url: str) -> RetryFacts | None:
    """The record's queue, receipt handle, first send and attempts; None when unknown."""
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
    custom = raw.get("messageAttributes")
    custom = custom if isinstance(custom, dict) else {}
    sent = record.sent_timestamp if record.sent_timestamp > 0 else None
    carried = _positive(_attribute(custom, FIRST_SENT_ATTRIBUTE))
    # a copy was sent after the first send: a carried time later than its own is not believed
    first_sent = min(carried, sent) if carried and sent else (carried or sent or 0)
    earlier = _positive(_attribute(custom, ATTEMPTS_ATTRIBUTE)) or 0
    return RetryFacts(queue_url, handle, first_sent, earlier + receive_count, receive_count)


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
    now_ms: int | None = None,
    draw: Callable[[], float] = random.random,
) -> RetryDecisions:
    """Decide every record to retry (`causes`: index -> the transient outcome of its change,
    None when its change was never reached). Only a validated change can expire; a record
    whose horizon passed but whose validity is unknown just comes back."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    decisions = RetryDecisions()
    for index, cause in causes.items():
        record = records[index]
        facts = retry_facts(raw_records[index], record, settings.dlq_url)
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
    dead-letter a valid change.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    limits: dict[str, tuple[bool, int | None]] = {}
    by_group: dict[str | None, list[Backoff]] = {}
    for backoff in sorted(backoffs, key=lambda b: b.index):
        by_group.setdefault(groups[backoff.index], []).append(backoff)
    aligned: list[Backoff] = []
    for members in by_group.values():
        seconds = members[0].plan.visibility_seconds
        for member in members:
            queue_url = member.facts.queue_url
            if queue_url not in limits:  # one look per queue and invocation
                limits[queue_url] = redrive_limit(queue_url, deadline)
            known, limit = limits[queue_url]
            if known and limit is not None:
                horizon_ms = member.facts.first_sent_ms + settings.retry_horizon_seconds * 1000
                receives_left = limit - member.facts.receive_count
                seconds = max(seconds, spread_to_horizon((horizon_ms - now) / 1000, receives_left))
        plan = replace(members[0].plan, visibility_seconds=min(seconds, MAX_VISIBILITY_SECONDS))
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
) -> BackoffResult:
    """Bring each record back after its backoff: a delayed copy on the receive that reached
    the queue's redrive limit (or when the limit could not be read), else its visibility
    (unless backoff is off). Whatever fails stays on the normal path.

    `allow_copies=False` (FIFO queues) never re-enqueues: a copy would join the end of its message
    group, behind later changes, and FIFO queues refuse a per-message delay. At the redrive
    limit such a record then goes to the DLQ through the queue's redrive policy."""
    copies: list[Requeue] = []
    changes: list[VisibilityChange] = []
    limits: dict[str, tuple[bool, int | None]] = {}
    for backoff in backoffs:
        facts, plan, index = backoff.facts, backoff.plan, backoff.index
        if allow_copies and facts.queue_url not in limits:  # one look per queue and invocation
            limits[facts.queue_url] = redrive_limit(facts.queue_url, deadline)
        known, limit = limits.get(facts.queue_url, (True, None))
        at_limit = allow_copies and returns_as_copy(facts.receive_count, limit, limit_known=known)
        body = records[index].body
        attributes = requeue_attributes(raw_records[index], facts.first_sent_ms, facts.attempts)
        if at_limit and isinstance(body, str) and body and attributes:
            delay = min(plan.visibility_seconds, MAX_DELAY_SECONDS)
            copies.append(Requeue(index, facts.queue_url, body, attributes, delay))
        elif settings.backoff_enabled:
            changes.append(
                VisibilityChange(
                    index, facts.queue_url, facts.receipt_handle, plan.visibility_seconds
                )
            )
    result = BackoffResult()
    not_sent = requeue(copies, deadline)
    result.acknowledged = {copy.index for copy in copies} - not_sent
    result.requeued, result.requeue_failed = len(result.acknowledged), len(not_sent)
    failed = change_visibility(changes, deadline)
    result.backoff_set, result.backoff_failed = len(changes) - len(failed), len(failed)
    return result


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
    return DlqEntry(record.index, record.body, ErrorCode.EXPIRED, detail, record.message_id)


def _attribute(attributes: Mapping[str, Any], name: str) -> Any:
    value = attributes.get(name)
    return value.get("stringValue") if isinstance(value, dict) else None


def _positive(value: Any) -> int | None:
    """A positive integer from an SQS attribute string, else None."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number > 0 else None
