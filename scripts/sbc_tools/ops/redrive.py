"""Move DLQ messages back to the source queue, optionally only those with one `error_code`.

    python -m sbc_tools.ops.redrive
        [--error-code schema_violation|invalid_json|rejected_by_api|expired|none] [--limit N]
        [--dry-run]

Send-then-delete: a message leaves the DLQ only after the source queue accepted its copy, so
an interrupted run loses nothing (at worst a message is in both queues; the consumer is
idempotent on event_id). Ctrl-C finishes the batch in hand, then stops. Only messages that
were in the DLQ when the run started are moved (a redriven message that fails again is not
picked up twice). `none` selects the
messages SQS moved after maxReceiveCount (they carry no error_code). The handler's
attributes (error_code, error_detail, source_message_id) are not copied back.

FIFO queues: each message goes back in its message group with its deduplication id (the
handler's dead letters keep both), in the order the DLQ hands them out. SQS drops a message
whose deduplication id it saw in the last 5 minutes, so a dead letter younger than that stays
in the DLQ for a later run (moving it would lose it: the send "succeeds" and stores nothing).
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

from consumer.outcomes import ErrorCode

from .. import cli
from ..cli import console, parser_for
from . import observations as observe
from . import stack as stack_lookup

HANDLER_ATTRIBUTES = {"error_code", "error_detail", "source_message_id"}
HOLD_SECONDS = 120
DEDUPLICATION_WINDOW_MS = 5 * 60 * 1000
"""SQS FIFO queues drop a message whose deduplication id they saw this recently."""


@dataclass
class RedriveResult:
    """Counts of a redrive run."""

    moved: int = 0
    skipped: int = 0
    failed: int = 0
    too_recent: int = 0  # FIFO: inside the deduplication window, left for a later run
    interrupted: bool = False


def _matches(message: dict[str, Any], error_code: str | None) -> bool:
    if error_code is None:
        return True
    code = observe.attribute(message, "error_code")
    return code is None if error_code == "none" else code == error_code


def _sent_ms(message: dict[str, Any]) -> int:
    return int(message.get("Attributes", {}).get("SentTimestamp", 0))


def _copy_attributes(message: dict[str, Any]) -> dict[str, Any]:
    kept = {}
    for name, value in message.get("MessageAttributes", {}).items():
        if name in HANDLER_ATTRIBUTES:
            continue
        kept[name] = {k: v for k, v in value.items() if k in {"DataType", "StringValue"}}
    return kept


def fifo_keys(message: dict[str, Any]) -> dict[str, str]:
    """The message's group and deduplication id, for a FIFO source queue (a message without
    them, which a FIFO DLQ cannot hold, gets the group `unknown` and its MessageId)."""
    attributes = message.get("Attributes", {})
    return {
        "MessageGroupId": attributes.get("MessageGroupId") or "unknown",
        "MessageDeduplicationId": attributes.get("MessageDeduplicationId") or message["MessageId"],
    }


def _move(sqs: Any, source_url: str, dlq_url: str, batch: list[dict[str, Any]]) -> int:
    """Send a batch to the source queue, then delete what was accepted. Returns the count."""
    fifo = source_url.rstrip("/").endswith(".fifo")
    entries = []
    for i, message in enumerate(batch):
        entry: dict[str, Any] = {"Id": str(i), "MessageBody": message["Body"]}
        if attributes := _copy_attributes(message):
            entry["MessageAttributes"] = attributes
        if fifo:
            entry.update(fifo_keys(message))
        entries.append(entry)
    answer = sqs.send_message_batch(QueueUrl=source_url, Entries=entries)
    accepted = [batch[int(ok["Id"])] for ok in answer.get("Successful", [])]
    if accepted:
        sqs.delete_message_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(accepted)
            ],
        )
    rejected = [batch[int(f["Id"])] for f in answer.get("Failed", [])]
    if rejected:
        observe.release(sqs, dlq_url, rejected)
    return len(accepted)


@dataclass(frozen=True)
class _Selection:
    """Which DLQ messages one run moves, and how many."""

    started_ms: int
    fifo: bool
    error_code: str | None
    limit: int | None
    dry_run: bool

    def has_room(self, moved: int) -> bool:
        return self.limit is None or moved < self.limit

    def sort(
        self, received: list[dict[str, Any]], result: RedriveResult, held: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The messages of one receive to move now; the others go to `held`, counted."""
        batch: list[dict[str, Any]] = []
        for message in received:
            # Sent after the run started (e.g. a redriven message the consumer rejected
            # again): moving it would loop; it stays for the next run.
            old = _sent_ms(message) < self.started_ms
            room = self.has_room(result.moved + len(batch))
            recent = self.fifo and _sent_ms(message) > self.started_ms - DEDUPLICATION_WINDOW_MS
            if not (old and _matches(message, self.error_code)):
                held.append(message)
                result.skipped += old
            elif recent:
                held.append(message)
                result.too_recent += 1
            elif self.dry_run or not room:
                held.append(message)
                result.moved += self.dry_run and room
            else:
                batch.append(message)
        return batch


