"""The comparison table (static MaximumConcurrency 2, 50, 1000 beside the governor) and goals."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from sim.scenario import Scenario, with_governor, with_stack
from sim.simulation import Result

STATIC_CONCURRENCY = (2, 50, 1000)
DRAIN_GOAL = 1.15
"""million-burst with the governor: drain <= 1.15 x the physical bound."""
RECOVERY_GOAL_SECONDS = 180.0


def variants(scenario: Scenario) -> list[tuple[str, Scenario]]:
    """The scenario with static maximum_concurrency 2, 50, 1000, then with the governor."""
    rows = [
        (f"static {c}", with_governor(with_stack(scenario, maximum_concurrency=c), enabled=False))
        for c in STATIC_CONCURRENCY
    ]
    governor = scenario.governor
    label = f"governor {governor.minimum}-{governor.maximum}"
    rows.append((label, with_governor(scenario, enabled=True)))
    return rows


def _seconds(value: float | None) -> str:
    if value is None:
        return "not drained"
    if value >= 3600:
        return f"{value / 3600:.2f} h"
    return f"{value:,.0f} s"


def table(results: Sequence[Result]) -> Table:
    """One row per run."""
    scenario = results[0].scenario
    title = (
        f"{scenario.name}: {scenario.changes:,} changes, API {scenario.api.rate:g} req/s x "
        f"{scenario.stack.max_operations_per_request} ops, batch {scenario.stack.batch_size}, "
        f"window {scenario.stack.maximum_batching_window_in_seconds:g} s"
    )
    out = Table(title=title, title_justify="left")
    for header in (
        "setting",
        "drain",
        "bound",
        "x bound",
        "429 share",
        "oldest age / SLA",
        "valid in DLQ",
        "invocations",
        "peak conc.",
        "Lambda GB-s",
        "Lambda $",
        "SQS requests",
        "SQS $",
    ):
        out.add_column(header, justify="left" if header == "setting" else "right")
    for result in results:
        ratio = (
            f"{result.drain_seconds / result.bound_seconds:.2f}"
            if result.drain_seconds is not None
            else "-"
        )
        out.add_row(
            result.label,
            _seconds(result.drain_seconds),
            _seconds(result.bound_seconds),
            ratio,
            f"{result.share_429:.1%}",
            f"{_seconds(result.max_oldest_age)} / {_seconds(scenario.sla_seconds)}",
            f"{result.valid_in_dlq:,}",
            f"{result.invocations:,}",
            f"{result.peak_concurrency:,}",
            f"{result.gb_seconds:,.0f}",
            f"{result.lambda_cost:,.3f}",
            f"{result.sqs_requests:,}",
            f"{result.sqs_cost:,.3f}",
        )
    return out


def details(result: Result) -> list[str]:
    """Lines that explain a row: where the changes ended, the governor's moves."""
    lines = [
        f"{result.label}: applied {result.applied:,}; DLQ: {result.invalid_in_dlq:,} invalid, "
        f"{result.rejected_in_dlq:,} rejected by the API, {result.expired:,} expired, "
        f"{result.redriven_valid:,} valid by redrive; {result.copies:,} delayed copies at the "
        f"redrive limit; lost to retention "
        f"{result.lost_to_retention:,}; still queued {result.still_queued:,}; "
        f"{result.requests:,} requests, {result.answers_429:,} answered 429; "
        f"{result.cold_starts:,} cold starts",
    ]
    if result.double_deletes or result.timeouts:
        lines.append(
            f"  model check: {result.double_deletes} double deletes, {result.timeouts} timeouts"
        )
    if result.changes:
        moves = ", ".join(f"{c.at / 60:.0f} min -> {c.concurrency}" for c in result.changes[:12])
        more = f" (+{len(result.changes) - 12} more)" if len(result.changes) > 12 else ""
        lines.append(f"  governor: {moves}{more}")
    return lines


def goals(scenario: Scenario, governed: Result) -> list[str]:
    """The issue's goals for this scenario, met or not (printed, never asserted)."""
    lines: list[str] = []

    def line(met: bool, text: str) -> None:
        lines.append(f"{'met    ' if met else 'NOT met'}  {text}")

    target = scenario.governor.target_throttle_ratio
    if scenario.name == "million-burst":
        drain = governed.drain_seconds
        ratio = drain / governed.bound_seconds if drain is not None else float("inf")
        line(ratio <= DRAIN_GOAL, f"drain {ratio:.2f} x the physical bound (goal <= {DRAIN_GOAL})")
        line(
            governed.share_429 <= target,
            f"429 share {governed.share_429:.1%} (goal <= {target:.0%})",
        )
        line(
            governed.valid_in_dlq == 0, f"{governed.valid_in_dlq} valid changes in the DLQ (goal 0)"
        )
    if scenario.api.outages:
        longest = max(o.duration for o in scenario.api.outages)
        if longest < scenario.stack.retry_horizon_seconds:
            line(
                governed.valid_in_dlq == 0,
                f"outage of {longest / 60:.0f} min < horizon "
                f"{scenario.stack.retry_horizon_seconds / 60:.0f} min: "
                f"{governed.valid_in_dlq} valid changes in the DLQ (goal 0)",
            )
    if any(c.rate < scenario.api.rate for c in scenario.api.rate_changes):
        recovery = governed.recovery_seconds
        text = "never" if recovery is None else f"after {recovery:.0f} s"
        line(
            recovery is not None and recovery <= RECOVERY_GOAL_SECONDS,
            f"429 share back under {target:.0%} {text} of the drop (goal <= 3 min)",
        )
    return lines
