"""The input digest stored beside the zip, so an unchanged build is skipped."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from lambda_package.archive import sha256_of

_BUILDER_DIR = Path(__file__).resolve().parent
_BUILDER_FILES = tuple(sorted(_BUILDER_DIR.glob("*.py")))  # the CLI (__main__) included


@dataclass(frozen=True)
class BuildRecord:
    """What a finished build wrote, kept in <zip>.inputs.json."""

    inputs_sha256: str
    zip_sha256: str
    file_count: int
    bytecode: str  # the interpreter version that compiled .pyc, or "" when none were shipped
    hash_checked: bool


def record_path(output: Path) -> Path:
    """Where the record of a zip lives: beside it."""
    return output.with_name(output.name + ".inputs.json")


def input_digest(settings: Mapping[str, str], files: Mapping[str, Path]) -> str:
    """Digest of everything that decides the zip's bytes, including this builder's own code."""
    digest = hashlib.sha256()
    for key in sorted(settings):
        digest.update(f"setting {key}={settings[key]}\n".encode())
    builder = {f"builder/{path.name}": path for path in _BUILDER_FILES if path.is_file()}
    for name, path in sorted({**files, **builder}.items()):
        digest.update(f"file {name} {sha256_of(path)}\n".encode())
    return digest.hexdigest()


def read_record(output: Path) -> BuildRecord | None:
    """The record of a previous build of output, if it is readable."""
    try:
        data = json.loads(record_path(output).read_text(encoding="utf-8"))
        return BuildRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def up_to_date(output: Path, inputs_sha256: str) -> BuildRecord | None:
    """The previous record when the zip exists unaltered and was built from the same inputs."""
    record = read_record(output)
    if record is None or record.inputs_sha256 != inputs_sha256 or not output.is_file():
        return None
    return record if sha256_of(output) == record.zip_sha256 else None


def write_record(output: Path, record: BuildRecord) -> None:
    """Store the record beside the zip."""
    text = json.dumps(asdict(record), indent=2, sort_keys=True) + "\n"
    record_path(output).write_text(text, encoding="utf-8")
