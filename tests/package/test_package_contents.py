"""What each zip holds: the handler, the schema, target-specific dependencies and nothing else."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from package_builds import REPO_ROOT, find_python
from zip_inspection import PYC_FLAG_HASH_BASED, binaries, names, pyc_headers

TARGETS = [("x86_64", "3.12"), ("arm64", "3.12"), ("arm64", "3.13")]
ELF_MACHINE = {"x86_64": 62, "arm64": 183}
MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}


def magic_number(python_version: str) -> bytes:
    """The .pyc magic number of this machine's interpreter of that version."""
    probe = "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"
    out = subprocess.run(  # noqa: S603  (a found interpreter, fixed code)
        [str(find_python(python_version)), "-I", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    )
    return bytes.fromhex(out.stdout)


@pytest.mark.parametrize(("arch", "python_version"), TARGETS)
def test_native_extension_matches_the_target(
    zips: Callable[[str, str], Path], arch: str, python_version: str
) -> None:
    path = zips(arch, python_version)
    found = binaries(path)
    tag = python_version.replace(".", "")
    rpds = f"rpds/rpds.cpython-{tag}-{MACHINE[arch]}-linux-gnu.so"
    assert rpds in found, f"no {rpds} in {sorted(found)}"
    assert found[rpds] == ELF_MACHINE[arch]
    # Every binary, whatever its name, is for the target machine (no host x86_64 code on arm64).
    assert {name: m for name, m in found.items() if m != ELF_MACHINE[arch]} == {}


@pytest.mark.parametrize(("arch", "python_version"), TARGETS)
def test_nothing_the_runtime_has_or_does_not_need(
    zips: Callable[[str, str], Path], arch: str, python_version: str
) -> None:
    entries = names(zips(arch, python_version))
    tops = {PurePosixPath(name).parts[0] for name in entries}
    for unwanted in ("boto3", "botocore", "s3transfer", "bin", "tests"):
        assert unwanted not in tops
    for name in entries:
        parts = PurePosixPath(name).parts
        assert not {"tests", "test", "benchmarks"} & set(parts), name
        assert parts[-1] not in {"RECORD", "INSTALLER", "direct_url.json", "conftest.py"}, name


@pytest.mark.parametrize(("arch", "python_version"), TARGETS)
def test_bytecode_is_for_the_target_python_only(
    zips: Callable[[str, str], Path], arch: str, python_version: str
) -> None:
    headers = pyc_headers(zips(arch, python_version))
    tag = "cpython-" + python_version.replace(".", "")
    assert "consumer/__pycache__/handler." + tag + ".pyc" in headers
    assert "jsonschema/__pycache__/validators." + tag + ".pyc" in headers
    assert all(PurePosixPath(name).suffixes[-2] == "." + tag for name in headers), sorted(headers)
    assert {header.magic for header in headers.values()} == {magic_number(python_version)}
    # unchecked-hash: valid on a read-only file system without comparing source timestamps
    assert {header.flags for header in headers.values()} == {PYC_FLAG_HASH_BASED}


def test_handler_schema_and_licences_are_shipped(zips: Callable[[str, str], Path]) -> None:
    entries = set(names(zips("arm64", "3.12")))
    handler_sources = {
        path.relative_to(REPO_ROOT / "function").as_posix()
        for path in (REPO_ROOT / "function" / "consumer").glob("*.py")
    }
    assert handler_sources <= entries
    assert "schema/entity_change.schema.json" in entries
    dist_infos = {name.split("/")[0] for name in entries if ".dist-info/" in name}
    assert len(dist_infos) >= 9  # jsonschema, rfc3339-validator, urllib3 and their pins
    for dist_info in dist_infos:
        licences = [
            name
            for name in entries
            if name.startswith(dist_info + "/")
            and any(word in name.upper() for word in ("LICENSE", "LICENCE", "COPYING"))
        ]
        assert licences, f"no licence file for {dist_info}"
