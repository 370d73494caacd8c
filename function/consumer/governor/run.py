"""The concurrency governor's run (its entry point is consumer.governor.lambda_handler).

Each run reads CloudWatch (one GetMetricData call): the consumer's EMF `requests` and
`throttled` (Sum, dimension FunctionName, namespace METRICS_NAMESPACE) and the queue's
ApproximateNumberOfMessagesVisible and ApproximateAgeOfOldestMessage (Maximum, AWS/SQS,
QueueName), over the newest WINDOW_PERIODS whole periods of PERIOD_SECONDS that CloudWatch
has published (metrics arrive a minute or two late: it asks for the periods of the last
LATEST_LAG_SECONDS too, and the window ends with the newest period holding any point). It reads the
mapping's MaximumConcurrency and LastModified (GetEventSourceMapping), asks the pure law
`consumer.governor.law.decide`, and calls UpdateEventSourceMapping only when the
answer differs. Every run writes one JSON line with the EMF metric `governor_concurrency`.

State between runs: the mapping's MaximumConcurrency is the current setting and its
LastModified the time of the last change (the law waits for metrics that postdate it, whoever
made the change). What the law also remembers of its own last change (`previous_concurrency`,
`basis_until`: the fast cut after an increase) lives in an SSM parameter
(GOVERNOR_STATE_PARAMETER, one JSON object, written after each change); it counts only while
the mapping still has the setting it recorded, so a change by hand makes it unknown (the law
then waits, the safe choice). Without the parameter the law runs without that memory.

Environment (a bad value fails the cold start naming the setting): EVENT_SOURCE_MAPPING_UUID,
CONSUMER_FUNCTION_NAME, QUEUE_NAME (required); MINIMUM_CONCURRENCY, MAXIMUM_CONCURRENCY
(2-1000, required); TARGET_THROTTLE_RATIO (0-1 exclusive, default 0.05); PERIOD_SECONDS (a
multiple of 60 up to 3600, or 10 or 30 for high-resolution metrics; default 60);
METRICS_NAMESPACE (default SqsBatchConsumer); GOVERNOR_STATE_PARAMETER (an SSM parameter
name; optional).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consumer.governor.law import (
    Decision,
    GovernorState,
    LawSettings,
    Observations,
    decide,
)
from consumer.settings import (
    DEFAULT_METRICS_NAMESPACE,
    SettingsError,
    is_metrics_namespace,
    read_number,
)
from consumer.telemetry import emf_envelope, emit_summary, timestamp

WINDOW_PERIODS = 2
"""Whole periods of metrics each decision reads (the current, partial period excluded)."""
LATEST_LAG_SECONDS = 300
"""How late a period's metrics may be published and still be read: the query reaches back
this much further than WINDOW_PERIODS, so a lag of 1-2 minutes does not blind the governor."""
CONCURRENCY_BOUNDS = (2, 1000)
"""ScalingConfig.MaximumConcurrency's range."""
UNSET_CONCURRENCY = 1000
"""What a mapping without MaximumConcurrency may reach (the governor brings it within bounds)."""
HIGH_RESOLUTION_PERIODS = (10, 30)
METRIC = "governor_concurrency"
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}(\.fifo)?$")
_PARAMETER_NAME = re.compile(r"^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


@dataclass(frozen=True)
class GovernorConfig:
    """The governor's settings (environment names in the module docstring)."""

    mapping_uuid: str
    function_name: str
    queue_name: str
    law_settings: LawSettings
    period_seconds: int = 60
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    state_parameter: str | None = None
    """SSM parameter holding the law's memory of its last change (None: none kept)."""

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
        parameter = environ.get("GOVERNOR_STATE_PARAMETER", "").strip() or None
        if parameter is not None and not (
            len(parameter) <= 1011 and _PARAMETER_NAME.match(parameter)
        ):
            raise SettingsError(
                f"GOVERNOR_STATE_PARAMETER must be an SSM parameter name, got {parameter!r}"
            )
        law_settings = LawSettings(minimum, maximum, ratio)
        return cls(uuid, function, queue, law_settings, period, namespace, parameter)


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
    """[since, until): the whole periods before `now` (epoch seconds) the query asks for:
    WINDOW_PERIODS, and those of the LATEST_LAG_SECONDS before them."""
    until = math.floor(now / period) * period
    late = math.ceil(LATEST_LAG_SECONDS / period)
    return until - (WINDOW_PERIODS + late) * period, until


def observations(
    results: Sequence[Mapping[str, Any]], now: float, since: float, until: float, period: int
) -> Observations:
    """Observations from GetMetricData's MetricDataResults (a metric without data: None),
    over the WINDOW_PERIODS periods that end with the newest one holding any point (none:
    the whole query's span, every figure None)."""
    everything = {str(r.get("Id")): _points(r) for r in results}
    newest = max((points[0][0] for points in everything.values() if points), default=None)
    if newest is not None:
        until = math.floor(newest / period) * period + period
        since = until - WINDOW_PERIODS * period
    series = {
        key: [(at, value) for at, value in points if since <= at < until]
        for key, points in everything.items()
    }

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


def load_memory(ssm: Any, name: str, current: int) -> tuple[int | None, float | None]:
    """(previous_concurrency, basis_until) from the state parameter, or (None, None) when it
    holds nothing, something else, or a setting the mapping no longer has."""
    try:
        text = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None, None
    try:
        stored = json.loads(text)
    except ValueError:
        return None, None
    if not isinstance(stored, dict) or stored.get("concurrency") != current:
        return None, None
    previous, basis = stored.get("previous_concurrency"), stored.get("basis_until")
    if not isinstance(basis, int | float) or isinstance(basis, bool):
        basis = None
    return (previous if type(previous) is int else None, None if basis is None else float(basis))


def save_memory(ssm: Any, name: str, state: GovernorState) -> None:
    """Write the law's memory of the change just made (the setting it applies to included)."""
    value = {
        "concurrency": state.concurrency,
        "previous_concurrency": state.previous_concurrency,
        "basis_until": state.basis_until,
    }
    ssm.put_parameter(Name=name, Value=json.dumps(value), Type="String", Overwrite=True)


def govern(
    config: GovernorConfig, lambda_client: Any, cloudwatch: Any, now: float, ssm: Any = None
) -> Decision:
    """One run: read the mapping, the law's memory (with `ssm` and a state parameter) and the
    metrics, decide, update the mapping and the memory on a change."""
    mapping = lambda_client.get_event_source_mapping(UUID=config.mapping_uuid)
    scaling = mapping.get("ScalingConfig") or {}
    current = int(scaling.get("MaximumConcurrency") or UNSET_CONCURRENCY)
    modified = mapping.get("LastModified")
    changed_at = _epoch(modified) if modified is not None else None
    keeps = ssm is not None and config.state_parameter is not None
    previous, basis_until = (
        load_memory(ssm, str(config.state_parameter), current) if keeps else (None, None)
    )
    since, until = window(now, config.period_seconds)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=metric_queries(config),
        StartTime=datetime.fromtimestamp(since, UTC),
        EndTime=datetime.fromtimestamp(until, UTC),
        ScanBy="TimestampDescending",
    )
    seen = observations(
        answer.get("MetricDataResults", []), now, since, until, config.period_seconds
    )
    state = GovernorState(config.law_settings, current, changed_at, previous, basis_until)
    decision = decide(state, seen)
    if decision.changed:
        lambda_client.update_event_source_mapping(
            UUID=config.mapping_uuid,
            ScalingConfig={"MaximumConcurrency": decision.concurrency},
        )
        if keeps:  # after the update: a failed write leaves the memory stale, so unknown
            save_memory(ssm, str(config.state_parameter), decision.state)
    emit_summary(decision_line(config, current, decision, seen))
    return decision


def decision_line(
    config: GovernorConfig, previous: int, decision: Decision, seen: Observations
) -> dict[str, Any]:
    """The run's JSON log line, with `governor_concurrency` as an EMF metric."""
    return {
        **emf_envelope(config.metrics_namespace, [METRIC], int(seen.observed_at * 1000)),
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
        "minimum": config.law_settings.minimum,
        "maximum": config.law_settings.maximum,
    }
