"""The governor and pacing as shipped beside the best fixed setting (`python -m sim.compare`).

For each scenario: a sweep of static `maximum_concurrency` (governor off, pacing on), the best
of it (the fastest drain with a 429 share at or under Terraform's target and no valid change
in the DLQ; ties go to the lower concurrency), the default fixed setting (Terraform's
`maximum_concurrency`, 5) and the governor with Terraform's defaults (`adaptive_concurrency`:
bounds 2-20, target 0.05, 10-s periods, starting at 5). The goals (issue 17): the
governor's drain at most 1.15x the best fixed one's, its 429 share at most the target, and
never worse than the default fixed setting (no slower, no more throttled beyond the target).

    python -m sim.compare [SCENARIO ...] [--grid 2,3,4,...] [--workers N]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from sbc_tools.cli import add_version
from sim import scenario
from sim.scenario import Governor, Scenario, with_governor, with_stack
from sim.simulation import run

GRID = (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100)
"""Static maximum_concurrency values swept for the best fixed setting."""
DEFAULT_CONCURRENCY = 5
"""Terraform's `maximum_concurrency` default (also where the governor starts)."""
_SHIPPED = Governor()
GOVERNOR_DEFAULTS = {
    "enabled": True,
    "minimum": _SHIPPED.minimum,
    "maximum": _SHIPPED.maximum,
    "target_throttle_ratio": _SHIPPED.target_throttle_ratio,
    "period_seconds": _SHIPPED.period_seconds,
}
"""Terraform's `adaptive_concurrency` defaults (the scenario's, tested equal), switched on."""
TARGET = 0.05
DRAIN_GOAL = 1.15


@dataclass(frozen=True)
class Row:
    """One run's figures."""

    label: str
    concurrency: int
    drain: float | None
    share_429: float
    requests: int
    valid_in_dlq: int

    def meets_target(self) -> bool:
        return self.drain is not None and self.share_429 <= TARGET and self.valid_in_dlq == 0


def _run(job: tuple[str, int, Scenario]) -> Row:
    label, concurrency, chosen = job
    result = run(chosen, label)
    return Row(
        label, concurrency, result.drain_seconds, result.share_429, result.requests,
        result.valid_in_dlq,
    )  # fmt: skip


def jobs(chosen: Scenario, grid: Sequence[int]) -> list[tuple[str, int, Scenario]]:
    """The static sweep (the default included) and the governed run of `chosen`."""
    fixed = with_governor(chosen, enabled=False)
    values = sorted({*grid, DEFAULT_CONCURRENCY})
    out = [(f"static {c}", c, with_stack(fixed, maximum_concurrency=c)) for c in values]
    governed = with_governor(
        with_stack(chosen, maximum_concurrency=DEFAULT_CONCURRENCY), **GOVERNOR_DEFAULTS
    )
    out.append(("governor 2-20", DEFAULT_CONCURRENCY, governed))
    return out


def best_fixed(rows: Sequence[Row]) -> Row:
    """The fastest static row meeting the target (ties: fewer); else the least throttled."""
    static = [row for row in rows if row.label.startswith("static")]
    passing = [row for row in static if row.meets_target()]
    if passing:
        return min(passing, key=lambda r: (r.drain, r.concurrency))
    return min(static, key=lambda r: (r.share_429, r.drain or float("inf")))


@dataclass(frozen=True)
class Verdict:
    """One scenario's line of the table."""

    name: str
    best: Row
    default: Row
    governor: Row

    @property
    def drain_ratio(self) -> float | None:
        if self.governor.drain is None or not self.best.drain:
            return None
        return self.governor.drain / self.best.drain

    def missed(self) -> list[str]:
        """The goals the governor missed (empty: all met)."""
        out = []
        ratio = self.drain_ratio
        if ratio is None or ratio > DRAIN_GOAL:
            out.append("drain")
        if self.governor.share_429 > TARGET:
            out.append("429")
        default, governor = self.default, self.governor
        if default.drain is not None and governor.drain is None:
            out.append("vs default (not drained)")
        elif default.drain is not None and (governor.drain or 0.0) > default.drain:
            out.append(f"vs default (+{(governor.drain or 0.0) - default.drain:.1f} s)")
        if governor.share_429 > max(TARGET, default.share_429):
            out.append("vs default (more 429s)")
        return out


def compare(chosen: Scenario, grid: Sequence[int], workers: int) -> Verdict:
    """Run the sweep and the governed run of `chosen`."""
    work = jobs(chosen, grid)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_run, work))
    else:
        rows = [_run(job) for job in work]
    default = next(r for r in rows if r.label == f"static {DEFAULT_CONCURRENCY}")
    return Verdict(chosen.name, best_fixed(rows), default, rows[-1])


def _drain(row: Row) -> str:
    return "not drained" if row.drain is None else f"{row.drain:,.0f} s"


def table(verdicts: Sequence[Verdict]) -> list[str]:
    """The markdown table of docs/tuning.md."""
    lines = [
        "| scenario | best fixed | drain | 429 | default (5): drain | 429 "
        "| governor 2-20 + pacing: drain | 429 | x best | goals missed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        ratio = v.drain_ratio
        lines.append(
            f"| {v.name} | {v.best.concurrency} | {_drain(v.best)} | {v.best.share_429:.1%} "
            f"| {_drain(v.default)} | {v.default.share_429:.1%} "
            f"| {_drain(v.governor)} | {v.governor.share_429:.1%} "
            f"| {'-' if ratio is None else f'{ratio:.2f}'} | {', '.join(v.missed()) or 'none'} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.compare", description=__doc__.split("\n")[0]
    )
    add_version(parser)
    parser.add_argument("scenarios", nargs="*", help="stored scenario names (default: all)")
    parser.add_argument("--grid", default=",".join(map(str, GRID)))
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        grid = [int(part) for part in args.grid.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--grid: a comma-separated list of whole numbers, got {args.grid!r}")
    if not grid or any(not 2 <= c <= 1000 for c in grid):
        parser.error("--grid: each value in 2-1000")
    names = args.scenarios or scenario.available()
    try:
        chosen = [scenario.load(name) for name in names]
    except scenario.ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    header, rule, *_ = table([])
    print(header, rule, sep="\n", flush=True)
    for one in chosen:  # each row as soon as it is known
        print(table([compare(one, grid, max(1, args.workers))])[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
