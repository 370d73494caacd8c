"""Shared fixtures: the local entity API server, an SQS API (moto server) and SQS events."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_EPOCH_MS = 1_767_225_600_000
"""The SentTimestamp the fixture files are written with."""
SENT_MS = int(time.time() * 1000)
"""The SentTimestamp of generated records: the start of the test session, well within the
retry horizon (a transient failure of an older record would expire it)."""
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class LambdaContext:
    """A Lambda context with a real clock: `get_remaining_time_in_millis` counts down."""

    function_name = "sqs-batch-consumer-test"
    aws_request_id = "req-test"

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@pytest.fixture
def context() -> Callable[[float], LambdaContext]:
    """`context(seconds)`: a Lambda context with that much time left."""
    return LambdaContext


@pytest.fixture
def entity_api() -> Iterator[Any]:
    """A fresh local entity API server on 127.0.0.1 (healthy, no rate limit)."""
    from localcloud.entity_api_server import EntityApiServer

    with EntityApiServer() as server:
        yield server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """An SQS/SSM API on 127.0.0.1 (moto's server mode), with fake credentials."""
    from moto.server import ThreadedMotoServer

    with mock.patch.dict(os.environ, FAKE_AWS_ENV):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="session")
def sqs(moto_endpoint: str) -> Any:
    """A boto3 SQS client for the moto server."""
    import boto3

    return boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def dlq(sqs: Any) -> str:
    """The URL of a new, empty queue on the moto server."""
    return str(sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:12]}")["QueueUrl"])


@pytest.fixture
def dlq_messages(sqs: Any) -> Callable[[str], list[dict[str, Any]]]:
    """`dlq_messages(url)`: every message in the queue, with attributes flattened."""

    def read(url: str) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        while True:
            answer = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=60,
            )
            batch = answer.get("Messages", [])
            if not batch:
                return list(found.values())
            for message in batch:
                attributes = {
                    k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()
                }
                found[message["MessageId"]] = {"body": message["Body"], **attributes}

    return read


def make_sqs_record(
    body: Any, message_id: str | None = None, sent_timestamp: int = SENT_MS
) -> dict[str, Any]:
    """One SQS record as Lambda delivers it; a dict body is JSON-encoded."""
    record: dict[str, Any] = json.loads((FIXTURES / "sqs_record_template.json").read_text())
    record["body"] = json.dumps(body) if isinstance(body, dict) else body
    record["attributes"]["SentTimestamp"] = str(sent_timestamp)
    if message_id is None:
        record.pop("messageId")
    else:
        record["messageId"] = message_id
    return record


def make_change(
    event_id: str,
    entity_id: str = "1",
    op: str = "update",
    *,
    attributes: dict[str, Any] | None = None,
    occurred_at: str = "2026-01-01T00:00:00Z",
    entity_type: str = "order",
) -> dict[str, Any]:
    """A valid entity-change message."""
    message: dict[str, Any] = {
        "event_id": event_id,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "op": op,
        "occurred_at": occurred_at,
    }
    if op != "delete":
        message["attributes"] = {"seen": event_id} if attributes is None else attributes
    return message


def make_sqs_event(bodies: list[Any]) -> dict[str, Any]:
    """An SQS event whose records carry `bodies`, with message ids m0, m1, ..."""
    return {
        "Records": [make_sqs_record(body, f"m{n}", SENT_MS + n) for n, body in enumerate(bodies)]
    }


@pytest.fixture
def change() -> Callable[..., dict[str, Any]]:
    """`change(event_id, entity_id="1", op="update", ...)`: a valid message."""
    return make_change


@pytest.fixture
def sqs_event() -> Callable[[list[Any]], dict[str, Any]]:
    """`sqs_event(bodies)`: an SQS event with message ids m0, m1, ..."""
    return make_sqs_event


@pytest.fixture
def sqs_record() -> Callable[..., dict[str, Any]]:
    """`sqs_record(body, message_id, sent_timestamp)`: one SQS record."""
    return make_sqs_record


@pytest.fixture
def fixture_event() -> Callable[[str], dict[str, Any]]:
    """`fixture_event(name)`: an SQS event from tests/fixtures/<name>.json."""

    def load(name: str) -> dict[str, Any]:
        event: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
        for record in event.get("Records", []):  # sent now, as the file's order has them
            sent = int(record["attributes"]["SentTimestamp"])
            record["attributes"]["SentTimestamp"] = str(sent - FIXTURE_EPOCH_MS + SENT_MS)
        return event

    return load


@pytest.fixture
def warm(entity_api: Any, dlq: str) -> Callable[..., Any]:
    """`warm(**settings)`: the warm state of a handler (WarmState) for the local API and the
    test DLQ."""
    from consumer.batch import WarmState
    from consumer.settings import Settings

    def build(**overrides: Any) -> WarmState:
        values: dict[str, Any] = {"entity_api_url": entity_api.endpoint_url, "dlq_url": dlq}
        values.update(overrides)
        return WarmState.from_settings(Settings(**values))

    return build
