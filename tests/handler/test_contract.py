"""The handler over real HTTP (local entity API server) and a real SQS API (moto): one test per
clause of contract sections 2 and 3."""

from __future__ import annotations

import hashlib
import json
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Harness

BIG_ATTRIBUTES = {f"k{n}": "v" * 40 for n in range(20)}


def merged(*event_ids: str) -> str:
    """The op_id of an operation carrying these changes (contract section 2)."""
    return "merged:" + hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()


def test_valid_batch_is_applied_in_order_with_nothing_to_retry(h: Harness) -> None:
    run = h.handle(h.fixture("sqs_event_mixed"), h.warm())

    assert run.failed == []
    applied = h.api.applied()
    # evt-3 (11:00+01:00 = 10:00Z) sorts before evt-2 (10:05Z). They do not coalesce:
    # evt-2 does not set carrier, which would then be sent as of 10:05 (contract section 3).
    assert [(a["op_id"], a["op"], a["entity"]) for a in applied] == [
        ("evt-5", "delete", "customer:c-7"),
        ("evt-1", "create", "order:1001"),
        ("evt-3", "update", "order:1001"),
        ("evt-2", "update", "order:1001"),
    ]
    assert [a["attributes"] for a in applied[2:]] == [
        {"status": "shipped", "carrier": "dhl"},
        {"status": "paid"},
    ]
    assert {m["source_message_id"]: m["error_code"] for m in h.dead()} == {
        "a6": "invalid_json",
        "a7": "schema_violation",
    }
    counts = {k: run.summary[k] for k in ("received", "invalid", "duplicates", "coalesced")}
    assert counts == {"received": 7, "invalid": 2, "duplicates": 1, "coalesced": 0}
    assert (run.summary["operations"], run.summary["requests"], run.summary["dlq"]) == (4, 3, 2)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not an object"),
        ('"just a string"', "not an object"),
        ('{"event_id": NaN}', "NaN"),
        ("caf\udce9", "UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ("", "not JSON"),
    ],
)
def test_body_that_is_not_a_utf8_json_object_goes_to_the_dlq(
    body: str, detail: str, h: Harness
) -> None:
    run = h.handle(h.event([body, h.change("ok-1")]), h.warm())

    assert run.failed == []
    [message] = h.dead()
    assert message["error_code"] == "invalid_json"
    assert message["source_message_id"] == "m0"
    assert detail in message["error_detail"]
    assert run.summary["invalid"] == 1
    assert run.summary["dlq"] == 1


@pytest.mark.parametrize(
    ("mutation", "detail"),
    [
        ({"occurred_at": "2026-13-45T25:00:00Z"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"event_id": "has spaces"}, "event_id"),
        ({"event_id": "e" * 129}, "event_id"),
        ({"entity_type": "Order"}, "entity_type"),
        ({"entity_id": ""}, "entity_id"),
        ({"entity_id": "x" * 257}, "entity_id"),
        ({"op": "upsert"}, "op"),
        ({"attributes": None}, "attributes"),
        ({"attributes": {f"a{n}": n for n in range(101)}}, "attributes"),
        ({"surprise": 1}, "surprise"),
        ({"op": "delete", "attributes": {"a": 1}}, "attributes"),
    ],
)
def test_schema_violation_goes_to_the_dlq_with_a_bounded_detail(
    mutation: dict[str, Any], detail: str, h: Harness
) -> None:
    body = {**h.change("bad-1"), **mutation}
    run = h.handle(h.event([body]), h.warm())

    assert run.failed == []
    [message] = h.dead()
    assert message["error_code"] == "schema_violation"
    assert detail in message["error_detail"]
    assert len(message["error_detail"].encode()) <= 1024
    assert json.loads(message["body"]) == body


def test_update_without_attributes_and_delete_without_them(h: Harness) -> None:
    no_attributes = h.change("u-1")
    del no_attributes["attributes"]
    delete_empty = {**h.change("d-1", "2", "delete"), "attributes": {}}
    run = h.handle(h.event([no_attributes, delete_empty, h.change("d-2", "3", "delete")]), h.warm())

    assert run.failed == []
    assert [m["source_message_id"] for m in h.dead()] == ["m0"]
    assert [a["op_id"] for a in h.api.applied()] == ["d-1", "d-2"]


