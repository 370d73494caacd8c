"""The handler's shared terms: outcome kinds, DLQ error codes, outcomes, the partial-batch
response and the DLQ time reserve, each defined once here (contract sections 2 and 3)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict

DETAIL_LIMIT_BYTES = 1024
"""The longest `error_detail` a DLQ message carries (contract section 3)."""

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


class OutcomeKind(StrEnum):
    """What became of one operation at the entity API."""

    APPLIED = "applied"
    REJECTED = "rejected"
    TRANSIENT = "transient"


class ErrorCode(StrEnum):
    """The `error_code` message attribute of a dead-lettered record."""

    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    REJECTED_BY_API = "rejected_by_api"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one operation (`error_code` is the DLQ code when rejected;
    `retry_after` the API's Retry-After in seconds on a transient answer that gave one)."""

    kind: OutcomeKind
    detail: str = ""
    error_code: ErrorCode = ErrorCode.REJECTED_BY_API
    retry_after: float | None = None


class BatchItemFailure(TypedDict):
    """One entry of `batchItemFailures`: a record Lambda returns to the queue."""

    itemIdentifier: str


class BatchResponse(TypedDict):
    """The handler's answer: SQS's partial batch response."""

    batchItemFailures: list[BatchItemFailure]


def bounded(detail: str, limit: int = DETAIL_LIMIT_BYTES) -> str:
    """`detail` cut to at most `limit` UTF-8 bytes (never empty)."""
    data = detail.encode("utf-8", "replace")
    if len(data) > limit:
        detail = data[: limit - 3].decode("utf-8", "ignore") + "..."
    return detail or "-"
