"""Read the machine type of an ELF binary, to check native code matches the target."""

from __future__ import annotations

import struct

ELF_MAGIC = b"\x7fELF"
MACHINE_NAMES = {62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm"}


def elf_machine(header: bytes) -> int | None:
    """Return e_machine of an ELF file from its first 20 bytes, or None if it is not ELF."""
    if len(header) < 20 or not header.startswith(ELF_MAGIC):
        return None
    # e_ident[EI_DATA] (offset 5): 1 = little-endian, 2 = big-endian. e_machine is at 18.
    order = "<" if header[5] == 1 else ">"
    (machine,) = struct.unpack_from(order + "H", header, 18)
    return int(machine)


def machine_name(machine: int) -> str:
    """A readable name for an e_machine value."""
    return MACHINE_NAMES.get(machine, f"e_machine {machine}")
