"""Record parsing and schema validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from consumer.outcomes import ErrorCode, bounded
from consumer.records import Record, load_validator, parse_record, validate_record

INVALID_JSON = ErrorCode.INVALID_JSON
SCHEMA_VIOLATION = ErrorCode.SCHEMA_VIOLATION

LIMIT = 1_048_576


def record(body: Any, **extra: Any) -> dict[str, Any]:
    return {"messageId": "m1", "body": body, "attributes": {"SentTimestamp": "42"}, **extra}


def check_record(raw: Any, index: int, max_body_bytes: int = LIMIT) -> Record:
    """Parse and validate one record, as the handler does (parse all, validate as planned)."""
    result = parse_record(raw, index, max_body_bytes)
    validate_record(result, load_validator())
    return result


def check(body: Any) -> tuple[str | None, str | None]:
    result = check_record(record(body), 0)
    return result.error_code, result.error_detail


def valid(**changes: Any) -> str:
    message = {
        "event_id": "evt-1",
        "entity_type": "order",
        "entity_id": "1",
        "op": "update",
        "attributes": {"a": 1},
        "occurred_at": "2026-01-01T00:00:00Z",
    }
    message.update(changes)
    return json.dumps({k: v for k, v in message.items() if v is not None})


def test_the_shipped_schema_is_a_valid_draft_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    from consumer.records import SCHEMA_PATH

    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False


def test_a_valid_record_keeps_its_message_and_metadata() -> None:
    result = check_record(record(valid()), 3)

    assert (result.error_code, result.index, result.message_id) == (None, 3, "m1")
    assert result.sent_timestamp == 42
    assert result.message is not None
    assert result.message["event_id"] == "evt-1"


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00.123456789+05:30",
        "2026-01-01t00:00:00z",
    ],
)
def test_rfc3339_date_times_are_accepted(stamp: str) -> None:
    assert check(valid(occurred_at=stamp)) == (None, None)


@pytest.mark.parametrize(
    "stamp", ["2026-01-01", "2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "01/01/2026 10:00", ""]
)
def test_date_time_format_is_enforced(stamp: str) -> None:
    code, detail = check(valid(occurred_at=stamp))

    assert code == SCHEMA_VIOLATION
    assert detail is not None
    assert detail.startswith("occurred_at:")


@pytest.mark.parametrize(
    ("op", "attributes", "ok"),
    [
        ("create", None, False),
        ("update", None, False),
        ("delete", None, True),
        ("delete", {}, True),
        ("delete", {"a": 1}, False),
        ("create", {}, True),
        ("update", {f"k{n}": n for n in range(100)}, True),
        ("update", {f"k{n}": n for n in range(101)}, False),
    ],
)
def test_attributes_rule_depends_on_op(op: str, attributes: Any, ok: bool) -> None:
    body = json.loads(valid(op=op))
    body.pop("attributes")
    if attributes is not None:
        body["attributes"] = attributes
    code, _ = check(json.dumps(body))

    assert (code is None) == ok


@pytest.mark.parametrize(
    ("event_id", "ok"),
    [
        ("a", True),
        ("A-z_0.9:x", True),
        ("e" * 128, True),
        ("e" * 129, False),
        ("", False),
        ("a b", False),
        ("é", False),
    ],
)
def test_event_id_pattern(event_id: str, ok: bool) -> None:
    assert (check(valid(event_id=event_id))[0] is None) == ok


@pytest.mark.parametrize(
    ("entity_type", "ok"),
    [
        ("order", True),
        ("o", True),
        ("o" + "x" * 63, True),
        ("o" + "x" * 64, False),
        ("Order", False),
        ("1st", False),
        ("a-b", False),
    ],
)
def test_entity_type_pattern(entity_type: str, ok: bool) -> None:
    assert (check(valid(entity_type=entity_type))[0] is None) == ok


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{", INVALID_JSON),
        ("[]", INVALID_JSON),
        ("null", INVALID_JSON),
        ('{"a": Infinity}', INVALID_JSON),
        ("caf\udce9", INVALID_JSON),
        (b"\xff\xfe", INVALID_JSON),
        (None, INVALID_JSON),
        (42, INVALID_JSON),
        ("{}", SCHEMA_VIOLATION),
        ('{"a": ' * 50_000 + "1" + "}" * 50_000, INVALID_JSON),
    ],
)
def test_bad_bodies_are_classified_without_raising(body: Any, code: str) -> None:
    assert check(body)[0] == code


def test_bytes_bodies_are_decoded_as_utf8() -> None:
    assert check(valid().encode())[0] is None


def test_body_size_is_measured_in_utf8_bytes() -> None:
    message = json.loads(valid())
    message["attributes"] = {"text": "é" * 600}  # 1,200 bytes of UTF-8 in 600 characters
    body = json.dumps(message, ensure_ascii=False)
    result = check_record(record(body), 0, 1_100)

    assert result.error_code == SCHEMA_VIOLATION
    assert result.error_detail is not None
    assert "bytes, over the 1100-byte limit" in result.error_detail


def test_violation_detail_is_bounded_to_1kb() -> None:
    code, detail = check(valid(entity_id="x" * 300, surprise="y" * 5000))

    assert code == SCHEMA_VIOLATION
    assert detail is not None
    assert len(detail.encode()) <= 1024


def test_bounded_cuts_on_a_character_boundary() -> None:
    cut = bounded("é" * 1000, 101)

    assert len(cut.encode()) <= 101
    assert cut.endswith("...")
    assert bounded("") == "-"


def test_records_that_are_not_objects_or_lack_fields() -> None:
    assert parse_record("nope", 0, LIMIT).error_code == INVALID_JSON
    missing = parse_record({"body": valid()}, 1, LIMIT)
    assert missing.message_id is None
    assert missing.sent_timestamp == 0
    odd_stamp = parse_record(record(valid(), attributes={"SentTimestamp": "soon"}), 2, LIMIT)
    assert odd_stamp.sent_timestamp == 0