def test_oversized_body_goes_to_the_dlq(h: Harness) -> None:
    huge = h.change("huge-1", attributes={"blob": "x" * 5000})
    run = h.handle(h.event([huge, h.change("small-1", "2")]), h.warm(max_request_bytes=4096))

    assert run.failed == []
    [message] = h.dead()
    assert (message["error_code"], message["source_message_id"]) == ("schema_violation", "m0")
    assert "MAX_REQUEST_BYTES" in message["error_detail"]
    assert [a["op_id"] for a in h.api.applied()] == ["small-1"]


def test_duplicates_are_sent_once_and_share_the_outcome(h: Harness) -> None:
    h.api.set_faults({"op_status_by_op_id": {"dup-1": 500}})
    event = h.event(
        [h.change("dup-1"), h.change("dup-1"), h.change("other", "2"), h.change("dup-1")]
    )
    run = h.handle(event, h.warm())

    assert h.api.stats()["operations"] == 2
    assert run.failed == ["m0", "m1", "m3"]
    assert run.summary["duplicates"] == 2


def test_consecutive_updates_coalesce_by_occurred_at_then_sent_timestamp(h: Harness) -> None:
    at = "2026-01-01T00:00:0{}Z"
    records = [
        h.record(h.change("u3", attributes={"a": 3, "b": 3}, occurred_at=at.format(3)), "m0", 1),
        h.record(h.change("u1", attributes={"a": 1, "b": 1}, occurred_at=at.format(1)), "m1", 9),
        h.record(h.change("u2b", attributes={"b": 22, "c": 22}, occurred_at=at.format(2)), "m2", 8),
        h.record(h.change("u2a", attributes={"a": 21, "b": 21}, occurred_at=at.format(2)), "m3", 7),
    ]
    run = h.handle({"Records": records}, h.warm())

    # u3 does not set c: merged, c (from 00:00:02) would be sent as of 00:00:03 (item 8)
    first, second = h.api.applied()
    assert first["op_id"] == merged("u1", "u2a", "u2b")
    assert first["attributes"] == {"a": 21, "b": 22, "c": 22}
    assert (second["op_id"], second["attributes"]) == ("u3", {"a": 3, "b": 3})
    assert run.summary["coalesced"] == 2
    assert run.failed == []


def test_an_older_attribute_value_does_not_ride_a_newer_change(h: Harness) -> None:
    # issue 15 item 8: shipped was applied at 10:03:30; this batch holds status: pending from
    # 10:03 and a 10:04 change of another attribute. Each goes alone, under its own time.
    bodies = [
        h.change("pending", attributes={"status": "pending"}, occurred_at="2026-01-01T10:03:00Z"),
        h.change("note", attributes={"note": "gift"}, occurred_at="2026-01-01T10:04:00Z"),
    ]
    run = h.handle(h.event(bodies), h.warm())

    assert [(a["op_id"], a["attributes"]) for a in h.api.applied()] == [
        ("pending", {"status": "pending"}),
        ("note", {"note": "gift"}),
    ]
    assert (run.summary["operations"], run.summary["coalesced"]) == (2, 0)


def test_coalesced_records_share_the_outcome_of_their_operation(h: Harness) -> None:
    h.api.set_faults({"op_status_by_entity": {"order:7": 422}})
    event = h.event([h.change("a", "7"), h.change("b", "7"), h.change("c", "8")])
    run = h.handle(event, h.warm())

    assert run.failed == []
    assert [a["op_id"] for a in h.api.applied()] == ["c"]
    assert run.summary["permanent"] == 1
    assert run.summary["dlq"] == 2


def test_operations_on_one_entity_keep_their_order_across_requests(h: Harness) -> None:
    ops = ["create", "update", "delete", "create", "delete", "create", "update"]
    bodies = [h.change(f"e{n}", "1", op) for n, op in enumerate(ops)]
    bodies += [h.change(f"x{n}", f"other-{n}", "create") for n in range(5)]
    run = h.handle(h.event(bodies), h.warm(max_operations_per_request=3))

    assert run.failed == []
    order = [a["op_id"] for a in h.api.applied() if a["entity"] == "order:1"]
    assert order == ["e0", "e1", "e2", "e3", "e4", "e5", "e6"]
    # never two operations on one entity in a request: the first wave (6 entities) takes two
    # requests of at most 3, then order:1's six later operations one wave each
    assert run.summary["requests"] == 8
    assert h.api.stats()["operations"] == 12


