"""One SQS batch, start to finish: validate, plan, deliver, dead-letter, report failures."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from consumer.aggregation import Operation, Plan, plan_operations
from consumer.copies import CarriedFacts, unwrap_records
from consumer.delivery import Pacer, deliver_plan, pacer_for_invocation
from consumer.entity_api import CallStats, EntityApiClient
from consumer.lazy_import import on_first_call
from consumer.message_groups import fifo_keys, held_back, is_fifo_batch
from consumer.outcomes import (
    BatchItemFailure,
    BatchResponse,
    ErrorCode,
    Outcome,
    OutcomeKind,
    bounded,
)
from consumer.records import Record, load_validator, parse_record, parse_record_id, validate_record
from consumer.settings import Settings
from consumer.sqs import settling_reserve, sqs_client, sqs_client_built
from consumer.telemetry import LogContext, emit_summary, invocation_summary, log
from consumer.time_budget import Deadline

if TYPE_CHECKING:
    from consumer.dlq import DlqEntry, FifoKeys
    from consumer.retries import Backoff, BackoffResult, RetryDecisions


# Imported when a batch first needs them, not at cold start: the retry path (consumer.retries,
# which loads visibility and the backoff policy) and the DLQ path (consumer.dlq: its character
# check alone takes ~30 ms to compile; most containers never dead-letter).
plan_retries: Callable[..., RetryDecisions] = on_first_call("consumer.retries", "plan_retries")
fifo_backoffs: Callable[..., list[Backoff]] = on_first_call("consumer.retries", "fifo_backoffs")
apply_backoffs: Callable[..., BackoffResult] = on_first_call("consumer.retries", "apply_backoffs")
copy_calls: Callable[..., int] = on_first_call("consumer.retries", "copy_calls")
dlq_entry: Callable[..., DlqEntry] = on_first_call("consumer.dlq", "DlqEntry")
_route: Callable[..., set[int]] = on_first_call("consumer.dlq", "route_to_dlq")


def route_to_dlq(
    entries: list[DlqEntry], dlq_url: str, deadline: Deadline, fifo_keys: FifoKeys | None
) -> set[int]:
    """consumer.dlq.route_to_dlq, loaded only when there is something to dead-letter."""
    return _route(entries, dlq_url, deadline, fifo_keys) if entries else set()


PARSE_CHECK_EVERY = 256
"""Records parsed between two looks at the clock."""


@dataclass(slots=True, eq=False)
class WarmState:
    """What a warm execution environment keeps between invocations, built once at cold start:
    settings, schema validator, entity API client, the request pace (`pacer`); and how many
    invocations it has served (the first is the cold start)."""

    settings: Settings
    validator: Draft202012Validator
    client: EntityApiClient
    invocations: int = 0
    pacers: list[Pacer] = field(default_factory=list)
    """The environment's Pacer once made (`delivery.pacer_for_invocation`)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> WarmState:
        """Build the validator and the client for `settings`."""
        return cls(settings, load_validator(), EntityApiClient(settings))

    def pacer(self) -> Pacer:
        """The Pacer of the invocation starting now (its lifetime: `pacer_for_invocation`)."""
        share = self.settings.entity_api_rate_share
        return pacer_for_invocation(self.pacers, lambda: Pacer(start_rate=share))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> WarmState:
        """Read settings from the environment (raises SettingsError naming a bad setting) and
        the log level (AWS_LAMBDA_LOG_LEVEL)."""
        LogContext.configure(environ)
        return cls.from_settings(Settings.from_environ(environ))

    def begin(self, context: Any) -> None:
        """Start an invocation: its log lines carry its request id and whether it is the
        container's first."""
        request_id = getattr(context, "aws_request_id", None)
        LogContext.begin(request_id if isinstance(request_id, str) else None, self.invocations == 0)
        self.invocations += 1


def process_batch(event: Any, context: Any, warm: WarmState) -> BatchResponse:
    """Handle one SQS event; return the partial batch response. Never raises on bad input.

    The cyclic garbage collector is paused meanwhile: a batch keeps thousands of parsed
    messages alive (no cycles), and repeated full collections over them cost ~10%.
    """
    warm.begin(context)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _process(event, context, warm)
    finally:
        if collecting:
            gc.enable()


