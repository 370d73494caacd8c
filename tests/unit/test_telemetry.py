"""The per-invocation summary line and its Embedded Metric Format directive."""

from __future__ import annotations

import io
import json

from consumer.telemetry import METRIC_NAMES, emit_summary, invocation_summary, log
from consumer.time_budget import Deadline


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
                "Metrics": [{"Name": name, "Unit": "Count"} for name in METRIC_NAMES],
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
    )


def test_missing_counts_are_zero_and_log_lines_are_json() -> None:
    document = invocation_summary({}, "N", "fn")
    stream = io.StringIO()
    log("ERROR", "something", stream, detail={"a": 1})

    assert all(document[name] == 0 for name in METRIC_NAMES)
    assert json.loads(stream.getvalue()) == {
        "level": "ERROR",
        "message": "something",
        "detail": {"a": 1},
    }


class Context:
    def __init__(self, millis: object) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> object:
        return self.millis


def test_deadline_takes_the_remaining_time_minus_the_margin() -> None:
    assert 9.4 < Deadline.from_context(Context(10_000)).remaining() <= 9.5
    assert 9.9 < Deadline.from_context(Context(10_000), margin=0).remaining() <= 10
    assert Deadline.from_context(None).remaining() > 59
    assert Deadline.from_context(Context("soon")).remaining() > 59
    assert Deadline(5).earlier_by(2).remaining() <= 3