def test_an_operation_is_not_sent_after_an_earlier_one_failed_transiently(h: Harness) -> None:
    h.api.set_faults({"op_status_by_op_id": {"c1": 503}})
    event = h.event([h.change("c1", "1", "create"), h.change("u1", "1"), h.change("z", "2")])
    run = h.handle(event, h.warm())

    assert run.failed == ["m0", "m1"]
    assert h.api.stats()["operations"] == 2  # c1 and z; u1 never sent
    assert [a["op_id"] for a in h.api.applied()] == ["z"]


def test_an_operation_after_a_rejected_one_is_dead_lettered_with_it(h: Harness) -> None:
    h.api.set_faults({"op_status_by_op_id": {"c1": 422}})
    run = h.handle(h.event([h.change("c1", "1", "create"), h.change("u1", "1")]), h.warm())

    assert run.failed == []
    assert h.api.stats()["operations"] == 1
    by_source = {m["source_message_id"]: m for m in h.dead()}
    assert set(by_source) == {"m0", "m1"}
    assert all(m["error_code"] == "rejected_by_api" for m in by_source.values())
    # the detail names the earlier change and why it was rejected
    assert "earlier change c1" in by_source["m1"]["error_detail"]
    assert "entity API status 422" in by_source["m1"]["error_detail"]


def test_429_once_then_success_honours_retry_after(h: Harness) -> None:
    h.api.set_faults({"status_sequence": [429], "retry_after": "1"})
    run = h.handle(h.event([h.change("a"), h.change("b", "2")]), h.warm())

    assert run.failed == []
    assert len(h.api.applied()) == 2
    first, second = h.api.request_log()
    assert (first["status"], second["status"]) == (429, 200)
    assert second["time"] - first["time"] >= 0.95
    assert (run.summary["requests"], run.summary["throttled"]) == (2, 1)


def test_503_always_with_5_seconds_left_returns_in_time_and_fails_everything(h: Harness) -> None:
    h.api.set_faults({"status_always": 503})
    run = h.handle(
        h.event([h.change("a"), h.change("b", "2"), h.change("c", "3")]),
        h.warm(entity_api_timeout_seconds=1.0),
        5.0,
    )

    assert run.seconds < 5.0
    assert run.failed == ["m0", "m1", "m2"]
    assert h.dead() == []
    assert run.summary["requests"] >= 2  # it did retry
    assert run.summary["transient"] == 3


def test_retry_after_longer_than_the_budget_is_not_waited_for(h: Harness) -> None:
    h.api.set_faults({"status_always": 429, "retry_after": "120"})
    run = h.handle(h.event([h.change("a")]), h.warm(entity_api_timeout_seconds=2.0), 10.0)

    assert run.seconds < 2.0
    assert run.failed == ["m0"]
    assert run.summary["requests"] == 1


def test_retry_after_as_an_http_date(h: Harness) -> None:
    # a date 3 s ahead (whole seconds: at least 2 s from now): the retry waits for it
    retry_at = formatdate(int(time.time()) + 3, usegmt=True)
    h.api.set_faults({"status_sequence": [503], "retry_after": retry_at})
    run = h.handle(h.event([h.change("a")]), h.warm())

    assert run.failed == []
    assert run.summary["throttled"] == 1
    first, second = h.api.request_log()
    assert (first["status"], second["status"]) == (503, 200)
    assert second["time"] - first["time"] >= 1.9


def test_per_operation_mix_of_200_409_422_500(h: Harness) -> None:
    h.api.set_faults({"op_status_by_op_id": {"e200": 200, "e409": 409, "e422": 422, "e500": 500}})
    bodies = [h.change(f"e{s}", str(s)) for s in (200, 409, 422, 500)]
    run = h.handle(h.event(bodies), h.warm())

    assert run.failed == ["m3"]
    [message] = h.dead()
    assert (message["source_message_id"], message["error_code"]) == ("m2", "rejected_by_api")
    assert "422" in message["error_detail"]
    assert (run.summary["permanent"], run.summary["transient"]) == (1, 1)


