"""consumer.sqs: AWS's hosts (one rule for the DLQ's client and the source queue's URL) and
the chunking shared by the DLQ and the visibility calls."""

from __future__ import annotations

import pytest

from consumer import sqs
from consumer.visibility import queue_url_from_arn

ARN = "arn:aws:sqs:eu-west-1:123456789012:orders"


@pytest.mark.parametrize(
    ("dlq_url", "client_endpoint", "source_url"),
    [
        (
            "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq",
            (None, "eu-west-1"),
            "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
        ),
        (
            "https://sqs.eu-west-1.api.aws/123456789012/dlq",
            (None, "eu-west-1"),
            "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
        ),
        (
            "http://127.0.0.1:4566/123456789012/dlq",
            ("http://127.0.0.1:4566", "us-east-1"),
            "http://127.0.0.1:4566/123456789012/orders",
        ),
        (
            "http://sqs.eu-west-1.localhost.localstack.cloud:4566/123456789012/dlq",
            ("http://sqs.eu-west-1.localhost.localstack.cloud:4566", "us-east-1"),
            "http://sqs.eu-west-1.localhost.localstack.cloud:4566/123456789012/orders",
        ),
    ],
)
def test_the_client_and_the_source_queue_agree_on_what_is_aws(
    monkeypatch: pytest.MonkeyPatch,
    dlq_url: str,
    client_endpoint: tuple[str | None, str],
    source_url: str,
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)

    assert sqs._endpoint(dlq_url) == client_endpoint
    assert queue_url_from_arn(ARN, dlq_url) == source_url


def test_chunks_hold_ten_entries_and_the_byte_limit_in_order() -> None:
    sizes = [1] * 12 + [60, 50, 200, 1]

    got = list(sqs.chunks(sizes, lambda n: n, 100))

    assert got == [[1] * 10, [1, 1, 60], [50], [200], [1]]
