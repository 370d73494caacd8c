"""Recovery after an outage at AWS scale, simulated: the backlog's drain once the API is back
against the same changes' drain without the outage, and the outage's cost in requests and
receives (the LocalStack bench, `make bench-outage`, at 2,000 changes; this at 1,000,000).

    python -m bench.outage_sim [SCENARIO]       (default: outage-million)

The scenario's first outage is the one measured; the normal row is the same scenario without
outages. Per row (static `maximum_concurrency` as stored, and the governor as stored): drain
after recovery (the last change finished, minus the outage's end), requests to the API and
message receives during the outage, delayed copies, valid changes in the DLQ. Issue 17's
goal: drain after recovery <= 60 s + 1.5 x the normal drain.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table

from bench.outage import GOAL_FACTOR, GOAL_FIXED_SECONDS
from sbc_tools.cli import parser_for
from sim import scenario as scenarios
from sim import sqs
from sim.scenario import Scenario
from sim.simulation import Result, run

console = Console(highlight=False, soft_wrap=True, width=200)
"""Wide enough for the table's ten columns in a file or a pipe."""


@contextmanager
def receives_before(end: float, counted: list[int]) -> Iterator[None]:
    """Count the messages every simulated receive returns before `end` into counted[0]."""
    original = sqs.Queue.receive

    def counting(self: sqs.Queue, now: float, max_messages: int, max_bytes: int) -> Sequence[int]:
        got = original(self, now, max_messages, max_bytes)
        if now < end:
            counted[0] += len(got)
        return got

    sqs.Queue.receive = counting  # type: ignore[method-assign]
    try:
        yield
    finally:
        sqs.Queue.receive = original  # type: ignore[method-assign]


def requests_before(result: Result, end: float) -> float:
    """API requests sent before `end`, from the sampled requests/s."""
    timeline, step = result.timeline, result.scenario.sample_seconds
    return sum(
        r * step
        for at, r in zip(timeline.at, timeline.requests_per_second, strict=True)
        if at <= end
    )


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, __spec__)
    parser.add_argument("scenario", nargs="?", default="outage-million")
    args = parser.parse_args(argv)
    chosen = scenarios.load(args.scenario)
    if not chosen.api.outages:
        parser.error(f"{chosen.name} has no outage")
    outage = chosen.api.outages[0]
    end = outage.start + outage.duration
    normal_api = dataclasses.replace(chosen.api, outages=())
    table = Table(
        title=f"{chosen.name}: {chosen.changes:,} changes, a {outage.duration:.0f}-s outage "
        f"({outage.status}) from {outage.start:.0f} s, max_receive_count "
        f"{chosen.stack.max_receive_count}",
        title_justify="left",
    )
    for header in (
        "setting", "normal drain", "drain after recovery", "goal", "requests in outage",
        "/s", "receives in outage", "per change", "copies", "valid in DLQ",
    ):  # fmt: skip
        table.add_column(header, justify="right")
    missed = False
    for label, enabled in (
        (f"static {chosen.stack.maximum_concurrency}", False),
        ("governor", True),
    ):
        base: Scenario = scenarios.with_governor(chosen, enabled=enabled)
        console.print(f"simulating {label}: normal, then the outage ...")
        normal = run(dataclasses.replace(base, api=normal_api), f"{label} normal")
        counted = [0]
        with receives_before(end, counted):
            hit = run(base, f"{label} outage")
        if normal.drain_seconds is None or hit.drain_seconds is None:
            console.print(f"[red]{label}: did not drain within the run[/red]")
            return 1
        after = hit.drain_seconds - end
        goal = GOAL_FIXED_SECONDS + GOAL_FACTOR * normal.drain_seconds
        missed |= after > goal or hit.valid_in_dlq > 0
        in_outage = requests_before(hit, end)
        table.add_row(
            label,
            f"{normal.drain_seconds:,.0f} s",
            f"{after:,.0f} s",
            f"<= {goal:,.0f} s: {'met' if after <= goal else 'MISSED'}",
            f"{in_outage:,.0f}",
            f"{in_outage / outage.duration:.1f}",
            f"{counted[0]:,}",
            f"{counted[0] / chosen.changes:.2f}",
            f"{hit.copies:,}",
            f"{hit.valid_in_dlq:,}",
        )
    console.print(table)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
