"""Retries of transiently failed records against a real queue (moto's SQS server): visibility
backoff, backoff off, the retry horizon (`expired`), and the copy that keeps SQS's redrive
from dead-lettering a change the handler settled, whatever max_receive_count is.

Each test plays the event source mapping itself: receive from the queue, build the event,
run the handler, delete what it did not report as failed.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto_proxy import LATE, REFUSE, TRICKLE, MotoProxy, moto_proxy

from consumer.copies import MAX_MESSAGE_BYTES, CarriedFacts, unwrap, wrap

HOUR_MS = 3_600_000
ANSWER_503_AT_ONCE = {"status_always": 503, "retry_after": "0"}
"""An outage whose Retry-After (0) makes the backoff 0 s: a failed record is visible again
at once, so these tests need not wait."""


@dataclass
class Queue:
    """A source queue on moto's server, optionally with a redrive policy."""

    url: str
    arn: str
    redrive_dlq: str | None = None


@pytest.fixture
def make_queue(sqs: Any) -> Callable[..., Queue]:
    def create(max_receive_count: int | None = None) -> Queue:
        attributes: dict[str, str] = {"VisibilityTimeout": "300"}
        redrive_dlq = None
        if max_receive_count is not None:
            redrive_dlq = sqs.create_queue(QueueName=f"redrive-{uuid.uuid4().hex[:10]}")["QueueUrl"]
            target = _arn(sqs, redrive_dlq)
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": target, "maxReceiveCount": str(max_receive_count)}
            )
        url = sqs.create_queue(QueueName=f"src-{uuid.uuid4().hex[:10]}", Attributes=attributes)[
            "QueueUrl"
        ]
        return Queue(url, _arn(sqs, url), redrive_dlq)

    return create


def _arn(sqs: Any, url: str) -> str:
    answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(answer["Attributes"]["QueueArn"])


def publish(sqs: Any, queue: Queue, bodies: list[dict[str, Any]]) -> None:
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=queue.url,
            Entries=[
                {"Id": str(n), "MessageBody": json.dumps(body)}
                for n, body in enumerate(bodies[start : start + 10])
            ],
        )


def poll(sqs: Any, queue: Queue, want: int = 10, seconds: float = 5.0) -> dict[str, Any]:
    """Receive up to `want` messages as the event source mapping would, as a Lambda event."""
    records: list[dict[str, Any]] = []
    until = time.monotonic() + seconds
    while len(records) < want and time.monotonic() < until:
        answer = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=min(10, want - len(records)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        records += [_record(m, queue.arn) for m in answer.get("Messages", [])]
    return {"Records": records}


def _record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "messageAttributes": {
            name: _event_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }


def _event_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda's event has it (a Binary one base64-encoded)."""
    if "BinaryValue" in value:
        encoded = base64.b64encode(value["BinaryValue"]).decode()
        return {"dataType": value["DataType"], "binaryValue": encoded}
    return {"dataType": value["DataType"], "stringValue": value["StringValue"]}


def acknowledge(sqs: Any, queue: Queue, event: dict[str, Any], failed: list[str]) -> None:
    """Delete the records not reported as failed (ReportBatchItemFailures)."""
    for record in event["Records"]:
        if record["messageId"] not in failed:
            sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=record["receiptHandle"])


