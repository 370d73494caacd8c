"""Valid records -> operations: order, de-duplicate, coalesce, encode once, pack into requests."""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consumer.api_operation import to_operation
from consumer.json_numbers import ASCII_STRING, encode_exact
from consumer.message_groups import group_key
from consumer.outcomes import ErrorCode
from consumer.records import Record
from consumer.settings import DEFAULT_MAX_REQUEST_BYTES
from consumer.time_budget import Deadline

REQUEST_PREFIX = b'{"operations":['
REQUEST_SUFFIX = b"]}"
ENVELOPE_BYTES = len(REQUEST_PREFIX) + len(REQUEST_SUFFIX)
MERGED_OP_ID_PREFIX = "merged:"
SIZE_BOUND_SLACK_BYTES = 256
"""Added to the bodies' sizes to bound a merged operation's encoded size (its op_id and
what `to_operation` adds); above the bound, the merged operation is encoded to check exactly."""
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)
_ASCII_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)

EntityKey = tuple[str, str]


def merged_op_id(event_ids: Iterable[str]) -> str:
    """The op_id of an operation carrying several changes: a digest of their sorted event_ids
    (71 characters), so it names exactly that set (contract section 2)."""
    digest = hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()
    return MERGED_OP_ID_PREFIX + digest


@dataclass(slots=True, eq=False)
class Operation:
    """One operation for the entity API and the records whose outcome it decides.

    Compared and hashed by identity. `op_id` is the single change's event_id or, once
    changes coalesce, `merged_op_id` of all of theirs. `encoded` is filled once, by
    `encode_operation`; `size_bound` is at least the encoded size.
    """

    op_id: str
    entity: EntityKey
    message: dict[str, Any]
    records: list[int]
    event_ids: list[str] = field(default_factory=list)
    size_bound: int = 0
    exact_numbers: bool = False
    encoded: bytes = b""

    def __repr__(self) -> str:
        return f"Operation({self.op_id!r}, {self.entity!r}, records={self.records})"


