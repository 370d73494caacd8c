"""The deployed governor (`consumer.governor`) against simulated AWS clients.

Every minute (the EventBridge rule Terraform creates, `rate(1 minute)`, whose event gives the
run `run_seconds` = 60) a run starts and decides at the instants
`consumer.governor.schedule.decision_offsets` gives (every PERIOD_SECONDS of its minute); each
decision calls the project's `govern()` with the environment Terraform gives it, and clients
that answer as AWS would:

- Lambda: GetEventSourceMapping (MaximumConcurrency, LastModified) and
  UpdateEventSourceMapping (applied to the simulated mapping at once);
- CloudWatch: GetMetricData for the queries `govern()` sends (its periods and window), from the
  consumer's EMF `requests` and `throttled` (high-resolution: summed per second of the
  invocation's end); a second's figures are readable only `metric_lag_*` seconds after it
  ends (drawn per second: a period may be partly published, as EMF lines of different
  execution environments reach CloudWatch Logs at different times);
- SQS: GetQueueAttributes (ApproximateNumberOfMessages: the visible messages at that instant);
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

from consumer.governor.run import BACKLOG_ATTRIBUTE, Clients, GovernorConfig, govern
from consumer.governor.schedule import decision_offsets
from sim.loop import Loop
from sim.scenario import Governor
from sim.sqs import Queue

MINUTE = 60.0
SCHEDULE_SECONDS = 60.0
"""The governor's schedule: Terraform's EventBridge rule, `rate(1 minute)`, and the
`run_seconds` its target passes."""
FIRST_RUN_OFFSET = 1.0
"""The rule fires just after each minute boundary (it has run every minute since the stack was
deployed: the first run of a scenario comes in its first minute)."""
DEPLOYED_BEFORE_SECONDS = 3600.0
"""The mapping was last modified (created by Terraform) this long before the scenario starts."""
MAPPING_UUID = "00000000-0000-4000-8000-000000000001"
SIMULATED_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/queue"
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
    """The consumer's high-resolution figures as CloudWatch would hold them, each second's
    published after a lag; answers GetMetricData at the simulated clock's instant."""

    def __init__(
        self,
        config: Governor,
        rng: random.Random,
        by_second: dict[int, list[int]] | None = None,
        clock: Callable[[], float] = lambda: math.inf,
    ) -> None:
        self.config = config
        self.rng = rng
        self.by_second: dict[int, list[int]] = {} if by_second is None else by_second
        """second -> [requests, throttled]: the consumer's EMF lines ending in it."""
        self.clock = clock
        self._lag: dict[int, float] = {}
        self.calls = 0

    def published_at(self, second: int) -> float:
        """When second `second`'s figures become readable."""
        lag = self._lag.get(second)
        if lag is None:
            lag = self.rng.uniform(
                self.config.metric_lag_min_seconds, self.config.metric_lag_max_seconds
            )
            self._lag[second] = lag
        return second + 1 + lag

    def _sum(self, metric: str, start: int, end: int, now: float) -> float | None:
        """The published figures of seconds [start, end) summed; None when none is."""
        index = 0 if metric == "requests" else 1
        values = [
            figures[index]
            for second in range(start, end)
            if (figures := self.by_second.get(second)) is not None
            and self.published_at(second) <= now
        ]
        return float(sum(values)) if values else None

    def get_metric_data(
        self,
        *,
        MetricDataQueries: Sequence[dict[str, Any]],  # noqa: N803 - boto3's parameter names
        StartTime: datetime,  # noqa: N803
        EndTime: datetime,  # noqa: N803
        ScanBy: str = "TimestampDescending",  # noqa: N803
    ) -> dict[str, Any]:
        """GetMetricData: one result per query, a point per period of the query that has
        published data (the Sum of its seconds), newest first unless ScanBy says otherwise."""
        self.calls += 1
        now = self.clock()
        start, end = StartTime.timestamp(), EndTime.timestamp()
        results = []
        for query in MetricDataQueries:
            stat = query["MetricStat"]
            metric, period = stat["Metric"]["MetricName"], int(stat["Period"])
            if metric not in {"requests", "throttled"} or stat["Stat"] != "Sum":
                raise ValueError(f"the simulated CloudWatch holds the consumer's sums, not {stat}")
            points: list[tuple[float, float]] = []
            at = math.ceil(start / period) * period
            while at + period <= end:
                total = self._sum(metric, int(at), int(at + period), now)
                if total is not None:
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


class QueueApi:
    """SQS GetQueueAttributes for the simulated queue."""

    def __init__(self, queue: Queue, clock: Callable[[], float]) -> None:
        self.queue = queue
        self.clock = clock
        self.answers: list[tuple[float, int]] = []
        """(instant, visible messages) of every call."""

    def get_queue_attributes(
        self,
        *,
        QueueUrl: str,  # noqa: N803 - boto3's parameter names
        AttributeNames: Sequence[str],  # noqa: N803
    ) -> dict[str, Any]:
        """The visible messages now (the only attribute the governor asks for)."""
        del QueueUrl
        if list(AttributeNames) != [BACKLOG_ATTRIBUTE]:
            raise ValueError(f"the simulated queue answers {BACKLOG_ATTRIBUTE} only")
        now = self.clock()
        visible = self.queue.visible_count(now)
        self.answers.append((now, visible))
        return {"Attributes": {BACKLOG_ATTRIBUTE: str(visible)}}


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
        "QUEUE_URL": SIMULATED_QUEUE_URL,
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
        queue: Queue,
        start_concurrency: int,
        apply: Callable[[int, float], None],
    ) -> None:
        self.loop = loop
        self.settings = GovernorConfig.from_environ(environment(config))
        cloudwatch.clock = self._clock
        start = self.settings.law_settings.clamp(start_concurrency)  # Terraform's initial setting
        self.mapping = MappingApi(start, -DEPLOYED_BEFORE_SECONDS, apply, self._clock)
        self.ssm = ParameterStore()
        self.ssm.values[STATE_PARAMETER] = "{}"  # as Terraform creates it
        self.clients = Clients(self.mapping, cloudwatch, QueueApi(queue, self._clock), self.ssm)
        self.offsets = decision_offsets(self.settings.period_seconds, SCHEDULE_SECONDS)
        self.changes: list[Change] = []
        self.decisions: list[Change] = []
        """Every decision: its instant, the setting it left, why."""

    @property
    def cloudwatch(self) -> CloudWatch:
        return self.clients.cloudwatch  # type: ignore[no-any-return]

    def _clock(self) -> float:
        return self.loop.now

    def start(self, now: float) -> None:
        """Apply the starting setting and schedule the rule."""
        self.mapping.apply(self.mapping.concurrency, now)
        self.loop.at(now + FIRST_RUN_OFFSET, self._run)

    def _run(self, now: float, _: object = None) -> None:
        """One scheduled run: its decisions, at the offsets the deployed entry point uses."""
        self.loop.at(now + SCHEDULE_SECONDS, self._run)
        for offset in self.offsets:
            self.loop.at(now + offset, self._one_decision)

    def _one_decision(self, now: float, _: object = None) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # its decision line
            decision = govern(self.settings, self.clients, now)
        made = Change(now, decision.concurrency, decision.reason)
        self.decisions.append(made)
        if decision.changed:
            self.changes.append(made)
