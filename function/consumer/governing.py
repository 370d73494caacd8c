"""The concurrency governor's run (its entry point is consumer.governor.lambda_handler).

Each run reads CloudWatch (one GetMetricData call): the consumer's EMF `requests` and
`throttled` (Sum, dimension FunctionName, namespace METRICS_NAMESPACE) and the queue's
ApproximateNumberOfMessagesVisible and ApproximateAgeOfOldestMessage (Maximum, AWS/SQS,
QueueName), over the last WINDOW_PERIODS whole periods of PERIOD_SECONDS. It reads the
mapping's MaximumConcurrency and LastModified (GetEventSourceMapping), asks the pure law
`consumer.flow_control.governor_law.decide`, and calls UpdateEventSourceMapping only when the
answer differs. Every run writes one JSON line with the EMF metric `governor_concurrency`.

State between runs lives in the mapping itself: its MaximumConcurrency is the current
setting and its LastModified the time of the last change (the law waits for metrics that
postdate it, whoever made the change). Nothing else is stored.

Environment (a bad value fails the cold start naming the setting): EVENT_SOURCE_MAPPING_UUID,
CONSUMER_FUNCTION_NAME, QUEUE_NAME (required); MINIMUM_CONCURRENCY, MAXIMUM_CONCURRENCY
(2-1000, required); TARGET_THROTTLE_RATIO (0-1 exclusive, default 0.05); PERIOD_SECONDS (a
multiple of 60 up to 3600, or 10 or 30 for high-resolution metrics; default 60);
METRICS_NAMESPACE (default SqsBatchConsumer).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consumer.flow_control.governor_law import (
    Decision,
    GovernorSettings,
    GovernorState,
    Observations,
    decide,
)
from consumer.settings import (
    DEFAULT_METRICS_NAMESPACE,
    SettingsError,
    is_metrics_namespace,
    read_number,
)
from consumer.telemetry import emit_summary, timestamp

WINDOW_PERIODS = 2
"""Whole periods of metrics each decision reads (the current, partial period excluded)."""
CONCURRENCY_BOUNDS = (2, 1000)
"""ScalingConfig.MaximumConcurrency's range."""
UNSET_CONCURRENCY = 1000
"""What a mapping without MaximumConcurrency may reach (the governor brings it within bounds)."""
HIGH_RESOLUTION_PERIODS = (10, 30)
METRIC = "governor_concurrency"
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}(\.fifo)?$")


@dataclass(frozen=True)
class GovernorConfig:
    """The governor's settings (environment names in the module docstring)."""

    mapping_uuid: str
    function_name: str
    queue_name: str
    law: GovernorSettings
    period_seconds: int = 60
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GovernorConfig:
        """Read and check every setting; SettingsError naming the first bad one."""
        uuid = _text(environ, "EVENT_SOURCE_MAPPING_UUID", _UUID, "an event source mapping UUID")
        function = _text(environ, "CONSUMER_FUNCTION_NAME", _FUNCTION_NAME, "a function name")
        queue = _text(environ, "QUEUE_NAME", _QUEUE_NAME, "an SQS queue name")
        minimum = int(read_number(environ, "MINIMUM_CONCURRENCY", None, int, CONCURRENCY_BOUNDS))
        maximum = int(read_number(environ, "MAXIMUM_CONCURRENCY", None, int, CONCURRENCY_BOUNDS))
        if minimum > maximum:
            raise SettingsError(
                f"MINIMUM_CONCURRENCY ({minimum}) must not exceed MAXIMUM_CONCURRENCY ({maximum})"
            )
        ratio = read_number(environ, "TARGET_THROTTLE_RATIO", 0.05, float, (0.0, 1.0))
        if not 0.0 < ratio < 1.0:
            raise SettingsError(f"TARGET_THROTTLE_RATIO must be in (0, 1), got {ratio}")
        period = int(read_number(environ, "PERIOD_SECONDS", 60, int, (10, 3600)))
        if period % 60 and period not in HIGH_RESOLUTION_PERIODS:
            raise SettingsError(
                f"PERIOD_SECONDS must be a multiple of 60 (or 10 or 30), got {period}"
            )
        namespace = environ.get("METRICS_NAMESPACE", "").strip() or DEFAULT_METRICS_NAMESPACE
        if not is_metrics_namespace(namespace):
            raise SettingsError(f"METRICS_NAMESPACE is not a namespace we accept: {namespace!r}")
        return cls(
            uuid, function, queue, GovernorSettings(minimum, maximum, ratio), period, namespace
        )