class _StopRequest:
    """Ctrl-C, while inside: stop after the receive in hand instead of interrupting it."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopRequest:
        self._previous = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, *_: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def redrive(
    sqs: Any,
    source_url: str,
    dlq_url: str,
    *,
    error_code: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
) -> RedriveResult:
    """Move matching DLQ messages to the source queue; others stay in the DLQ untouched.

    Each receive (up to 10 messages) is handled whole: the matching ones are sent and then
    deleted, the others kept aside and made visible again at the end.
    """
    result = RedriveResult()
    fifo = source_url.rstrip("/").endswith(".fifo")
    selection = _Selection(int(time.time() * 1000), fifo, error_code, limit, dry_run)
    held: list[dict[str, Any]] = []
    in_hand: list[dict[str, Any]] = []  # the receive being handled, until it is settled
    try:
        with _StopRequest() as stop:
            batches = observe.receive_batches(
                sqs,
                dlq_url,
                hold_seconds=HOLD_SECONDS,
                keep_going=lambda: not stop.requested and selection.has_room(result.moved),
            )
            for received in batches:
                in_hand = received
                if batch := selection.sort(received, result, held):
                    sent = _move(sqs, source_url, dlq_url, batch)
                    result.moved += sent
                    result.failed += len(batch) - sent
                in_hand = []
            result.interrupted = stop.requested
    finally:
        # Not moved (other codes, or a receive interrupted before its delete): visible again
        # at once. A batch whose send went through but whose delete did not is then in both
        # queues: delivered twice, never lost.
        leftover = held + [m for m in in_hand if m not in held]
        if leftover:
            observe.release(sqs, dlq_url, leftover)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, __spec__)
    stack_lookup.add_arguments(parser)
    parser.add_argument(
        "--error-code",
        choices=[*(code.value for code in ErrorCode), "none"],
        help="only this error_code ('none': no error_code)",
    )
    parser.add_argument("--limit", type=cli.integer(1), help="move at most this many")
    parser.add_argument("--dry-run", action="store_true", help="count, move nothing")
    args = parser.parse_args(argv)
    stack = stack_lookup.resolve_arguments(args)
    if not stack.dlq_url:
        console.print("[red]error:[/red] no DLQ known: pass --dlq-url")
        return 1
    sqs = stack.client("sqs")
    which = f"with error_code={args.error_code}" if args.error_code else "(all)"
    with console.status(f"moving DLQ messages {which} back to {stack.queue_url} ..."):
        result = redrive(
            sqs,
            stack.queue_url,
            stack.dlq_url,
            error_code=args.error_code,
            limit=args.limit,
            dry_run=args.dry_run,
        )
    verb = "would move" if args.dry_run else "moved"
    console.print(
        f"{verb} [bold]{result.moved:,}[/bold] messages to the source queue; "
        f"{result.skipped:,} with another error_code stay in the DLQ"
    )
    if result.too_recent:
        console.print(
            f"{result.too_recent:,} dead-lettered less than 5 minutes ago stay in the DLQ: a "
            "FIFO queue would drop them as duplicates of the original; run again later"
        )
    if result.failed:
        console.print(f"[red]{result.failed:,} could not be sent; they stay in the DLQ[/red]")
    if result.interrupted:
        console.print("interrupted: the messages not moved are still in the DLQ")
        return 130
    return 1 if result.failed else 0


def run() -> int:
    """The installed command `sbc-redrive` (`python -m sbc_tools.ops.redrive`): one line on
    errors."""
    return stack_lookup.run_cli(main)


if __name__ == "__main__":
    sys.exit(run())
