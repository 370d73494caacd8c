"""The ELF reader the build and the tests rely on, checked against real and hand-made headers."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from lambda_package.elf import elf_machine


def test_reads_this_interpreter_binary() -> None:
    header = Path(sys.executable).resolve().read_bytes()[:20]
    # The tooling interpreter is a binary for this machine: x86_64 (62) or aarch64 (183).
    assert elf_machine(header) in {62, 183}


def test_reads_little_and_big_endian_headers() -> None:
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    assert elf_machine(ident + struct.pack("<HH", 3, 183)) == 183
    big = b"\x7fELF" + bytes([2, 2, 1]) + bytes(9)
    assert elf_machine(big + struct.pack(">HH", 3, 62)) == 62


def test_non_elf_and_short_input_are_not_binaries() -> None:
    assert elf_machine(b"#!/usr/bin/env python3\nprint('hi')\n") is None
    assert elf_machine(b"\x7fELF") is None
