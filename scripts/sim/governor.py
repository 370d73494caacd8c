"""The deployed governor's run (`consumer.governor.run.govern`) against simulated AWS clients.

Every minute (the EventBridge rule Terraform creates, `rate(1 minute)`) the simulator calls
the project's `govern()` with the environment Terraform gives it, and clients that answer
as AWS would:

- Lambda: GetEventSourceMapping (MaximumConcurrency, LastModified) and
  UpdateEventSourceMapping (applied to the simulated mapping at once);
- CloudWatch: GetMetricData for the queries `govern()` sends (its periods and window), from
  the consumer's EMF `requests` and `throttled` (summed per minute of the invocation's end)
  and the queue's visible count and oldest age (sampled at each minute's end); a minute's
  figures are readable only `metric_lag_*` seconds after it ends;
- SSM: GetParameter / PutParameter of the governor's state parameter (the law's memory of
  its last change), which Terraform creates holding `{}`.
"""

from __future__ import annotations

import contextlib
import io
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consumer.governor.run import GovernorConfig, govern
from sim.loop import Loop
from sim.scenario import Governor

MINUTE = 60.0
SCHEDULE_SECONDS = 60.0
"""The governor's schedule: Terraform's EventBridge rule, `rate(1 minute)`."""
FIRST_RUN_OFFSET = 1.0
"""The rule fires just after each minute boundary."""
DEPLOYED_BEFORE_SECONDS = 3600.0
"""The mapping was last modified (created by Terraform) this long before the scenario starts."""
MAPPING_UUID = "00000000-0000-4000-8000-000000000001"
STATE_PARAMETER = "/sim/governor/state"
"""The state parameter's name (Terraform names it after the governor function)."""


@dataclass(frozen=True)
class Change:
    """One decision that changed MaximumConcurrency."""

    at: float
    concurrency: int
    reason: str


