"""Numbers keep the value they were sent with: parsed for schema checks, written back as sent."""

from __future__ import annotations

import json
import math

import pytest

from consumer.aggregation import Operation, encode_operation
from consumer.json_numbers import DECODER, ExactNumber, encode_exact
from consumer.records import parse_record

KEPT_AS_SENT = [
    "12345678901234567890.5",
    "1e309",
    "-1e309",
    "1.50",
    "1E2",
    "1e-7",
    "0.10000000000000000001",
    "-0.0e0",
    "9" * 5000,  # more digits than int() converts
]
PLAIN = ["0.1", "2.5", "-0.0", "1e+22", "7", "-3", "12345678901234567890"]


@pytest.mark.parametrize("text", KEPT_AS_SENT)
def test_a_number_a_float_cannot_write_back_is_kept_as_sent(text: str) -> None:
    value = DECODER.decode(f"[{text}]")[0]

    assert isinstance(value, ExactNumber)
    assert encode_exact(value) == text
    assert value == float(text) or (math.isinf(value) and math.isinf(float(text)))


@pytest.mark.parametrize("text", PLAIN)
def test_a_number_that_writes_back_unchanged_stays_a_plain_float_or_int(text: str) -> None:
    value = DECODER.decode(f"[{text}]")[0]

    assert type(value) in (int, float)
    assert json.dumps(value) == text


def test_nan_and_infinity_literals_are_not_json() -> None:
    for text in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError, match="not valid JSON"):
            DECODER.decode(f"[{text}]")


def test_encode_exact_writes_compact_utf8_json_like_the_standard_encoder() -> None:
    value = {"é": ["漢", 1, 2.5, True, False, None, {"": '\n"\\'}], "n": 1e300}

    assert encode_exact(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_exact({"x": float("nan")})
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode_exact({"x": {1, 2}})


def test_a_record_with_such_a_number_is_encoded_with_it() -> None:
    body = (
        '{"event_id":"n","entity_type":"order","entity_id":"1","op":"update",'
        '"attributes":{"big":12345678901234567890.5,"inf":1e309,"s":"é\\ud800"},'
        '"occurred_at":"2026-01-01T00:00:00Z"}'
    )
    record = parse_record({"messageId": "m", "body": body}, 0, 1_048_576)
    plain = parse_record({"messageId": "m", "body": body.replace("e309", "")}, 1, 1_048_576)
    assert (record.exact_numbers, plain.exact_numbers) == (True, True)
    assert record.message is not None
    operation = Operation("n", ("order", "1"), record.message, [0], ["n"], 0, True)

    assert encode_operation(operation) is None
    # a lone surrogate cannot be UTF-8: the operation falls back to \u escapes, numbers kept
    assert b'"big":12345678901234567890.5,"inf":1e309' in operation.encoded
    assert b'"s":"\\u00e9\\ud800"' in operation.encoded


def test_a_record_without_such_numbers_takes_the_fast_path() -> None:
    body = '{"a":1,"b":2.5,"c":"x"}'
    record = parse_record({"messageId": "m", "body": body}, 0, 1_048_576)

    assert record.exact_numbers is False
