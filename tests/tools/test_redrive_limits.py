"""`redrive` against moto's SQS server: `--limit` and `--dry-run` (the filter and an interrupted
run are the integration tests' `test_redrive`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sbc_tools.ops import observations as observe
from sbc_tools.ops import redrive

SEEDED = 24


@pytest.fixture
def queues(sqs: Any) -> tuple[str, str]:
    """A source queue and its DLQ holding SEEDED messages, half of them `invalid_json`."""
    name = f"redrive-{uuid.uuid4().hex[:8]}"
    source, dlq = (sqs.create_queue(QueueName=f"{name}{s}")["QueueUrl"] for s in ("", "-dlq"))
    for i in range(SEEDED):
        code = "invalid_json" if i % 2 else "schema_violation"
        attributes = {"error_code": {"DataType": "String", "StringValue": code}}
        sqs.send_message(QueueUrl=dlq, MessageBody=f"{i}", MessageAttributes=attributes)
    return source, dlq


def _depth(sqs: Any, url: str) -> int:
    return len(list(observe.receive_all(sqs, url, hold_seconds=60)))


@pytest.mark.parametrize("limit", [1, 5, 11, 12])
def test_a_limit_moves_that_many_of_the_chosen_code_and_no_more(
    sqs: Any, queues: tuple[str, str], limit: int
) -> None:
    source, dlq = queues

    result = redrive.redrive(sqs, source, dlq, error_code="invalid_json", limit=limit)

    assert result.moved == limit
    assert _depth(sqs, source) == limit
    assert _depth(sqs, dlq) == SEEDED - limit


def test_a_dry_run_counts_what_it_would_move_and_moves_nothing(
    sqs: Any, queues: tuple[str, str]
) -> None:
    source, dlq = queues

    result = redrive.redrive(sqs, source, dlq, error_code="invalid_json", limit=7, dry_run=True)

    assert result.moved == 7
    assert _depth(sqs, source) == 0
    assert _depth(sqs, dlq) == SEEDED
