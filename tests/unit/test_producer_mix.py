"""The realistic producer mix (`sbc_tools.ops.publish --producer-mix`) through moto's SQS
server: Binary attributes, 9 and 10 attributes, ~120 KB bodies, each as SQS hands it back."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import publish


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Receive and delete everything, with every message attribute."""
    received: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
    ).get("Messages", []):
        received += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return received


def test_the_mix_reaches_the_queue_with_every_attribute_and_large_body(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=f"mix-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    plain = message_factory.generate(200, poison_percent=2, duplicate_percent=2, run="mix", seed=9)
    messages = message_factory.with_producer_mix(plain, seed=9)

    result = publish.publish(
        sqs, url, [m.body for m in messages], attributes=[m.attributes for m in messages]
    )
    received = receive_all(sqs, url)

    assert (result.sent, result.failed) == (200, {})
    assert len(received) == 200
    counts = [len(m.get("MessageAttributes", {})) for m in received]
    binary = [
        m
        for m in received
        if any(a["DataType"] == "Binary" for a in m.get("MessageAttributes", {}).values())
    ]
    large = [m for m in received if len(m["Body"]) >= message_factory.LARGE_BODY_BYTES]
    # 2% of 200 with 9 and with 10 attributes, 3% with a Binary one alone, 1% large
    assert (counts.count(9), counts.count(10), counts.count(1)) == (4, 4, 6)
    assert counts.count(0) == 186
    assert 6 < len(binary) <= 14  # some of those with 9 or 10 attributes carry one too
    assert len(large) == 2
    for message in large:  # still a valid change, with its own k<n> key for the accounting
        change = json.loads(message["Body"])
        assert change["op"] != "delete"
        assert any(key.startswith("k") and key[1:].isdigit() for key in change["attributes"])
    # the producer's messages are unchanged apart from the mix: same bodies, same kinds
    assert [m.kind for m in messages] == [m.kind for m in plain]
    assert sum(m.body != p.body for m, p in zip(messages, plain, strict=True)) == len(large)


def test_a_duplicate_is_sent_exactly_as_its_original() -> None:
    plain = message_factory.generate(300, duplicate_percent=10, run="dup", seed=2)
    messages = message_factory.with_producer_mix(
        plain, message_factory.ProducerMix(binary_percent=50, large_percent=20), seed=2
    )
    sent_as: dict[str | None, tuple[str, Any]] = {}
    for message in messages:
        if message.kind == "valid":
            sent_as[message.event_id] = (message.body, message.attributes)
    duplicates = [m for m in messages if m.kind == "duplicate"]

    assert duplicates
    assert all(sent_as[m.event_id] == (m.body, m.attributes) for m in duplicates)
    assert any(m.attributes for m in duplicates)
