"""Add --hash lines to the pinned runtime requirements, for every Lambda target we build.

Downloads the wheels pip would pick for each architecture and Python version (the same pip
flags as the build), then rewrites each `name==version` line with the sha256 of every wheel
seen for it. Comments and order are kept. Run it after changing a pin:

    python -m lambda_package.pin_hashes [--requirements function/requirements.txt]
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from cli import parser_for
from lambda_package.targets import ARCHITECTURES, PYTHON_VERSIONS, Target
from paths import REPO

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s\\;]+)")


def canonical(name: str) -> str:
    """PEP 503 name normalisation, also matching wheel file names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def unhashed_requirements(text: str) -> list[str]:
    """The requirement file's lines with hash continuations removed."""
    joined = re.sub(r"\s*\\\n\s*--hash=\S+", "", text)
    return joined.splitlines()


def download_wheel_hashes(requirements: Path, target: Target, folder: Path) -> dict[str, set[str]]:
    """Download the target's wheels and map 'name==version' -> sha256 hashes."""
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--platform", target.platform_tag, "--only-binary=:all:", "--implementation", "cp",
        "--python-version", target.python_version, "--dest", str(folder),
        "--requirement", str(requirements),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    hashes: dict[str, set[str]] = defaultdict(set)
    for wheel in folder.glob("*.whl"):
        name, version = wheel.name.split("-")[:2]
        hashes[f"{canonical(name)}=={version}"].add(hashlib.sha256(wheel.read_bytes()).hexdigest())
    return hashes


def main() -> int:
    """Rewrite the requirements file with hashes for all targets."""
    parser = parser_for(__doc__, __spec__)
    parser.add_argument("--requirements", type=Path, default=REPO / "function" / "requirements.txt")
    arguments = parser.parse_args()
    path: Path = arguments.requirements
    lines = unhashed_requirements(path.read_text(encoding="utf-8"))
    hashes: dict[str, set[str]] = defaultdict(set)
    with tempfile.TemporaryDirectory() as scratch:
        plain = Path(scratch, "requirements.txt")
        plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
        for arch in ARCHITECTURES:
            for version in PYTHON_VERSIONS:
                folder = Path(scratch, f"{arch}-{version}")
                found = download_wheel_hashes(plain, Target(arch, version), folder)
                for key, values in found.items():
                    hashes[key] |= values
    output = []
    for line in lines:
        match = _PIN.match(line)
        if match is None:
            output.append(line)
            continue
        key = f"{canonical(match['name'])}=={match['version']}"
        if not hashes.get(key):
            print(f"pin_requirement_hashes: no wheel downloaded for {line!r}", file=sys.stderr)
            return 1
        output.append(
            line.rstrip() + "".join(f" \\\n    --hash=sha256:{h}" for h in sorted(hashes[key]))
        )
    path.write_text("\n".join(output) + "\n", encoding="utf-8")
    print(f"wrote hashes for {sum(1 for line in lines if _PIN.match(line))} pins to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
