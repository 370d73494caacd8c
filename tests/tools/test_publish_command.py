"""`sbc-publish` (`publish.main`) end to end against moto's SQS server: what it sends, what it
says, its exit status."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from consumer.message_groups import entity_group_id
from sbc_tools.ops import publish


def _received(sqs: Any, url: str) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"]
    ).get("Messages", []):
        received += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return received


def test_publish_to_a_fifo_queue_groups_by_entity_and_says_so(
    sqs: Any, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqs.create_queue(
        QueueName=f"command-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    argv = ["--queue-url", url, "--endpoint-url", moto_endpoint, "--count", "30"]

    status = publish.main([*argv, "--entities", "3", "--poison-percent", "0", "--seed", "1"])

    err = capsys.readouterr().err
    received = _received(sqs, url)
    assert status == 0, err
    assert "publishing 30 messages (30 valid)" in err
    assert "message group = the entity (3 groups)" in err
    assert "sent 30 of 30" in err
    assert len(received) == 30
    for message in received:
        change = json.loads(message["Body"])
        group = entity_group_id(change["entity_type"], change["entity_id"])
        assert message["Attributes"]["MessageGroupId"] == group


def test_publish_to_a_standard_queue_counts_each_kind(
    sqs: Any, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqs.create_queue(QueueName=f"command-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    argv = ["--queue-url", url, "--endpoint-url", moto_endpoint, "--count", "40"]

    status = publish.main([*argv, "--poison-percent", "25", "--seed", "2"])

    err = capsys.readouterr().err
    assert status == 0, err
    assert "FIFO" not in err
    assert "sent 40 of 40" in err
    assert len(_received(sqs, url)) == 40
    mix = err.split("messages (", 1)[1].split(")", 1)[0]
    counts = dict(reversed(part.split(" ", 1)) for part in mix.split(", "))
    assert sum(int(n) for n in counts.values()) == 40
    assert "valid" in counts
    assert len(counts) > 1  # the poison kinds counted beside the valid changes


def test_a_file_that_cannot_be_read_is_one_error_and_exit_1(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    argv = ["--queue-url", "http://127.0.0.1:9/000000000000/q", "--endpoint-url", moto_endpoint]

    status = publish.main([*argv, "--file", str(tmp_path / "missing.jsonl")])

    assert status == 1
    assert capsys.readouterr().err.startswith("error: ")
