"""The zip's functions stay short: none of its Python modules defines a function (or method)
longer than MAX_LINES, so each reads as one step with a name (issue 18)."""

from __future__ import annotations

import ast
from pathlib import Path

from package_builds import REPO_ROOT

from lambda_package.sources import collect_function_files

MAX_LINES = 60


def long_functions(function_dir: Path, max_lines: int = MAX_LINES) -> list[str]:
    """`archive name:function (lines)` for each function of the zip longer than `max_lines`."""
    found = []
    for archive_name, path in collect_function_files(function_dir).items():
        if not archive_name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > max_lines:
                    found.append(f"{archive_name}:{node.name} ({lines})")
    return found


def test_no_function_in_the_zip_is_longer_than_60_lines() -> None:
    assert long_functions(REPO_ROOT / "function") == []


def test_a_long_function_is_reported(tmp_path: Path) -> None:
    package = tmp_path / "consumer"
    package.mkdir()
    (tmp_path / "schema").mkdir()
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("def lambda_handler():\n    pass\n")
    body = "".join(f"        x{n} = {n}\n" for n in range(60))  # the def line and 60 more
    (package / "long.py").write_text(f"class C:\n    def step(self):\n{body}")

    assert long_functions(tmp_path) == ["consumer/long.py:step (61)"]
