"""The source queue's side of a retry against moto's SQS server: visibility in calls of 10,
failures reported back, delayed copies, the redrive limit, the queue URL from the ARN."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from consumer import visibility
from consumer.sqs import redrive_limit
from consumer.time_budget import Deadline
from consumer.visibility import (
    Requeue,
    VisibilityChange,
    change_visibility,
    queue_url_from_arn,
    requeue,
)


class RecordingClient:
    """The real boto3 client for moto's server, with the batch calls it made written down."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, list(kwargs.get("Entries", []))))
            return method(**kwargs)

        return call


@pytest.fixture
def recorded(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> RecordingClient:
    recorder = RecordingClient(sqs)
    monkeypatch.setattr(visibility, "sqs_client", lambda url: recorder)
    return recorder


@pytest.fixture
def queue(sqs: Any) -> Iterator[str]:
    url = str(sqs.create_queue(QueueName=f"src-{uuid.uuid4().hex[:12]}")["QueueUrl"])
    yield url
    sqs.delete_queue(QueueUrl=url)


def received(sqs: Any, url: str, count: int, visibility_timeout: int = 1) -> list[dict[str, Any]]:
    """Send `count` messages and receive them all (in flight for `visibility_timeout`)."""
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "MessageBody": f"body {n}"}
                for n in range(start, min(count, start + 10))
            ],
        )
    # by message id, the newest receipt: on a loaded machine a short visibility can run out
    # while the loop still receives, and the same message comes back with a new handle
    messages: dict[str, dict[str, Any]] = {}
    while len(messages) < count:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility_timeout
        )
        messages |= {m["MessageId"]: m for m in answer.get("Messages", [])}
    return list(messages.values())


def visible_now(sqs: Any, url: str) -> int:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    return len(answer.get("Messages", []))


def test_visibility_is_set_in_calls_of_ten(sqs: Any, queue: str, recorded: RecordingClient) -> None:
    messages = received(sqs, queue, 25)
    changes = [VisibilityChange(n, queue, m["ReceiptHandle"], 120) for n, m in enumerate(messages)]

    failed = change_visibility(changes, Deadline(30))

    assert failed == set()
    assert [len(entries) for _, entries in recorded.calls] == [10, 10, 5]
    assert {e["VisibilityTimeout"] for _, entries in recorded.calls for e in entries} == {120}
    time.sleep(1.5)  # the receive's own 1 s visibility has passed: only ours holds them now
    assert visible_now(sqs, queue) == 0


def test_visibility_zero_makes_them_visible_at_once(sqs: Any, queue: str) -> None:
    messages = received(sqs, queue, 3, visibility_timeout=300)
    changes = [VisibilityChange(n, queue, m["ReceiptHandle"], 0) for n, m in enumerate(messages)]

    assert change_visibility(changes, Deadline(30)) == set()
    assert visible_now(sqs, queue) == 3


def test_entries_sqs_refuses_are_reported_and_the_others_set(sqs: Any, queue: str) -> None:
    messages = received(sqs, queue, 3, visibility_timeout=300)
    changes = [VisibilityChange(n, queue, m["ReceiptHandle"], 0) for n, m in enumerate(messages)]
    changes[1] = VisibilityChange(1, queue, "not-a-receipt-handle", 0)

    failed = change_visibility(changes, Deadline(30))

    assert failed == {1}
    assert visible_now(sqs, queue) == 2


def test_a_failing_call_reports_every_record_of_it(sqs: Any, queue: str) -> None:
    messages = received(sqs, queue, 12)
    gone = queue.rsplit("/", 1)[0] + "/no-such-queue"
    changes = [VisibilityChange(n, queue, m["ReceiptHandle"], 60) for n, m in enumerate(messages)]
    changes[11] = VisibilityChange(11, gone, messages[11]["ReceiptHandle"], 60)

    assert change_visibility(changes, Deadline(30)) == {11}


def test_no_call_starts_without_time_for_it(
    sqs: Any, queue: str, recorded: RecordingClient
) -> None:
    messages = received(sqs, queue, 3)
    changes = [VisibilityChange(n, queue, m["ReceiptHandle"], 60) for n, m in enumerate(messages)]

    assert change_visibility(changes, Deadline(1.0)) == {0, 1, 2}
    assert recorded.calls == []


