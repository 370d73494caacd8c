"""redrive.py against real SQS queues: the filter, the copied attributes, and an interrupted
run that loses nothing."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from sbc_tools.ops import observations as observe
from sbc_tools.ops import redrive

pytestmark = pytest.mark.integration

CODES = ["schema_violation"] * 12 + ["invalid_json"] * 7 + [None] * 5


@pytest.fixture
def queues(sqs: Any) -> Iterator[tuple[str, str]]:
    """A source queue and a DLQ of their own (no event source mapping reads them)."""
    name = f"redrive-{uuid.uuid4().hex[:8]}"
    urls = [sqs.create_queue(QueueName=f"{name}{suffix}")["QueueUrl"] for suffix in ("", "-dlq")]
    yield urls[0], urls[1]
    for url in urls:
        sqs.delete_queue(QueueUrl=url)


def _seed(sqs: Any, dlq_url: str) -> dict[str, str | None]:
    """Put one DLQ message per entry of CODES; returns body -> error_code."""
    bodies: dict[str, str | None] = {}
    for i, code in enumerate(CODES):
        body = f'{{"n": {i}}}'
        attributes = {"origin": {"DataType": "String", "StringValue": "test"}}
        if code:
            attributes["error_code"] = {"DataType": "String", "StringValue": code}
            attributes["error_detail"] = {"DataType": "String", "StringValue": "why"}
        sqs.send_message(QueueUrl=dlq_url, MessageBody=body, MessageAttributes=attributes)
        bodies[body] = code
    return bodies


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = list(observe.receive_all(sqs, url, hold_seconds=60))
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def test_redrive_moves_only_the_chosen_error_code_without_the_handler_attributes(
    sqs: Any, queues: tuple[str, str]
) -> None:
    source, dlq = queues
    bodies = _seed(sqs, dlq)

    result = redrive.redrive(sqs, source, dlq, error_code="schema_violation")

    assert (result.moved, result.skipped, result.failed) == (12, 12, 0)
    moved = _drain(sqs, source)
    assert sorted(m["Body"] for m in moved) == sorted(
        b for b, c in bodies.items() if c == "schema_violation"
    )
    for message in moved:
        assert set(message.get("MessageAttributes", {})) == {"origin"}
    remaining = observe.peek_dlq(sqs, dlq)
    assert Counter(m.error_code for m in remaining) == {"invalid_json": 7, None: 5}


class _InterruptAfter:
    """The real SQS client, but the run is interrupted after `calls` SendMessageBatch calls."""

    def __init__(self, sqs: Any, calls: int) -> None:
        self._sqs, self._left = sqs, calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message_batch(self, **kwargs: Any) -> Any:
        if self._left == 0:
            raise KeyboardInterrupt
        self._left -= 1
        return self._sqs.send_message_batch(**kwargs)


def test_an_interrupted_redrive_loses_nothing(sqs: Any, queues: tuple[str, str]) -> None:
    source, dlq = queues
    bodies = _seed(sqs, dlq)

    with pytest.raises(KeyboardInterrupt):
        redrive.redrive(sqs=_InterruptAfter(sqs, calls=1), source_url=source, dlq_url=dlq)

    in_source = [m["Body"] for m in _drain(sqs, source)]
    in_dlq = [m.body for m in observe.peek_dlq(sqs, dlq)]
    assert 1 <= len(in_source) <= 10, "the first receive was moved, then the run stopped"
    assert set(in_source) | set(in_dlq) == set(bodies), "every message is in one of the queues"
    assert not set(in_source) & set(in_dlq), "a moved message was deleted from the DLQ"
