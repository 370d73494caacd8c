"""One decision of the concurrency governor (its entry point is consumer.governor.lambda_handler).

A decision reads the queue's backlog directly (SQS GetQueueAttributes,
ApproximateNumberOfMessages: no metric lag) and the consumer's EMF `requests` and `throttled`
(high-resolution metrics; Sum, dimension FunctionName, namespace METRICS_NAMESPACE; one
GetMetricData call) over the newest WINDOW_PERIODS whole periods of PERIOD_SECONDS that
CloudWatch has published (it asks for the periods of the last LATEST_LAG_SECONDS too, and the
window ends with the newest period holding any point). It reads the mapping's
MaximumConcurrency and LastModified (GetEventSourceMapping), asks the pure law
`consumer.governor.law.decide`, and calls UpdateEventSourceMapping only when the answer
differs. Every decision writes one JSON line with the EMF metric `governor_concurrency`.

State between decisions: the mapping's MaximumConcurrency is the current setting and its
LastModified the time of the last change (the law waits for metrics that postdate it, whoever
made the change). What the law also remembers of its own last change (`changed_at`,
`previous_concurrency`, `basis_until`) lives in an SSM parameter (GOVERNOR_STATE_PARAMETER,
one JSON object, written after each change); it counts only while the mapping still has the
setting it recorded, so a change by hand makes it unknown (the law then waits, the safe
choice). Without the parameter the law runs without that memory.

Environment (a bad value fails the cold start naming the setting): EVENT_SOURCE_MAPPING_UUID,
CONSUMER_FUNCTION_NAME, QUEUE_URL (required); MINIMUM_CONCURRENCY, MAXIMUM_CONCURRENCY
(2-1000, required); TARGET_THROTTLE_RATIO (0-1 exclusive, default 0.05); PERIOD_SECONDS (10,
20 or 30, high-resolution periods, or a multiple of 60 up to 3600; default 10);
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
this much further than WINDOW_PERIODS, so a late period does not blind the governor."""
CONCURRENCY_BOUNDS = (2, 1000)
"""ScalingConfig.MaximumConcurrency's range."""
UNSET_CONCURRENCY = 1000
"""What a mapping without MaximumConcurrency may reach (the governor brings it within bounds)."""
HIGH_RESOLUTION_PERIODS = (10, 20, 30)
"""Periods under a minute that GetMetricData accepts for high-resolution metrics and that
divide the schedule's minute."""
DEFAULT_PERIOD_SECONDS = 10
METRIC = "governor_concurrency"
BACKLOG_ATTRIBUTE = "ApproximateNumberOfMessages"
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_QUEUE_URL = re.compile(r"^https?://[^\s/]+(/[^\s/]+)*/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_PARAMETER_NAME = re.compile(r"^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


@dataclass(frozen=True)
class GovernorConfig:
    """The governor's settings (environment names in the module docstring)."""

    mapping_uuid: str
    function_name: str
    queue_url: str
    law_settings: LawSettings
    period_seconds: int = DEFAULT_PERIOD_SECONDS
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    state_parameter: str | None = None
    """SSM parameter holding the law's memory of its last change (None: none kept)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GovernorConfig:
        """Read and check every setting; SettingsError naming the first bad one."""
        uuid = _text(environ, "EVENT_SOURCE_MAPPING_UUID", _UUID, "an event source mapping UUID")
        function = _text(environ, "CONSUMER_FUNCTION_NAME", _FUNCTION_NAME, "a function name")
        queue = _text(environ, "QUEUE_URL", _QUEUE_URL, "an SQS queue URL")
        minimum = int(read_number(environ, "MINIMUM_CONCURRENCY", None, int, CONCURRENCY_BOUNDS))
        maximum = int(read_number(environ, "MAXIMUM_CONCURRENCY", None, int, CONCURRENCY_BOUNDS))
        if minimum > maximum:
            raise SettingsError(
                f"MINIMUM_CONCURRENCY ({minimum}) must not exceed MAXIMUM_CONCURRENCY ({maximum})"
            )
        ratio = read_number(environ, "TARGET_THROTTLE_RATIO", 0.05, float, (0.0, 1.0))
        if not 0.0 < ratio < 1.0:
            raise SettingsError(f"TARGET_THROTTLE_RATIO must be in (0, 1), got {ratio}")
        period = int(
            read_number(environ, "PERIOD_SECONDS", DEFAULT_PERIOD_SECONDS, int, (10, 3600))
        )
        if period % 60 and period not in HIGH_RESOLUTION_PERIODS:
            raise SettingsError(
                f"PERIOD_SECONDS must be 10, 20, 30 or a multiple of 60, got {period}"
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


@dataclass(frozen=True)
class Clients:
    """The AWS clients one decision uses (boto3's, or stand-ins answering the same calls)."""

    lambda_client: Any
    cloudwatch: Any
    sqs: Any
    ssm: Any = None
    """None: the law's memory is not kept."""


def _text(environ: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is required and not set")
    if not pattern.match(value):
        raise SettingsError(f"{name} must be {what}, got {value!r}")
    return value


def metric_queries(config: GovernorConfig) -> list[dict[str, Any]]:
    """The GetMetricData queries: the consumer's requests and throttled (Sum per period)."""

    def query(metric: str) -> dict[str, Any]:
        return {
            "Id": metric,
            "MetricStat": {
                "Metric": {
                    "Namespace": config.metrics_namespace,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": config.function_name}],
                },
                "Period": config.period_seconds,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }

    return [query("requests"), query("throttled")]


def window(now: float, period: int) -> tuple[float, float]:
    """[since, until): the whole periods before `now` (epoch seconds) the query asks for:
    WINDOW_PERIODS, and those of the LATEST_LAG_SECONDS before them."""
    until = math.floor(now / period) * period
    late = math.ceil(LATEST_LAG_SECONDS / period)
    return until - (WINDOW_PERIODS + late) * period, until


def observations(
    results: Sequence[Mapping[str, Any]],
    now: float,
    span: tuple[float, float],
    period: int,
    visible: float | None,
) -> Observations:
    """Observations from GetMetricData's MetricDataResults (a metric without data: None) over
    the WINDOW_PERIODS periods that end with the newest one holding any point (none: the
    whole query's `span`, every figure None), and the queue's `visible` messages."""
    since, until = span
    everything = {str(r.get("Id")): _points(r) for r in results}
    newest = max((points[0][0] for points in everything.values() if points), default=None)
    if newest is not None:
        until = math.floor(newest / period) * period + period
        since = until - WINDOW_PERIODS * period
    series = {
        key: {at: value for at, value in points if since <= at < until}
        for key, points in everything.items()
    }
    requests, throttled = series.get("requests", {}), series.get("throttled", {})
    refused = sum(1 for at, sent in requests.items() if sent > 0 and throttled.get(at, 0.0) >= sent)
    return Observations(
        observed_at=now,
        since=since,
        until=until,
        requests=sum(requests.values()) if requests else None,
        throttled=sum(throttled.values()) if throttled else None,
        visible_messages=visible,
        periods_nothing_accepted=refused,
    )


def _points(result: Mapping[str, Any]) -> list[tuple[float, float]]:
    """(epoch seconds, value), newest first."""
    stamps = result.get("Timestamps") or []
    values = result.get("Values") or []
    points = [(_epoch(stamp), float(value)) for stamp, value in zip(stamps, values, strict=False)]
    return sorted(points, reverse=True)


def _epoch(stamp: Any) -> float:
    return stamp.timestamp() if isinstance(stamp, datetime) else float(stamp)


def queue_backlog(sqs: Any, queue_url: str) -> float:
    """Messages waiting in the queue now (GetQueueAttributes: visible, not in flight)."""
    answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[BACKLOG_ATTRIBUTE])
    return float(answer["Attributes"][BACKLOG_ATTRIBUTE])


@dataclass(frozen=True)
class Memory:
    """The law's memory of its own last change (None: unknown)."""

    previous_concurrency: int | None = None
    basis_until: float | None = None
    changed_at: float | None = None
    ceiling: int | None = None


def load_memory(ssm: Any, name: str, current: int) -> Memory:
    """The memory in the state parameter, or an empty one when it holds nothing, something
    else, or a setting the mapping no longer has."""
    try:
        text = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return Memory()
    try:
        stored = json.loads(text)
    except ValueError:
        return Memory()
    if not isinstance(stored, dict) or stored.get("concurrency") != current:
        return Memory()
    previous, ceiling = stored.get("previous_concurrency"), stored.get("ceiling")
    return Memory(
        previous if type(previous) is int else None,
        _stored_time(stored.get("basis_until")),
        _stored_time(stored.get("changed_at")),
        ceiling if type(ceiling) is int else None,
    )


def _stored_time(value: Any) -> float | None:
    """A stored time (epoch seconds), None when it is not a number."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value)


def save_memory(ssm: Any, name: str, state: GovernorState) -> None:
    """Write the law's memory of the change just made (the setting it applies to included)."""
    value = {
        "concurrency": state.concurrency,
        "previous_concurrency": state.previous_concurrency,
        "basis_until": state.basis_until,
        "changed_at": state.changed_at,
        "ceiling": state.ceiling,
    }
    ssm.put_parameter(Name=name, Value=json.dumps(value), Type="String", Overwrite=True)


def govern(config: GovernorConfig, clients: Clients, now: float) -> Decision:
    """One decision: read the mapping, the law's memory (with an SSM client and a state
    parameter), the backlog and the metrics; decide; update the mapping and the memory on a
    change."""
    mapping = clients.lambda_client.get_event_source_mapping(UUID=config.mapping_uuid)
    scaling = mapping.get("ScalingConfig") or {}
    current = int(scaling.get("MaximumConcurrency") or UNSET_CONCURRENCY)
    modified = mapping.get("LastModified")
    keeps = clients.ssm is not None and config.state_parameter is not None
    memory = load_memory(clients.ssm, str(config.state_parameter), current) if keeps else Memory()
    # The later of the two: a change by hand moves LastModified; an emulator that does not move
    # it on an update (LocalStack) still has the law's own record.
    known = [t for t in (_epoch(modified) if modified else None, memory.changed_at) if t]
    changed_at = max(known) if known else None
    visible = queue_backlog(clients.sqs, config.queue_url)
    span = window(now, config.period_seconds)
    answer = clients.cloudwatch.get_metric_data(
        MetricDataQueries=metric_queries(config),
        StartTime=datetime.fromtimestamp(span[0], UTC),
        EndTime=datetime.fromtimestamp(span[1], UTC),
        ScanBy="TimestampDescending",
    )
    seen = observations(
        answer.get("MetricDataResults", []), now, span, config.period_seconds, visible
    )
    state = GovernorState(
        config.law_settings,
        current,
        changed_at,
        memory.previous_concurrency,
        memory.basis_until,
        memory.ceiling,
    )
    decision = decide(state, seen)
    if decision.changed:
        clients.lambda_client.update_event_source_mapping(
            UUID=config.mapping_uuid,
            ScalingConfig={"MaximumConcurrency": decision.concurrency},
        )
        if keeps:  # after the update: a failed write leaves the memory stale, so unknown
            save_memory(clients.ssm, str(config.state_parameter), decision.state)
    emit_summary(decision_line(config, current, decision, seen))
    return decision


def decision_line(
    config: GovernorConfig, previous: int, decision: Decision, seen: Observations
) -> dict[str, Any]:
    """The decision's JSON log line, with `governor_concurrency` as an EMF metric."""
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
        "periods_nothing_accepted": seen.periods_nothing_accepted,
        "visible_messages": seen.visible_messages,
        "window": [seen.since, seen.until],
        "minimum": config.law_settings.minimum,
        "maximum": config.law_settings.maximum,
    }
