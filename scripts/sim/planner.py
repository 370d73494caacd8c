"""The capacity planner: sweep batch size, window, maximum concurrency and the governor, keep
the settings that meet the SLA (every change delivered within it, the queue drained) with the
429 share at or under Terraform's target (`TARGET`, 0.05) and no valid change in the DLQ, and
print the cheapest as a .tfvars snippet of every Terraform value the result depends on, with
the runners-up.

Concurrency is swept in ascending order; once a static setting is throttled above the target,
the larger static ones are skipped (more concurrent batches against the same limit only add
429s), and so are governor maximums above twice it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sim.scenario import Scenario, with_governor, with_stack
from sim.simulation import Result, run

BATCH_SIZES = (10, 100, 1000)
WINDOWS = (1.0, 5.0)
CONCURRENCY = (2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)
TARGET = 0.05
"""Terraform's `adaptive_concurrency.target_throttle_ratio` default: the 429 share allowed."""


@dataclass(frozen=True)
class Candidate:
    """One point of the sweep and how it did."""

    batch_size: int
    window: float
    concurrency: int
    governor: bool
    result: Result

    @property
    def cost(self) -> float:
        """Lambda + SQS, USD, for the scenario's traffic."""
        return self.result.lambda_cost + self.result.sqs_cost

    def problems(self, scenario: Scenario) -> list[str]:
        """Why this setting fails the targets (empty: it meets them)."""
        result = self.result
        found = []
        if result.drain_seconds is None or result.still_queued:
            found.append("not drained")
        if result.max_oldest_age > scenario.sla_seconds:
            found.append(f"oldest age {result.max_oldest_age:,.0f} s > SLA")
        if result.share_429 > TARGET:
            found.append(f"429 share {result.share_429:.1%}")
        if result.valid_in_dlq:
            found.append(f"{result.valid_in_dlq:,} valid in DLQ")
        return found

    def describe(self) -> str:
        """One line: the setting and its figures."""
        governor = "governor on " if self.governor else "static      "
        drain = self.result.drain_seconds
        drain_text = f"{drain:,.0f} s" if drain is not None else "not drained"
        return (
            f"batch {self.batch_size:>5}  window {self.window:>4g} s  "
            f"{'max' if self.governor else 'conc'} {self.concurrency:>4}  {governor}"
            f"drain {drain_text:>10}  429 {self.result.share_429:6.1%}  "
            f"${self.cost:,.4f}"
        )


def variant(
    scenario: Scenario, batch: int, window: float, concurrency: int, governor: bool
) -> Scenario:
    """The scenario with one setting of the sweep: with the governor, `concurrency` is its
    maximum and the mapping starts at min(the scenario's setting, that maximum)."""
    stack_start = min(scenario.stack.maximum_concurrency, concurrency) if governor else concurrency
    changed = with_stack(
        scenario,
        batch_size=batch,
        maximum_batching_window_in_seconds=window,
        maximum_concurrency=max(2, stack_start),
    )
    minimum = min(scenario.governor.minimum, concurrency)
    return with_governor(changed, enabled=governor, minimum=minimum, maximum=concurrency)


def sweep(
    scenario: Scenario,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    windows: Sequence[float] = WINDOWS,
    concurrency: Sequence[int] = CONCURRENCY,
    progress: Callable[[int, int, Candidate], None] | None = None,
) -> list[Candidate]:
    """Run the combinations (the governor on and off for each), skipping those the module
    docstring says cannot pass."""
    levels = sorted(set(concurrency))
    grid = list(itertools.product(batch_sizes, windows, levels, (False, True)))
    candidates = []
    throttled_at: dict[tuple[int, float], int] = {}
    for index, (batch, window, conc, governor) in enumerate(grid, start=1):
        first = throttled_at.get((batch, window))
        if first is not None and (conc > 2 * first or (not governor and conc > first)):
            continue
        result = run(variant(scenario, batch, window, conc, governor), "plan")
        candidate = Candidate(batch, window, conc, governor, result)
        candidates.append(candidate)
        if not governor and first is None and result.share_429 > TARGET:
            throttled_at[(batch, window)] = conc
        if progress is not None:
            progress(index, len(grid), candidate)
    return candidates


COST_TIE = 0.01
"""Settings within 1% of the cheapest cost count as equally cheap; among them, those within 1%
of the fastest drain count as equally fast, and the lowest concurrency wins."""


def ranked(scenario: Scenario, candidates: Sequence[Candidate]) -> list[Candidate]:
    """Those meeting every target, best first: equally cheap and equally fast with the lowest
    concurrency, then the rest of the equally cheap by drain, then the others by cost."""
    meeting = [c for c in candidates if not c.problems(scenario)]
    if not meeting:
        return []
    cheapest = min(c.cost for c in meeting)
    tied = [c for c in meeting if c.cost <= cheapest * (1 + COST_TIE)]
    fastest = min(c.result.drain_seconds or 0.0 for c in tied)

    def key(candidate: Candidate) -> tuple[int, float, float]:
        drain = candidate.result.drain_seconds or 0.0
        if candidate.cost > cheapest * (1 + COST_TIE):
            return (2, candidate.cost, drain)
        if drain > fastest * (1 + COST_TIE):
            return (1, drain, candidate.cost)
        return (0, candidate.concurrency, candidate.cost)

    return sorted(meeting, key=key)


def tfvars(scenario: Scenario, best: Candidate) -> str:
    """The winning setting as Terraform input values, with every other input the simulated
    figures depend on (the scenario's own values: change one and plan again)."""
    stack = scenario.stack
    most = best.concurrency
    lines = [
        f"# {scenario.name}: cheapest setting meeting the SLA ({scenario.sla_seconds:,.0f} s), "
        f"429 share <= {TARGET:.0%}, no valid change in the DLQ\n"
        "# (within 1% of the cheapest: the fastest, then the fewest concurrent batches)",
        f"batch_size                         = {best.batch_size}",
        f"maximum_batching_window_in_seconds = {best.window:g}",
    ]
    if best.governor:
        start = max(2, min(stack.maximum_concurrency, best.concurrency))
        minimum = min(scenario.governor.minimum, best.concurrency)
        lines += [
            f"maximum_concurrency                = {start}",
            "adaptive_concurrency = {",
            "  enabled               = true",
            f"  minimum               = {minimum}",
            f"  maximum               = {best.concurrency}",
            f"  target_throttle_ratio = {TARGET:g}",
            f"  period_seconds        = {scenario.governor.period_seconds:g}",
            "}",
        ]
    else:
        lines.append(f"maximum_concurrency                = {best.concurrency}")
    lines += [
        "# the values these figures were simulated with:",
        f"function_timeout                   = {stack.function_timeout:g}",
        f"memory_size                        = {stack.memory_size}",
        f"reserved_concurrent_executions     = {most}  # at least the most concurrent "
        "batches; null also works (the account's pool)",
        f"max_operations_per_request         = {stack.max_operations_per_request}",
        f"max_request_bytes                  = {stack.max_request_bytes}",
        f"max_receive_count                  = {stack.max_receive_count}",
        f"retry_horizon_seconds              = {stack.retry_horizon_seconds:g}",
        f"retry_backoff_base_seconds         = {stack.retry_backoff_base_seconds:g}",
        f"retry_backoff_max_seconds          = {stack.retry_backoff_max_seconds:g}",
        f"entity_api_timeout_seconds         = {scenario.api.request_timeout_seconds:g}",
    ]
    if stack.visibility_timeout_seconds > 0:
        lines.append(f"visibility_timeout_seconds         = {stack.visibility_timeout_seconds:g}")
    return "\n".join(lines)
