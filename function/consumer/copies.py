"""The retry facts a delayed copy carries, and how the copy keeps every producer attribute.

A copy (see consumer.retries) must say when its change was first sent, how many receives it
has had and which message the producer sent, and it must keep every message attribute the
producer set: String, Number and Binary, up to SQS's 10. Attributes would then leave no room
for the retry facts, so they travel in the body, as one header line before the original body:

    sbc-retry-copy/1 {"first_sent_ms":1767225600000,"attempts":4,"source_message_id":"..."}
    <the original body, byte for byte>

`unwrap` takes the line off before the body is parsed, so validation, aggregation and the DLQ
see the producer's body. The line costs ~130 bytes: a body within that of SQS's message size
limit cannot take it (`fits`); it is not copied (counted as `copy_too_big`, see retries).

Messages in flight from before this format carry the facts as two message attributes,
`retry_first_sent_timestamp` and `retry_attempts`; they are still read (`legacy_facts`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

HEADER = "sbc-retry-copy/1 "
"""How a copy's body starts."""
LEGACY_FIRST_SENT_ATTRIBUTE = "retry_first_sent_timestamp"
LEGACY_ATTEMPTS_ATTRIBUTE = "retry_attempts"
MAX_MESSAGE_BYTES = 262_144
"""The largest message the stack's queues take (MaximumMessageSize, 256 KiB: the queue
module leaves SQS's default); a copy must fit it, body and attributes together."""
MAX_MESSAGE_ATTRIBUTES = 10


@dataclass(frozen=True, slots=True)
class CarriedFacts:
    """What a copy says about the change it carries."""

    first_sent_ms: int
    attempts: int
    """Receives of the change before this copy."""
    source_message_id: str | None
    """The messageId of the message the producer sent."""


def wrap(body: str, facts: CarriedFacts) -> str:
    """The copy's body: the header line with `facts`, then `body` unchanged."""
    line = {
        "first_sent_ms": facts.first_sent_ms,
        "attempts": facts.attempts,
        "source_message_id": facts.source_message_id,
    }
    return f"{HEADER}{json.dumps(line, separators=(',', ':'))}\n{body}"


def unwrap(body: Any) -> tuple[Any, CarriedFacts | None]:
    """(the producer's body, the facts) of a copy; (body, None) for any other body."""
    if not isinstance(body, str) or not body.startswith(HEADER):
        return body, None
    line, newline, rest = body[len(HEADER) :].partition("\n")
    try:
        facts = json.loads(line)
        first, attempts = facts["first_sent_ms"], facts["attempts"]
        source = facts.get("source_message_id")
    except (ValueError, TypeError, KeyError, AttributeError):
        return body, None
    if not newline or not _whole(first) or not _whole(attempts):
        return body, None
    return rest, CarriedFacts(first, attempts, source if isinstance(source, str) else None)


def legacy_facts(raw: dict[str, Any]) -> CarriedFacts | None:
    """The facts of a copy made before the header line: both attributes, well formed."""
    attributes = raw.get("messageAttributes")
    if not isinstance(attributes, dict):
        return None
    first = _number(attributes.get(LEGACY_FIRST_SENT_ATTRIBUTE))
    attempts = _number(attributes.get(LEGACY_ATTEMPTS_ATTRIBUTE))
    if first is None or attempts is None:
        return None
    return CarriedFacts(first, attempts, None)


def producer_attributes(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The record's message attributes in SendMessage's form (Binary ones decoded from the
    event's base64), without the legacy retry attributes; None when one cannot be rebuilt."""
    attributes = raw.get("messageAttributes")
    if not isinstance(attributes, dict):
        return {}
    kept: dict[str, Any] = {}
    for name, value in attributes.items():
        if name in (LEGACY_FIRST_SENT_ATTRIBUTE, LEGACY_ATTEMPTS_ATTRIBUTE):
            continue
        rebuilt = _attribute(value)
        if rebuilt is None:
            return None
        kept[name] = rebuilt
    return kept if len(kept) <= MAX_MESSAGE_ATTRIBUTES else None


def message_bytes(body: str, attributes: dict[str, Any]) -> int:
    """What SQS counts against its size limits: the body and every attribute's name, type
    and value, in bytes."""
    size = len(body.encode("utf-8", "replace"))
    for name, value in attributes.items():
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        if "BinaryValue" in value:
            size += len(value["BinaryValue"])
        else:
            size += len(str(value.get("StringValue", "")).encode("utf-8", "replace"))
    return size


def _attribute(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("dataType")
    if not isinstance(kind, str) or not kind:
        return None
    text, binary = value.get("stringValue"), value.get("binaryValue")
    if isinstance(text, str) and not kind.startswith("Binary"):
        return {"DataType": kind, "StringValue": text}
    if isinstance(binary, str | bytes) and kind.startswith("Binary"):
        try:
            data = binary if isinstance(binary, bytes) else base64.b64decode(binary, validate=True)
        except (binascii.Error, ValueError):
            return None
        return {"DataType": kind, "BinaryValue": data}
    return None


def _number(value: Any) -> int | None:
    text = value.get("stringValue") if isinstance(value, dict) else None
    try:
        number = int(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return number if number is not None and number > 0 else None


def _whole(value: Any) -> bool:
    return type(value) is int and value > 0


def unwrap_records(raw_records: list[Any]) -> tuple[list[Any], list[CarriedFacts | None]]:
    """(the records with each copy's body unwrapped, per record what its copy carried: the
    header line, else the legacy attributes, else None)."""
    records: list[Any] = []
    carried: list[CarriedFacts | None] = []
    for raw in raw_records:
        record, facts = raw, None
        if isinstance(raw, dict):
            body, facts = unwrap(raw.get("body"))
            if facts is not None:
                record = {**raw, "body": body}
            else:
                facts = legacy_facts(raw)
        records.append(record)
        carried.append(facts)
    return records, carried
