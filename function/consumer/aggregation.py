"""Valid records -> operations: order, de-duplicate, coalesce, encode once, pack into requests."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from consumer.mapping import to_operation
from consumer.records import SCHEMA_VIOLATION, Record
from consumer.time_budget import Deadline

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
    """What a batch becomes: per-entity chains of operations, in order.

    Chains are built lazily, entity by entity (`chains()`): an entity's records are
    schema-checked only then, so the validation of later entities overlaps the sending of
    earlier requests. The result is the same as checking every record first, because an
    entity's chain depends only on its own records (and on event_ids shared across
    entities, which `plan_operations` settles up front).
    """

    __slots__ = ("_groups", "_seen", "_validate", "built", "coalesced", "duplicate_of")

    def __init__(
        self,
        groups: list[list[Record]],
        validate: Callable[[Record], bool],
        seen: dict[str, int],
    ) -> None:
        self._groups = groups
        self._validate = validate
        self._seen = seen
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
        """Validate one entity's records (sorted), drop duplicates, coalesce updates."""
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
            if last is not None and message["op"] == "update" and last.message["op"] == "update":
                last.message = {
                    **message,
                    "attributes": {**last.message["attributes"], **message["attributes"]},
                }
                last.op_id = event_id
                last.records.append(record.index)
                self.coalesced += 1
            else:
                entity = (message["entity_type"], message["entity_id"])
                chain.append(Operation(event_id, entity, message, [record.index]))
        return chain


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


def plan_operations(records: Iterable[Record], validate: Callable[[Record], bool]) -> Plan:
    """Order parsed records by occurred_at then SentTimestamp and group them by entity.

    `validate(record)` checks the schema (once) and returns whether the record is valid. The
    returned plan drops invalid records and duplicate event_ids (the first valid record in
    that order wins) and coalesces consecutive updates of one entity, attributes merged,
    later wins, as its chains are built.
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
                record.error_code = SCHEMA_VIOLATION
                record.error_detail = f"fields {', '.join(_KEY_FIELDS)} must be strings"
            continue
        order = (instant(message["occurred_at"]), record.sent_timestamp, record.index)
        candidates.append((order, record, message))
    candidates.sort(key=lambda candidate: candidate[0])
    groups: dict[EntityKey, list[Record]] = {}
    entity_of_event: dict[str, EntityKey] = {}
    shared: set[str] = set()
    for _, record, message in candidates:
        entity = (message["entity_type"], message["entity_id"])
        groups.setdefault(entity, []).append(record)
        if entity_of_event.setdefault(message["event_id"], entity) != entity:
            shared.add(message["event_id"])
    seen: dict[str, int] = {}
    for _, record, message in candidates:  # event_ids on several entities: first valid wins
        event_id = message["event_id"]
        if event_id in shared and event_id not in seen and validate(record):
            seen[event_id] = record.index
    return Plan(list(groups.values()), validate, seen)


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


def _reference_encode(operation: dict[str, Any]) -> bytes:
    return _ENCODER.encode(operation).encode()


def _prebuilt_encode() -> Callable[[dict[str, Any]], bytes]:
    """`_reference_encode`, minus the C encoder `JSONEncoder.encode` builds on every call.

    That construction is ~1 us of the ~5 us an operation takes. The C encoder is built once
    with the same options (no circular check: parsed JSON has no cycles, and too deep a
    nesting still raises RecursionError); where it is missing or answers differently on a
    probe, the reference encoder is used.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _reference_encode
    try:
        prebuilt = make(
            None,  # markers: no circular check
            _ENCODER.default,
            json.encoder.encode_basestring_ascii,
            None,  # indent
            ":",
            ",",
            False,  # sort_keys
            False,  # skipkeys
            False,  # allow_nan
        )
        probe = {"op_id": "p", "attributes": {"é\n": [1, 2.5, True, None, {}], "x": "\u2028"}}
        if "".join(prebuilt(probe, 0)).encode() != _reference_encode(probe):
            return _reference_encode
    except Exception:  # noqa: BLE001 - any surprise means: use the reference encoder
        return _reference_encode

    def encode(operation: dict[str, Any]) -> bytes:
        return "".join(prebuilt(operation, 0)).encode()

    return encode


_encode = _prebuilt_encode()


def encode(operation: dict[str, Any]) -> bytes:
    """The operation's JSON bytes, as they appear in a request."""
    return _encode(operation)


def encode_operation(operation: Operation) -> str | None:
    """Map and encode `operation` once (into `.encoded`); return why it cannot be, or None."""
    if not operation.encoded:
        try:
            operation.encoded = _encode(to_operation(operation.message, operation.op_id))
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
