"""`--version` on every tool built on `cli.parser_for` (as pypa/build has it): `<prog> <version>`,
the version of pyproject.toml; where the tools' state and version come from."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from tool_runs import run_tool

from sbc_tools import paths
from sbc_tools.paths import REPO
from sbc_tools.version import version

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
SCRIPTS = REPO / "scripts"


def _tools_with_version() -> list[str]:
    """Every module of scripts/ whose parser has `--version` from `parser_for` or
    `add_version` (found, not listed)."""
    return sorted(
        ".".join(path.relative_to(SCRIPTS).with_suffix("").parts).removesuffix(".__main__")
        for path in SCRIPTS.rglob("*.py")
        if re.search(r"\b(parser_for|add_version)\(", path.read_text()) and path.name != "cli.py"
    )


def test_the_tools_with_version_are_found() -> None:
    tools = _tools_with_version()

    assert {"sbc_tools.ops.publish", "localcloud", "lambda_package", "sim", "locking"} <= set(tools)


@pytest.mark.parametrize("module", _tools_with_version())
def test_every_tool_prints_its_version(module: str) -> None:
    run = run_tool(module, ["--version"], dict(os.environ))

    assert run.returncode == 0, run.stderr
    assert run.stdout == f"python -m {module} {VERSION}\n"


def test_a_checkout_is_recognised_by_its_pyproject_beside_the_handler(tmp_path: Path) -> None:
    (tmp_path / "function" / "consumer").mkdir(parents=True)
    without_pyproject = paths._checkout(tmp_path)
    (tmp_path / "pyproject.toml").write_text("")

    assert without_pyproject is None
    assert paths._checkout(tmp_path) == tmp_path
    assert paths._checkout(tmp_path / "function") is None
    assert paths.CHECKOUT == REPO
    assert paths.STATE == REPO / ".localcloud"


def test_a_checkout_s_version_is_its_pyproject_s_not_an_installed_one(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "sqs-batch-consumer"\nversion = "9.8.7"\n'
    )

    assert version(tmp_path) == "9.8.7"
    assert version() == VERSION  # this checkout's
