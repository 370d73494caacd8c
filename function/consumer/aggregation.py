"""Valid records -> operations: order, de-duplicate, coalesce, encode once, pack into requests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from consumer.mapping import to_operation
from consumer.records import Record

REQUEST_PREFIX = b'{"operations":['
REQUEST_SUFFIX = b"]}"
ENVELOPE_BYTES = len(REQUEST_PREFIX) + len(REQUEST_SUFFIX)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)

EntityKey = tuple[str, str]


class Operation:
    """One operation for the entity API and the records whose outcome it decides.

    Compared and hashed by identity. `encoded` is filled once, by `encode_operation`.
    """

    __slots__ = ("encoded", "entity", "message", "op_id", "records")

    def __init__(
        self, op_id: str, entity: EntityKey, message: dict[str, Any], records: list[int]
    ) -> None:
        self.op_id = op_id
        self.entity = entity
        self.message = message
        self.records = records
        self.encoded = b""

    def __repr__(self) -> str:
        return f"Operation({self.op_id!r}, {self.entity!r}, records={self.records})"


class Plan:
    """What a batch of valid records becomes: per-entity chains of operations, in order."""

    __slots__ = ("chains", "coalesced", "duplicates")

    def __init__(self) -> None:
        self.chains: list[list[Operation]] = []
        self.duplicates = 0
        self.coalesced = 0

    @property
    def operations(self) -> int:
        """How many operations the plan holds."""
        return sum(len(chain) for chain in self.chains)


def instant(occurred_at: str) -> float:
    """RFC 3339 date-time -> POSIX seconds (leap second 60 read as 59.999999)."""
    text = occurred_at.upper()
    leap = text[17:19] == "60"
    if leap:
        text = text[:17] + "59" + text[19:]
    try:
        value = datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0
    return value + 0.999999 if leap else value


def plan_operations(records: Iterable[Record]) -> Plan:
    """Order valid records by occurred_at then SentTimestamp, drop duplicate event_ids and
    coalesce consecutive updates of one entity (attributes merged, later wins).
    """
    valid = [r for r in records if r.message is not None]
    valid.sort(key=lambda r: (instant(r.message["occurred_at"]), r.sent_timestamp, r.index))  # type: ignore[index]
    plan = Plan()
    by_event: dict[str, Operation] = {}
    by_entity: dict[EntityKey, list[Operation]] = {}
    for record in valid:
        message: dict[str, Any] = record.message  # type: ignore[assignment]
        event_id = message["event_id"]
        seen = by_event.get(event_id)
        if seen is not None:
            seen.records.append(record.index)
            plan.duplicates += 1
            continue
        entity = (message["entity_type"], message["entity_id"])
        chain = by_entity.get(entity)
        if chain is None:
            chain = by_entity[entity] = []
            plan.chains.append(chain)
        last = chain[-1] if chain else None
        if last is not None and message["op"] == "update" and last.message["op"] == "update":
            last.message = {
                **message,
                "attributes": {**last.message["attributes"], **message["attributes"]},
            }
            last.op_id = event_id
            last.records.append(record.index)
            plan.coalesced += 1
            operation = last
        else:
            operation = Operation(event_id, entity, message, [record.index])
            chain.append(operation)
        by_event[event_id] = operation
    return plan


def encode(operation: dict[str, Any]) -> bytes:
    """The operation's JSON bytes, as they appear in a request."""
    return _ENCODER.encode(operation).encode()


def encode_operation(operation: Operation) -> str | None:
    """Map and encode `operation` once (into `.encoded`); return why it cannot be, or None."""
    if not operation.encoded:
        try:
            operation.encoded = encode(to_operation(operation.message, operation.op_id))
        except (ValueError, TypeError, RecursionError) as exc:
            return f"cannot encode the operation: {type(exc).__name__}: {exc}"
    return None


def request_size(operations: Sequence[Operation]) -> int:
    """Bytes of the request body that carries `operations`."""
    return ENVELOPE_BYTES + sum(len(o.encoded) for o in operations) + max(len(operations) - 1, 0)


def request_body(operations: Sequence[Operation]) -> bytes:
    """The request body: the already-encoded operations joined, never re-encoded."""
    return REQUEST_PREFIX + b",".join(o.encoded for o in operations) + REQUEST_SUFFIX


def pack_requests(
    operations: Iterable[Operation], max_operations: int, max_bytes: int
) -> Iterator[list[Operation]]:
    """Split encoded `operations` (in order) into as few requests as the two limits allow,
    yielding each request as soon as it is full (so it can be sent while packing goes on).

    An operation too large for any request is yielded alone; callers check `fits_alone`.
    """
    current: list[Operation] = []
    size = ENVELOPE_BYTES
    for operation in operations:
        extra = len(operation.encoded) + (1 if current else 0)
        if current and (len(current) >= max_operations or size + extra > max_bytes):
            yield current
            current, size, extra = [], ENVELOPE_BYTES, len(operation.encoded)
        current.append(operation)
        size += extra
    if current:
        yield current


def fits_alone(operation: Operation, max_bytes: int) -> bool:
    """Whether one request can carry `operation` within `max_bytes`."""
    return ENVELOPE_BYTES + len(operation.encoded) <= max_bytes
