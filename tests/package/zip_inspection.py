"""Read what is inside a built zip: names, native binaries and .pyc headers."""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lambda_package.elf import elf_machine

PYC_FLAG_HASH_BASED = 0b01
PYC_FLAG_CHECK_SOURCE = 0b10


@dataclass(frozen=True)
class PycHeader:
    """The 16-byte header of a .pyc file (PEP 552)."""

    magic: bytes
    flags: int


def names(path: Path) -> list[str]:
    """The entry names of a zip, in stored order."""
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def binaries(path: Path) -> dict[str, int]:
    """Map entry name -> ELF e_machine for every ELF file in the zip, whatever its name."""
    found: dict[str, int] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            machine = elf_machine(archive.read(name)[:20])
            if machine is not None:
                found[name] = machine
    return found


def pyc_headers(path: Path) -> dict[str, PycHeader]:
    """Map entry name -> header for every .pyc in the zip."""
    headers: dict[str, PycHeader] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".pyc"):
                data = archive.read(name)[:16]
                (flags,) = struct.unpack_from("<I", data, 4)
                headers[name] = PycHeader(magic=data[:4], flags=flags)
    return headers
