"""Fan-out through LocalStack: K concurrent invocations against a token-bucket entity API.

    python -m bench.fanout --instance bench-fanout [--count 6000] [--rows 1,4,12,governor]
        [--calibration scripts/sim/calibration_fanout.toml]

The local cloud's mapping poller (`localcloud.poller`) runs up to the mapping's
MaximumConcurrency invocations at once, as Lambda does. For each row the same burst of changes
is published while the poller is paused, then released; the row ends when every change is
applied. K = 1 is the poller's own cap (AWS's minimum MaximumConcurrency is 2); K >= 2 is the
mapping's MaximumConcurrency. The `governor` row starts at Terraform's starting value and lets
the deployed governor move MaximumConcurrency: its EventBridge rule is disabled during the
bench and the bench invokes it every `--governor-every` seconds (PERIOD_SECONDS set to match),
after putting the metrics it reads with PutMetricData (LocalStack extracts no EMF metrics):
the API's requests and 429s of the last period, the queue's visible messages and oldest age.

Per row: drain (release to all applied), entity API requests and 429 share, invocation
duration p50/p90/max and the overlap measured from the poller's start/end times, lost changes
and DLQ messages. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.e2e import percentile
from bench.fanout_governor import GovernorDriver
from localcloud.poller_admin import PollerAdmin
from sbc_tools import cli
from sbc_tools.cli import parser_for
from sbc_tools.cli import stdout_console as console
from sbc_tools.entity_api_admin import EntityApiAdmin
from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import observations as observe
from sbc_tools.ops import publish
from sbc_tools.ops import stack as stack_lookup

GOVERNOR = "governor"


@dataclass
class Row:
    """The figures of one row."""

    label: str
    k: int | None  # None: the governor's
    drain_seconds: float
    requests: int
    throttled: int
    durations: list[float]
    invocations: int
    overlap_max: int
    overlap_mean: float
    lost: int
    dlq: int
    concurrency_trace: list[int] = field(default_factory=list)

    @property
    def share_429(self) -> float:
        return self.throttled / self.requests if self.requests else 0.0


@dataclass
class Bench:
    """The stack, its mapping and the tools that steer a row."""

    stack: stack_lookup.Stack
    api: EntityApiAdmin
    poller: PollerAdmin
    mapping_uuid: str
    rate: float
    burst: float
    timeout: float
    governor: GovernorDriver | None

    def set_concurrency(self, k: int) -> None:
        """The mapping's MaximumConcurrency (at least 2, as AWS requires); wait for the poller."""
        wanted = max(2, k)
        self.stack.client("lambda").update_event_source_mapping(
            UUID=self.mapping_uuid, ScalingConfig={"MaximumConcurrency": wanted}
        )
        give_up = time.monotonic() + 30
        while time.monotonic() < give_up:
            seen = self.poller.mapping(self.mapping_uuid)
            if seen and seen["concurrency"] in (0, wanted):  # 0: paused by the cap
                return
            time.sleep(0.3)

    def pause(self) -> None:
        """No new receives; wait until every cycle in progress (receive included) has ended."""
        self.poller.cap(0)
        give_up = time.monotonic() + 120
        while time.monotonic() < give_up:
            seen = self.poller.mapping(self.mapping_uuid)
            if seen is not None and seen["polling"] == 0:
                return
            time.sleep(0.2)

    def run_row(self, label: str, k: int | None, count: int) -> Row:
        """One row: publish `count` changes with the poller paused, release it at `k` (None:
        the governor's start, the governor steering), drain, measure."""
        sqs = self.stack.client("sqs")
        assert self.stack.dlq_url  # noqa: S101 (the local stack records it)
        dlq_before = sum(observe.queue_depth(sqs, self.stack.dlq_url))
        start = self.governor.start_value() if k is None and self.governor else (k or 2)
        ids = self._publish_paused(sqs, label, start, count)
        released = time.monotonic()
        self.poller.cap(1 if k == 1 else None)
        drained_at, trace = self._drain(
            sqs, label, k=k, count=count, released=released, start=start
        )
        self.pause()
        stats = self.api.stats()
        covered = message_factory.covered_event_ids(self.api.applied())
        invocations = self.poller.invocations()
        overlap = self.poller.overlap(self.mapping_uuid)
        return Row(
            label=label,
            k=k,
            drain_seconds=(drained_at or time.monotonic()) - released,
            requests=int(stats["requests"]),
            throttled=int(stats.get("rate_limited", 0)),
            durations=[i["end"] - i["start"] for i in invocations],
            invocations=len(invocations),
            overlap_max=overlap.maximum,
            overlap_mean=overlap.mean,
            lost=len(ids - covered),
            dlq=sum(observe.queue_depth(sqs, self.stack.dlq_url)) - dlq_before,
            concurrency_trace=trace,
        )

    def _publish_paused(self, sqs: Any, label: str, start: int, count: int) -> set[str]:
        """Pause the poller, set the row's start, reset the API (a full bucket), publish;
        the event ids published."""
        self.pause()
        self.set_concurrency(start)
        self.api.reset()
        self.api.rate(self.rate, self.burst)
        messages = message_factory.generate(count)
        with console.status(f"{label}: publishing {count:,} changes (poller paused) ..."):
            publish.publish(sqs, self.stack.queue_url, [m.body for m in messages], concurrency=4)
        self.poller.reset()
        if self.governor:
            self.governor.reset()
        return {m.event_id for m in messages if m.event_id}

    def _drain(
        self, sqs: Any, label: str, *, k: int | None, count: int, released: float, start: int
    ) -> tuple[float | None, list[int]]:
        """Until every change is applied and the queue is empty (or the timeout), the governor
        ticking on its row; (when all were applied, the concurrency the poller ran, in turn)."""
        trace = [start]
        drained_at = None
        with console.status(f"{label}: draining ...") as status:
            while time.monotonic() - released < self.timeout:
                stats = self.api.stats()
                seen = self.poller.mapping(self.mapping_uuid) or {}
                if k is None and self.governor:
                    self.governor.tick(stats)
                if seen.get("concurrency") and seen["concurrency"] != trace[-1]:
                    trace.append(int(seen["concurrency"]))  # as the poller runs it
                status.update(
                    f"{label}: {stats['applied']:,}/{count:,} applied, "
                    f"{stats['requests']:,} requests, {stats.get('rate_limited', 0):,} 429, "
                    f"{seen.get('busy', 0)} of {seen.get('concurrency', '?')} invocations running, "
                    f"{time.monotonic() - released:.0f} s"
                )
                if stats["applied"] >= count and drained_at is None:
                    drained_at = time.monotonic()
                empty = observe.queue_depth(sqs, self.stack.queue_url) == (0, 0)
                if drained_at is not None and empty:
                    break
                time.sleep(0.25)
        return drained_at, trace


