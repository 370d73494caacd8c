"""The committed runtime pins are exact and hash-checked for every target the build supports."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from package_builds import REPO_ROOT

from lambda_package.record import read_record

REQUIREMENTS = REPO_ROOT / "function" / "requirements.txt"


def pins() -> dict[str, list[str]]:
    """Map 'name==version' -> its sha256 hashes, from the committed file."""
    text = re.sub(r"\\\n\s*", " ", REQUIREMENTS.read_text())
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):  # uv indents its "# via" notes
            requirement, *options = line.split()
            hashes = [o for o in options if o.startswith("--hash=")]  # after any ; marker
            found[requirement] = [o.removeprefix("--hash=sha256:") for o in hashes]
    return found


def test_every_requirement_is_pinned_with_hashes() -> None:
    found = pins()
    assert {name.split("==")[0].lower() for name in found} >= {
        "jsonschema",
        "rfc3339-validator",
        "urllib3",
        "rpds-py",
    }
    for requirement, hashes in found.items():
        assert "==" in requirement, requirement
        assert hashes, f"{requirement} has no --hash"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), requirement
    assert not [name for name in found if name.split("==")[0].lower() in {"boto3", "botocore"}]


def test_native_pin_has_a_hash_per_architecture_and_python() -> None:
    rpds = next(hashes for name, hashes in pins().items() if name.startswith("rpds-py=="))
    # cp312 and cp313, aarch64 and x86_64 at least (uv may list every published file); that
    # each target's own wheel is among them, pip checks in the builds below.
    assert len(set(rpds)) >= 4


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
@pytest.mark.parametrize("python_version", ["3.12", "3.13"])
def test_every_target_installs_its_wheels_with_hash_checking(
    zips: Callable[[str, str], Path], arch: str, python_version: str
) -> None:
    record = read_record(zips(arch, python_version))  # the build fails on a hash mismatch
    assert record is not None
    assert record.hash_checked