def count_visible(sqs: Any, queue: Queue) -> int:
    answer = sqs.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(answer["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture
def received_in_outage(
    h: Any, sqs: Any, make_queue: Callable[..., Queue]
) -> Callable[[int], tuple[Queue, dict[str, Any]]]:
    """`received_in_outage(count)`: (a new queue, the event of its `count` changes), the API
    answering 503 to everything from now on."""

    def receive(count: int) -> tuple[Queue, dict[str, Any]]:
        queue = make_queue()
        publish(sqs, queue, [h.change(f"e{n}", str(n)) for n in range(count)])
        h.api.set_faults(ANSWER_503_AT_ONCE)
        return queue, poll(sqs, queue, want=count)

    return receive


def test_transient_failures_come_back_after_their_backoff_not_the_visibility_timeout(
    h: Any, sqs: Any, received_in_outage: Callable[[int], tuple[Queue, dict[str, Any]]]
) -> None:
    queue, event = received_in_outage(12)
    run = h.handle(event, h.warm())

    assert len(run.failed) == 12
    assert run.summary["backoff_set"] == 12
    assert run.summary["backoff_failed"] == 0
    assert count_visible(sqs, queue) == 12  # back at once, not after the queue's 300 s


def test_with_backoff_off_the_visibility_is_left_alone(
    h: Any, sqs: Any, received_in_outage: Callable[[int], tuple[Queue, dict[str, Any]]]
) -> None:
    queue, event = received_in_outage(3)
    run = h.handle(event, h.warm(retry_backoff_max_seconds=0))

    assert len(run.failed) == 3
    assert run.summary["backoff_set"] == 0
    assert count_visible(sqs, queue) == 0  # still in flight for the queue's 300 s


def test_records_whose_visibility_cannot_be_set_are_still_reported_for_retry(
    h: Any, sqs: Any, received_in_outage: Callable[[int], tuple[Queue, dict[str, Any]]]
) -> None:
    queue, event = received_in_outage(3)
    event["Records"][1]["receiptHandle"] = "no-longer-valid"

    run = h.handle(event, h.warm())

    assert sorted(run.failed) == sorted(r["messageId"] for r in event["Records"])
    assert (run.summary["backoff_set"], run.summary["backoff_failed"]) == (2, 1)
    assert count_visible(sqs, queue) == 2


def test_a_record_whose_copy_cannot_be_sent_stays_on_the_normal_path(
    h: Any, sqs: Any, make_queue: Callable[..., Queue]
) -> None:
    # its queue cannot be read (so its redrive limit is unknown: a copy is due) nor written
    queue = make_queue()
    publish(sqs, queue, [h.change("a")])
    h.api.set_faults(ANSWER_503_AT_ONCE)
    event = poll(sqs, queue, want=1)
    event["Records"][0]["eventSourceARN"] = queue.arn.rsplit(":", 1)[0] + ":no-such-queue"

    run = h.handle(event, h.warm())

    assert run.failed == [event["Records"][0]["messageId"]]
    assert (run.summary["requeued"], run.summary["requeue_failed"]) == (0, 1)


def test_past_the_horizon_a_transient_failure_goes_to_the_dlq_as_expired(h: Any) -> None:
    now = int(time.time() * 1000)
    old = h.record(h.change("old", "1"), "m-old", now - HOUR_MS - 5_000)
    young = h.record(h.change("young", "2"), "m-young", now - HOUR_MS + 600_000)
    h.api.set_faults({"status_always": 503})

    run = h.handle({"Records": [old, young]}, h.warm(retry_backoff_max_seconds=0))

    assert run.failed == ["m-young"]
    [dead] = h.dead()
    assert (dead["source_message_id"], dead["error_code"]) == ("m-old", "expired")
    assert "RETRY_HORIZON_SECONDS" in dead["error_detail"]
    assert "last cause: entity API answered 503" in dead["error_detail"]
    assert (run.summary["expired"], run.summary["dlq"]) == (1, 1)


def test_the_horizon_counts_from_the_first_send_a_copy_carries(h: Any) -> None:
    now = int(time.time() * 1000)
    copy = h.record(h.change("copy", "1"), "m-copy", now)  # the copy itself was sent just now
    copy["messageAttributes"] = {
        "retry_first_sent_timestamp": {"dataType": "Number", "stringValue": str(now - 2 * HOUR_MS)},
        "retry_attempts": {"dataType": "Number", "stringValue": "7"},
    }
    h.api.set_faults({"status_always": 503})

    run = h.handle({"Records": [copy]}, h.warm(retry_backoff_max_seconds=0))

    assert run.failed == []
    [dead] = h.dead()
    assert dead["error_code"] == "expired"
    assert "8 attempts" in dead["error_detail"]


def test_an_invalid_record_past_the_horizon_keeps_its_own_error_code(h: Any) -> None:
    now = int(time.time() * 1000)
    bad = h.record({**h.change("bad"), "op": "upsert"}, "m-bad", now - 2 * HOUR_MS)
    h.api.set_faults({"status_always": 503})

    run = h.handle({"Records": [bad]}, h.warm())

    assert run.failed == []
    assert [m["error_code"] for m in h.dead()] == ["schema_violation"]


def test_an_outage_shorter_than_the_horizon_never_reaches_the_redrive_dlq(
    h: Any, sqs: Any, make_queue: Callable[..., Queue], dlq_messages: Any
) -> None:
    # max_receive_count 2: without the copy, SQS would move the change away on receive 3
    queue = make_queue(max_receive_count=2)
    publish(sqs, queue, [h.change("a", "1"), h.change("b", "2")])
    h.api.set_faults(ANSWER_503_AT_ONCE)
    warm = h.warm()
    requeued = 0
    for _ in range(5):
        event = poll(sqs, queue, want=2)
        assert len(event["Records"]) == 2
        run = h.handle(event, warm)
        acknowledge(sqs, queue, event, run.failed)
        requeued += run.summary["requeued"]

    assert requeued >= 2  # each change was copied at least once, on its second receive
    assert dlq_messages(queue.redrive_dlq) == []
    assert h.dead() == []
    h.api.set_faults({})
    event = poll(sqs, queue, want=2)
    run = h.handle(event, warm)
    acknowledge(sqs, queue, event, run.failed)
    assert run.failed == []
    assert sorted(op["op_id"] for op in h.api.applied()) == ["a", "b"]
    assert count_visible(sqs, queue) == 0


def test_the_copy_replaces_the_record_on_the_receive_before_the_limit(
    h: Any, sqs: Any, make_queue: Callable[..., Queue]
) -> None:
    queue = make_queue(max_receive_count=3)
    publish(sqs, queue, [h.change("a")])
    h.api.set_faults(ANSWER_503_AT_ONCE)
    warm = h.warm()

    first = poll(sqs, queue, want=1)
    run = h.handle(first, warm)
    assert run.summary["requeued"] == 0  # receive 1 of 3: its visibility is set
    second = poll(sqs, queue, want=1)
    run = h.handle(second, warm)

    assert run.failed == []  # receive 2 of 3: a copy took its place, receive 3 kept in hand
    assert run.summary["requeued"] == 1
    acknowledge(sqs, queue, second, run.failed)
    [copy] = poll(sqs, queue, want=1)["Records"]
    body, carried = unwrap(copy["body"])
    sent = second["Records"][0]["attributes"]["SentTimestamp"]
    assert carried is not None
    assert (carried.first_sent_ms, carried.attempts) == (int(sent), 2)
    assert carried.source_message_id == first["Records"][0]["messageId"]
    assert copy["attributes"]["ApproximateReceiveCount"] == "1"
    assert json.loads(body)["event_id"] == "a"


# ---- issue 15: the retry path without a single point of failure ------------------------------


def publish_one(
    sqs: Any, queue: Queue, body: dict[str, Any] | str, attributes: dict[str, Any]
) -> str:
    """Send one message with these message attributes; its MessageId."""
    text = body if isinstance(body, str) else json.dumps(body)
    answer = sqs.send_message(QueueUrl=queue.url, MessageBody=text, MessageAttributes=attributes)
    return str(answer["MessageId"])


def producer_attributes(kind: str) -> dict[str, Any]:
    """Attribute mixes producers set: a Binary one, 9 and 10 String/Number ones."""
    if kind == "binary":
        return {
            "trace": {"DataType": "Binary", "BinaryValue": b"\x00\x01trace\xff"},
            "tenant": {"DataType": "String", "StringValue": "acme"},
        }
    count = {"nine": 9, "ten": 10}[kind]
    return {
        f"tag{n}": {"DataType": "Number" if n % 2 else "String", "StringValue": str(n)}
        for n in range(count)
    }


def drain(
    h: Any, sqs: Any, queue: Queue, warm: Any, *, rounds: int, seconds: float = 30.0
) -> dict[str, int]:
    """Play the event source mapping for `rounds` receives; the summed summary counts."""
    totals: dict[str, int] = {}
    for _ in range(rounds):
        event = poll(sqs, queue, want=10, seconds=0.3)
        if not event["Records"]:
            continue
        run = h.handle(event, warm, seconds)
        acknowledge(sqs, queue, event, run.failed)
        for name in ("requeued", "requeue_failed", "copy_skipped", "dlq", "copy_unknown"):
            totals[name] = totals.get(name, 0) + int(run.summary.get(name, 0))
    return totals


@pytest.mark.parametrize("kind", ["binary", "nine", "ten"])
def test_a_copy_keeps_every_producer_attribute_and_the_redrive_never_moves_the_change(
    h: Any, sqs: Any, make_queue: Callable[..., Queue], dlq_messages: Any, kind: str
) -> None:
    # issue 15 item 2: with a Binary attribute or 9-10 attributes no copy was made, and SQS's
    # redrive moved the valid change to the DLQ without error_code
    queue = make_queue(max_receive_count=2)
    attributes = producer_attributes(kind)
    original = publish_one(sqs, queue, h.change("a", "1"), attributes)
    h.api.set_faults(ANSWER_503_AT_ONCE)
    warm = h.warm()

    totals = drain(h, sqs, queue, warm, rounds=4)

    assert totals["requeued"] >= 2
    assert totals.get("copy_skipped", 0) == 0
    assert dlq_messages(queue.redrive_dlq) == []
    answer = sqs.receive_message(
        QueueUrl=queue.url, MessageAttributeNames=["All"], AttributeNames=["All"]
    )
    [copy] = answer["Messages"]
    assert copy["MessageAttributes"] == attributes  # every one, Binary bytes as sent
    body, carried = unwrap(copy["Body"])
    assert carried is not None
    assert carried.source_message_id == original
    assert json.loads(body)["event_id"] == "a"
    sqs.change_message_visibility(
        QueueUrl=queue.url, ReceiptHandle=copy["ReceiptHandle"], VisibilityTimeout=0
    )
    h.api.set_faults({})
    drain(h, sqs, queue, warm, rounds=2)
    assert [op["op_id"] for op in h.api.applied()] == ["a"]
    assert h.dead() == []
    assert count_visible(sqs, queue) == 0


def test_a_copy_carries_the_attempts_of_the_copies_before_it(
    h: Any, sqs: Any, make_queue: Callable[..., Queue]
) -> None:
    # issue 15 item 10: a copy that restarted retry_attempts at its own receive count went
    # unnoticed (backoff restarts, `expired` undercounts)
    queue = make_queue(max_receive_count=2)  # a copy on every receive
    publish(sqs, queue, [h.change("a")])
    h.api.set_faults(ANSWER_503_AT_ONCE)
    warm = h.warm()
    carried_attempts = []
    for _ in range(4):
        event = poll(sqs, queue, want=1)
        [record] = event["Records"]
        _, carried = unwrap(record["body"])
        carried_attempts.append(carried.attempts if carried else None)
        assert record["attributes"]["ApproximateReceiveCount"] == "1"  # each time a new copy
        run = h.handle(event, warm)
        acknowledge(sqs, queue, event, run.failed)

    assert carried_attempts == [None, 1, 2, 3]


def test_an_expired_or_rejected_copy_names_the_producers_message_in_the_dlq(h: Any) -> None:
    # issue 15 item 2: DLQ entries named the delayed copy, which the producer never sent
    now = int(time.time() * 1000)
    old = CarriedFacts(now - 2 * HOUR_MS, 6, "producer-message-1")
    expired = h.record({}, "copy-1", now)
    expired["body"] = wrap(json.dumps(h.change("old", "1")), old)
    rejected = h.record({}, "copy-2", now)
    rejected["body"] = wrap(
        json.dumps(h.change("bad", "2")), CarriedFacts(now, 2, "producer-message-2")
    )
    h.api.set_faults({"op_status_by_op_id": {"old": 503, "bad": 422}})

    run = h.handle({"Records": [expired, rejected]}, h.warm(retry_backoff_max_seconds=0))

    assert run.failed == []
    dead = {m["source_message_id"]: m for m in h.dead()}
    assert dead["producer-message-1"]["error_code"] == "expired"
    assert dead["producer-message-2"]["error_code"] == "rejected_by_api"
    assert json.loads(dead["producer-message-1"]["body"])["event_id"] == "old"  # unwrapped


def test_a_rejected_change_with_ten_attributes_reaches_the_dlq_with_its_reason(
    h: Any, sqs: Any, make_queue: Callable[..., Queue]
) -> None:
    queue = make_queue(max_receive_count=2)
    publish_one(sqs, queue, h.change("bad", "1"), producer_attributes("ten"))
    h.api.set_faults({"op_status_by_op_id": {"bad": 422}})

    drain(h, sqs, queue, h.warm(), rounds=1)

    [dead] = h.dead()
    assert (dead["error_code"], json.loads(dead["body"])["event_id"]) == ("rejected_by_api", "bad")


def test_a_fresh_message_claiming_an_ancient_first_send_does_not_expire_at_its_first_failure(
    h: Any,
) -> None:
    # issue 15 item 9: `retry_first_sent_timestamp=1` on a producer's message expired it
    record = h.record(h.change("a"), "m-a", int(time.time() * 1000))
    record["messageAttributes"] = {
        "retry_first_sent_timestamp": {"dataType": "Number", "stringValue": "1"}
    }
    h.api.set_faults({"status_always": 503})

    run = h.handle({"Records": [record]}, h.warm(retry_backoff_max_seconds=0))

    assert run.failed == ["m-a"]
    assert h.dead() == []


def test_a_body_too_big_for_the_retry_facts_is_counted_and_said(
    h: Any, sqs: Any, make_queue: Callable[..., Queue]
) -> None:
    queue = make_queue(max_receive_count=2)
    change = h.change("big", "1", attributes={"pad": ""})
    change["attributes"]["pad"] = "x" * (MAX_MESSAGE_BYTES - len(json.dumps(change)) - 20)
    publish_one(sqs, queue, change, {})
    h.api.set_faults(ANSWER_503_AT_ONCE)
    event = poll(sqs, queue, want=1)

    run = h.handle(event, h.warm(max_request_bytes=2 * MAX_MESSAGE_BYTES))

    assert run.failed == [event["Records"][0]["messageId"]]  # back through its visibility
    assert run.summary["copy_skipped"] == 1
    [warning] = [line for line in run.logs if line["level"] == "WARN"]
    assert warning["reasons"] == {"too big to take the retry facts": 1}


def test_a_ten_second_function_with_the_default_api_timeout_delivers(h: Any) -> None:
    # issue 15 item 1: a request needed its whole 10 s timeout left to start: 0 requests
    bodies = [h.change(f"e{n}", str(n)) for n in range(40)]

    run = h.handle(h.event(bodies), h.warm(), seconds=10.0)

    assert run.failed == []
    assert run.summary["requests"] >= 1
    assert len(h.api.applied()) == 40


def test_the_smallest_function_timeout_plan_accepts_delivers(h: Any) -> None:
    # terraform/variables.tf: function_timeout >= min(API timeout, 1) + 3.25, so 5 s with the
    # default 10 s API timeout; a Lambda timeout is whole seconds
    bodies = [h.change(f"e{n}", str(n)) for n in range(40)]

    run = h.handle(h.event(bodies), h.warm(), seconds=5.0)

    assert run.failed == []
    assert len(h.api.applied()) == 40


def test_records_not_attempted_for_lack_of_time_are_said_and_counted(h: Any) -> None:
    bodies = [h.change(f"e{n}", str(n)) for n in range(5)]

    run = h.handle(h.event(bodies), h.warm(), seconds=2.5)

    assert len(run.failed) == 5
    assert run.summary["not_attempted"] == 5
    [warning] = [line for line in run.logs if line["level"] == "WARN"]
    assert "not attempted for lack of time" in warning["message"]
    assert warning["count"] == 5


# ---- faults of SQS itself: a proxy in front of moto's server (tests/moto_proxy.py) ----


def through(proxy: MotoProxy, url: str) -> str:
    """The same queue URL, reached through the proxy."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://127.0.0.1:{proxy.port}/{rest.split('/', 1)[1]}"


def queue_in_outage(h: Any, sqs: Any, queue: Queue) -> Queue:
    """`queue` with one change published, the API answering 503 to everything."""
    publish(sqs, queue, [h.change("a")])
    h.api.set_faults(ANSWER_503_AT_ONCE)
    return queue


@pytest.mark.parametrize("fault", [LATE, REFUSE])
def test_a_copy_call_answered_late_or_refused_is_sent_again_and_the_original_acknowledged(
    h: Any,
    sqs: Any,
    moto_endpoint: str,
    make_queue: Callable[..., Queue],
    dlq_messages: Any,
    fault: str,
) -> None:
    # issue 15 item 5: SendMessageBatch answered after the client's read timeout (SQS stored
    # the copy) left the original to SQS's redrive: the change reached the DLQ
    queue = queue_in_outage(h, sqs, make_queue(max_receive_count=2))
    with moto_proxy(moto_endpoint) as proxy:
        warm = h.warm(dlq_url=through(proxy, h.dlq))
        proxy.misbehave("SendMessageBatch", fault)
        event = poll(sqs, queue, want=1)

        run = h.handle(event, warm)

        assert proxy.seen["SendMessageBatch"] == 2  # sent again
    assert run.failed == []  # the copy exists: the original is acknowledged
    assert (run.summary["requeued"], run.summary["copy_unknown"]) == (1, 0)
    acknowledge(sqs, queue, event, run.failed)
    h.api.set_faults({})
    drain(h, sqs, queue, h.warm(), rounds=3)
    applied = [op["op_id"] for op in h.api.applied()]
    assert applied == ["a"]  # a second copy (the late one) is answered 409: applied once
    assert dlq_messages(queue.redrive_dlq) == []
    assert h.dead() == []
    assert count_visible(sqs, queue) == 0


def test_a_copy_refused_on_one_receive_is_made_on_the_next_before_the_redrive_limit(
    h: Any, sqs: Any, moto_endpoint: str, make_queue: Callable[..., Queue], dlq_messages: Any
) -> None:
    # issue 15 item 4: a record whose copy failed on the receive that reached the limit was
    # redriven at once; copies now start a receive earlier
    queue = queue_in_outage(h, sqs, make_queue(max_receive_count=3))
    with moto_proxy(moto_endpoint) as proxy:
        warm = h.warm(dlq_url=through(proxy, h.dlq))
        first = poll(sqs, queue, want=1)
        acknowledge(sqs, queue, first, h.handle(first, warm).failed)  # receive 1: visibility
        proxy.misbehave("SendMessageBatch", REFUSE, REFUSE)  # receive 2: both attempts refused
        second = poll(sqs, queue, want=1)
        run = h.handle(second, warm)
        assert run.failed == [second["Records"][0]["messageId"]]
        assert run.summary["copy_failed_at_limit"] == 0  # not the last receive
        acknowledge(sqs, queue, second, run.failed)
        third = poll(sqs, queue, want=1)  # receive 3 of 3: the copy is made
        assert third["Records"][0]["attributes"]["ApproximateReceiveCount"] == "3"
        run = h.handle(third, warm)
        acknowledge(sqs, queue, third, run.failed)

    assert (run.failed, run.summary["requeued"]) == ([], 1)
    h.api.set_faults({})
    drain(h, sqs, queue, h.warm(), rounds=2)
    assert [op["op_id"] for op in h.api.applied()] == ["a"]
    assert dlq_messages(queue.redrive_dlq) == []
    assert h.dead() == []


# ---- property: faults shorter than the horizon never put a valid change in a DLQ -------------

API_FAULTS = {
    "outage": ANSWER_503_AT_ONCE,
    "throttled": {"status_always": 429, "retry_after": "0"},
    "some_operations_fail": {"random_op_status": {"probability": 0.5, "statuses": [500]}},
    "healthy": {},
}


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    schedule=st.lists(
        st.tuples(st.sampled_from(sorted(API_FAULTS)), st.booleans()), min_size=1, max_size=5
    ),
    mixes=st.lists(
        st.tuples(st.sampled_from(["none", "binary", "nine", "ten"]), st.booleans()),
        min_size=1,
        max_size=6,
    ),
    max_receive_count=st.integers(min_value=2, max_value=4),
)
def test_faults_shorter_than_the_horizon_leave_no_valid_change_in_a_dlq(
    h: Any,
    sqs: Any,
    moto_endpoint: str,
    make_queue: Callable[..., Queue],
    dlq_messages: Any,
    schedule: list[tuple[str, bool]],
    mixes: list[tuple[str, bool]],
    max_receive_count: int,
) -> None:
    # a schedule of API faults, each round possibly with a copy call SQS refuses once, over
    # producers' attribute mixes and ~120 KB bodies; then the API is well and the queue drains
    queue = make_queue(max_receive_count=max_receive_count)
    prefix = uuid.uuid4().hex[:8]
    for n, (kind, big) in enumerate(mixes):
        change = h.change(f"{prefix}-{n}", f"{prefix}{n}")
        if big:
            change["attributes"]["pad"] = "x" * 120_000
        publish_one(sqs, queue, change, {} if kind == "none" else producer_attributes(kind))
    dlq = sqs.create_queue(QueueName=f"dlq-{prefix}")["QueueUrl"]
    with moto_proxy(moto_endpoint) as proxy:
        warm = h.warm(dlq_url=through(proxy, dlq), retry_backoff_base_seconds=0.0)
        for faults, refuse_a_copy in schedule:
            h.api.set_faults(API_FAULTS[faults])
            if refuse_a_copy:
                proxy.misbehave("SendMessageBatch", REFUSE)
            drain(h, sqs, queue, warm, rounds=1)
        h.api.set_faults({})
        for _ in range(10):
            drain(h, sqs, queue, warm, rounds=1)
            if count_visible(sqs, queue) == 0 and not _in_flight(sqs, queue):
                break

    applied = {op["op_id"] for op in h.api.applied() if op["op_id"].startswith(prefix)}
    assert applied == {f"{prefix}-{n}" for n in range(len(mixes))}
    assert dlq_messages(queue.redrive_dlq) == []
    assert dlq_messages(dlq) == []


def _in_flight(sqs: Any, queue: Queue) -> int:
    answer = sqs.get_queue_attributes(
        QueueUrl=queue.url,
        AttributeNames=[
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return int(answer["ApproximateNumberOfMessagesNotVisible"]) + int(
        answer["ApproximateNumberOfMessagesDelayed"]
    )


def test_with_an_api_that_hangs_every_record_due_a_copy_still_gets_one(
    h: Any, sqs: Any, make_queue: Callable[..., Queue], dlq_messages: Any
) -> None:
    # issue 15 item 4: delivery ran to 1.5 s before the deadline and the copies competed for
    # what was left: most records at the limit were redriven
    queue = make_queue(max_receive_count=2)  # receive 1 is the one before the limit
    publish(
        sqs, queue, [h.change(f"e{n}", str(n), attributes={"pad": "x" * 3000}) for n in range(30)]
    )
    h.api.set_faults({"latency_seconds": 30})
    event = poll(sqs, queue, want=30)
    assert len(event["Records"]) == 30

    run = h.handle(event, h.warm(source_max_receive_count=2), seconds=8.0)

    assert run.failed == []
    assert (run.summary["requeued"], run.summary["requeue_failed"]) == (30, 0)
    acknowledge(sqs, queue, event, run.failed)
    assert dlq_messages(queue.redrive_dlq) == []


def test_a_copy_call_whose_answer_trickles_cannot_hold_the_invocation_past_its_time(
    h: Any, sqs: Any, moto_endpoint: str, make_queue: Callable[..., Queue], dlq_messages: Any
) -> None:
    # the client's read timeout bounds each socket read, not the answer: one byte every
    # 0.25 s kept a SendMessageBatch going for minutes, past the Lambda timeout
    queue = queue_in_outage(h, sqs, make_queue(max_receive_count=3))
    with moto_proxy(moto_endpoint) as proxy:
        warm = h.warm(dlq_url=through(proxy, h.dlq), source_max_receive_count=3)
        first = poll(sqs, queue, want=1)
        acknowledge(sqs, queue, first, h.handle(first, warm).failed)
        proxy.misbehave("SendMessageBatch", TRICKLE, TRICKLE)
        second = poll(sqs, queue, want=1)

        run = h.handle(second, warm, seconds=10.0)

    assert run.seconds < 10.0  # returned before the invocation's deadline
    assert run.failed == [second["Records"][0]["messageId"]]  # no copy known: kept
    assert (run.summary["copy_unknown"], run.summary["copy_failed_at_limit"]) == (1, 0)
    acknowledge(sqs, queue, second, run.failed)
    h.api.set_faults({})
    drain(h, sqs, queue, h.warm(), rounds=4)
    assert [op["op_id"] for op in h.api.applied()] == ["a"]  # the copies SQS stored: 409s
    assert dlq_messages(queue.redrive_dlq) == []