@pytest.mark.parametrize(("status", "throttled"), [(429, 1), (503, 0), (500, 0)])
def test_a_per_operation_429_counts_as_throttled_and_a_503_does_not(
    h: Harness, status: int, throttled: int
) -> None:
    # a 200 answer in which the API throttled some operations asks the caller to slow down
    # as a whole-request 429 does; a per-operation 503 is an outage of that entity's store
    h.api.set_faults({"op_status_by_entity": {"order:2": status, "order:3": status}})
    run = h.handle(h.event([h.change(f"e{n}", str(n)) for n in range(4)]), h.warm())

    assert run.failed == ["m2", "m3"]
    assert (run.summary["requests"], run.summary["throttled"]) == (1, throttled)
    assert run.summary["transient"] == 2


@pytest.mark.parametrize(("status", "slowed"), [(429, True), (503, False), (200, False)])
def test_the_pacer_is_slowed_by_a_per_operation_429(h: Harness, status: int, slowed: bool) -> None:
    from consumer.aggregation import Operation, encode_operation
    from consumer.delivery import Pacer
    from consumer.entity_api import CallStats, EntityApiClient
    from consumer.settings import Settings
    from consumer.time_budget import Deadline

    h.api.set_faults({"op_status_by_entity": {"order:1": status}})
    operations = []
    for entity in ("1", "2"):
        message = json.loads(json.dumps(h.change(f"e{entity}", entity)))
        operations.append(Operation(f"e{entity}", ("order", entity), message, [0], [f"e{entity}"]))
        encode_operation(operations[-1])
    pacer = Pacer()
    client = EntityApiClient(Settings(entity_api_url=h.api.endpoint_url, dlq_url=h.dlq))
    client.send(operations, Deadline(20.0), CallStats(), pacer)

    assert pacer.limiter.enabled is slowed


def test_a_400_caused_by_one_operation_is_bisected_down_to_it(h: Harness) -> None:
    h.api.set_faults({"reject_entities": ["order:5"]})
    run = h.handle(h.event([h.change(f"e{n}", str(n)) for n in range(8)]), h.warm())

    assert run.failed == []
    assert sorted(a["op_id"] for a in h.api.applied()) == [f"e{n}" for n in range(8) if n != 5]
    [message] = h.dead()
    assert (message["source_message_id"], message["error_code"]) == ("m5", "rejected_by_api")
    assert "400" in message["error_detail"]
    # 8 -> 4+4 -> the bad four splits 2+2 -> the bad two splits 1+1: 7 requests
    assert run.summary["requests"] == 7


def test_401_is_a_configuration_fault_every_operation_transient(h: Harness) -> None:
    from localcloud.entity_api_server import EntityApiServer

    with EntityApiServer(token="right-token") as api:
        rt = h.warm(entity_api_url=api.endpoint_url, token="wrong-token")
        bodies = [h.change(f"e{n}", str(n)) for n in range(5)]
        run = h.handle(h.event(bodies), rt)

        assert run.failed == [f"m{n}" for n in range(5)]
        assert h.dead() == []
        assert api.applied() == []
        [error] = run.errors()
        assert "401" in error["detail"]
        assert "wrong-token" not in json.dumps(run.logs)


def test_a_token_is_sent_as_a_bearer(h: Harness) -> None:
    from localcloud.entity_api_server import EntityApiServer

    with EntityApiServer(token="s3cret") as api:
        run = h.handle(
            h.event([h.change("a")]), h.warm(entity_api_url=api.endpoint_url, token="s3cret")
        )

        assert run.failed == []
        assert len(api.applied()) == 1
        assert "s3cret" not in json.dumps(run.logs)


def test_a_200_with_a_garbage_body_is_transient(h: Harness) -> None:
    h.api.set_faults({"garbage_body": True})
    run = h.handle(h.event([h.change("a"), h.change("b", "2")]), h.warm())

    assert run.failed == ["m0", "m1"]
    assert h.dead() == []


def test_operations_without_a_result_are_transient(h: Harness) -> None:
    h.api.set_faults({"omit_results": ["b"]})
    run = h.handle(h.event([h.change("a"), h.change("b", "2"), h.change("c", "3")]), h.warm())

    assert run.failed == ["m1"]
    assert sorted(a["op_id"] for a in h.api.applied()) == ["a", "c"]