def _text(environ: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is required and not set")
    if not pattern.match(value):
        raise SettingsError(f"{name} must be {what}, got {value!r}")
    return value


def metric_queries(config: GovernorConfig) -> list[dict[str, Any]]:
    """The GetMetricData queries: requests, throttled, visible messages, oldest age."""

    def query(key: str, namespace: str, metric: str, dimension: tuple[str, str], stat: str) -> Any:
        name, value = dimension
        return {
            "Id": key,
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": metric,
                    "Dimensions": [{"Name": name, "Value": value}],
                },
                "Period": config.period_seconds,
                "Stat": stat,
            },
            "ReturnData": True,
        }

    consumer = ("FunctionName", config.function_name)
    queue = ("QueueName", config.queue_name)
    return [
        query("requests", config.metrics_namespace, "requests", consumer, "Sum"),
        query("throttled", config.metrics_namespace, "throttled", consumer, "Sum"),
        query("visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, "Maximum"),
        query("oldest", "AWS/SQS", "ApproximateAgeOfOldestMessage", queue, "Maximum"),
    ]


def window(now: float, period: int) -> tuple[float, float]:
    """[since, until): the last WINDOW_PERIODS whole periods before `now` (epoch seconds)."""
    until = math.floor(now / period) * period
    return until - WINDOW_PERIODS * period, until


def observations(
    results: Sequence[Mapping[str, Any]], now: float, since: float, until: float
) -> Observations:
    """Observations from GetMetricData's MetricDataResults (a metric without data: None)."""
    series = {str(r.get("Id")): _points(r) for r in results}

    def total(key: str) -> float | None:
        points = series.get(key) or []
        return sum(value for _, value in points) if points else None

    def latest(key: str, back: int = 0) -> float | None:
        points = series.get(key) or []
        return points[back][1] if len(points) > back else None

    return Observations(
        observed_at=now,
        since=since,
        until=until,
        requests=total("requests"),
        throttled=total("throttled"),
        visible_messages=latest("visible"),
        oldest_age_seconds=latest("oldest"),
        previous_oldest_age_seconds=latest("oldest", 1),
    )


def _points(result: Mapping[str, Any]) -> list[tuple[float, float]]:
    """(epoch seconds, value), newest first."""
    stamps = result.get("Timestamps") or []
    values = result.get("Values") or []
    points = [(_epoch(stamp), float(value)) for stamp, value in zip(stamps, values, strict=False)]
    return sorted(points, reverse=True)


def _epoch(stamp: Any) -> float:
    return stamp.timestamp() if isinstance(stamp, datetime) else float(stamp)


def govern(config: GovernorConfig, lambda_client: Any, cloudwatch: Any, now: float) -> Decision:
    """One run: read the mapping and the metrics, decide, update the mapping on a change."""
    mapping = lambda_client.get_event_source_mapping(UUID=config.mapping_uuid)
    scaling = mapping.get("ScalingConfig") or {}
    current = int(scaling.get("MaximumConcurrency") or UNSET_CONCURRENCY)
    modified = mapping.get("LastModified")
    changed_at = _epoch(modified) if modified is not None else None
    since, until = window(now, config.period_seconds)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=metric_queries(config),
        StartTime=datetime.fromtimestamp(since, UTC),
        EndTime=datetime.fromtimestamp(until, UTC),
        ScanBy="TimestampDescending",
    )
    seen = observations(answer.get("MetricDataResults", []), now, since, until)
    decision = decide(GovernorState(config.law, current, changed_at), seen)
    if decision.changed:
        lambda_client.update_event_source_mapping(
            UUID=config.mapping_uuid,
            ScalingConfig={"MaximumConcurrency": decision.concurrency},
        )
    emit_summary(decision_line(config, current, decision, seen))
    return decision


def decision_line(
    config: GovernorConfig, previous: int, decision: Decision, seen: Observations
) -> dict[str, Any]:
    """The run's JSON log line, with `governor_concurrency` as an EMF metric."""
    return {
        "_aws": {
            "Timestamp": int(seen.observed_at * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": config.metrics_namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [{"Name": METRIC, "Unit": "Count"}],
                }
            ],
        },
        "timestamp": timestamp(),
        "level": "INFO",
        "message": "governor decision",
        "FunctionName": config.function_name,
        METRIC: decision.concurrency,
        "previous": previous,
        "changed": decision.changed,
        "reason": decision.reason,
        "throttle_ratio": decision.throttle_ratio,
        "requests": seen.requests,
        "throttled": seen.throttled,
        "visible_messages": seen.visible_messages,
        "oldest_age_seconds": seen.oldest_age_seconds,
        "window": [seen.since, seen.until],
        "minimum": config.law.minimum,
        "maximum": config.law.maximum,
    }