class Plan:
    """What a batch becomes: per-entity chains of operations, in order (from a FIFO queue,
    one chain per message group).

    Chains are built lazily, entity by entity (`chains()`): an entity's records are
    schema-checked only then, so the validation of later entities overlaps the sending of
    earlier requests. The result is the same as checking every record first, because an
    entity's chain depends only on its own records (and on event_ids shared across
    entities, which `plan_operations` settles up front).
    """

    __slots__ = (
        "_groups",
        "_max_operation_bytes",
        "_seen",
        "_validate",
        "built",
        "coalesced",
        "duplicate_of",
    )

    def __init__(
        self,
        groups: list[list[Record]],
        validate: Callable[[Record], bool],
        seen: dict[str, int],
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        self._groups = groups
        self._validate = validate
        self._seen = seen
        self._max_operation_bytes = max_request_bytes - ENVELOPE_BYTES
        self.built: list[list[Operation]] = []
        self.duplicate_of: dict[int, int] = {}
        self.coalesced = 0

    @property
    def duplicates(self) -> int:
        """Records dropped because an earlier record had the same event_id."""
        return len(self.duplicate_of)

    @property
    def operations(self) -> int:
        """How many operations the chains built so far hold."""
        return sum(len(chain) for chain in self.built)

    def chains(self) -> Iterator[list[Operation]]:
        """Every entity's chain (possibly empty), building those not built yet."""
        yield from list(self.built)
        while len(self.built) < len(self._groups):
            chain = self._build(self._groups[len(self.built)])
            self.built.append(chain)
            yield chain

    def complete(self, deadline: Deadline | None = None) -> None:
        """Build, and so validate, whatever is left (until the deadline passes, if given)."""
        for _ in self.chains():
            if deadline is not None and deadline.remaining() <= 0:
                return

    def operation_of(self) -> dict[int, Operation]:
        """Record index -> the operation that decides its outcome (duplicates included)."""
        owner = {index: op for chain in self.built for op in chain for index in op.records}
        for duplicate, winner in self.duplicate_of.items():
            if winner in owner:
                owner[duplicate] = owner[winner]
        return owner

    def _build(self, group: list[Record]) -> list[Operation]:
        """Validate one entity's records (sorted), drop duplicates, coalesce updates while
        the merged operation still fits in a request."""
        chain: list[Operation] = []
        seen, validate = self._seen, self._validate
        for record in group:
            if not validate(record):
                continue
            message: dict[str, Any] = record.message  # type: ignore[assignment]
            event_id = message["event_id"]
            winner = seen.setdefault(event_id, record.index)
            if winner != record.index:
                self.duplicate_of[record.index] = winner
                continue
            last = chain[-1] if chain else None
            entity = (message["entity_type"], message["entity_id"])
            if (
                last is not None
                and message["op"] == "update"
                and last.message["op"] == "update"
                and last.entity == entity  # a FIFO group's chain may hold several entities
                and self._merge(last, record, message)
            ):
                self.coalesced += 1
            else:
                chain.append(
                    Operation(
                        event_id,
                        entity,
                        message,
                        [record.index],
                        [event_id],
                        record.body_bytes + SIZE_BOUND_SLACK_BYTES,
                        record.exact_numbers,
                    )
                )
        return chain

    def _merge(self, last: Operation, record: Record, message: dict[str, Any]) -> bool:
        """Coalesce `message` (a later update) into `last`, unless that would carry a value
        under a newer `occurred_at` than its own (`may_coalesce`) or the merged operation
        would be too large for a request; return whether it was merged."""
        if not may_coalesce(last.message, message):
            return False
        merged = {
            **message,  # the later change's fields, its occurred_at the newest (or the same)
            "attributes": {**last.message["attributes"], **message["attributes"]},
        }
        event_ids = [*last.event_ids, message["event_id"]]
        op_id = merged_op_id(event_ids)
        exact_numbers = last.exact_numbers or record.exact_numbers
        bound = last.size_bound + record.body_bytes
        encoded = b""
        if bound > self._max_operation_bytes:
            try:
                encoded = _encode(to_operation(merged, op_id), exact_numbers)
            except (ValueError, TypeError, RecursionError):
                return False  # each change then gets its own outcome
            if len(encoded) > self._max_operation_bytes:
                return False
            bound = len(encoded)
        last.message, last.op_id, last.event_ids = merged, op_id, event_ids
        last.records.append(record.index)
        last.size_bound, last.exact_numbers, last.encoded = bound, exact_numbers, encoded
        return True


def may_coalesce(earlier: dict[str, Any], later: dict[str, Any]) -> bool:
    """Whether update `later` may be merged into the operation `earlier` without sending any
    value under a newer `occurred_at` than its own (contract section 3).

    A merged operation carries `later`'s `occurred_at`, and an API that refuses stale writes
    compares only that: an older value riding along would overwrite whatever the API applied
    in between. So the two must share their instant, or `later` must set every attribute
    `earlier` carries (the older values are then superseded, never sent). Every value of an
    operation thus carries the operation's own `occurred_at`.
    """
    then, now = instant(earlier["occurred_at"]), instant(later["occurred_at"])
    if then == now:
        return True
    if then > now:  # a FIFO queue's order need not be time: `later` would be lifted
        return False
    attributes: dict[str, Any] = later["attributes"]
    return all(key in attributes for key in earlier["attributes"])


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


_KEY_FIELDS = ("event_id", "entity_type", "entity_id", "op", "occurred_at")


def plan_operations(
    records: Iterable[Record],
    validate: Callable[[Record], bool],
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    message_groups: Sequence[str | None] | None = None,
) -> Plan:
    """Order parsed records by occurred_at then SentTimestamp and group them by entity.

    `validate(record)` checks the schema (once) and returns whether the record is valid. The
    returned plan drops invalid records and duplicate event_ids (the first valid record in
    that order wins) and coalesces consecutive updates of one entity, attributes merged,
    later wins, as its chains are built, as long as the merged operation fits in a request
    of `max_request_bytes`.

    From a FIFO queue (`message_groups[i]`: record i's MessageGroupId) the queue's order is
    the order: records keep their batch order and each message group is one chain, so a
    failure stops the rest of its group (see `consumer.message_groups`).
    """
    candidates: list[tuple[tuple[float, int, int], Record, dict[str, Any]]] = []
    for record in records:
        message = record.message
        if message is None:
            continue
        if not _has_key_strings(message):
            # cannot be valid: settle it now, it takes no part in ordering
            if validate(record):
                record.message = None
                record.error_code = ErrorCode.SCHEMA_VIOLATION
                record.error_detail = f"fields {', '.join(_KEY_FIELDS)} must be strings"
            continue
        if message_groups is None:
            order = (instant(message["occurred_at"]), record.sent_timestamp, record.index)
        else:
            order = (0.0, 0, record.index)
        candidates.append((order, record, message))
    candidates.sort(key=lambda candidate: candidate[0])
    groups: dict[EntityKey, list[Record]] = {}
    entity_of_event: dict[str, EntityKey] = {}
    shared: set[str] = set()
    for _, record, message in candidates:
        entity = (message["entity_type"], message["entity_id"])
        chain = entity if message_groups is None else group_key(message_groups[record.index])
        groups.setdefault(chain, []).append(record)
        if entity_of_event.setdefault(message["event_id"], entity) != entity:
            shared.add(message["event_id"])
    seen: dict[str, int] = {}
    for _, record, message in candidates:  # event_ids on several entities: first valid wins
        event_id = message["event_id"]
        if event_id in shared and event_id not in seen and validate(record):
            seen[event_id] = record.index
    return Plan(list(groups.values()), validate, seen, max_request_bytes)


def _has_key_strings(message: dict[str, Any]) -> bool:
    """Whether the fields used for ordering and grouping are strings (else it is invalid)."""
    get = message.get
    return (
        type(get("event_id")) is str
        and type(get("entity_type")) is str
        and type(get("entity_id")) is str
        and type(get("op")) is str
        and type(get("occurred_at")) is str
    )


def _reference_encode(operation: dict[str, Any]) -> str:
    return _ENCODER.encode(operation)


def _encode(operation: dict[str, Any], exact_numbers: bool = False) -> bytes:
    """The operation's JSON as UTF-8 bytes (a lone surrogate, which UTF-8 cannot carry, is
    written as a \\u escape instead); ExactNumbers as sent when `exact_numbers`."""
    text = encode_exact(operation) if exact_numbers else _reference_encode(operation)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        if exact_numbers:
            return encode_exact(operation, ASCII_STRING).encode("ascii")
        return _ASCII_ENCODER.encode(operation).encode("ascii")


def encode_operation(operation: Operation) -> str | None:
    """Map and encode `operation` once (into `.encoded`); return why it cannot be, or None."""
    if not operation.encoded:
        try:
            operation.encoded = _encode(
                to_operation(operation.message, operation.op_id), operation.exact_numbers
            )
        except (ValueError, TypeError, RecursionError) as exc:
            return f"cannot encode the operation: {type(exc).__name__}: {exc}"
    return None


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