def test_copies_are_sent_with_their_delay_and_attributes(
    sqs: Any, queue: str, recorded: RecordingClient
) -> None:
    attributes = {"tenant": {"DataType": "String", "StringValue": "acme"}}
    copies = [Requeue(n, queue, f"copy {n}", attributes, 0) for n in range(11)]
    copies.append(Requeue(11, queue, "later", attributes, 2_000))

    sent = requeue(copies, Deadline(30))

    assert (sent.failed, sent.unknown) == (set(), set())
    assert [len(entries) for _, entries in recorded.calls] == [10, 2]
    assert recorded.calls[1][1][1]["DelaySeconds"] == 900  # SQS's longest delay
    answer = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    assert answer["Messages"][0]["MessageAttributes"]["tenant"]["StringValue"] == "acme"


def test_copy_batches_are_split_by_bytes(sqs: Any, queue: str, recorded: RecordingClient) -> None:
    # ten ~120 KB copies: one call would carry ~1.2 MB (BatchRequestTooLong in LocalStack)
    body = "x" * 120_000
    copies = [Requeue(n, queue, body, {}, 0) for n in range(10)]

    sent = requeue(copies, Deadline(30))

    assert sent.not_done == set()
    sizes = [sum(len(e["MessageBody"]) for e in entries) for _, entries in recorded.calls]
    assert len(sizes) == 5
    assert max(sizes) <= visibility.BATCH_BYTES


def test_a_visibility_past_sqs_12_hours_from_the_receive_is_capped(
    sqs: Any, queue: str, recorded: RecordingClient
) -> None:
    [message] = received(sqs, queue, 1, visibility_timeout=60)
    change = VisibilityChange(0, queue, message["ReceiptHandle"], 43_200)

    assert change_visibility([change], Deadline(30)) == set()
    [(_, [entry])] = recorded.calls
    assert entry["VisibilityTimeout"] == visibility.MAX_WAIT_SECONDS < 43_200


def test_the_redrive_limit_is_read_from_the_queue(sqs: Any, dlq: str) -> None:
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    limited = sqs.create_queue(
        QueueName=f"lim-{uuid.uuid4().hex[:8]}", Attributes={"RedrivePolicy": policy}
    )["QueueUrl"]
    plain = sqs.create_queue(QueueName=f"plain-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    missing = plain.rsplit("/", 1)[0] + "/missing-queue"

    assert redrive_limit(limited, Deadline(30)) == (True, 2)
    assert redrive_limit(plain, Deadline(30)) == (True, None)
    assert redrive_limit(missing, Deadline(30)) == (False, None)
    assert redrive_limit(limited, Deadline(1.0)) == (False, None)  # no time for the call
    # lowered while a container is warm: seen by the next invocation
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    sqs.set_queue_attributes(QueueUrl=limited, Attributes={"RedrivePolicy": policy})
    assert redrive_limit(limited, Deadline(30)) == (True, 1)


@pytest.mark.parametrize(
    ("arn", "dlq_url", "expected"),
    [
        (
            "arn:aws:sqs:eu-west-1:123456789012:orders",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
        ),
        (
            "arn:aws-cn:sqs:cn-north-1:123456789012:orders",
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/orders-dlq",
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/orders",
        ),
        (
            "arn:aws:sqs:us-east-1:000000000000:orders",
            "http://127.0.0.1:4566/000000000000/orders-dlq",
            "http://127.0.0.1:4566/000000000000/orders",
        ),
        ("arn:aws:sns:us-east-1:000000000000:topic", "http://127.0.0.1:4566/0/d", None),
        ("not an arn", "http://127.0.0.1:4566/0/d", None),
        (None, "http://127.0.0.1:4566/0/d", None),
    ],
)
def test_the_queue_url_comes_from_the_event_source_arn(
    arn: Any, dlq_url: str, expected: str | None
) -> None:
    assert queue_url_from_arn(arn, dlq_url) == expected
