"""End-to-end benchmark through LocalStack: publish-to-applied throughput and latency.

    python -m bench.e2e --instance bench [--count 2000]

Two phases: a burst (all changes published at once: throughput) and a paced phase (a steady
rate below capacity: latency). The local entity API's applied list is polled every 50 ms;
the latency of a change is the time from its SendMessageBatch answer to the poll that first
shows it applied. Prints figures, asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from sbc_tools import cli
from sbc_tools.cli import parser_for
from sbc_tools.cli import stdout_console as console
from sbc_tools.entity_api_admin import EntityApiAdmin
from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import publish
from sbc_tools.ops import stack as stack_lookup

POLL_SECONDS = 0.05


class AppliedWatcher:
    """Polls `/_admin/applied` and records when each change was first seen applied."""

    def __init__(self, base_url: str) -> None:
        self.api = EntityApiAdmin(base_url)
        self.seen_at: dict[str, float] = {}
        self._offset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            applied = self.api.applied()
            now = time.time()
            fresh = applied[self._offset :]
            self._offset = len(applied)
            for event_id in message_factory.covered_event_ids(fresh):
                self.seen_at.setdefault(event_id, now)
            self._stop.wait(POLL_SECONDS)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


@dataclass
class Phase:
    """The figures of one publishing phase."""

    name: str
    count: int
    publish_per_second: float
    seconds: float  # first send to last applied
    latencies: list[float]
    requests: int
    operations: int


def run_phase(
    stack: stack_lookup.Stack,
    name: str,
    count: int,
    rate: float | None,
    timeout: float,
    *,
    faults: dict[str, Any] | None = None,
) -> Phase | None:
    """Publish `count` changes (all at once, or paced at `rate` per second) and time them,
    the entity API answering with `faults` (none: healthy)."""
    assert stack.entity_api_base_url  # noqa: S101 (checked by the caller)
    sqs = stack.client("sqs")
    messages = message_factory.generate(count)
    ids = [m.event_id or "" for m in messages]
    bodies = [m.body for m in messages]
    EntityApiAdmin(stack.entity_api_base_url).reset()
    if faults:
        EntityApiAdmin(stack.entity_api_base_url).faults(faults)
    watcher = AppliedWatcher(stack.entity_api_base_url)
    watcher.start()
    sent_at: dict[int, float] = {}
    with console.status(f"{name}: publishing {count:,} changes ..."):
        started = time.monotonic()
        if rate is None:
            result = publish.publish(sqs, stack.queue_url, bodies, concurrency=4)
            sent_at.update(result.sent_at)
        else:
            for offset in range(0, count, 10):
                pause = started + offset / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                chunk = publish.publish(sqs, stack.queue_url, bodies[offset : offset + 10])
                sent_at.update({offset + i: t for i, t in chunk.sent_at.items()})
        publish_seconds = time.monotonic() - started
    give_up = time.monotonic() + timeout
    wanted = set(ids)
    with console.status(f"{name}: waiting until every change is applied ...") as status:
        while len(watcher.seen_at.keys() & wanted) < count and time.monotonic() < give_up:
            status.update(f"{name}: applied {len(watcher.seen_at.keys() & wanted):,} of {count:,}")
            time.sleep(0.2)
    watcher.stop()
    latencies = [watcher.seen_at[e] - sent_at[i] for i, e in enumerate(ids) if e in watcher.seen_at]
    if len(latencies) < count:
        console.print(f"[red]{name}: only {len(latencies):,} of {count:,} applied in time[/red]")
        return None
    stats = EntityApiAdmin(stack.entity_api_base_url).stats()
    return Phase(
        name=name,
        count=count,
        publish_per_second=count / publish_seconds,
        seconds=max(watcher.seen_at[e] for e in ids) - min(sent_at.values()),
        latencies=latencies,
        requests=int(stats["requests"]),
        operations=int(stats["operations"]),
    )


def render(phases: list[Phase]) -> None:
    table = Table(title="End to end through LocalStack (the local mapping poller)", box=None)
    table.add_column("figure")
    for phase in phases:
        table.add_column(phase.name, justify="right")

    def row(label: str, values: list[str]) -> None:
        table.add_row(label, *values)

    row("changes", [f"{p.count:,}" for p in phases])
    row("publish rate", [f"{p.publish_per_second:,.0f} msg/s" for p in phases])
    row("publish-to-applied throughput", [f"{p.count / p.seconds:,.0f} msg/s" for p in phases])
    row("all applied after", [f"{p.seconds:.1f} s" for p in phases])
    row("latency p50", [f"{statistics.median(p.latencies) * 1000:,.0f} ms" for p in phases])
    row("latency p90", [f"{percentile(p.latencies, 90) * 1000:,.0f} ms" for p in phases])
    row("latency p99", [f"{percentile(p.latencies, 99) * 1000:,.0f} ms" for p in phases])
    row("entity API requests", [f"{p.requests:,}" for p in phases])
    row("operations per request", [f"{p.operations / p.requests:.1f}" for p in phases])
    console.print(table)
    console.print(
        f"latency = SendMessageBatch answer -> first seen in the API's applied list "
        f"(polled every {POLL_SECONDS * 1000:.0f} ms)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, __spec__)
    stack_lookup.add_arguments(parser)
    parser.add_argument(
        "--count", type=cli.integer(0), default=2000, help="changes in the burst phase"
    )
    parser.add_argument(
        "--paced-count", type=cli.integer(0), default=1000, help="changes, paced phase"
    )
    parser.add_argument(
        "--paced-rate", type=cli.number(0, above_minimum=True), default=100.0, help="paced msg/s"
    )
    parser.add_argument("--timeout", type=cli.number(0, above_minimum=True), default=300.0)
    args = parser.parse_args(argv)
    stack = stack_lookup.resolve_arguments(args)
    if not stack.entity_api_base_url:
        console.print("[red]error:[/red] the stack records no local entity API server")
        return 1
    phases = []
    for name, count, rate in (
        ("burst", args.count, None),
        (f"paced {args.paced_rate:.0f}/s", args.paced_count, args.paced_rate),
    ):
        if count:
            phase = run_phase(stack, name, count, rate, args.timeout)
            if phase is None:
                return 1
            phases.append(phase)
    render(phases)
    return 0


if __name__ == "__main__":
    sys.exit(stack_lookup.run_cli(main))
