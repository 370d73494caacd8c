"""SQS records -> validated messages, or the reason a record goes to the DLQ."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from consumer.json_numbers import DECODER, ExactNumbers
from consumer.outcomes import ErrorCode, bounded

SCHEMA_PATH = Path(__file__).parent.parent / "schema" / "entity_change.schema.json"


@dataclass(slots=True, eq=False)
class Record:
    """One SQS record of the batch and what validation made of it.

    `message` is the parsed body while it may be valid; `checked` says whether the schema
    was checked; `error_code`/`error_detail` say why the record goes to the DLQ;
    `body_bytes` is the body's UTF-8 size; `exact_numbers` says whether the body holds a
    number a float cannot carry (its operation is then encoded by `encode_exact`).
    """

    index: int
    message_id: str | None
    body: Any
    sent_timestamp: int
    message: dict[str, Any] | None = None
    checked: bool = False
    error_code: ErrorCode | None = None
    error_detail: str | None = None
    body_bytes: int = 0
    exact_numbers: bool = False


@lru_cache(maxsize=2)
def load_validator(path: Path = SCHEMA_PATH, check: bool = False) -> Draft202012Validator:
    """The schema validator with format checks (date-time needs rfc3339-validator), built once.

    The schema is checked against its meta-schema when the package is built (`make package`),
    so the cold start skips that (~5 ms) unless `check` is set.
    """
    schema = json.loads(path.read_text(encoding="utf-8"))
    if check:
        Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _sent_timestamp(raw: dict[str, Any]) -> int:
    """SentTimestamp in ms; 0 when missing or not a finite integer (e.g. Infinity)."""
    attributes = raw.get("attributes")
    if isinstance(attributes, dict):
        try:
            return int(attributes.get("SentTimestamp", 0))
        except (TypeError, ValueError, OverflowError):
            return 0
    return 0


def parse_record_id(raw: Any, index: int) -> Record:
    """A record with only its messageId read (for records that are not processed)."""
    message_id = raw.get("messageId") if isinstance(raw, dict) else None
    valid = isinstance(message_id, str) and bool(message_id)
    return Record(index, message_id if valid else None, None, 0)


def parse_record(raw: Any, index: int, max_body_bytes: int) -> Record:
    """Decode one SQS record's body into a JSON object (schema not checked yet); never raises."""
    if not isinstance(raw, dict):
        record = Record(index, None, None, 0)
        record.error_code, record.error_detail = ErrorCode.INVALID_JSON, "record is not an object"
        return record
    message_id = raw.get("messageId")
    record = Record(
        index,
        message_id if isinstance(message_id, str) and message_id else None,
        raw.get("body"),
        _sent_timestamp(raw),
    )
    text, size, problem = decode_body(record.body, max_body_bytes)
    if problem is not None:
        record.error_code, record.error_detail = problem
        return record
    record.body_bytes = size
    kept = ExactNumbers.kept
    record.message, detail = parse_json_object(text)
    record.exact_numbers = ExactNumbers.kept != kept
    if record.message is None:
        record.error_code, record.error_detail = ErrorCode.INVALID_JSON, detail
    return record


def validate_record(record: Record, validator: Draft202012Validator) -> bool:
    """Check the record's message against the schema once; False (and the reason set) if not."""
    message = record.message
    if message is None:
        return False
    if record.checked:
        return True
    record.checked = True
    try:
        if validator.is_valid(message):
            return True
        detail = describe_violation(validator, message)
    except RecursionError:
        detail = "body is nested too deeply to validate"
    record.message, record.error_code = None, ErrorCode.SCHEMA_VIOLATION
    record.error_detail = detail
    return False


def parse_json_object(text: str) -> tuple[dict[str, Any] | None, str]:
    """(object, "") when `text` is a JSON object, else (None, why not)."""
    try:
        message = DECODER.decode(text)
    except RecursionError:
        return None, "body is nested too deeply to parse"
    except ValueError as exc:
        return None, bounded(f"body is not JSON: {exc}")
    if not isinstance(message, dict):
        return None, f"body is JSON {type(message).__name__}, not an object"
    return message, ""


Problem = tuple[ErrorCode, str]


def decode_body(body: Any, max_body_bytes: int) -> tuple[str, int, Problem | None]:
    """(text, UTF-8 bytes, None) for a UTF-8 body within the size limit, else
    ("", 0, (code, detail))."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return "", 0, (ErrorCode.INVALID_JSON, "body is not valid UTF-8")
        size = len(body)
    elif isinstance(body, str):
        if len(body) > max_body_bytes:
            return "", 0, (ErrorCode.SCHEMA_VIOLATION, _too_large(len(body), max_body_bytes))
        text, size = body, len(body)
        if not body.isascii():
            try:
                size = len(body.encode("utf-8"))
            except UnicodeEncodeError:
                return "", 0, (ErrorCode.INVALID_JSON, "body is not valid UTF-8")
    else:
        return "", 0, (ErrorCode.INVALID_JSON, f"body is {type(body).__name__}, not a string")
    if size > max_body_bytes:
        return "", 0, (ErrorCode.SCHEMA_VIOLATION, _too_large(size, max_body_bytes))
    return text, size, None


def describe_violation(validator: Draft202012Validator, message: dict[str, Any]) -> str:
    """The most relevant schema error, as `path: reason`, at most 1 KB."""
    error = best_match(validator.iter_errors(message))
    if error is None:
        return "schema violation"
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return bounded(f"{where}: {error.message}")


def _too_large(size: int, limit: int) -> str:
    return f"body is {size} bytes, over the {limit}-byte limit (MAX_REQUEST_BYTES)"