def test_an_api_slower_than_the_time_left_fails_everything_in_time(h: Harness) -> None:
    h.api.set_faults({"latency_seconds": 10})
    run = h.handle(h.event([h.change("a"), "not json"]), h.warm(), 3.0)

    assert run.seconds < 3.0
    assert run.failed == ["m0"]
    assert [m["source_message_id"] for m in h.dead()] == ["m1"]


def test_no_request_starts_when_too_little_time_is_left(h: Harness) -> None:
    run = h.handle(h.event([h.change("a")]), h.warm(), 1.0)

    assert run.failed == ["m0"]
    assert h.api.stats()["requests"] == 0


def test_requests_are_packed_by_encoded_bytes(h: Harness) -> None:
    from consumer.aggregation import Operation, encode_operation

    h.api.set_faults({"max_operations": 100, "max_request_bytes": 20_000})
    bodies = [h.change(f"e{n}", str(n), attributes=BIG_ATTRIBUTES) for n in range(60)]
    run = h.handle(h.event(bodies), h.warm(max_request_bytes=20_000))

    assert run.failed == []
    log = h.api.request_log()
    assert {entry["status"] for entry in log} == {200}
    assert all(entry["bytes"] <= 20_000 for entry in log)
    assert len(log) == run.summary["requests"] > 1
    # every request but the last packed was full: one more operation would not have fitted
    # (requests of a wave are sent concurrently, so they may arrive in any order)
    operations = [Operation(b["event_id"], ("order", b["entity_id"]), b, [0]) for b in bodies]
    assert [encode_operation(operation) for operation in operations] == [None] * len(bodies)
    largest = max(len(operation.encoded) for operation in operations)
    sizes = sorted((entry["bytes"] for entry in log), reverse=True)
    assert all(size + largest + 1 > 20_000 for size in sizes[:-1])


def test_requests_are_packed_by_operation_count(h: Harness) -> None:
    run = h.handle(h.event([h.change(f"e{n}", str(n)) for n in range(250)]), h.warm())

    assert run.failed == []
    assert h.api.stats()["ops_per_request"] == {"50": 1, "100": 2}


def test_dlq_send_failure_is_retried_once_then_reported(moto_endpoint: str, h: Harness) -> None:
    missing_queue = f"{moto_endpoint}/123456789012/no-such-queue"
    run = h.handle(h.event(["not json", h.change("a"), "[]"]), h.warm(dlq_url=missing_queue))

    assert run.failed == ["m0", "m2"]
    assert (run.summary["dlq"], run.summary["dlq_failed"]) == (0, 2)


def test_records_without_a_message_id_are_never_reported_with_a_bad_id(h: Harness) -> None:
    h.api.set_faults({"status_always": 500})
    records = [
        h.record("not json", None),
        h.record(h.change("a"), None),
        h.record(h.change("b", "2"), "m2"),
        {**h.record(h.change("c", "3"), "m3"), "messageId": ""},
    ]
    run = h.handle({"Records": records}, h.warm(), 3.0)

    assert run.failed == ["m2"]
    [message] = h.dead()
    assert message["source_message_id"] == "unknown"
    assert any("messageId" in e["message"] for e in run.errors())


@pytest.mark.parametrize(
    "event",
    [None, {}, {"Records": None}, {"Records": "x"}, {"Records": [None, 3, "x", {"body": None}]}],
)
def test_malformed_events_never_raise(event: Any, h: Harness) -> None:
    run = h.handle(event, h.warm())

    assert run.failed == []


