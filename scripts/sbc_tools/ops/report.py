"""Report of a run: batch sizes per invocation, aggregation, DLQ contents by error_code, and
on a FIFO queue its message groups (per batch, held back behind a failure, in the DLQ).

    python -m sbc_tools.ops.report [--instance default] [--since-minutes 30]

Reads the handler's per-invocation log lines from CloudWatch Logs, the local entity API
server's `/_admin/stats`, and the queues (the DLQ is read without being consumed).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from rich.table import Table

from .. import cli
from ..cli import parser_for
from ..cli import stdout_console as console
from ..entity_api_admin import EntityApiAdmin
from . import observations as observe
from . import stack as stack_lookup

BAR_WIDTH = 40


@dataclass
class RunReport:
    """The figures of a run."""

    summaries: list[dict[str, Any]]
    api_stats: dict[str, Any] | None
    dlq: list[observe.DlqMessage]
    queue: tuple[int, int]
    dlq_depth: tuple[int, int]
    totals: dict[str, int] = field(default_factory=dict)
    sequences: dict[str, list[str]] = field(default_factory=dict)  # entity -> applied op_ids

    def __post_init__(self) -> None:
        self.totals = {k: sum(int(s.get(k, 0)) for s in self.summaries) for k in observe.COUNTS}


def gather(stack: stack_lookup.Stack, since_ms: int = 0) -> RunReport:
    sqs, logs = stack.client("sqs"), stack.client("logs")
    summaries = (
        observe.invocation_summaries(logs, stack.log_group, since_ms) if stack.log_group else []
    )
    api_stats = None
    sequences: dict[str, list[str]] = {}
    if stack.entity_api_base_url:
        try:
            api_stats = EntityApiAdmin(stack.entity_api_base_url).stats()
            sequences = EntityApiAdmin(stack.entity_api_base_url).sequences()
        except OSError:
            pass
    dlq = observe.peek_dlq(sqs, stack.dlq_url) if stack.dlq_url else []
    dlq_depth = observe.queue_depth(sqs, stack.dlq_url) if stack.dlq_url else (0, 0)
    queue = observe.queue_depth(sqs, stack.queue_url)
    return RunReport(summaries, api_stats, dlq, queue, dlq_depth, sequences=sequences)


def _bar(value: int, largest: int) -> str:
    return "█" * max(1 if value else 0, round(BAR_WIDTH * value / largest)) if largest else ""


def _size_buckets(sizes: list[int]) -> list[tuple[str, int]]:
    """Batch sizes as rows: each size when there are few, else ranges of equal width."""
    counts = Counter(sizes)
    if len(counts) <= 12:
        return [(str(size), counts[size]) for size in sorted(counts)]
    top = max(sizes)
    width = -(-top // 10)
    rows = []
    for low in range(1, top + 1, width):
        high = min(top, low + width - 1)
        rows.append((f"{low}-{high}", sum(n for s, n in counts.items() if low <= s <= high)))
    return rows


def render_batches(report: RunReport) -> None:
    sizes = [int(s.get("received", 0)) for s in report.summaries]
    if not sizes:
        console.print("no invocations found in the function's log group (yet)")
        return
    console.rule("[bold]Batch size per invocation")
    shown = " ".join(str(n) for n in sizes[:40]) + (" ..." if len(sizes) > 40 else "")
    console.print(f"messages per invocation, in order: {shown}")
    mean = sum(sizes) / len(sizes)
    console.print(
        f"{len(sizes):,} invocations, {sum(sizes):,} records: "
        f"min {min(sizes)}, mean {mean:.1f}, max {max(sizes)}"
    )
    table = Table(box=None, pad_edge=False)
    table.add_column("batch size", justify="right")
    table.add_column("invocations", justify="right")
    table.add_column("")
    rows = _size_buckets(sizes)
    largest = max(n for _, n in rows)
    for label, n in rows:
        table.add_row(label, f"{n:,}", f"[cyan]{_bar(n, largest)}[/cyan]")
    console.print(table)


def render_aggregation(report: RunReport) -> None:
    totals = report.totals
    console.rule("[bold]What the handler did (sum over invocations)")
    table = Table(box=None, pad_edge=False, show_header=False)
    for justify in ("left", "right", "left", "right"):
        table.add_column(justify=justify)
    names = list(observe.COUNTS)
    half = (len(names) + 1) // 2
    for left, right in zip_longest(names[:half], names[half:]):
        right_cells = (f"    {right}", f"{totals[right]:,}") if right else ("", "")
        table.add_row(f"  {left}", f"{totals[left]:,}", *right_cells)
    console.print(table)
    records = totals["received"]
    stats = report.api_stats
    requests = int(stats["requests"]) if stats else totals["requests"]
    operations = int(stats["operations"]) if stats else totals["operations"]
    console.rule("[bold]Entity API")
    if records:
        fewer = records / requests if requests else 0.0
        console.print(
            f"requests made: [bold]{requests:,}[/bold] for {records:,} records "
            f"(one request per record would be {records:,}: [bold]{fewer:.1f}x fewer[/bold])"
        )
    if requests:
        console.print(f"operations per request: mean {operations / requests:.1f}")
    if stats and stats.get("ops_per_request"):
        histogram = {int(k): int(v) for k, v in stats["ops_per_request"].items()}
        largest = max(histogram.values())
        table = Table(box=None, pad_edge=False)
        table.add_column("ops/request", justify="right")
        table.add_column("requests", justify="right")
        table.add_column("")
        for ops, n in sorted(histogram.items()):
            table.add_row(str(ops), f"{n:,}", f"[green]{_bar(n, largest)}[/green]")
        console.print(table)
        statuses = ", ".join(f"{k}: {v:,}" for k, v in stats.get("status_counts", {}).items())
        console.print(f"HTTP statuses: {statuses}; applied operations: {stats['applied']:,}")


def render_groups(report: RunReport, fifo: bool) -> None:
    """FIFO queues: message groups per batch, records held back behind a failure of their
    group, groups in the DLQ (the handler logs `message_groups` and `held_back` on FIFO)."""
    grouped = [s for s in report.summaries if "message_groups" in s]
    if not (fifo or grouped):
        return
    console.rule("[bold]Message groups (FIFO queue)")
    if grouped:
        per_batch = [int(s["message_groups"]) for s in grouped]
        held = sum(int(s.get("held_back", 0)) for s in grouped)
        holding = sum(1 for s in grouped if int(s.get("held_back", 0)))
        console.print(
            f"groups per batch: min {min(per_batch)}, mean {sum(per_batch) / len(per_batch):.1f},"
            f" max {max(per_batch)} ({len(grouped):,} invocations)"
        )
        console.print(
            f"records held back behind an earlier failure of their group: [bold]{held:,}[/bold] "
            f"(in {holding:,} invocations; they come back after it, in order)"
        )
    else:
        console.print("no invocation logged its message groups (yet)")
    if report.sequences:
        lengths = sorted(len(ops) for ops in report.sequences.values())
        console.print(
            f"entity API: {len(lengths):,} entities changed, operations per entity: min "
            f"{lengths[0]}, median {lengths[len(lengths) // 2]}, max {lengths[-1]}"
        )
    in_dlq = Counter(m.group for m in report.dlq if m.group)
    if in_dlq:
        top = ", ".join(f"{group} ({n})" for group, n in in_dlq.most_common(5))
        console.print(f"DLQ: messages from {len(in_dlq):,} groups; most: {top}")


def render_queues(report: RunReport) -> None:
    console.rule("[bold]Queues")
    visible, in_flight = report.queue
    console.print(f"source queue: {visible:,} waiting, {in_flight:,} in flight")
    stored = sum(report.dlq_depth)
    if stored > len(report.dlq):  # FIFO: a group's later messages stay hidden while reading
        console.print(
            f"DLQ: {stored:,} messages ({len(report.dlq):,} could be read without consuming "
            "them: a FIFO queue hands out none of a group while some of it is being read)"
        )
    else:
        console.print(f"DLQ: {len(report.dlq):,} messages")
    if report.dlq:
        by_code = Counter(m.error_code or "(none: maxReceiveCount reached)" for m in report.dlq)
        largest = max(by_code.values())
        table = Table(box=None, pad_edge=False)
        table.add_column("error_code")
        table.add_column("messages", justify="right")
        table.add_column("")
        for code, n in by_code.most_common():
            table.add_row(code, f"{n:,}", f"[red]{_bar(n, largest)}[/red]")
        console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, __spec__)
    stack_lookup.add_arguments(parser)
    parser.add_argument("--function-name", help="function whose logs to read")
    parser.add_argument("--since-minutes", type=cli.number(0), help="only invocations this recent")
    parser.add_argument(
        "--since", type=cli.number(0), help="only invocations after this epoch second"
    )
    args = parser.parse_args(argv)
    stack = stack_lookup.resolve_arguments(args)
    if args.function_name:
        stack = stack_lookup.Stack(**{**stack.__dict__, "function_name": args.function_name})
    since_ms = int((time.time() - args.since_minutes * 60) * 1000) if args.since_minutes else 0
    if args.since:
        since_ms = int(args.since * 1000)
    try:
        report = gather(stack, since_ms)
    except Exception as error:  # noqa: BLE001 (shown as a message, not a traceback)
        cli.print_error(f"could not read the stack: {stack_lookup.one_line(error)}")
        return 1
    console.print(f"[bold]Run report[/bold]: function {stack.function_name}, {stack.queue_url}")
    render_batches(report)
    render_aggregation(report)
    render_groups(report, stack.queue_url.rstrip("/").endswith(".fifo"))
    render_queues(report)
    return 0


def run() -> int:
    """The installed command `sbc-report` (`python -m sbc_tools.ops.report`): one line on errors."""
    return stack_lookup.run_cli(main)


if __name__ == "__main__":
    sys.exit(run())