def render(rows: list[Row], count: int, rate: float, burst: float) -> None:
    table = Table(
        title=f"Fan-out through LocalStack: {count:,} changes, token bucket {rate:g}/s "
        f"(burst {burst:g})",
        box=None,
    )
    table.add_column("figure")
    for row in rows:
        table.add_column(row.label, justify="right")

    def line(label: str, values: list[str]) -> None:
        table.add_row(label, *values)

    line("drain", [f"{r.drain_seconds:.1f} s" for r in rows])
    line("entity API requests", [f"{r.requests:,}" for r in rows])
    line("429 share", [f"{r.share_429:.1%}" for r in rows])
    line("invocations", [f"{r.invocations:,}" for r in rows])
    line("duration p50", [f"{statistics.median(r.durations or [0]):.2f} s" for r in rows])
    line("duration p90", [f"{percentile(r.durations or [0.0], 90):.2f} s" for r in rows])
    line("duration max", [f"{max(r.durations or [0]):.2f} s" for r in rows])
    line("overlap max (measured)", [str(r.overlap_max) for r in rows])
    line("overlap mean (measured)", [f"{r.overlap_mean:.2f}" for r in rows])
    line("lost", [str(r.lost) for r in rows])
    line("in the DLQ", [str(r.dlq) for r in rows])
    line("MaximumConcurrency", [" > ".join(map(str, r.concurrency_trace)) for r in rows])
    console.print(table)
    console.print(
        "overlap = invocations in flight at once, from the poller's start/end times "
        "(mean weighted by time while at least one runs)"
    )


