"""Recovery after an entity API outage, through LocalStack: the backlog's drain once the API is
back against its normal drain, and what the outage cost in requests and receives.

    python -m bench.outage --instance bench-outage [--count 2000] [--outage 180]

Two rows on one stack (`max_receive_count` 2 and the default backoff cap, as
`scripts/bench/outage.sh` applies it). **normal**: the changes are published while the local
mapping poller is paused, then it is released; the drain is timed from the release to the last
change applied. **outage**: the entity API answers 503 to everything (its fault admin, as
tests/integration/test_outage.py makes outages), the changes are published, the poller is
released and the outage held for `--outage` seconds, then lifted; the drain after recovery is
timed from the lift to the last change applied. During the outage: requests to the API per
second and receives (the records of every invocation: each is one receive of a message).

Issue 17's goal: drain after recovery <= 60 s + 1.5 x the normal drain. Prints a table; exits 1
when a change is lost or dead-lettered, or the goal is missed.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from rich.table import Table

from bench.fanout import Bench, _mapping_uuid
from localcloud.poller_admin import PollerAdmin
from sbc_tools import cli
from sbc_tools.cli import parser_for
from sbc_tools.cli import stdout_console as console
from sbc_tools.entity_api_admin import EntityApiAdmin
from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import observations as observe
from sbc_tools.ops import publish
from sbc_tools.ops import stack as stack_lookup

GOAL_FIXED_SECONDS = 60.0
GOAL_FACTOR = 1.5
"""Drain after recovery <= GOAL_FIXED_SECONDS + GOAL_FACTOR x the normal drain (issue 17)."""


@dataclass
class Outcome:
    """One row: the drain (after the release, or after the outage ends) and the outage's cost."""

    label: str
    drain_seconds: float
    outage_seconds: float
    outage_requests: int
    outage_invocations: int
    outage_receives: int
    requests: int
    invocations: int
    lost: int
    dlq: int


def run_row(bench: Bench, label: str, count: int, outage: float, timeout: float) -> Outcome:
    """Publish `count` changes (poller paused), release; with `outage` > 0 the API answers 503
    for that long after the release. Ends when every change is applied and the queue empty."""
    sqs = bench.stack.client("sqs")
    assert bench.stack.dlq_url  # noqa: S101 (the local stack records it)
    dlq_before = sum(observe.queue_depth(sqs, bench.stack.dlq_url))
    bench.pause()
    bench.api.reset()
    messages = message_factory.generate(count)
    ids = {m.event_id for m in messages if m.event_id}
    with console.status(f"{label}: publishing {count:,} changes (poller paused) ..."):
        publish.publish(sqs, bench.stack.queue_url, [m.body for m in messages], concurrency=4)
    if outage > 0:
        bench.api.faults({"status_always": 503})
    bench.poller.reset()
    released = time.monotonic()
    bench.poller.cap(None)
    during = {"requests": 0, "invocations": 0, "receives": 0}
    if outage > 0:
        with console.status(f"{label}: the API answers 503 for {outage:.0f} s ..."):
            time.sleep(outage)
        stats = bench.api.stats()
        bench.api.faults({})
        seen = bench.poller.invocations()
        during = {
            "requests": int(stats["requests"]),
            "invocations": len(seen),
            "receives": sum(int(i.get("records", 0)) for i in seen),
        }
    recovered = time.monotonic()
    drained_at = None
    with console.status(f"{label}: draining ...") as status:
        while time.monotonic() - recovered < timeout:
            applied = len(message_factory.covered_event_ids(bench.api.applied()) & ids)
            status.update(
                f"{label}: {applied:,}/{count:,} applied, {time.monotonic() - recovered:.0f} s"
            )
            if applied >= len(ids) and drained_at is None:
                drained_at = time.monotonic()
            if drained_at is not None and observe.queue_depth(sqs, bench.stack.queue_url) == (0, 0):
                break
            time.sleep(0.5)
    bench.pause()
    stats = bench.api.stats()
    invocations = bench.poller.invocations()
    covered = message_factory.covered_event_ids(bench.api.applied())
    return Outcome(
        label=label,
        drain_seconds=(drained_at or time.monotonic()) - recovered,
        outage_seconds=recovered - released if outage > 0 else 0.0,
        outage_requests=during["requests"],
        outage_invocations=during["invocations"],
        outage_receives=during["receives"],
        requests=int(stats["requests"]),
        invocations=len(invocations),
        lost=len(ids - covered),
        dlq=sum(observe.queue_depth(sqs, bench.stack.dlq_url)) - dlq_before,
    )


