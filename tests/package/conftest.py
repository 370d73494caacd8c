"""Build each zip once per test session through the real command line, and share the results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from package_builds import build_ok, find_python


@pytest.fixture(scope="session")
def zips(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """Build (once per session) and return the zip for an architecture and Python version."""
    built: dict[tuple[str, str], Path] = {}
    folder = tmp_path_factory.mktemp("zips")

    def get(arch: str, python_version: str = "3.12") -> Path:
        if (arch, python_version) not in built:
            output = folder / f"function-{arch}-{python_version}.zip"
            built[arch, python_version] = build_ok(output, arch, python_version).output
        return built[arch, python_version]

    return get


@pytest.fixture(scope="session")
def python_312() -> Path:
    """A Python 3.12 interpreter (the default target runtime), found as the build finds it."""
    return find_python("3.12")
