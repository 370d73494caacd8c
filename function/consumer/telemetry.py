"""Structured logs: JSON lines on stdout, and the per-invocation summary in CloudWatch EMF.

Every line carries an RFC 3339 `timestamp`, its `level`, the invocation's `request_id` and
whether it is the container's first invocation (`cold_start`). Lines below the level in
`AWS_LAMBDA_LOG_LEVEL` are not written, except the summary: it carries the metrics.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

METRIC_NAMES = (
    "received",
    "invalid",
    "duplicates",
    "coalesced",
    "operations",
    "requests",
    "throttled",
    "permanent",
    "transient",
    "dlq",
    "expired",
    "batch_failed",
    "not_attempted",
    "copy_skipped",
    "copy_failed_at_limit",
)
"""The per-invocation counts of contract section 3, `expired` (records dead-lettered with
that code), `batch_failed` (1 when the invocation failed as a whole or every record
failed), `not_attempted` (records whose change was not sent for lack of time),
`copy_skipped` (records due a copy that cannot have one: too big to take the retry facts)
and `copy_failed_at_limit` (records whose copy was not made on their last receive before
the redrive limit); each is also an EMF metric."""

HIGH_RESOLUTION_METRICS = frozenset({"requests", "throttled"})
"""Declared with StorageResolution 1: the governor reads them in periods of 10-30 s
(consumer.governor.run); the others keep CloudWatch's standard 1-minute resolution."""

LEVELS = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
"""Lambda's log levels (AWS_LAMBDA_LOG_LEVEL), lowest first."""
DEFAULT_LEVEL = "INFO"


class LogContext:
    """What every log line of the current invocation carries, and the level in force.

    One per container (the handler serves one invocation at a time); sender threads log
    with the same context.
    """

    minimum = LEVELS[DEFAULT_LEVEL]
    request_id: str | None = None
    cold_start = True

    @classmethod
    def configure(cls, environ: Mapping[str, str]) -> None:
        """Take the minimum level from AWS_LAMBDA_LOG_LEVEL (unknown or unset: INFO)."""
        name = environ.get("AWS_LAMBDA_LOG_LEVEL", "").strip().upper()
        cls.minimum = LEVELS.get(name, LEVELS[DEFAULT_LEVEL])

    @classmethod
    def begin(cls, request_id: str | None, cold_start: bool) -> None:
        """Start an invocation's lines."""
        cls.request_id, cls.cold_start = request_id, cold_start


def timestamp() -> str:
    """Now as RFC 3339 UTC with milliseconds, e.g. 2026-01-01T00:00:00.000Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _common(level: str) -> dict[str, Any]:
    return {
        "timestamp": timestamp(),
        "level": level,
        "request_id": LogContext.request_id,
        "cold_start": LogContext.cold_start,
    }


def log(level: str, message: str, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one JSON log line (unless `level` is below the level in force)."""
    if LEVELS.get(level, LEVELS["FATAL"]) < LogContext.minimum:
        return
    line = {**_common(level), "message": message, **fields}
    (stream or sys.stdout).write(json.dumps(line, default=str, separators=(",", ":")) + "\n")


def emf_envelope(
    namespace: str,
    metrics: Iterable[str],
    timestamp_ms: int,
    high_resolution: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The `_aws` key of an EMF line: `metrics` (counts) by FunctionName in `namespace`, those
    in `high_resolution` stored per second."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [_definition(name, name in high_resolution) for name in metrics],
                }
            ],
        }
    }


def _definition(name: str, high_resolution: bool) -> dict[str, Any]:
    """One EMF MetricDefinition (a count)."""
    if high_resolution:
        return {"Name": name, "Unit": "Count", "StorageResolution": 1}
    return {"Name": name, "Unit": "Count"}


def invocation_summary(
    counts: dict[str, int],
    namespace: str,
    function_name: str,
    extra: dict[str, Any] | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The summary line: the counts as top-level fields, declared as EMF metrics."""
    return {
        **emf_envelope(
            namespace,
            METRIC_NAMES,
            int(time.time() * 1000) if now_ms is None else now_ms,
            HIGH_RESOLUTION_METRICS,
        ),
        **_common("INFO"),
        "message": "batch processed",
        "FunctionName": function_name,
        **{name: int(counts.get(name, 0)) for name in METRIC_NAMES},
        **(extra or {}),
    }


def emit_summary(summary: dict[str, Any], stream: TextIO | None = None) -> None:
    """Write the summary as one line (CloudWatch turns it into metrics), whatever the level
    in force: dropping it would drop the metrics."""
    (stream or sys.stdout).write(json.dumps(summary, default=str, separators=(",", ":")) + "\n")
