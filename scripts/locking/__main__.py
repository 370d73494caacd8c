"""Cut a `uv pip compile --generate-hashes` lock down to the files its targets install.

    python -m locking --pylock LOCK.toml --target lambda REQUIREMENTS.txt

uv writes the hash of every file of each pinned version (sdist, every platform's wheels); the
Lambda zip only ever installs manylinux wheels for CPython 3.12/3.13 on x86_64 and arm64
(`make package`: `pip --only-binary=:all: --platform manylinux2014_<machine>`). The same
resolution written as `pylock.toml` names each file with its hash; this keeps, in the
requirements file, the hashes of the wheels a target can install, so `make lock` reproduces
the committed lock exactly from scratch. A package left with no such wheel is an error.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

from sbc_tools.cli import add_version

# Lambda's Python runtimes and machines (scripts/lambda_package/targets.py builds for these).
LAMBDA_PYTHONS = ((3, 12), (3, 13))
LAMBDA_MACHINES = ("x86_64", "aarch64")
TARGETS = {"lambda": "CPython 3.12/3.13 wheels for manylinux2014 x86_64 and aarch64"}

HASH_LINE = re.compile(r"^\s+--hash=sha256:(?P<digest>[0-9a-f]{64})(?P<more> \\)?$")


def lambda_tags() -> set[Tag]:
    """Every wheel tag pip accepts for `--platform manylinux2014_<machine>` on Lambda."""
    tags: set[Tag] = set()
    for machine in LAMBDA_MACHINES:
        platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(17, 4, -1)]
        platforms += [f"manylinux2014_{machine}", f"manylinux2010_{machine}"]
        platforms += [f"manylinux1_{machine}"]
        for version in LAMBDA_PYTHONS:
            tags.update(cpython_tags(version, platforms=platforms))
            tags.update(compatible_tags(version, platforms=platforms))
    return tags


def allowed_digests(pylock: Path, tags: set[Tag]) -> dict[str, set[str]]:
    """Per package name, the sha256 of its wheels that carry one of `tags`."""
    lock = tomllib.loads(pylock.read_text(encoding="utf-8"))
    allowed: dict[str, set[str]] = {}
    for package in lock.get("packages", []):
        keep = allowed.setdefault(package["name"], set())
        for wheel in package.get("wheels", []):
            filename = wheel.get("name") or wheel["url"].rsplit("/", 1)[-1]
            if tags & set(parse_wheel_filename(filename)[3]):
                keep.add(wheel["hashes"]["sha256"])
    return allowed


def filter_requirements(text: str, allowed: dict[str, set[str]]) -> str:
    """The requirements text with only allowed hashes; the layout uv writes otherwise."""
    out: list[str] = []
    kept: dict[str, int] = {}
    package = ""
    for line in text.splitlines():
        match = HASH_LINE.match(line)
        if match is None:
            if line and not line[0].isspace() and not line.startswith("#"):
                name = re.split(r"[=<>~!;\s]", line, maxsplit=1)[0]
                package = re.sub(r"[-_.]+", "-", name).lower()
                kept.setdefault(package, 0)
            out.append(line)
        elif match["digest"] in allowed.get(package, set()):
            kept[package] += 1
            out.append(f"    --hash=sha256:{match['digest']} \\")
    # Each requirement's last hash line ends without a continuation.
    for index, line in enumerate(out):
        following = out[index + 1] if index + 1 < len(out) else ""
        if HASH_LINE.match(line) and not HASH_LINE.match(following):
            out[index] = line.removesuffix(" \\")
    missing = sorted(name for name, count in kept.items() if count == 0)
    if missing:
        raise SystemExit(f"no wheel for the target platforms: {', '.join(missing)}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Filter the requirements file in place."""
    parser = argparse.ArgumentParser(prog="python -m locking", description=__doc__.split("\n")[0])
    add_version(parser)
    parser.add_argument("requirements", type=Path)
    parser.add_argument("--pylock", type=Path, required=True, help="the same lock as pylock.toml")
    parser.add_argument("--target", choices=sorted(TARGETS), default="lambda")
    args = parser.parse_args(argv)
    allowed = allowed_digests(args.pylock, lambda_tags())
    path: Path = args.requirements
    path.write_text(filter_requirements(path.read_text(encoding="utf-8"), allowed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
