"""The handler against attacks and edge cases found after 0.1.0: nothing acknowledged unless
applied, no valid record dead-lettered by mistake, numbers and text intact, failures visible.
Real HTTP (the local entity API server) and a real SQS API (moto)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Harness

UNREACHABLE_DLQ = "http://127.0.0.1:9/000000000000/unreachable-dlq"


class RecordingApi:
    """The local entity API server, keeping every request body as it arrived (raw bytes)."""

    def __init__(self) -> None:
        from localcloud.entity_api_server import EntityApiServer

        bodies: list[bytes] = []

        class Recording(EntityApiServer):
            def handle_batch(self, body: bytes, authorization: str | None) -> Any:
                bodies.append(body)
                return super().handle_batch(body, authorization)

        self.server = Recording()
        self.bodies = bodies

    def operations(self) -> list[dict[str, Any]]:
        """Every operation received, in order (parsed)."""
        return [op for body in self.bodies for op in json.loads(body)["operations"]]


@pytest.fixture
def recording_api() -> Iterator[RecordingApi]:
    api = RecordingApi()
    with api.server:
        yield api


def merged(*event_ids: str) -> str:
    """The op_id of an operation carrying these changes (contract section 2)."""
    return "merged:" + hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()


# --- an op_id names exactly its changes; 409 then means applied --------------------------


def test_an_older_update_merged_with_an_applied_one_is_applied_not_taken_for_a_409(
    h: Harness, recording_api: RecordingApi
) -> None:
    warm = h.warm(entity_api_url=recording_api.server.endpoint_url)
    # one instant: they may coalesce (an older x would not ride B's newer occurred_at)
    b = h.change("evB", "42", attributes={"y": 2}, occurred_at="2026-01-01T00:00:02Z")
    a = h.change("evA", "42", attributes={"x": 1}, occurred_at="2026-01-01T00:00:02Z")
    first = h.handle(h.event([b]), warm)  # applied; say the answer came too late
    second = h.handle(h.event([a, b]), warm)  # A, and B redelivered: they coalesce

    assert (first.failed, second.failed) == ([], [])
    assert h.dead() == []
    # x=1 reached the entity: the merged operation was not mistaken for B's retry
    assert recording_api.server.entities() == {"order:42": {"x": 1, "y": 2}}
    ops = recording_api.operations()
    assert [op["op_id"] for op in ops] == ["evB", merged("evA", "evB")]
    # one op_id never reaches the API with two different contents
    contents: dict[str, set[str]] = defaultdict(set)
    for op in ops:
        contents[op["op_id"]].add(json.dumps(op, sort_keys=True))
    assert all(len(seen) == 1 for seen in contents.values())


def test_an_event_id_a_merged_op_id_can_equal_is_refused_so_no_change_is_taken_for_a_409(
    h: Harness,
) -> None:
    # the producer's merged:<64 hex> would be applied first; a and b, coalesced later under the
    # same op_id, would then be answered 409 and never applied (issue 15, item 9)
    impostor = h.change(merged("a", "b"), "1", attributes={"z": 0})
    first = h.handle(h.event([impostor]))
    second = h.handle(h.event([h.change("a", "1"), h.change("b", "1")]))

    [dead] = h.dead()
    assert (dead["source_message_id"], dead["error_code"]) == ("m0", "schema_violation")
    assert "event_id" in dead["error_detail"]
    assert (first.failed, second.failed) == ([], [])
    assert [a["op_id"] for a in h.api.applied()] == [merged("a", "b")]
    assert h.api.applied()[0]["attributes"] == {"seen": "b"}


def test_every_operation_carries_the_newest_occurred_at_of_its_changes(
    h: Harness, recording_api: RecordingApi
) -> None:
    bodies = [
        h.change("u2", "1", occurred_at="2026-01-01T00:00:02+01:00"),  # 23:00:02Z the day before
        h.change("u1", "1", occurred_at="2026-01-01T00:00:01Z"),
        h.change("d1", "2", "delete", occurred_at="2026-01-02T03:04:05.678Z"),
    ]
    run = h.handle(h.event(bodies), h.warm(entity_api_url=recording_api.server.endpoint_url))

    assert run.failed == []
    by_id = {op["op_id"]: op for op in recording_api.operations()}
    assert by_id[merged("u1", "u2")]["occurred_at"] == "2026-01-01T00:00:01Z"
    assert by_id["d1"]["occurred_at"] == "2026-01-02T03:04:05.678Z"


# --- a request starts only when its whole timeout fits -----------------------------------


def test_no_request_starts_that_could_be_applied_after_its_records_were_reported_failed(
    h: Harness,
) -> None:
    # 3.5 s budget = 0.5 s margin + 1.5 s DLQ reserve + 1.5 s for delivery; the request timeout
    # is 2 s and the API takes 2 s: before the fix the request started with its timeout cut
    # to 1.5 s, timed out, was reported failed, and was applied by the API afterwards
    h.api.set_faults({"latency_seconds": 2.0})
    run = h.handle(
        h.event([h.change("a"), h.change("b", "2")]),
        h.warm(entity_api_timeout_seconds=2.0),
        3.5,
    )
    time.sleep(1.0)  # anything started is answered by now

    assert run.failed == ["m0", "m1"]
    assert h.api.applied() == []
    assert h.api.stats()["requests"] == 0


# --- UTF-8 operations; coalescing stops before an operation gets too large ----------------


def test_a_600_kb_body_of_cjk_text_is_applied_not_dead_lettered(
    h: Harness, recording_api: RecordingApi
) -> None:
    text = "漢字かな" * 50_000  # 200,000 characters, 600,000 UTF-8 bytes
    body = json.dumps(h.change("cjk", attributes={"note": text}), ensure_ascii=False)
    run = h.handle(
        h.event([body]),
        h.warm(entity_api_url=recording_api.server.endpoint_url),
    )

    assert run.failed == []
    assert h.dead() == []
    [op] = recording_api.operations()
    assert op["attributes"]["note"] == text
    assert len(recording_api.bodies[0]) < 610_000  # UTF-8, not \uXXXX escapes


def test_three_large_updates_with_distinct_keys_are_applied_not_merged_past_the_limit(
    h: Harness, recording_api: RecordingApi
) -> None:
    bodies = [
        h.change(
            f"big{n}",
            "7",
            attributes={f"k{n}": "v" * 400_000},
            occurred_at="2026-01-01T00:00:00Z",  # one instant: only the size limit splits
        )
        for n in range(3)
    ]
    run = h.handle(h.event(bodies), h.warm(entity_api_url=recording_api.server.endpoint_url))

    assert run.failed == []
    assert h.dead() == []
    state = recording_api.server.entities()["order:7"]
    assert sorted(state) == ["k0", "k1", "k2"]
    assert all(len(body) <= 1_048_576 for body in recording_api.bodies)
    # the first two still coalesce (800 KB fits), the third goes on its own
    assert [op["op_id"] for op in recording_api.operations()] == [merged("big0", "big1"), "big2"]
    assert run.summary["coalesced"] == 1


def compact_body(event_id: str, entity_id: str, size: int) -> str:
    """A valid update body of exactly `size` bytes (compact JSON)."""
    message = {
        "event_id": event_id,
        "entity_type": "order",
        "entity_id": entity_id,
        "op": "update",
        "attributes": {"pad": ""},
        "occurred_at": "2026-01-01T00:00:00Z",
    }
    empty = len(json.dumps(message, separators=(",", ":")))
    message["attributes"] = {"pad": "p" * (size - empty)}
    body = json.dumps(message, separators=(",", ":"))
    assert len(body) == size
    return body


def test_a_single_change_too_large_alone_goes_to_the_dlq_saying_so(h: Harness) -> None:
    # the body fits MAX_REQUEST_BYTES, the request (envelope + operation) does not; the next
    # change on the entity is not sent, and its detail names the first and the cause
    bodies = [
        compact_body("huge", "1", 1_022),
        h.change("after", "1", occurred_at="2026-01-01T00:00:01Z"),
        h.change("fine", "2"),
    ]
    run = h.handle(h.event(bodies), h.warm(max_request_bytes=1_024))

    assert run.failed == []
    assert [a["op_id"] for a in h.api.applied()] == ["fine"]
    dead = {m["source_message_id"]: m for m in h.dead()}
    assert dead["m0"]["error_code"] == "schema_violation"
    assert "this change alone" in dead["m0"]["error_detail"]
    assert "MAX_REQUEST_BYTES" in dead["m0"]["error_detail"]
    assert dead["m1"]["error_code"] == "rejected_by_api"
    assert "earlier change huge" in dead["m1"]["error_detail"]
    assert "too large" in dead["m1"]["error_detail"]


# --- the schema refuses a final newline ----------------------------------------------------


def test_a_trailing_newline_in_event_id_or_entity_type_is_a_schema_violation(h: Harness) -> None:
    bodies = [
        h.change("e1"),
        h.change("e1\n"),
        {**h.change("e2", "2"), "entity_type": "order\n"},
        h.change("e3", "3", occurred_at="2026-01-01T00:00:00Z\n"),
    ]
    run = h.handle(h.event(bodies), h.warm())

    assert run.failed == []
    assert [a["op_id"] for a in h.api.applied()] == ["e1"]
    assert sorted((m["source_message_id"], m["error_code"]) for m in h.dead()) == [
        ("m1", "schema_violation"),
        ("m2", "schema_violation"),
        ("m3", "schema_violation"),
    ]


# --- numbers reach the API with the value they were sent with ------------------------------


def test_numbers_reach_the_api_as_they_were_sent(h: Harness, recording_api: RecordingApi) -> None:
    numbers = ["12345678901234567890.5", "1e309", "-0.0", "1.50", "0.1", "7", "1E-7", "9" * 30]
    attributes = "{" + ",".join(f'"n{k}":{n}' for k, n in enumerate(numbers)) + "}"
    body = (
        '{"event_id":"num","entity_type":"order","entity_id":"1","op":"update",'
        f'"attributes":{attributes},"occurred_at":"2026-01-01T00:00:00Z"}}'
    )
    run = h.handle(
        h.event([body, h.change("plain", "2", attributes={"f": 2.5, "i": 3})]),
        h.warm(entity_api_url=recording_api.server.endpoint_url),
    )

    assert run.failed == []
    assert h.dead() == []
    sent = b"".join(recording_api.bodies)
    assert b'"attributes":' + attributes.encode() in sent
    assert b'"attributes":{"f":2.5,"i":3}' in sent


# --- malformed events real SQS never sends still settle correctly -------------------------


def test_a_record_whose_body_is_an_object_keeps_its_content_in_the_dlq(h: Harness) -> None:
    record = h.record("placeholder", "m0")
    record["body"] = {"event_id": "obj", "note": "kept"}
    run = h.handle({"Records": [record]}, h.warm())

    assert run.failed == []
    [dead] = h.dead()
    assert json.loads(dead["body"]) == {"event_id": "obj", "note": "kept"}
    assert dead["error_code"] == "invalid_json"


@pytest.mark.parametrize("records", [{"m0": {}}, "Records", 7, None])
def test_records_that_are_not_a_list_are_an_error_line(h: Harness, records: Any) -> None:
    run = h.handle({"Records": records}, h.warm())

    assert run.response == {"batchItemFailures": []}
    [error] = run.errors()
    assert "no Records list" in error["message"]
    assert run.summary["received"] == 0


@pytest.mark.parametrize("sent", [float("inf"), float("-inf"), float("nan"), "Infinity", 1e400])
def test_a_sent_timestamp_of_infinity_does_not_throw_the_batch_back(h: Harness, sent: Any) -> None:
    record = h.record(h.change("a"), "m0")
    record["attributes"]["SentTimestamp"] = sent
    run = h.handle({"Records": [record, h.record(h.change("b", "2"), "m1")]}, h.warm())

    assert run.failed == []
    assert sorted(a["op_id"] for a in h.api.applied()) == ["a", "b"]


# --- failures that show ----------------------------------------------------------------------


def test_an_unexpected_answer_is_logged_without_its_body(h: Harness) -> None:
    h.api.set_faults({"status_always": 418})
    run = h.handle(h.event([h.change("a")]), h.warm())

    assert run.failed == ["m0"]
    [error] = run.errors()
    assert "418" in error["detail"]
    assert "injected fault" not in json.dumps(run.logs)  # the body the API answered with


def test_an_unreachable_api_is_one_error_line_with_its_cause(h: Harness) -> None:
    bodies = [h.change(f"e{n}", str(n)) for n in range(9)]
    warm = h.warm(
        entity_api_url="http://127.0.0.1:9/v1/batch",
        max_operations_per_request=2,
        entity_api_timeout_seconds=0.5,
    )
    run = h.handle(h.event(bodies), warm, 6.0)

    assert len(run.failed) == 9
    [error] = run.errors()
    assert "unreachable" in error["message"]
    assert "refused" in error["cause"].lower()
    assert error["requests"] >= 5


def test_every_log_line_carries_timestamp_level_request_id_and_cold_start(h: Harness) -> None:
    warm = h.warm()
    first = h.handle(h.event([h.change("a"), "not json"]), warm)
    second = h.handle({"Records": "nope"}, warm)

    assert [line["cold_start"] for line in first.logs] == [True] * len(first.logs)
    assert [line["cold_start"] for line in second.logs] == [False] * len(second.logs)
    assert len(second.logs) == 2  # the error line and the summary
    for line in first.logs + second.logs:
        assert line["request_id"] == "req-test"
        assert line["level"] in {"INFO", "ERROR"}
        assert line["timestamp"].endswith("Z")
        assert time.strptime(line["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")


def test_at_log_level_error_the_summary_is_still_written(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consumer.batch import WarmState
    from consumer.telemetry import LogContext

    environ = {
        "ENTITY_API_URL": h.api.endpoint_url,
        "DLQ_URL": h.dlq,
        "AWS_LAMBDA_LOG_LEVEL": "ERROR",
    }
    try:
        warm = WarmState.from_environ(environ)
        h.api.set_faults({"status_always": 418})
        run = h.handle(h.event([h.change("a")]), warm)
    finally:
        LogContext.configure({})

    assert [line["level"] for line in run.logs] == ["ERROR", "INFO"]
    assert run.logs[-1]["message"] == "batch processed"


# --- metrics: batch_failed and expired -----------------------------------------------------


def test_batch_failed_is_1_only_when_every_record_failed(h: Harness) -> None:
    h.api.set_faults({"status_always": 503, "retry_after": "0"})
    warm = h.warm(entity_api_timeout_seconds=1.0)
    all_failed = h.handle(h.event([h.change("a"), h.change("b", "2")]), warm, 4.0)
    h.api.set_faults({"op_status_by_op_id": {"c": 503}})
    some_failed = h.handle(h.event([h.change("c"), h.change("d", "2")]), warm)
    empty = h.handle({"Records": []}, warm)

    assert (all_failed.failed, all_failed.summary["batch_failed"]) == (["m0", "m1"], 1)
    assert (some_failed.failed, some_failed.summary["batch_failed"]) == (["m0"], 0)
    assert empty.summary["batch_failed"] == 0
    for run in (all_failed, some_failed, empty):
        assert run.summary["expired"] == 0
        names = [m["Name"] for m in run.summary["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
        assert {"batch_failed", "expired"} <= set(names)


# --- tests that let bugs through ----------------------------------------------------------


def test_a_rejected_record_is_retried_when_the_dlq_is_unreachable(h: Harness) -> None:
    h.api.set_faults({"op_status_by_op_id": {"bad": 422}})
    event = h.event([h.change("bad"), h.change("good", "2"), "not json"])
    run = h.handle(event, h.warm(dlq_url=UNREACHABLE_DLQ))

    assert run.failed == ["m0", "m2"]
    assert [a["op_id"] for a in h.api.applied()] == ["good"]
    assert run.summary["dlq"] == 0
    assert run.summary["permanent"] == 1


def test_two_entity_types_with_the_same_entity_id_never_coalesce_or_share_a_chain(
    h: Harness,
) -> None:
    h.api.set_faults({"op_status_by_entity": {"order:1": 422}})
    bodies = [
        h.change("o1", "1", attributes={"a": 1}, occurred_at="2026-01-01T00:00:01Z"),
        h.change(
            "c1",
            "1",
            attributes={"b": 1},
            occurred_at="2026-01-01T00:00:02Z",
            entity_type="customer",
        ),
        h.change("o2", "1", attributes={"a": 2}, occurred_at="2026-01-01T00:00:03Z", op="create"),
        h.change(
            "c2",
            "1",
            attributes={"b": 2},
            occurred_at="2026-01-01T00:00:04Z",
            entity_type="customer",
        ),
    ]
    run = h.handle(h.event(bodies), h.warm())

    assert run.failed == []
    # customer:1's two updates coalesce with each other only, and are applied although
    # order:1's first operation was rejected
    assert [(a["op_id"], a["entity"]) for a in h.api.applied()] == [
        (merged("c1", "c2"), "customer:1")
    ]
    assert h.api.entities() == {"customer:1": {"b": 2}}
    assert sorted(m["source_message_id"] for m in h.dead()) == ["m0", "m2"]
    assert run.summary["coalesced"] == 1


# --- a malformed URL fails the cold start naming the setting ------------------------------


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("ENTITY_API_URL", "http://[::1"),
        ("ENTITY_API_URL", "http://[::1/v1/batch"),
        ("ENTITY_API_URL", "https://[not-an-address]/v1/batch"),
        ("DLQ_URL", "http://[::1"),
    ],
)
def test_an_unclosed_ipv6_bracket_fails_the_cold_start_with_the_settings_error(
    name: str, url: str
) -> None:
    # urlsplit raises a bare ValueError on these; the cold start must name the setting
    env = {"ENTITY_API_URL": "http://127.0.0.1:9/x", "DLQ_URL": "http://q", name: url}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ENTITY_API", "DLQ_"))}
    function_dir = Path(__file__).resolve().parents[2] / "function"
    result = subprocess.run(
        [sys.executable, "-c", "import consumer.handler"],
        env={**clean, "PYTHONPATH": str(function_dir), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode != 0
    expected = f"{name} must be an http(s) URL with a host, got {url!r}"
    assert f"consumer.settings.SettingsError: {expected}" in result.stderr
