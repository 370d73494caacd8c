"""The committed runtime pins are exact and hash-checked for every target the build supports."""

from __future__ import annotations

import re

from package_builds import REPO_ROOT

REQUIREMENTS = REPO_ROOT / "function" / "requirements.txt"


def pins() -> dict[str, list[str]]:
    """Map 'name==version' -> its sha256 hashes, from the committed file."""
    text = re.sub(r"\\\n\s*", " ", REQUIREMENTS.read_text())
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            requirement, *options = line.split()
            found[requirement] = [o.removeprefix("--hash=sha256:") for o in options]
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
    assert len(set(rpds)) == 4  # cp312 and cp313, aarch64 and x86_64
