"""The handler's SQS side: one client per endpoint with its timeouts, the time kept free
after delivery for SQS calls, the batch limit and chunking of SendMessageBatch/
ChangeMessageVisibilityBatch entries, AWS's SQS hosts, and the read of a queue's redrive
limit. Used by consumer.batch, consumer.dlq and consumer.visibility."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from consumer.time_budget import Deadline, call_within

SQS_CONNECT_TIMEOUT_SECONDS = 0.5
SQS_READ_TIMEOUT_SECONDS = 1.5
"""SQS answers in tens of milliseconds, with a tail up to about a second under load: 1.5 s
waits that out. An answer later still is an unknown outcome (see
consumer.visibility.answer_lost): a copy whose answer is lost is sent again, never taken
for refused."""
SQS_CALL_SECONDS = SQS_CONNECT_TIMEOUT_SECONDS + SQS_READ_TIMEOUT_SECONDS
"""Time one SQS call may take (the client makes one attempt): no call starts with less left."""
SQS_FURTHER_CALL_SECONDS = 0.25
"""Reserved for each SQS call after the first one of an invocation's settling: what a call
takes when SQS is well (the first one is reserved its whole timeout)."""
SQS_CLIENT_SECONDS = 0.5
"""Reserved for building the SQS client when the container has none yet (boto3's import and
a client: 0.15-0.4 s)."""
DLQ_RESERVE_SECONDS = SQS_CALL_SECONDS
"""The least time kept free after delivery: one SQS call (the DLQ's, or a copy's)."""

BATCH_ENTRIES = 10
"""Entries per SendMessageBatch and ChangeMessageVisibilityBatch call (SQS's limit)."""
_AWS_DOMAIN = r"(?:amazonaws\.com(?:\.cn)?|api\.aws)"
_AWS_HOST = re.compile(rf"(?:^|\.){_AWS_DOMAIN}$")
"""A host of AWS itself (not LocalStack or moto)."""
_AWS_SQS_REGION = re.compile(rf"^sqs[.-]([a-z0-9-]+)\.{_AWS_DOMAIN}$")
"""AWS's regional SQS endpoint, the region captured."""


def is_aws_host(hostname: str | None) -> bool:
    """Whether `hostname` is one of AWS's (amazonaws.com, amazonaws.com.cn, api.aws)."""
    return bool(_AWS_HOST.search(hostname or ""))


def chunks[T](items: Iterable[T], size: Callable[[T], int], max_bytes: int) -> Iterator[list[T]]:
    """`items` in order, at most BATCH_ENTRIES and `max_bytes` (by `size`) per chunk; an item
    larger than `max_bytes` goes alone."""
    chunk: list[T] = []
    total = 0
    for item in items:
        item_size = min(size(item), max_bytes)
        if chunk and (len(chunk) == BATCH_ENTRIES or total + item_size > max_bytes):
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += item_size
    if chunk:
        yield chunk


def sqs_client(queue_url: str) -> Any:
    """The SQS client for a queue's endpoint, built once per container and endpoint (boto3
    imported lazily): the DLQ and the source queue share it, so settling builds at most one.

    Outside AWS (LocalStack, moto) the queue URL's own host is the endpoint.
    """
    return _client(*_endpoint(queue_url))


def sqs_client_built(queue_url: str) -> bool:
    """Whether the client of `queue_url`'s endpoint exists already (nothing to build)."""
    return _endpoint(queue_url) in _BUILT


_BUILT: set[tuple[str | None, str | None]] = set()


def _endpoint(queue_url: str) -> tuple[str | None, str | None]:
    """(endpoint URL, region): (None, region) for AWS's own regional SQS hosts."""
    parts = urlsplit(queue_url)
    match = _AWS_SQS_REGION.match(parts.hostname or "")
    if match is None:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return f"{parts.scheme}://{parts.netloc}", region or "us-east-1"
    return None, match.group(1)


@lru_cache(maxsize=4)
def _client(endpoint_url: str | None, region: str | None) -> Any:
    import boto3  # noqa: PLC0415 - lazy: most invocations never call SQS
    from botocore.config import Config  # noqa: PLC0415

    options: dict[str, Any] = {
        "config": Config(
            connect_timeout=SQS_CONNECT_TIMEOUT_SECONDS,
            read_timeout=SQS_READ_TIMEOUT_SECONDS,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
    }
    if endpoint_url is not None:
        options["endpoint_url"] = endpoint_url
    if region:
        options["region_name"] = region
    client = boto3.client("sqs", **options)
    _BUILT.add((endpoint_url, region))
    return client


def redrive_limit(queue_url: str, deadline: Deadline) -> tuple[bool, int | None]:
    """(known, maxReceiveCount or None without a redrive policy) of the queue; (False, None)
    when it could not be read in time."""
    if deadline.remaining() < SQS_CALL_SECONDS:
        return False, None
    try:
        client = sqs_client(queue_url)
        answer = call_within(
            lambda: client.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]
            ),
            SQS_CALL_SECONDS,
        )
        policy = answer.get("Attributes", {}).get("RedrivePolicy")
        limit = int(json.loads(policy)["maxReceiveCount"]) if policy else None
    except Exception:  # noqa: BLE001 - unknown limit: the caller assumes the worst
        return False, None
    return True, limit


def settling_reserve(calls: int, client_ready: bool, available: float) -> float:
    """The time kept free after delivery for `calls` SQS calls (copies, DLQ, visibility):
    the first its whole timeout, each further one what a call takes when SQS is well, plus
    building the client when there is none yet. Never more than half of `available` (the
    time left before delivery) beyond one call: delivery keeps its share."""
    least = SQS_CALL_SECONDS + (0.0 if client_ready else SQS_CLIENT_SECONDS)
    wanted = least + max(calls - 1, 0) * SQS_FURTHER_CALL_SECONDS
    return max(least, min(wanted, available / 2))
