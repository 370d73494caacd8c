"""JSON numbers that reach the entity API with the value they were sent with.

Python reads a JSON number as a float, which cannot carry every decimal value
(`12345678901234567890.5`) or range (`1e309`). The decoder here keeps such numbers as
`ExactNumber`: a float (for schema checks) that remembers its source text, and
`encode_exact` writes that text back. Numbers a float carries exactly stay plain floats,
so the common case keeps the C decoder's and encoder's speed.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from math import isfinite
from typing import Any

UTF8_STRING: Callable[[str], str] = json.encoder.encode_basestring
"""A JSON string with non-ASCII characters kept as they are (UTF-8 once encoded)."""
ASCII_STRING: Callable[[str], str] = json.encoder.encode_basestring_ascii
"""A JSON string with every non-ASCII character escaped (for lone surrogates)."""


class ExactNumber(float):
    """A JSON number a float cannot carry exactly: compares as the nearest float, and
    `text` is the number as it was sent."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> ExactNumber:
        """The number written as `text` (valid JSON number syntax)."""
        number = super().__new__(cls, float(text))
        number.text = text
        return number

    def __repr__(self) -> str:
        return self.text


class ExactNumbers:
    """Counts the numbers the decoder had to keep as text (to tell which bodies hold any)."""

    kept = 0


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    """A float when it writes back as `text`, else an ExactNumber (so an encoded number is
    never longer than in its body, and never changes its value)."""
    value = float(text)
    if repr(value) == text:
        return value
    ExactNumbers.kept += 1
    return ExactNumber(text)


def _parse_int(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        ExactNumbers.kept += 1
        return ExactNumber(text)


DECODER = json.JSONDecoder(
    parse_float=_parse_float, parse_int=_parse_int, parse_constant=_reject_constant
)
"""Reads JSON text; NaN and Infinity are refused (they are not JSON)."""


def encode_exact(value: Any, string: Callable[[str], str] = UTF8_STRING) -> str:  # noqa: PLR0911
    """Compact JSON of `value` (parsed JSON), ExactNumbers as sent, strings by `string`.

    The slow path for the operations whose bodies held an ExactNumber; raises ValueError
    for a non-finite float that is not an ExactNumber, TypeError for a non-JSON type.
    """
    if isinstance(value, str):
        return string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, ExactNumber):
        return value.text
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if not isfinite(value):
            raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
        return float.__repr__(value)
    if isinstance(value, dict):
        items = (f"{string(str(k))}:{encode_exact(v, string)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode_exact(v, string) for v in value) + "]"
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
