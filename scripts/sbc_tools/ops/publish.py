"""Publish entity changes to the consumer's queue: SendMessageBatch, 10 per call, several in flight.

    python -m sbc_tools.ops.publish --count 2000 --poison-percent 2 --duplicate-percent 1
    python -m sbc_tools.ops.publish --file changes.jsonl --queue-url https://sqs... (any SQS queue)

Generated messages follow contract section 1 (`sbc_tools.ops.messages`); failed entries are retried
with backoff, and what still fails is listed. Ends with a summary and the throughput.
On a FIFO queue (a `.fifo` URL) each message carries its entity as MessageGroupId and its
event_id as MessageDeduplicationId, and each group is sent in order by a single lane.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import cli
from ..cli import console, parser_for
from . import messages as message_factory
from . import stack as stack_lookup

SQS_BATCH_LIMIT = 10
PERCENT = cli.number(0, 100)
ATTEMPTS = 6


@dataclass
class PublishResult:
    """What happened to a publish run."""

    sent: int = 0
    failed: dict[int, str] = field(default_factory=dict)  # message index -> last error
    calls: int = 0
    retried_entries: int = 0
    seconds: float = 0.0
    sent_at: dict[int, float] = field(default_factory=dict)  # index -> time.time() when sent
    out_of_order: set[int] = field(default_factory=set)  # FIFO: accepted before a retried one

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


FifoKeys = tuple[str, str]  # (MessageGroupId, MessageDeduplicationId)


Attributes = dict[str, Any]  # SQS MessageAttributes of one message


def _entry(
    index: int, body: str, keys: FifoKeys | None, attributes: Attributes | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": body}
    if keys is not None:
        entry["MessageGroupId"], entry["MessageDeduplicationId"] = keys
    if attributes:
        entry["MessageAttributes"] = attributes
    return entry


def _send_chunk(
    sqs: Any,
    queue_url: str,
    chunk: list[tuple[int, str]],
    result: PublishResult,
    lock: Any,
    *,
    fifo_keys: Sequence[FifoKeys] | None = None,
    attributes: Sequence[Attributes | None] | None = None,
) -> int:
    """Send up to 10 bodies; retry the entries that fail. Returns how many were sent."""
    pending = dict(chunk)
    error = "not sent"
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(min(2.0, 0.1 * 2**attempt))
            with lock:
                result.retried_entries += len(pending)
        entries = [
            _entry(
                i, body, fifo_keys[i] if fifo_keys else None, attributes[i] if attributes else None
            )
            for i, body in pending.items()
        ]
        try:
            answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:
            # A missing queue, missing credentials, nothing listening: stop at once (the
            # caller shows one line); throttling and 5xx: the whole call is tried again.
            if not stack_lookup.is_retryable(exc):
                raise
            error = f"{type(exc).__name__}: {stack_lookup.one_line(exc)}"
            continue
        finally:
            with lock:
                result.calls += 1
        now = time.time()
        with lock:
            for ok in answer.get("Successful", []):
                index = int(ok["Id"])
                result.sent_at[index] = now
                pending.pop(index, None)
        if fifo_keys and answer.get("Failed"):
            _note_overtaken(answer, pending, fifo_keys, result, lock)
        retryable = {}
        for failed in answer.get("Failed", []):
            error = f"{failed.get('Code')}: {failed.get('Message', '')}"
            if not failed.get("SenderFault"):
                retryable[int(failed["Id"])] = pending[int(failed["Id"])]
            else:
                with lock:
                    result.failed[int(failed["Id"])] = error
                pending.pop(int(failed["Id"]), None)
        pending = retryable
        if not pending:
            break
    with lock:
        for index in pending:
            result.failed[index] = error
    return len(chunk) - len(pending)


def _note_overtaken(
    answer: dict[str, Any],
    pending: dict[int, str],
    fifo_keys: Sequence[FifoKeys],
    result: PublishResult,
    lock: Any,
) -> None:
    """Count the entries accepted after a failed entry of their group in the same call: its
    retry lands behind them, so that group is out of order from there on."""
    failed = {int(f["Id"]) for f in answer.get("Failed", [])}
    first_failed: dict[str, int] = {}
    for index in sorted(failed):
        first_failed.setdefault(fifo_keys[index][0], index)
    overtaken = [i for i in pending if i not in failed and i > first_failed.get(fifo_keys[i][0], i)]
    with lock:
        result.out_of_order.update(overtaken)


def _lanes(count: int, fifo_keys: Sequence[FifoKeys], lanes: int) -> list[list[int]]:
    """Message indices split into `lanes` by group, each in publishing order: one group's
    messages are all sent by one lane, one call after another, so they keep their order."""
    split: list[list[int]] = [[] for _ in range(lanes)]
    lane_of: dict[str, int] = {}
    for index in range(count):
        group = fifo_keys[index][0]
        lane = lane_of.setdefault(group, len(lane_of) % lanes)
        split[lane].append(index)
    return [lane for lane in split if lane]


def _send_lane(
    sqs: Any,
    queue_url: str,
    chunks: list[list[tuple[int, str]]],
    result: PublishResult,
    lock: Any,
    *,
    fifo_keys: Sequence[FifoKeys],
    on_progress: Callable[[int], None] | None,
    attributes: Sequence[Attributes | None] | None = None,
) -> int:
    """Send one lane's chunks one after another (FIFO: each group's order is kept)."""
    sent = 0
    for chunk in chunks:
        sent += _send_chunk(
            sqs, queue_url, chunk, result, lock, fifo_keys=fifo_keys, attributes=attributes
        )
        if on_progress:
            on_progress(len(chunk))
    return sent


def publish(
    sqs: Any,
    queue_url: str,
    bodies: Sequence[str],
    concurrency: int = 4,
    on_progress: Callable[[int], None] | None = None,
    *,
    fifo_keys: Sequence[FifoKeys] | None = None,
    attributes: Sequence[Attributes | None] | None = None,
) -> PublishResult:
    """Publish `bodies` in batches of 10 with `concurrency` calls in flight.

    With `fifo_keys` (a FIFO queue: one (MessageGroupId, MessageDeduplicationId) per body)
    each message group is sent by one lane, in order, so SQS keeps each group's order.
    `attributes[i]` are body i's MessageAttributes (None: none).
    """
    if attributes is not None and len(attributes) != len(bodies):
        raise ValueError(f"{len(bodies)} bodies but {len(attributes)} attribute sets")
    if fifo_keys is not None:
        return _publish_fifo(
            sqs,
            queue_url,
            bodies,
            concurrency,
            on_progress=on_progress,
            fifo_keys=fifo_keys,
            attributes=attributes,
        )
    result = PublishResult()
    lock = threading.Lock()
    indexed = list(enumerate(bodies))
    chunks = [indexed[i : i + SQS_BATCH_LIMIT] for i in range(0, len(indexed), SQS_BATCH_LIMIT)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        sizes = {
            pool.submit(_send_chunk, sqs, queue_url, c, result, lock, attributes=attributes): len(c)
            for c in chunks
        }
        try:
            for future in as_completed(sizes):
                sent = future.result()
                with lock:
                    result.sent += sent
                if on_progress:
                    on_progress(sizes[future])
        except BaseException:  # Ctrl-C, or an error no retry can fix: do not try every chunk
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    result.seconds = time.monotonic() - started
    return result


def _publish_fifo(
    sqs: Any,
    queue_url: str,
    bodies: Sequence[str],
    concurrency: int,
    *,
    on_progress: Callable[[int], None] | None,
    fifo_keys: Sequence[FifoKeys],
    attributes: Sequence[Attributes | None] | None,
) -> PublishResult:
    if len(fifo_keys) != len(bodies):
        raise ValueError(f"{len(bodies)} bodies but {len(fifo_keys)} FIFO keys")
    result = PublishResult()
    lock = threading.Lock()
    lanes = []
    for lane in _lanes(len(bodies), fifo_keys, max(1, concurrency)):
        indexed = [(i, bodies[i]) for i in lane]
        lanes.append(
            [indexed[i : i + SQS_BATCH_LIMIT] for i in range(0, len(lane), SQS_BATCH_LIMIT)]
        )
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, len(lanes))) as pool:
        futures = [
            pool.submit(
                _send_lane,
                sqs,
                queue_url,
                chunks,
                result,
                lock,
                fifo_keys=fifo_keys,
                on_progress=on_progress,
                attributes=attributes,
            )
            for chunks in lanes
        ]
        try:
            for future in as_completed(futures):
                sent = future.result()
                with lock:
                    result.sent += sent
        except BaseException:  # Ctrl-C, or nothing listens there: do not try every chunk
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    result.seconds = time.monotonic() - started
    return result


def is_fifo_queue(queue_url: str) -> bool:
    """Whether the queue is FIFO (SQS requires the `.fifo` name suffix for those)."""
    return queue_url.rstrip("/").endswith(".fifo")


def _messages(args: argparse.Namespace) -> list[message_factory.Message]:
    if args.file:
        messages = list(message_factory.read_jsonl(Path(args.file)))
    else:
        messages = message_factory.generate(
            args.count,
            poison_percent=args.poison_percent,
            duplicate_percent=args.duplicate_percent,
            entities=args.entities,
            seed=args.seed,
        )
    if args.producer_mix:
        messages = message_factory.with_producer_mix(messages, seed=args.seed)
    return messages


def _parser() -> cli.ArgumentParser:
    parser = parser_for(__doc__, __spec__)
    parser.add_argument("--count", type=cli.integer(0), default=2000, help="messages to generate")
    parser.add_argument("--file", help="publish the bodies of this JSONL file instead")
    parser.add_argument("--poison-percent", type=PERCENT, default=2.0, help="invalid messages, %%")
    parser.add_argument("--duplicate-percent", type=PERCENT, default=0.0, help="repeats, %%")
    parser.add_argument(
        "--entities", type=cli.integer(1), help="distinct entities (default: --count)"
    )
    parser.add_argument(
        "--concurrency", type=cli.integer(1, 64), default=4, help="SendMessageBatch in flight"
    )
    parser.add_argument("--seed", type=int, help="random seed (repeatable runs)")
    parser.add_argument(
        "--producer-mix",
        action="store_true",
        help="as real producers: ~3%% with a Binary attribute, ~2%% with 9 and ~2%% with 10 "
        "attributes, ~1%% of valid changes with a ~120 KB body",
    )
    stack_lookup.add_arguments(parser)
    return parser


def _announce(messages: list[message_factory.Message], queue_url: str, fifo: bool) -> None:
    """What is about to be sent: the mix of kinds, and on a FIFO queue the groups."""
    kinds = Counter(message.kind for message in messages)
    mix = ", ".join(f"{n:,} {kind}" for kind, n in sorted(kinds.items()))
    console.print(f"publishing {len(messages):,} messages ({mix}) to {queue_url}")
    if fifo:
        groups = len({message_factory.fifo_keys(m)[0] for m in messages})
        console.print(
            f"FIFO queue: message group = the entity ({groups:,} groups), "
            "deduplication id = event_id; each group is sent in order by one lane"
        )


def _publish_with_progress(
    stack: stack_lookup.Stack, messages: list[message_factory.Message], args: argparse.Namespace
) -> PublishResult:
    """Send every message, with a progress bar on stderr."""
    fifo = is_fifo_queue(stack.queue_url)
    _announce(messages, stack.queue_url, fifo)
    with Progress(
        TextColumn("[bold]publish"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("publish", total=len(messages))
        return publish(
            stack.client("sqs"),
            stack.queue_url,
            [m.body for m in messages],
            concurrency=args.concurrency,
            on_progress=lambda n: progress.advance(task, n),
            fifo_keys=[message_factory.fifo_keys(m) for m in messages] if fifo else None,
            attributes=[m.attributes for m in messages] if args.producer_mix else None,
        )


def _summarise(result: PublishResult, total: int, concurrency: int) -> int:
    """The closing lines; exit status 2 when messages could not be sent."""
    console.print(
        f"sent [bold]{result.sent:,}[/bold] of {total:,} in {result.seconds:.2f} s "
        f"= [bold]{result.per_second:,.0f} msg/s[/bold] ({result.calls:,} SendMessageBatch "
        f"calls, {concurrency} in flight, {result.retried_entries} entries retried)"
    )
    if result.out_of_order:
        console.print(
            f"[yellow]{len(result.out_of_order)} messages were accepted before an earlier "
            "message of their group that had to be retried: those groups are out of order "
            "in the queue[/yellow]"
        )
    if result.failed:
        console.print(f"[red]{len(result.failed)} messages could not be sent:[/red]")
        for index, reason in sorted(result.failed.items())[:10]:
            console.print(f"  #{index}: {reason}")
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        stack = stack_lookup.resolve_arguments(args)
        messages = _messages(args)
    except (stack_lookup.StackError, OSError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        return 1
    result = _publish_with_progress(stack, messages, args)
    return _summarise(result, len(messages), args.concurrency)


def run() -> int:
    """The installed command `sbc-publish` (`python -m sbc_tools.ops.publish`): one line on
    errors."""
    return stack_lookup.run_cli(main)


if __name__ == "__main__":
    sys.exit(run())