@dataclass(slots=True)
class _Batch:
    """One invocation's batch as read: the records, where each came from, and its time."""

    raw_records: list[Any]
    carried: list[CarriedFacts | None]
    sources: list[str | None]
    """Per record: the messageId of the message the producer sent (a copy carries it)."""
    records: list[Record]
    keys: list[tuple[str | None, str | None]] | None
    """FIFO only: per record, (MessageGroupId, MessageDeduplicationId)."""
    groups: list[str | None] | None
    """FIFO only: per record, its message group."""
    settings: Settings
    deadline: Deadline


@dataclass(slots=True)
class _Delivered:
    """What delivery did: each operation's outcome, the API calls, the invalid records."""

    outcomes: dict[Operation, Outcome]
    stats: CallStats
    invalid: _InvalidRecords


@dataclass(slots=True)
class _Settled:
    """What became of the records not applied."""

    backoff: BackoffResult
    dead: list[DlqEntry]
    """Rejected and expired records, for the DLQ."""
    dlq_failed: set[int]
    failed: set[int]
    """Records to return to the queue (`batchItemFailures`)."""
    held: set[int]
    """FIFO: records held back behind an earlier failure of their group."""
    not_attempted: int


def _process(event: Any, context: Any, warm: WarmState) -> BatchResponse:
    started = time.perf_counter()
    batch = _read_batch(event, warm.settings, Deadline.from_context(context))
    validator = warm.validator
    plan = plan_operations(
        batch.records,
        lambda record: validate_record(record, validator),
        batch.settings.max_request_bytes,
        batch.groups,
    )
    delivered = _deliver(batch, plan, warm)
    settled = _settle_failures(batch, plan, delivered)
    failures, unreportable = _item_failures(batch.records, settled.failed)
    if unreportable:
        log(
            "ERROR",
            "records without a messageId failed and cannot be reported for retry",
            count=unreportable,
        )
    metrics, counts = _summary_fields(batch, plan, delivered, settled, len(failures))
    counts["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    if batch.groups is not None:
        counts.update(_group_counts(batch.groups, settled.held))
    summary = invocation_summary(
        metrics, batch.settings.metrics_namespace, _function_name(context), counts
    )
    emit_summary(summary)
    return {"batchItemFailures": failures}


def _read_batch(event: Any, settings: Settings, deadline: Deadline) -> _Batch:
    """The event's records parsed (copies unwrapped), with their sources and FIFO keys."""
    raw_records, carried = unwrap_records(_raw_records(event))
    sources = [_source_id(raw, facts) for raw, facts in zip(raw_records, carried, strict=True)]
    records = _parse_all(raw_records, settings, deadline)
    keys = [fifo_keys(raw) for raw in raw_records] if is_fifo_batch(raw_records) else None
    groups = [group for group, _ in keys] if keys is not None else None
    return _Batch(raw_records, carried, sources, records, keys, groups, settings, deadline)


def _deliver(batch: _Batch, plan: Plan, warm: WarmState) -> _Delivered:
    """Send the plan while the settling reserve holds, dead-lettering invalid records as
    they are found; then validate what delivery did not reach."""
    settings, deadline = batch.settings, batch.deadline
    # what settling needs after delivery: the copies of records near the redrive limit, a DLQ
    # call and a visibility call, and the client if this container has none yet
    calls = (copy_calls(batch.raw_records, settings) if batch.groups is None else 0) + 2
    reserve = settling_reserve(calls, sqs_client_built(settings.dlq_url), deadline.remaining())
    stats = CallStats()
    invalid = _InvalidRecords(batch.records, settings.dlq_url, deadline, batch.keys, batch.sources)
    outcomes = deliver_plan(
        plan,
        warm.client,
        deadline.earlier_by(reserve),
        max_operations=settings.max_operations_per_request,
        max_bytes=settings.max_request_bytes,
        stats=stats,
        while_sending=invalid.route,
        pacer=warm.pacer(),
    )
    # validate what delivery did not reach while the reserve holds: later, it only costs time
    plan.complete(deadline.earlier_by(reserve))
    invalid.route()  # those found since the first wave was packed (usually none)
    _log_api_problems(stats)
    return _Delivered(outcomes, stats, invalid)


def _settle_failures(batch: _Batch, plan: Plan, delivered: _Delivered) -> _Settled:
    """Dead-letter the rejected and expired records, set the backoff (or make the copy) of
    those to retry; the records Lambda must return to the queue."""
    settings, deadline, records = batch.settings, batch.deadline, batch.records
    rejected, retry = _rejected_and_retried(records, plan, delivered.outcomes, batch.sources)
    held: set[int] = set()
    if batch.groups is not None:  # FIFO: a group's records after a failed one come back after it
        dead_lettered = delivered.invalid.routed | {entry.index for entry in rejected}
        held = held_back(batch.groups, retry.keys()) - dead_lettered
        for index in held:  # (delivery already stopped each group's chain at its first failure)
            retry.setdefault(index, None)
    not_attempted = _log_not_attempted(retry, deadline, settings)
    retries = plan_retries(records, batch.raw_records, retry, settings, carried=batch.carried)
    if retries.backoffs or retries.expired or rejected:
        _build_client(settings.dlq_url)  # before any clock check: the reserve counted it
    if batch.groups is not None:
        retries.backoffs = fifo_backoffs(retries.backoffs, batch.groups, settings, deadline)
    dead = rejected + retries.expired
    dlq_failed = set(delivered.invalid.failed)

    def dead_letter() -> None:  # after the copies: they keep the promise, these can wait
        dlq_failed.update(route_to_dlq(dead, settings.dlq_url, deadline, batch.keys))

    backoff = apply_backoffs(
        retries.backoffs,
        records,
        batch.raw_records,
        settings,
        deadline,
        allow_copies=batch.groups is None,
        between=dead_letter,
    )
    _log_copy_problems(backoff)
    settled = {entry.index for entry in retries.expired} | backoff.acknowledged
    failed = (retry.keys() - settled) | dlq_failed
    return _Settled(backoff, dead, dlq_failed, failed, held, not_attempted)


def _summary_fields(
    batch: _Batch, plan: Plan, delivered: _Delivered, settled: _Settled, reported: int
) -> tuple[dict[str, int], dict[str, Any]]:
    """The summary's metrics (telemetry.METRIC_NAMES) and its further counts; `reported`:
    the records in `batchItemFailures`."""
    records, invalid, outcomes = batch.records, delivered.invalid, delivered.outcomes
    backoff = settled.backoff
    permanent = sum(1 for o in outcomes.values() if o.kind == OutcomeKind.REJECTED)
    applied = sum(1 for o in outcomes.values() if o.kind == OutcomeKind.APPLIED)
    dead_letters = [records[i].error_code for i in invalid.routed - invalid.failed]
    dead_letters += [e.error_code for e in settled.dead if e.index not in settled.dlq_failed]
    metrics = {
        "received": len(records),
        "invalid": invalid.count,
        "duplicates": plan.duplicates,
        "coalesced": plan.coalesced,
        "operations": plan.operations,
        "requests": delivered.stats.requests,
        "throttled": delivered.stats.throttled,
        "permanent": permanent,
        "transient": len(outcomes) - permanent - applied,
        "dlq": len(dead_letters),
        "expired": dead_letters.count(ErrorCode.EXPIRED),
        "batch_failed": int(bool(records) and len(settled.failed) == len(records)),
        "not_attempted": settled.not_attempted,
        "copy_skipped": len(backoff.copy_skipped),
        "copy_failed_at_limit": len(backoff.failed_at_limit),
    }
    counts = {
        "applied": applied,
        "dlq_failed": len(settled.dlq_failed),
        "batch_item_failures": reported,
        "backoff_set": backoff.backoff_set,
        "backoff_failed": backoff.backoff_failed,
        "requeued": backoff.requeued,
        "requeue_failed": backoff.requeue_failed,
        "copy_unknown": backoff.copy_unknown,
    }
    return metrics, counts


def _group_counts(groups: list[str | None], held: set[int]) -> dict[str, int]:
    """Summary fields of a FIFO batch: its message groups, the records held back behind an
    earlier failure of their group, and the groups that hold records back."""
    return {
        "message_groups": len(set(groups)),
        "held_back": len(held),
        "groups_held": len({groups[index] for index in held}),
    }


def _raw_records(event: Any) -> list[Any]:
    """The event's `Records`; an event without a list there is logged as an ERROR."""
    raw_records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(raw_records, list):
        return raw_records
    log(
        "ERROR",
        "the event has no Records list: nothing to process",
        event_type=type(event).__name__,
        records_type=type(raw_records).__name__,
    )
    return []


class _InvalidRecords:
    """Dead-letters the records that failed parsing or validation, each once."""

    def __init__(
        self,
        records: list[Record],
        dlq_url: str,
        deadline: Deadline,
        fifo_keys: list[tuple[str | None, str | None]] | None = None,
        sources: list[str | None] | None = None,
    ) -> None:
        self.records = records
        self.sources = sources or [r.message_id for r in records]
        self.dlq_url = dlq_url
        self.deadline = deadline
        self.fifo_keys = fifo_keys
        self.routed: set[int] = set()
        self.failed: set[int] = set()

    @property
    def count(self) -> int:
        """Records found invalid so far."""
        return len(self.routed)

    def route(self) -> None:
        """Send the invalid records not sent yet to the DLQ."""
        entries = [
            dlq_entry(r.index, r.body, r.error_code, r.error_detail or "-", self.sources[r.index])
            for r in self.records
            if r.error_code is not None and r.index not in self.routed
        ]
        self.routed.update(entry.index for entry in entries)
        self.failed |= route_to_dlq(entries, self.dlq_url, self.deadline, self.fifo_keys)


def _parse_all(raw_records: list[Any], settings: Settings, deadline: Deadline) -> list[Record]:
    """Parse every record; once the deadline has passed, only read the ids of the rest."""
    records: list[Record] = []
    for index, raw in enumerate(raw_records):
        if index % PARSE_CHECK_EVERY == 0 and deadline.remaining() <= 0:
            records.extend(parse_record_id(r, n) for n, r in enumerate(raw_records) if n >= index)
            break
        records.append(parse_record(raw, index, settings.max_request_bytes))
    return records


def _rejected_and_retried(
    records: list[Record],
    plan: Plan,
    outcomes: dict[Operation, Outcome],
    sources: list[str | None],
) -> tuple[list[DlqEntry], dict[int, Outcome | None]]:
    """(DLQ entries of rejected records, records to retry: index -> the transient outcome of
    its change, None when it has none); outcomes gains the unsent ops.

    A record that neither failed validation nor belongs to an operation was not reached
    in time: it is retried.
    """
    not_sent = Outcome(OutcomeKind.TRANSIENT, "not sent")
    for unsent in (op for chain in plan.built for op in chain if op not in outcomes):
        outcomes[unsent] = not_sent
    owner = plan.operation_of()
    rejected: list[DlqEntry] = []
    retry: dict[int, Outcome | None] = {}
    for record in records:
        operation = owner.get(record.index)
        if operation is None:
            if record.error_code is None:
                retry[record.index] = None
            continue
        outcome = outcomes[operation]
        if outcome.kind == OutcomeKind.REJECTED:
            rejected.append(
                dlq_entry(
                    record.index,
                    record.body,
                    outcome.error_code,
                    outcome.detail,
                    sources[record.index],
                )
            )
        elif outcome.kind != OutcomeKind.APPLIED:
            retry[record.index] = outcome
    return rejected, retry


def _source_id(raw: Any, carried: CarriedFacts | None) -> str | None:
    """The messageId of the message the producer sent: a copy carries it."""
    if carried is not None and carried.source_message_id:
        return carried.source_message_id
    message_id = raw.get("messageId") if isinstance(raw, dict) else None
    return message_id if isinstance(message_id, str) and message_id else None


def _build_client(queue_url: str) -> None:
    """Build the SQS client now, before any call checks the clock (a failure to build is
    met again, and handled, by the calls themselves)."""
    try:
        sqs_client(queue_url)
    except Exception:  # noqa: BLE001 - every call reports its records as not done
        return


NOT_ATTEMPTED = ("not sent", "time budget exhausted")
"""How the details of changes never sent for lack of time begin."""


def _log_not_attempted(
    retry: dict[int, Outcome | None], deadline: Deadline, settings: Settings
) -> int:
    """Count the records to retry whose change was never sent for lack of time; one WARN line
    when there are any (they are retried: nothing is lost, but a function timeout too short
    for the batch shows here)."""
    count = sum(
        1 for cause in retry.values() if cause is None or cause.detail.startswith(NOT_ATTEMPTED)
    )
    if count:
        log(
            "WARN",
            "records not attempted for lack of time; they will be retried",
            count=count,
            seconds_left=round(deadline.remaining(), 2),
            entity_api_timeout_seconds=settings.entity_api_timeout_seconds,
            hint="raise function_timeout or lower batch_size",
        )
    return count


def _log_copy_problems(backoff: BackoffResult) -> None:
    """A WARN line for records due a copy that cannot have one, an ERROR line for records on
    their last receive before the redrive limit whose copy was not made."""
    if backoff.copy_skipped:
        reasons = {why: backoff.copy_skipped.count(why) for why in set(backoff.copy_skipped)}
        log(
            "WARN",
            "records due a copy cannot have one: they retry through their visibility only, "
            "and SQS's redrive moves them to the DLQ at the redrive limit",
            count=len(backoff.copy_skipped),
            reasons=reasons,
        )
    if backoff.failed_at_limit:
        log(
            "ERROR",
            "copies not made on the last receive before the redrive limit: SQS will move "
            "these records to the DLQ (without error_code)",
            count=len(backoff.failed_at_limit),
            message_ids=backoff.failed_at_limit[:20],
            unknown=backoff.copy_unknown,
        )


def _log_api_problems(stats: CallStats) -> None:
    """One ERROR line per kind of problem: refused credentials, no answer, odd answers."""
    if stats.unreachable:
        log(
            "ERROR",
            "entity API unreachable; its records will be retried",
            requests=stats.unreachable,
            cause=stats.unreachable_cause,
        )
    if stats.auth_failed:
        log("ERROR", "entity API refused the credentials", detail=stats.auth_detail)
    for problem in sorted(stats.unexpected):
        log("ERROR", "entity API answered unexpectedly", detail=problem)


def _item_failures(records: list[Record], retry: set[int]) -> tuple[list[BatchItemFailure], int]:
    """Batch item failures for the records to retry: batch order, no repeats, no unknown ids."""
    failures: list[BatchItemFailure] = []
    seen: set[str] = set()
    unreportable = 0
    for index in sorted(retry):
        message_id = records[index].message_id
        if message_id is None:
            unreportable += 1
        elif message_id not in seen:
            seen.add(message_id)
            failures.append({"itemIdentifier": message_id})
    return failures, unreportable


def _function_name(context: Any) -> str:
    name = getattr(context, "function_name", None)
    if isinstance(name, str) and name:
        return name
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")


def retry_everything(event: Any) -> BatchResponse:
    """The safe answer when the batch could not be processed at all: retry every record."""
    raw_records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(raw_records, list):
        raw_records = []
    records = [parse_record_id(raw, index) for index, raw in enumerate(raw_records)]
    failures, _ = _item_failures(records, set(range(len(records))))
    return {"batchItemFailures": failures}


def fail_whole_batch(event: Any, context: Any, warm: WarmState, error: Exception) -> BatchResponse:
    """The catch-all path: log the error, write the summary (`batch_failed` 1), retry all."""
    log(
        "ERROR", "batch processing failed; every record will be retried", error=bounded(repr(error))
    )
    response = retry_everything(event)
    raw_records = event.get("Records") if isinstance(event, dict) else None
    received = len(raw_records) if isinstance(raw_records, list) else 0
    summary = invocation_summary(
        {"received": received, "transient": received, "batch_failed": 1},
        warm.settings.metrics_namespace,
        _function_name(context),
        {"batch_item_failures": len(response["batchItemFailures"])},
    )
    emit_summary(summary)
    return response