def test_one_summary_line_in_embedded_metric_format(h: Harness) -> None:
    from consumer.telemetry import METRIC_NAMES

    run = h.handle(
        h.event([h.change("a"), h.change("a"), "x"]), h.warm(metrics_namespace="Team/Orders")
    )

    directive = run.summary["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Team/Orders"
    assert [m["Name"] for m in directive["Metrics"]] == list(METRIC_NAMES)
    assert all(isinstance(run.summary[name], int) for name in METRIC_NAMES)
    assert run.summary["FunctionName"] == "sqs-batch-consumer-test"
    assert isinstance(run.summary["_aws"]["Timestamp"], int)
    assert (run.summary["received"], run.summary["duplicates"], run.summary["invalid"]) == (3, 1, 1)


def test_a_rate_limited_api_is_waited_for_within_the_budget(h: Harness) -> None:
    from localcloud.entity_api_server import EntityApiServer

    with EntityApiServer(rate_per_second=2, burst=1) as api:
        bodies = [h.change(f"e{n}", str(n)) for n in range(6)]
        run = h.handle(
            h.event(bodies),
            h.warm(entity_api_url=api.endpoint_url, max_operations_per_request=2),
        )

        assert run.failed == []
        assert len(api.applied()) == 6
        assert run.summary["throttled"] >= 1
        assert api.stats()["status_counts"]["429"] == run.summary["throttled"]


def test_without_time_for_a_request_valid_records_are_retried_and_invalid_ones_dead_lettered(
    h: Harness,
) -> None:
    # 3 s left: after the SQS reserve, not even a request at its floor timeout fits, so
    # nothing is sent, yet every record is still judged (the schema check after delivery)
    bad = {**h.change("bad", "9", occurred_at="2026-01-02T00:00:00Z"), "op": "upsert"}
    run = h.handle(h.event([h.change("a"), bad, "not json", h.change("b", "2")]), h.warm(), 3.0)

    assert h.api.stats()["requests"] == 0
    assert run.failed == ["m0", "m3"]
    assert {m["source_message_id"]: m["error_code"] for m in h.dead()} == {
        "m1": "schema_violation",
        "m2": "invalid_json",
    }


def test_a_batch_arriving_with_no_time_left_is_retried_whole(h: Harness) -> None:
    bodies = [h.change(f"e{n}", str(n)) for n in range(3000)]
    run = h.handle(h.event(bodies), h.warm(), 0.3)

    assert len(run.failed) == 3000
    assert h.api.stats()["requests"] == 0
    assert h.dead() == []
    assert run.summary["received"] == 3000


def test_an_api_that_trickles_its_answer_cannot_hold_the_invocation_past_its_time(
    h: Harness,
) -> None:
    # Every byte comes well within the read timeout, so only a bound on the whole request
    # keeps the invocation inside its time: the answer would take ~20 s.
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    answer = b'HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{"results":[]}'

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            for byte in answer:
                if stop.wait(0.3):
                    return
                conn.sendall(bytes([byte]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1/operations:batch"
    try:
        started = time.monotonic()
        run = h.handle(h.event([h.change("a"), "not json"]), h.warm(entity_api_url=url), 3.0)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join(5)
        listener.close()

    assert elapsed < 3.0
    assert run.failed == ["m0"]
    assert [m["source_message_id"] for m in h.dead()] == ["m1"]


def test_no_entity_is_validated_once_the_delivery_deadline_has_passed(h: Harness) -> None:
    # Validation after delivery's deadline cannot help (no DLQ call fits in the time left)
    # and a large chain (a hot entity, a small Lambda) could run past the invocation's end.
    import time

    from consumer.batch import WarmState
    from consumer.records import load_validator

    class SlowValidator:
        def __init__(self) -> None:
            self.real = load_validator()

        def is_valid(self, message: Any) -> bool:
            time.sleep(0.05)
            return bool(self.real.is_valid(message))

        def iter_errors(self, message: Any) -> Any:
            return self.real.iter_errors(message)

    base = h.warm()
    warm = WarmState(base.settings, SlowValidator(), base.client)  # type: ignore[arg-type]
    first = [h.change(f"a{n}", "1", op="update") for n in range(30)]  # ~1.5 s to validate
    second = [h.change(f"b{n}", "2", op="update") for n in range(40)]  # ~2 s more

    run = h.handle(h.event(first + second), warm, 3.0)

    assert run.seconds < 2.5
    assert len(run.failed) == 70


def test_an_unexpected_error_while_sending_is_logged_and_its_records_retried(h: Harness) -> None:
    from consumer.batch import WarmState
    from consumer.entity_api import EntityApiClient

    class BrokenClient(EntityApiClient):
        def send(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("secret-looking text that must not be logged")

    base = h.warm()
    warm = WarmState(base.settings, base.validator, BrokenClient(base.settings))
    event = h.event([h.change("e1", "1"), h.change("e2", "2")])

    run = h.handle(event, warm)

    assert sorted(run.failed) == ["m0", "m1"]
    errors = [line for line in run.errors() if "sending a request failed" in line["message"]]
    assert errors, run.logs
    assert errors[0]["error"] == "RuntimeError"
    assert "secret-looking" not in json.dumps(run.logs)
