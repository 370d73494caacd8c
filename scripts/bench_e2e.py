"""End-to-end benchmark through LocalStack: publish-to-applied throughput and latency.

    scripts/bench_e2e.py --instance bench [--count 2000]

Publishes valid changes to the stack's queue and watches the local entity API's applied list
(polled every 50 ms): the latency of a change is the time from its SendMessageBatch answer
to the poll that first shows it applied. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

import localcloud_stack
import message_factory
import publish
import stack_observations as observe
from rich.console import Console
from rich.table import Table

console = Console(highlight=False, soft_wrap=True)
POLL_SECONDS = 0.05


class AppliedWatcher:
    """Polls `/_admin/applied` and records when each change was first seen applied."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
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
            applied = observe.entity_api(self.base_url, "/_admin/applied")
            now = time.time()
            fresh = applied[self._offset :]
            self._offset = len(applied)
            for event_id in message_factory.covered_event_ids(fresh):
                self.seen_at.setdefault(event_id, now)
            self._stop.wait(POLL_SECONDS)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    localcloud_stack.add_arguments(parser)
    parser.add_argument("--count", type=int, default=2000, help="changes to publish")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    stack = localcloud_stack.resolve(args)
    if not stack.entity_api_base_url:
        console.print("[red]error:[/red] the stack records no local entity API server")
        return 1
    sqs = stack.client("sqs")
    messages = message_factory.generate(args.count)
    ids = [m.event_id or "" for m in messages]
    observe.entity_api_send(stack.entity_api_base_url, "POST", "/_admin/reset")
    watcher = AppliedWatcher(stack.entity_api_base_url)
    watcher.start()
    with console.status(f"publishing {args.count:,} changes ..."):
        result = publish.publish(sqs, stack.queue_url, [m.body for m in messages], concurrency=4)
    give_up = time.monotonic() + args.timeout
    with console.status("waiting until every change is applied ...") as status:
        while len(watcher.seen_at.keys() & set(ids)) < len(ids) and time.monotonic() < give_up:
            status.update(f"applied {len(watcher.seen_at):,} of {len(ids):,} ...")
            time.sleep(0.2)
    watcher.stop()
    latencies = [
        watcher.seen_at[event_id] - result.sent_at[i]
        for i, event_id in enumerate(ids)
        if event_id in watcher.seen_at and i in result.sent_at
    ]
    if len(latencies) < len(ids):
        console.print(f"[red]only {len(latencies):,} of {len(ids):,} changes applied in time[/red]")
        return 1
    first_sent = min(result.sent_at.values())
    last_applied = max(watcher.seen_at[e] for e in ids)
    stats = observe.entity_api(stack.entity_api_base_url, "/_admin/stats")
    table = Table(title=f"End to end through LocalStack: {len(ids):,} changes", box=None)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("publish (SendMessageBatch, 4 in flight)", f"{result.per_second:,.0f} msg/s")
    table.add_row(
        "publish-to-applied throughput", f"{len(ids) / (last_applied - first_sent):,.0f} msg/s"
    )
    table.add_row("all applied after", f"{last_applied - first_sent:.1f} s")
    table.add_row("latency p50", f"{statistics.median(latencies) * 1000:,.0f} ms")
    table.add_row("latency p90", f"{_percentile(latencies, 90) * 1000:,.0f} ms")
    table.add_row("latency p99", f"{_percentile(latencies, 99) * 1000:,.0f} ms")
    table.add_row("latency max", f"{max(latencies) * 1000:,.0f} ms")
    table.add_row("entity API requests", f"{stats['requests']:,}")
    table.add_row("operations per request", f"{stats['operations'] / stats['requests']:.1f}")
    console.print(table)
    console.print(
        f"(latency resolution: the applied list is polled every {POLL_SECONDS * 1000:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
