"""Same inputs give the same bytes; unchanged inputs skip the rebuild; changed inputs do not."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

from package_builds import REPO_ROOT, build_ok


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_builds_are_byte_identical(zips: Callable[[str, str], Path], tmp_path: Path) -> None:
    first = zips("x86_64", "3.12")
    second = build_ok(tmp_path / "again.zip", "x86_64", "3.12")
    assert "build         built" in second.stdout  # really rebuilt, not skipped
    assert sha256(first) == sha256(second.output)
    assert sha256(first) in second.stdout  # the summary prints the real digest


def test_entries_are_sorted_with_fixed_time_and_mode(zips: Callable[[str, str], Path]) -> None:
    with zipfile.ZipFile(zips("arm64", "3.12")) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}


def test_unchanged_inputs_skip_and_changed_inputs_rebuild(tmp_path: Path) -> None:
    function_dir = tmp_path / "function"
    shutil.copytree(
        REPO_ROOT / "function", function_dir, ignore=shutil.ignore_patterns("__pycache__")
    )
    output = tmp_path / "dist" / "function.zip"
    extra = ("--function-dir", str(function_dir))
    first = build_ok(output, "x86_64", "3.12", *extra)
    assert "build         built" in first.stdout
    digest = sha256(output)
    assert (tmp_path / "dist" / "function.zip.inputs.json").is_file()

    again = build_ok(output, "x86_64", "3.12", *extra)
    assert "skipped: inputs unchanged" in again.stdout
    assert sha256(output) == digest

    # A cache file of the host Python is not an input; a changed source is.
    cache = function_dir / "consumer" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "handler.cpython-312.pyc").write_bytes(b"not shipped")
    assert "skipped" in build_ok(output, "x86_64", "3.12", *extra).stdout

    handler = function_dir / "consumer" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    changed = build_ok(output, "x86_64", "3.12", *extra)
    assert "build         built" in changed.stdout
    assert sha256(output) != digest


def test_altered_zip_is_rebuilt(tmp_path: Path) -> None:
    output = tmp_path / "function.zip"
    build_ok(output, "x86_64", "3.12")
    digest = sha256(output)
    output.write_bytes(b"tampered")
    rebuilt = build_ok(output, "x86_64", "3.12")
    assert "build         built" in rebuilt.stdout
    assert sha256(output) == digest