def goal_seconds(normal: Outcome) -> float:
    """The most the drain after recovery may take."""
    return GOAL_FIXED_SECONDS + GOAL_FACTOR * normal.drain_seconds


def render(normal: Outcome, outage: Outcome, count: int) -> None:
    """The two rows side by side, and the verdict."""
    table = Table(
        title=f"Recovery after a {outage.outage_seconds:.0f}-s outage (503 to everything), "
        f"{count:,} changes, max_receive_count 2",
        title_justify="left",
    )
    table.add_column("figure")
    table.add_column("normal", justify="right")
    table.add_column("outage", justify="right")
    per_second = outage.outage_requests / outage.outage_seconds if outage.outage_seconds else 0.0
    table.add_row(
        "drain (to all applied)",
        f"{normal.drain_seconds:.1f} s",
        f"{outage.drain_seconds:.1f} s",
    )
    table.add_row(
        "API requests in the outage",
        "",
        f"{outage.outage_requests:,} ({per_second:.2f}/s)",
    )
    table.add_row(
        "invocations / receives in it",
        "",
        f"{outage.outage_invocations:,} / {outage.outage_receives:,} "
        f"({outage.outage_receives / count:.1f} per change)",
    )
    table.add_row("API requests, whole row", f"{normal.requests:,}", f"{outage.requests:,}")
    table.add_row("invocations, whole row", f"{normal.invocations:,}", f"{outage.invocations:,}")
    table.add_row(
        "lost / in the DLQ", f"{normal.lost} / {normal.dlq}", f"{outage.lost} / {outage.dlq}"
    )
    console.print(table)
    console.print(
        "drain: normal from the release, outage from the API coming back; receives: the "
        "records of every invocation"
    )
    verdict = "met" if outage.drain_seconds <= goal_seconds(normal) else "MISSED"
    console.print(
        f"drain after recovery {outage.drain_seconds:.1f} s; goal <= {GOAL_FIXED_SECONDS:.0f} s + "
        f"{GOAL_FACTOR} x {normal.drain_seconds:.1f} s = {goal_seconds(normal):.1f} s: {verdict} "
        f"(ratio to the normal drain {outage.drain_seconds / normal.drain_seconds:.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, __spec__)
    stack_lookup.add_arguments(parser)
    parser.add_argument("--count", type=cli.integer(1), default=2000, help="changes per row")
    parser.add_argument(
        "--outage", type=cli.number(0, above_minimum=True), default=180.0, help="seconds of 503"
    )
    parser.add_argument("--timeout", type=cli.number(0, above_minimum=True), default=1200.0)
    args = parser.parse_args(argv)
    stack = stack_lookup.resolve_arguments(args)
    if not stack.entity_api_base_url or not stack.function_name:
        raise stack_lookup.StackError("the stack records no local entity API server")
    bench = Bench(
        stack=stack,
        api=EntityApiAdmin(stack.entity_api_base_url),
        poller=PollerAdmin.of_instance(args.instance),
        mapping_uuid=_mapping_uuid(stack),
        rate=0.0,
        burst=0.0,
        timeout=args.timeout,
        governor=None,
    )
    try:
        normal = run_row(bench, "normal", args.count, 0.0, args.timeout)
        console.print(f"normal: drained in {normal.drain_seconds:.1f} s")
        outage = run_row(bench, "outage", args.count, args.outage, args.timeout)
        console.print(f"outage: drained {outage.drain_seconds:.1f} s after the API came back")
    finally:
        bench.api.faults({})
        bench.poller.cap(None)
    render(normal, outage, args.count)
    failed = any(r.lost or r.dlq for r in (normal, outage))
    return 1 if failed or outage.drain_seconds > goal_seconds(normal) else 0


if __name__ == "__main__":
    sys.exit(stack_lookup.run_cli(main))
