"""Publishing to a FIFO queue (moto's SQS server): group = the entity, deduplication id =
event_id, each group's order kept although several SendMessageBatch calls are in flight."""

from __future__ import annotations

import json
import uuid
from typing import Any

from consumer.message_groups import entity_group_id
from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import publish


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Receive and delete everything, in the order SQS hands it out."""
    received: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=30
        )
        batch = answer.get("Messages", [])
        if not batch:
            return received
        received += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_each_entity_is_one_group_sent_in_order(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName=f"changes-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    messages = message_factory.generate(120, poison_percent=5, entities=6, run="pub", seed=4)
    keys = [message_factory.fifo_keys(m) for m in messages]
    assert publish.is_fifo_queue(url)

    result = publish.publish(sqs, url, [m.body for m in messages], concurrency=4, fifo_keys=keys)

    assert (result.sent, result.failed, result.out_of_order) == (120, {}, set())
    published: dict[str, list[str]] = {}
    for message, (group, _) in zip(messages, keys, strict=True):
        published.setdefault(group, []).append(message.body)
    received: dict[str, list[str]] = {}
    for message in drain(sqs, url):
        received.setdefault(message["Attributes"]["MessageGroupId"], []).append(message["Body"])
    assert received == published
    assert len(published) == 6  # poison sits in its entity's group too
    for message, (group, deduplication_id) in zip(messages, keys, strict=True):
        if message.kind == "valid":
            change = json.loads(message.body)
            assert group == entity_group_id(change["entity_type"], change["entity_id"])
            assert deduplication_id == change["event_id"]


def test_group_ids_stay_within_what_sqs_accepts() -> None:
    assert entity_group_id("order", "A-1") == "order:A-1"
    long_or_odd = [entity_group_id("order", "x" * 200), entity_group_id("order", "caf\u00e9 1")]
    for group in long_or_odd:
        assert group.startswith("order:~")
        assert len(group) <= 128
        assert group.isascii()
    assert entity_group_id("order", "x" * 200) != entity_group_id("order", "x" * 201)


def test_a_body_read_from_a_file_gets_its_keys_from_the_body() -> None:
    valid = message_factory.Message(
        json.dumps({"event_id": "e-1", "entity_type": "order", "entity_id": "7"}), "file"
    )
    poison = message_factory.Message("{not json", "file")
    assert message_factory.fifo_keys(valid) == ("order:7", "e-1")
    group, deduplication_id = message_factory.fifo_keys(poison)
    assert group == "unkeyed"
    assert len(deduplication_id) == 64
