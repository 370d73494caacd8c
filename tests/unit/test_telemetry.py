"""The per-invocation summary line and its Embedded Metric Format directive."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime

import pytest

from consumer.telemetry import METRIC_NAMES, LogContext, emit_summary, invocation_summary, log
from consumer.time_budget import Deadline


@pytest.fixture(autouse=True)
def fresh_log_context() -> Iterator[None]:
    """Every test starts at level INFO with no invocation, and leaves it so."""
    LogContext.configure({})
    LogContext.begin(None, True)
    yield
    LogContext.configure({})
    LogContext.begin(None, True)


def test_summary_is_one_emf_line_with_the_contract_counts() -> None:
    stream = io.StringIO()
    counts = {name: n for n, name in enumerate(METRIC_NAMES)}
    emit_summary(invocation_summary(counts, "Team/Orders", "fn", {"applied": 3}, 1_000), stream)

    [line] = stream.getvalue().splitlines()
    document = json.loads(line)
    assert document["_aws"] == {
        "Timestamp": 1_000,
        "CloudWatchMetrics": [
            {
                "Namespace": "Team/Orders",
                "Dimensions": [["FunctionName"]],
                "Metrics": [
                    {"Name": name, "Unit": "Count"}
                    | ({"StorageResolution": 1} if name in {"requests", "throttled"} else {})
                    for name in METRIC_NAMES
                ],
            }
        ],
    }
    assert {name: document[name] for name in METRIC_NAMES} == counts
    assert (document["FunctionName"], document["applied"]) == ("fn", 3)
    # every dimension named in the directive is a top-level string field, as EMF requires
    assert all(
        isinstance(document[d], str)
        for d in document["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
    )


def test_metric_names_are_the_contract_names() -> None:
    assert METRIC_NAMES == (
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


def test_missing_counts_are_zero_and_log_lines_are_json() -> None:
    document = invocation_summary({}, "N", "fn")
    stream = io.StringIO()
    LogContext.begin("req-1", False)
    log("ERROR", "something", stream, detail={"a": 1})

    assert all(document[name] == 0 for name in METRIC_NAMES)
    line = json.loads(stream.getvalue())
    stamp = line.pop("timestamp")
    assert line == {
        "level": "ERROR",
        "request_id": "req-1",
        "cold_start": False,
        "message": "something",
        "detail": {"a": 1},
    }
    assert_rfc3339_utc(stamp)


def assert_rfc3339_utc(stamp: str) -> None:
    """An RFC 3339 date-time in UTC with milliseconds: 2026-01-01T00:00:00.000Z."""
    assert len(stamp) == 24
    assert stamp[10] == "T"
    assert stamp.endswith("Z")
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs(parsed.timestamp() - datetime.now().timestamp()) < 60


def test_every_line_and_the_summary_carry_timestamp_level_request_id_and_cold_start() -> None:
    stream = io.StringIO()
    LogContext.begin("req-7", True)
    log("WARN", "w", stream)
    emit_summary(invocation_summary({}, "N", "fn"), stream)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["level"] for line in lines] == ["WARN", "INFO"]
    for line in lines:
        assert (line["request_id"], line["cold_start"]) == ("req-7", True)
        assert_rfc3339_utc(line["timestamp"])


@pytest.mark.parametrize(
    ("level", "written"),
    [
        ("DEBUG", ["DEBUG", "INFO", "WARN", "ERROR"]),
        ("INFO", ["INFO", "WARN", "ERROR"]),
        ("WARN", ["WARN", "ERROR"]),
        ("error", ["ERROR"]),
        ("FATAL", []),
        ("", ["INFO", "WARN", "ERROR"]),
        ("LOUD", ["INFO", "WARN", "ERROR"]),
    ],
)
def test_aws_lambda_log_level_is_honoured_but_the_summary_always_written(
    level: str, written: list[str]
) -> None:
    LogContext.configure({"AWS_LAMBDA_LOG_LEVEL": level})
    stream = io.StringIO()
    for name in ("DEBUG", "INFO", "WARN", "ERROR"):
        log(name, name.lower(), stream)
    emit_summary(invocation_summary({"received": 2}, "N", "fn"), stream)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["level"] for line in lines[:-1]] == written
    # the summary carries the metrics: it is written at any level
    assert (lines[-1]["message"], lines[-1]["received"]) == ("batch processed", 2)


class Context:
    def __init__(self, millis: object) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> object:
        return self.millis


def test_deadline_takes_the_remaining_time_minus_the_margin() -> None:
    # lower bounds too: a margin taken twice must fail
    assert 9.4 < Deadline.from_context(Context(10_000)).remaining() <= 9.5
    assert 9.9 < Deadline.from_context(Context(10_000), margin=0).remaining() <= 10
    assert Deadline.from_context(None).remaining() > 59
    assert Deadline.from_context(Context("soon")).remaining() > 59
    assert 2.5 < Deadline(5).earlier_by(2).remaining() <= 3
    assert -1.0 < Deadline(1).earlier_by(1.5).remaining() <= -0.5
