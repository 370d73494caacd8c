"""The zip ships no code that only tests call: each public name of function/consumer has a
caller in function/ or scripts/ (tests excluded), or a written reason in ALLOWED."""

from __future__ import annotations

from pathlib import Path

import pytest
from zip_callers import shipped_definitions, uncalled

from sbc_tools.paths import REPO

FUNCTION = REPO / "function"
ROOTS = [REPO / "function", REPO / "scripts"]

ENTRY_POINT = "called by Lambda: Terraform's `handler`"
RESPONSE_KEY = "a key of Lambda's partial-batch response (a TypedDict field, written as a dict key)"

ALLOWED: dict[str, str] = {
    "consumer.handler.lambda_handler": ENTRY_POINT,
    "consumer.outcomes.BatchItemFailure.itemIdentifier": RESPONSE_KEY,
    "consumer.outcomes.BatchResponse.batchItemFailures": RESPONSE_KEY,
}


def test_every_public_name_in_the_zip_has_a_caller_or_a_reason() -> None:
    without_caller = uncalled(FUNCTION, ROOTS)

    assert [name for name in without_caller if name not in ALLOWED] == []


def test_the_allow_list_holds_only_names_that_still_need_it() -> None:
    defined = {d.key for d in shipped_definitions(FUNCTION)}
    without_caller = set(uncalled(FUNCTION, ROOTS))

    assert sorted(set(ALLOWED) - defined) == [], "gone from the zip: drop from ALLOWED"
    assert sorted(set(ALLOWED) - without_caller) == [], "called now: drop from ALLOWED"


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        # Read through each import form: not reported.
        ("from consumer.a import used\nused()\n", []),
        ("import consumer.a\nconsumer.a.used()\n", []),
        ("from consumer import a\na.used()\n", []),
        ('used = on_first_call("consumer.a", "used")\nused()\n', []),
        # A test calls it, or only its own body does: reported.
        ("", ["consumer.a.used"]),
    ],
)
def test_callers_are_found_through_imports_and_tests_do_not_count(
    tmp_path: Path, caller: str, expected: list[str]
) -> None:
    root = _tree(
        tmp_path,
        {
            "function/consumer/__init__.py": "",
            "function/consumer/handler.py": "def lambda_handler():\n    pass\n",
            "function/consumer/a.py": "def used():\n    return used()\n",
            "function/schema/x.json": "{}",
            "scripts/tool.py": caller,
            "scripts/tests/test_a.py": "from consumer.a import used\nused()\n",
        },
    )
    found = uncalled(root / "function", [root / "function", root / "scripts"])

    assert [n for n in found if n != "consumer.handler.lambda_handler"] == expected


def test_an_attribute_written_but_never_read_is_reported(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "function/consumer/__init__.py": "",
            "function/consumer/handler.py": (
                "from consumer.p import Pacer\ndef lambda_handler():\n    return Pacer().step()\n"
            ),
            "function/consumer/p.py": (
                "class Pacer:\n"
                "    def __init__(self):\n        self.waited = 0\n        self.read = 0\n"
                "    def step(self):\n        self.waited += 1\n        return self.read\n"
            ),
            "function/schema/x.json": "{}",
        },
    )
    found = uncalled(root / "function", [root / "function"])

    assert found == ["consumer.handler.lambda_handler", "consumer.p.Pacer.waited"]
