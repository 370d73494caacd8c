"""Structured logs: JSON lines on stdout, and the per-invocation summary in CloudWatch EMF."""

from __future__ import annotations

import json
import sys
import time
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
)
"""The per-invocation counts of contract section 3; each is also an EMF metric."""


def log(level: str, message: str, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one JSON log line."""
    line = {"level": level, "message": message, **fields}
    (stream or sys.stdout).write(json.dumps(line, default=str, separators=(",", ":")) + "\n")


def invocation_summary(
    counts: dict[str, int],
    namespace: str,
    function_name: str,
    extra: dict[str, Any] | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The summary line: the counts as top-level fields, declared as EMF metrics."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if now_ms is None else now_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in METRIC_NAMES],
                }
            ],
        },
        "level": "INFO",
        "message": "batch processed",
        "FunctionName": function_name,
        **{name: int(counts.get(name, 0)) for name in METRIC_NAMES},
        **(extra or {}),
    }


def emit_summary(summary: dict[str, Any], stream: TextIO | None = None) -> None:
    """Write the summary as one line (CloudWatch turns it into metrics)."""
    (stream or sys.stdout).write(json.dumps(summary, default=str, separators=(",", ":")) + "\n")
