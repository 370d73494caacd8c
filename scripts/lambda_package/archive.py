"""Write a byte-for-byte reproducible zip: sorted entries, fixed time, mode and compression."""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

# The earliest time a zip can hold; any fixed value works, this one says "not a real time".
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--: Lambda only needs to read
COMPRESSION_LEVEL = 9
_UNIX = 3


def write_zip(files: Mapping[str, Path], output: Path) -> None:
    """Write files (archive name -> source) to output atomically, in sorted order."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            for name in sorted(files):
                info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
                info.create_system = _UNIX
                info.external_attr = FILE_MODE << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, files[name].read_bytes(), compresslevel=COMPRESSION_LEVEL)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
