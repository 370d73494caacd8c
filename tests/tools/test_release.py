"""One version source: the changelog's latest release follows it; the README names only refs
that exist; the licence is declared as an SPDX string."""

from __future__ import annotations

import re
import subprocess
import tomllib

from sbc_tools.paths import REPO


def _version() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return str(project["version"])


def test_the_changelog_and_readme_name_the_pyproject_version() -> None:
    version = _version()
    changelog = (REPO / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    links = dict(re.findall(r"^\[([^\]]+)\]: (\S+)$", changelog, re.M))

    assert "## [Unreleased]" in changelog
    assert releases[0] == version
    # Keep a Changelog: each heading's version links to its changes.
    assert {"Unreleased", *releases} <= set(links)


def _tag_exists(tag: str) -> bool:
    found = subprocess.run(  # noqa: S603 (git, our own repository)
        ["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"],  # noqa: S607
        capture_output=True,
        check=False,
    )
    return found.returncode == 0


def test_the_readme_names_only_tags_that_exist() -> None:
    readme = (REPO / "README.md").read_text()
    named = set(re.findall(r"(?:\?ref=|@|git checkout )(v\d+\.\d+\.\d+)", readme))

    assert [tag for tag in sorted(named) if not _tag_exists(tag)] == []


def test_the_licence_is_the_one_pyproject_declares() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    licence = (REPO / "LICENSE").read_text()

    assert project["license"] == "Apache-2.0"  # SPDX (PEP 639), no table form
    assert project["license-files"] == ["LICENSE"]
    assert "Apache License\n                           Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
