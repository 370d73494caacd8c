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
    """`handle(event, runtime, seconds=30)`: process the batch with that much time left."""
    from consumer.batch import process_batch

    def run(event: Any, runtime: Any, seconds: float = 30.0) -> BatchRun:
        capsys.readouterr()
        started = time.monotonic()
        response = process_batch(event, context(seconds), runtime)
        elapsed = time.monotonic() - started
        logs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
        summaries = [line for line in logs if line.get("message") == "batch processed"]
        assert len(summaries) == 1, "exactly one summary line per invocation"
        return BatchRun(response, logs, elapsed, summaries[0])

    return run
