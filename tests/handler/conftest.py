"""Handler-test fixture: run one batch and collect the answer and the log lines."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class BatchRun:
    """What one call of the handler produced."""

    response: dict[str, Any]
    logs: list[dict[str, Any]]
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        """The itemIdentifiers of batchItemFailures, in order."""
        return [item["itemIdentifier"] for item in self.response["batchItemFailures"]]

    def errors(self) -> list[dict[str, Any]]:
        """The ERROR log lines."""
        return [line for line in self.logs if line.get("level") == "ERROR"]


@pytest.fixture
def handle(
    capsys: pytest.CaptureFixture[str], context: Callable[[float], Any]
) -> Callable[..., BatchRun]:
    """`handle(event, warm, seconds=30)`: process the batch with that much time left."""
    from consumer.batch import process_batch

    def run(event: Any, warm: Any, seconds: float = 30.0) -> BatchRun:
        capsys.readouterr()
        started = time.monotonic()
        response = process_batch(event, context(seconds), warm)
        elapsed = time.monotonic() - started
        logs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
        summaries = [line for line in logs if line.get("message") == "batch processed"]
        assert len(summaries) == 1, "exactly one summary line per invocation"
        return BatchRun(response, logs, elapsed, summaries[0])

    return run


@dataclass
class Harness:
    """Everything a handler test uses: the local API, the DLQ, event builders, the runner."""

    api: Any
    dlq: str
    warm: Callable[..., Any]
    run: Callable[..., BatchRun]
    event: Callable[[list[Any]], dict[str, Any]]
    change: Callable[..., dict[str, Any]]
    record: Callable[..., dict[str, Any]]
    fixture: Callable[[str], dict[str, Any]]
    messages: Callable[[str], list[dict[str, Any]]]

    def handle(self, event: Any, warm: Any = None, seconds: float = 30.0) -> BatchRun:
        """Run the batch (default warm: the local API and this test's DLQ)."""
        return self.run(event, warm if warm is not None else self.warm(), seconds)

    def dead(self) -> list[dict[str, Any]]:
        """The messages in this test's DLQ."""
        return self.messages(self.dlq)


@pytest.fixture
def h(
    entity_api: Any,
    dlq: str,
    warm: Callable[..., Any],
    handle: Callable[..., BatchRun],
    sqs_event: Callable[[list[Any]], dict[str, Any]],
    change: Callable[..., dict[str, Any]],
    sqs_record: Callable[..., dict[str, Any]],
    fixture_event: Callable[[str], dict[str, Any]],
    dlq_messages: Callable[[str], list[dict[str, Any]]],
) -> Harness:
    """The handler-test harness."""
    return Harness(
        entity_api, dlq, warm, handle, sqs_event, change, sqs_record, fixture_event, dlq_messages
    )
