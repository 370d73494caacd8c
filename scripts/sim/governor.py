"""The scheduled governor against simulated CloudWatch: 1-minute periods, published late.

Every `period_seconds` the governor reads the newest complete period CloudWatch has published
(a period's figures appear 1-2 minutes after it ends: `metric_lag_*`), and passes it to the
project's control law, `consumer.flow_control.governor_law.decide`. A change is applied to
the mapping at once (UpdateEventSourceMapping).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from consumer.flow_control.governor_law import (
    GovernorSettings,
    GovernorState,
    Observations,
    decide,
)
from sim.loop import Loop
from sim.scenario import Governor

MINUTE = 60.0
FIRST_RUN_OFFSET = 1.0
"""The rule fires just after each period boundary."""


@dataclass(frozen=True)
class Change:
    """One decision that changed MaximumConcurrency."""

    at: float
    concurrency: int
    reason: str


class CloudWatch:
    """Per-minute figures as CloudWatch would hold them, each published after a lag."""

    def __init__(self, config: Governor, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.visible: dict[int, float] = {}
        self.oldest_age: dict[int, float] = {}
        self._lag: dict[int, float] = {}

    def record_minute(self, minute: int, visible: float, oldest_age: float) -> None:
        """The queue's figures for the minute that ended."""
        self.visible[minute] = visible
        self.oldest_age[minute] = oldest_age

    def published_at(self, minute: int) -> float:
        """When minute `minute`'s figures become readable."""
        lag = self._lag.get(minute)
        if lag is None:
            lag = self.rng.uniform(
                self.config.metric_lag_min_seconds, self.config.metric_lag_max_seconds
            )
            self._lag[minute] = lag
        return (minute + 1) * MINUTE + lag

    def newest_published(self, now: float) -> int | None:
        """The newest minute whose figures are readable at `now`."""
        minute = int(now // MINUTE) - 1
        while minute >= 0:
            if self.published_at(minute) <= now:
                return minute
            minute -= 1
        return None


class GovernorRunner:
    """Runs the control law on schedule and applies its decisions."""

    def __init__(
        self,
        loop: Loop,
        config: Governor,
        *,
        cloudwatch: CloudWatch,
        start_concurrency: int,
        by_minute: dict[int, list[int]],
        apply: Callable[[int, float], None],
    ) -> None:
        self.loop = loop
        self.config = config
        self.cloudwatch = cloudwatch
        self.by_minute = by_minute
        self.apply = apply
        settings = GovernorSettings(
            minimum=config.minimum,
            maximum=config.maximum,
            target_throttle_ratio=config.target_throttle_ratio,
            increase_step=config.increase_step,
        )
        self.state = GovernorState(settings, settings.clamp(start_concurrency))
        self.changes: list[Change] = []
        self.runs = 0

    def start(self, now: float) -> None:
        """Apply the starting setting and schedule the rule."""
        self.apply(self.state.concurrency, now)
        self.loop.at(now + self.config.period_seconds + FIRST_RUN_OFFSET, self._run)

    def observations(self, now: float) -> Observations:
        """What GetMetricData returns at `now` for the newest published minute."""
        minute = self.cloudwatch.newest_published(now)
        if minute is None:
            return Observations(now, now, now, None, None, None, None)
        start = minute * MINUTE
        figures = self.by_minute.get(minute)
        requests = float(figures[0]) if figures else None
        throttled = float(figures[1]) if figures else None
        return Observations(
            observed_at=now,
            since=start,
            until=start + MINUTE,
            requests=requests,
            throttled=throttled,
            visible_messages=self.cloudwatch.visible.get(minute),
            oldest_age_seconds=self.cloudwatch.oldest_age.get(minute),
            previous_oldest_age_seconds=self.cloudwatch.oldest_age.get(minute - 1),
        )

    def _run(self, now: float, _: object = None) -> None:
        self.loop.at(now + self.config.period_seconds, self._run)
        self.runs += 1
        decision = decide(self.state, self.observations(now))
        self.state = decision.state
        if decision.changed:
            self.changes.append(Change(now, decision.concurrency, decision.reason))
            self.apply(decision.concurrency, now)