def calibration_text(rows: list[Row], meta: dict[str, Any]) -> str:
    """The figures as TOML (scripts/sim/calibration_fanout.toml)."""
    lines = [
        "# Fan-out through LocalStack, measured by `make bench-fanout` (scripts/bench/fanout.py).",
        "# Per run: K concurrent invocations (the mapping's MaximumConcurrency; 1: the local",
        "# poller's cap), drain in seconds from release to all applied, entity API requests,",
        "# share of them answered 429, invocation duration p50/p90/max in seconds, invocations,",
        "# measured overlap (time-weighted mean in flight while busy) and its maximum.",
        "",
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in meta.items()]
    for row in rows:
        lines += [
            "",
            "[[run]]",
            f"K = {json.dumps(row.k if row.k is not None else GOVERNOR)}",
            f"drain_seconds = {row.drain_seconds:.2f}",
            f"requests = {row.requests}",
            f"share_429 = {row.share_429:.4f}",
            f"p50 = {statistics.median(row.durations or [0]):.3f}",
            f"p90 = {percentile(row.durations or [0.0], 90):.3f}",
            f"max = {max(row.durations or [0]):.3f}",
            f"invocations = {row.invocations}",
            f"overlap = {row.overlap_mean:.3f}",
            f"overlap_max = {row.overlap_max}",
            f"lost = {row.lost}",
            f"dlq = {row.dlq}",
        ]
        if row.k is None:
            lines.append(f"concurrency_trace = {json.dumps(row.concurrency_trace)}")
    return "\n".join(lines) + "\n"


def _rows(text: str) -> list[int | None]:
    rows: list[int | None] = []
    for item in (part.strip() for part in text.split(",")):
        if item == GOVERNOR:
            rows.append(None)
        elif item.isdigit() and int(item) >= 1:
            rows.append(int(item))
        else:
            raise ValueError(f"--rows: expected K >= 1 or '{GOVERNOR}', got {item!r}")
    return rows


def _mapping_uuid(stack: stack_lookup.Stack) -> str:
    mappings = stack.client("lambda").list_event_source_mappings(FunctionName=stack.function_name)[
        "EventSourceMappings"
    ]
    if not mappings:
        raise stack_lookup.StackError(f"{stack.function_name} has no event source mapping")
    uuid: str = mappings[0]["UUID"]
    return uuid


def _parser() -> cli.ArgumentParser:
    parser = parser_for(__doc__, __spec__)
    stack_lookup.add_arguments(parser)
    parser.add_argument("--count", type=cli.integer(1), default=6000, help="changes per row")
    parser.add_argument("--rows", default="1,4,12,governor", help="K values and/or 'governor'")
    parser.add_argument("--rate", type=cli.number(0, above_minimum=True), default=20.0)
    parser.add_argument("--burst", type=cli.number(1), default=20.0)
    parser.add_argument(
        "--governor-every", type=cli.integer(10), default=10, help="seconds between runs"
    )
    parser.add_argument("--timeout", type=cli.number(0, above_minimum=True), default=900.0)
    parser.add_argument("--calibration", type=Path, help="write the figures as TOML here")
    return parser


def _bench(args: argparse.Namespace) -> Bench:
    stack = stack_lookup.resolve_arguments(args)
    if not stack.entity_api_base_url or not stack.function_name:
        raise stack_lookup.StackError("the stack records no local entity API server")
    return Bench(
        stack=stack,
        api=EntityApiAdmin(stack.entity_api_base_url),
        poller=PollerAdmin.of_instance(args.instance),
        mapping_uuid=_mapping_uuid(stack),
        rate=args.rate,
        burst=args.burst,
        timeout=args.timeout,
        governor=GovernorDriver.for_instance(stack, args.instance, args.governor_every),
    )


def _run_rows(bench: Bench, wanted: list[int | None], count: int) -> list[Row]:
    """Each wanted row in turn, the governor's schedule paused meanwhile."""
    governor = bench.governor
    rows = []
    try:
        if governor:
            governor.take_over()
        for k in wanted:
            if k is None and governor is None:
                console.print("[yellow]no governor in this stack: its row is left out[/yellow]")
                continue
            label = f"K = {k}" if k is not None else f"governor {governor.bounds()}"  # type: ignore[union-attr]
            row = bench.run_row(label, k, count)
            console.print(
                f"{label}: drained in {row.drain_seconds:.1f} s, {row.share_429:.1%} 429, "
                f"overlap {row.overlap_mean:.2f} (max {row.overlap_max}), lost {row.lost}, "
                f"DLQ {row.dlq}"
            )
            rows.append(row)
    finally:
        bench.poller.cap(None)
        if governor:
            governor.hand_back()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        wanted = _rows(args.rows)
    except ValueError as error:
        parser.error(str(error))
    rows = _run_rows(_bench(args), wanted, args.count)
    render(rows, args.count, args.rate, args.burst)
    if args.calibration:
        meta = {
            "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
            "changes": args.count,
            "rate": args.rate,
            "burst": args.burst,
        }
        meta.update(GovernorDriver.stack_settings(args.instance))
        args.calibration.write_text(calibration_text(rows, meta))
        console.print(f"figures written to {args.calibration}")
    return 1 if any(r.lost or r.dlq for r in rows) else 0


if __name__ == "__main__":
    sys.exit(stack_lookup.run_cli(main))
