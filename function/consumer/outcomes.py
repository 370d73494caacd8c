"""What becomes of a record: outcome kinds, DLQ error codes, an operation's outcome, the
bounded `error_detail`, and the partial-batch response (contract sections 2 and 3)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict

DETAIL_LIMIT_BYTES = 1024
"""The longest `error_detail` a DLQ message carries (contract section 3)."""


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