def _stamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class CloudWatch:
    """Per-minute figures as CloudWatch would hold them, each published after a lag; answers
    GetMetricData at the simulated clock's instant."""

    def __init__(
        self,
        config: Governor,
        rng: random.Random,
        by_minute: dict[int, list[int]] | None = None,
        clock: Callable[[], float] = lambda: math.inf,
    ) -> None:
        self.config = config
        self.rng = rng
        self.by_minute: dict[int, list[int]] = {} if by_minute is None else by_minute
        """minute -> [requests, throttled]: the consumer's EMF lines ending in it."""
        self.clock = clock
        self.visible: dict[int, float] = {}
        self.oldest_age: dict[int, float] = {}
        self._lag: dict[int, float] = {}
        self.calls = 0

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

    def _minute_value(self, metric: str, minute: int) -> float | None:
        if metric in {"requests", "throttled"}:
            figures = self.by_minute.get(minute)
            if figures is None:
                return None  # no invocation ended in it: no EMF line, no datapoint
            return float(figures[0] if metric == "requests" else figures[1])
        if metric == "ApproximateNumberOfMessagesVisible":
            return self.visible.get(minute)
        if metric == "ApproximateAgeOfOldestMessage":
            return self.oldest_age.get(minute)
        return None

    def get_metric_data(
        self,
        *,
        MetricDataQueries: Sequence[dict[str, Any]],  # noqa: N803 - boto3's parameter names
        StartTime: datetime,  # noqa: N803
        EndTime: datetime,  # noqa: N803
        ScanBy: str = "TimestampDescending",  # noqa: N803
    ) -> dict[str, Any]:
        """GetMetricData: one result per query, a point per period of the query that has
        published data (Sum or Maximum of its minutes), newest first unless ScanBy says
        otherwise."""
        self.calls += 1
        now = self.clock()
        start, end = StartTime.timestamp(), EndTime.timestamp()
        results = []
        for query in MetricDataQueries:
            stat = query["MetricStat"]
            metric, period = stat["Metric"]["MetricName"], int(stat["Period"])
            if period % MINUTE:
                raise ValueError(f"the simulated CloudWatch holds 1-minute data, not {period} s")
            points: list[tuple[float, float]] = []
            at = math.ceil(start / period) * period
            while at + period <= end:
                values = [
                    value
                    for minute in range(int(at // MINUTE), int((at + period) // MINUTE))
                    if self.published_at(minute) <= now
                    and (value := self._minute_value(metric, minute)) is not None
                ]
                if values:
                    total = sum(values) if stat["Stat"] == "Sum" else max(values)
                    points.append((at, total))
                at += period
            points.sort(reverse=ScanBy == "TimestampDescending")
            results.append(
                {
                    "Id": query["Id"],
                    "Label": metric,
                    "Timestamps": [_stamp(t) for t, _ in points],
                    "Values": [v for _, v in points],
                    "StatusCode": "Complete",
                }
            )
        return {"MetricDataResults": results}


class MappingApi:
    """The Lambda API for the simulated event source mapping."""

    def __init__(
        self, concurrency: int, modified: float, apply: Callable[[int, float], None], clock: Any
    ) -> None:
        self.concurrency = concurrency
        self.modified = modified
        self.apply = apply
        self.clock = clock

    def get_event_source_mapping(self, *, UUID: str) -> dict[str, Any]:  # noqa: N803
        """The mapping as GetEventSourceMapping describes it."""
        return {
            "UUID": UUID,
            "State": "Enabled",
            "ScalingConfig": {"MaximumConcurrency": self.concurrency},
            "LastModified": _stamp(self.modified),
        }

    def update_event_source_mapping(
        self,
        *,
        UUID: str,  # noqa: N803
        ScalingConfig: dict[str, int],  # noqa: N803
    ) -> dict[str, Any]:
        """UpdateEventSourceMapping(ScalingConfig): applied to the pollers at once."""
        now = self.clock()
        self.concurrency = int(ScalingConfig["MaximumConcurrency"])
        self.modified = now
        self.apply(self.concurrency, now)
        return self.get_event_source_mapping(UUID=UUID)


class ParameterStore:
    """SSM Parameter Store for the governor's one parameter."""

    class exceptions:  # noqa: N801 - as boto3's client.exceptions
        class ParameterNotFound(Exception):  # noqa: N818 - AWS's name
            """No parameter of that name."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.writes = 0

    def get_parameter(self, *, Name: str) -> dict[str, Any]:  # noqa: N803
        """GetParameter."""
        if Name not in self.values:
            raise self.exceptions.ParameterNotFound(Name)
        return {"Parameter": {"Name": Name, "Type": "String", "Value": self.values[Name]}}

    def put_parameter(
        self,
        *,
        Name: str,  # noqa: N803
        Value: str,  # noqa: N803
        Type: str = "String",  # noqa: N803
        Overwrite: bool = False,  # noqa: N803
    ) -> dict[str, Any]:
        """PutParameter."""
        del Type
        if Name in self.values and not Overwrite:
            raise ValueError(f"ParameterAlreadyExists: {Name}")
        self.values[Name] = Value
        self.writes += 1
        return {"Version": self.writes}


def environment(config: Governor) -> dict[str, str]:
    """The governor's environment as Terraform sets it (terraform/modules/governor)."""
    return {
        "EVENT_SOURCE_MAPPING_UUID": MAPPING_UUID,
        "CONSUMER_FUNCTION_NAME": "consumer",
        "QUEUE_NAME": "queue",
        "MINIMUM_CONCURRENCY": str(config.minimum),
        "MAXIMUM_CONCURRENCY": str(config.maximum),
        "TARGET_THROTTLE_RATIO": repr(config.target_throttle_ratio),
        "PERIOD_SECONDS": str(int(config.period_seconds)),
        "GOVERNOR_STATE_PARAMETER": STATE_PARAMETER,
    }


class GovernorRunner:
    """Runs the deployed governor on its schedule against the simulated clients."""

    def __init__(
        self,
        loop: Loop,
        config: Governor,
        *,
        cloudwatch: CloudWatch,
        start_concurrency: int,
        apply: Callable[[int, float], None],
    ) -> None:
        self.loop = loop
        self.settings = GovernorConfig.from_environ(environment(config))
        self.cloudwatch = cloudwatch
        cloudwatch.clock = self._clock
        start = self.settings.law_settings.clamp(start_concurrency)  # Terraform's initial setting
        self.mapping = MappingApi(start, -DEPLOYED_BEFORE_SECONDS, apply, self._clock)
        self.ssm = ParameterStore()
        self.ssm.values[STATE_PARAMETER] = "{}"  # as Terraform creates it
        self.changes: list[Change] = []
        self.decisions: list[Change] = []
        """Every run: its instant, the setting it left, why."""

    def _clock(self) -> float:
        return self.loop.now

    def start(self, now: float) -> None:
        """Apply the starting setting and schedule the rule."""
        self.mapping.apply(self.mapping.concurrency, now)
        self.loop.at(now + SCHEDULE_SECONDS + FIRST_RUN_OFFSET, self._run)

    def _run(self, now: float, _: object = None) -> None:
        self.loop.at(now + SCHEDULE_SECONDS, self._run)
        with contextlib.redirect_stdout(io.StringIO()):  # its decision line
            decision = govern(self.settings, self.mapping, self.cloudwatch, now, self.ssm)
        made = Change(now, decision.concurrency, decision.reason)
        self.decisions.append(made)
        if decision.changed:
            self.changes.append(made)
