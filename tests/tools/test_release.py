"""One version source: the changelog's latest release and the README's pinned tag follow it."""

from __future__ import annotations

import re
import tomllib

from paths import REPO


def _version() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return str(project["version"])


def test_the_changelog_and_readme_name_the_pyproject_version() -> None:
    version = _version()
    changelog = (REPO / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    refs = set(re.findall(r"\?ref=v(\d+\.\d+\.\d+)", (REPO / "README.md").read_text()))

    assert "## [Unreleased]" in changelog
    assert releases[0] == version
    assert refs == {version}


def test_the_licence_is_the_one_pyproject_declares() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    licence = (REPO / "LICENSE").read_text()

    assert project["license"] == {"text": "Apache-2.0"}
    assert "Apache License\n                           Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
