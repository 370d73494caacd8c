"""Retries of transiently failed records against a real queue (moto's SQS server): visibility
backoff, backoff off, the retry horizon (`expired`), and the copy that keeps SQS's redrive
from dead-lettering a change the handler settled, whatever max_receive_count is.

Each test plays the event source mapping itself: receive from the queue, build the event,
run the handler, delete what it did not report as failed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from consumer.copies import unwrap

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
            name: {"dataType": value["DataType"], "stringValue": value["StringValue"]}
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }


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
    run = h.handle(event, h.runtime())

    assert len(run.failed) == 12
    assert run.summary["backoff_set"] == 12
    assert run.summary["backoff_failed"] == 0
    assert count_visible(sqs, queue) == 12  # back at once, not after the queue's 300 s


def test_with_backoff_off_the_visibility_is_left_alone(
    h: Any, sqs: Any, received_in_outage: Callable[[int], tuple[Queue, dict[str, Any]]]
) -> None:
    queue, event = received_in_outage(3)
    run = h.handle(event, h.runtime(retry_backoff_max_seconds=0))

    assert len(run.failed) == 3
    assert run.summary["backoff_set"] == 0
    assert count_visible(sqs, queue) == 0  # still in flight for the queue's 300 s


def test_records_whose_visibility_cannot_be_set_are_still_reported_for_retry(
    h: Any, sqs: Any, received_in_outage: Callable[[int], tuple[Queue, dict[str, Any]]]
) -> None:
    queue, event = received_in_outage(3)
    event["Records"][1]["receiptHandle"] = "no-longer-valid"

    run = h.handle(event, h.runtime())

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

    run = h.handle(event, h.runtime())

    assert run.failed == [event["Records"][0]["messageId"]]
    assert (run.summary["requeued"], run.summary["requeue_failed"]) == (0, 1)


def test_past_the_horizon_a_transient_failure_goes_to_the_dlq_as_expired(h: Any) -> None:
    now = int(time.time() * 1000)
    old = h.record(h.change("old", "1"), "m-old", now - HOUR_MS - 5_000)
    young = h.record(h.change("young", "2"), "m-young", now - HOUR_MS + 600_000)
    h.api.set_faults({"status_always": 503})

    run = h.handle({"Records": [old, young]}, h.runtime(retry_backoff_max_seconds=0))

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

    run = h.handle({"Records": [copy]}, h.runtime(retry_backoff_max_seconds=0))

    assert run.failed == []
    [dead] = h.dead()
    assert dead["error_code"] == "expired"
    assert "8 attempts" in dead["error_detail"]


def test_an_invalid_record_past_the_horizon_keeps_its_own_error_code(h: Any) -> None:
    now = int(time.time() * 1000)
    bad = h.record({**h.change("bad"), "op": "upsert"}, "m-bad", now - 2 * HOUR_MS)
    h.api.set_faults({"status_always": 503})

    run = h.handle({"Records": [bad]}, h.runtime())

    assert run.failed == []
    assert [m["error_code"] for m in h.dead()] == ["schema_violation"]


def test_an_outage_shorter_than_the_horizon_never_reaches_the_redrive_dlq(
    h: Any, sqs: Any, make_queue: Callable[..., Queue], dlq_messages: Any
) -> None:
    # max_receive_count 2: without the copy, SQS would move the change away on receive 3
    queue = make_queue(max_receive_count=2)
    publish(sqs, queue, [h.change("a", "1"), h.change("b", "2")])
    h.api.set_faults(ANSWER_503_AT_ONCE)
    runtime = h.runtime()
    requeued = 0
    for _ in range(5):
        event = poll(sqs, queue, want=2)
        assert len(event["Records"]) == 2
        run = h.handle(event, runtime)
        acknowledge(sqs, queue, event, run.failed)
        requeued += run.summary["requeued"]

    assert requeued >= 2  # each change was copied at least once, on its second receive
    assert dlq_messages(queue.redrive_dlq) == []
    assert h.dead() == []
    h.api.set_faults({})
    event = poll(sqs, queue, want=2)
    run = h.handle(event, runtime)
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
    runtime = h.runtime()

    first = poll(sqs, queue, want=1)
    run = h.handle(first, runtime)
    assert run.summary["requeued"] == 0  # receive 1 of 3: its visibility is set
    second = poll(sqs, queue, want=1)
    run = h.handle(second, runtime)

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
