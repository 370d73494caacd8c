"""The schema's `pattern`s mean the same under Python's and ECMA-262's regular expressions.

jsonschema checks a pattern with Python's `re.search`, where `$` also matches before a final
newline; JSON Schema means ECMA-262, where it does not. A pattern that ends in `$` lets
"e1\\n" through in Python only. Each pattern is checked under three readings: Python's search
(what the handler does), Python's fullmatch, and ECMA-262 itself (node, when installed).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from consumer.records import SCHEMA_PATH

SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

EXAMPLES: dict[str, tuple[list[str], list[str]]] = {
    # property: (accepted, refused)
    "event_id": (
        [
            "e1",
            "A.b_c:d-9",
            "x" * 128,
            "merged:" + "a" * 63,
            "merged:" + "A" * 64,
            "merged:" + "a" * 65,
            "xmerged:" + "a" * 64,
        ],
        [
            "",
            "x" * 129,
            "e 1",
            "e1\n",
            "\ne1",
            "e1\r",
            "e1\n\n",
            "e/1",
            "é",
            "merged:" + "0f" * 32,
            "merged:" + "a" * 64 + "\n",
        ],
    ),
    "entity_type": (
        ["order", "a", "a" + "b" * 63, "line_item2"],
        ["", "Order", "1order", "order\n", "order\r\n", "a" + "b" * 64, "order-x", "order "],
    ),
    "occurred_at": (
        ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123+01:00"],
        ["2026-01-01T00:00:00Z\n", "2026-01-01T00:00:00Z ", " 2026-01-01T00:00:00Z", "x"],
    ),
}


def patterns(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(property name, pattern) for every `pattern` keyword in the schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield path.rsplit("/", 1)[-1], value
            else:
                yield from patterns(value, f"{path}/{key}")
    elif isinstance(node, list):
        for n, item in enumerate(node):
            yield from patterns(item, f"{path}/{n}")


PATTERNS = list(patterns(SCHEMA))


def test_every_pattern_has_examples() -> None:
    assert sorted(name for name, _ in PATTERNS) == sorted(EXAMPLES)


@pytest.mark.parametrize(("name", "pattern"), PATTERNS)
def test_python_search_and_fullmatch_agree_with_the_examples(name: str, pattern: str) -> None:
    accepted, refused = EXAMPLES[name]
    for text in accepted:
        assert re.search(pattern, text), (pattern, text)
        assert re.fullmatch(pattern, text), (pattern, text)
    for text in refused:
        if name == "occurred_at" and text == "x":
            continue  # refused by the date-time format, not the pattern
        assert not re.search(pattern, text), (pattern, text)
        assert not re.fullmatch(pattern, text), (pattern, text)


@pytest.mark.parametrize(("name", "pattern"), PATTERNS)
def test_no_pattern_matches_before_a_final_newline(name: str, pattern: str) -> None:
    for text in EXAMPLES[name][0]:
        for suffix in ("\n", "\r\n", "\n\n"):
            assert not re.search(pattern, text + suffix), (pattern, text + suffix)


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node (an ECMA-262 engine) is not installed")
def test_ecma_262_reads_every_pattern_the_same_way() -> None:
    cases = [
        (pattern, text, expected)
        for name, pattern in PATTERNS
        for expected, texts in zip((True, False), EXAMPLES[name], strict=True)
        for text in texts
        if not (name == "occurred_at" and text == "x")
    ]
    script = (
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(cases.map(([p, t]) => new RegExp(p, 'u').test(t))));"
    )
    result = subprocess.run(  # noqa: S603 - a fixed script on our own data
        [str(NODE), "-e", script],
        input=json.dumps([[p, t] for p, t, _ in cases]),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    answers = json.loads(result.stdout)
    assert answers == [expected for _, _, expected in cases]
    for (pattern, text, _), answer in zip(cases, answers, strict=True):
        assert bool(re.search(pattern, text)) == answer, (pattern, text)


def test_the_validator_refuses_a_final_newline_in_every_patterned_field() -> None:
    from consumer.records import load_validator

    validator = load_validator(check=True)
    valid = {
        "event_id": "e1",
        "entity_type": "order",
        "entity_id": "1",
        "op": "delete",
        "occurred_at": "2026-01-01T00:00:00Z",
    }
    assert validator.is_valid(valid)
    for name in EXAMPLES:
        assert not validator.is_valid({**valid, name: valid[name] + "\n"}), name
