"""The Lambda runtime a zip is built for: architecture and Python version, in AWS's words."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from lambda_package.errors import BuildError

# Lambda architecture name -> (manylinux machine name, ELF e_machine value).
ARCHITECTURES: dict[str, tuple[str, int]] = {
    "arm64": ("aarch64", 183),
    "x86_64": ("x86_64", 62),
}
PYTHON_VERSIONS: tuple[str, ...] = ("3.12", "3.13")

# Names people type for an architecture that Lambda spells differently.
_ARCH_ALIASES = {"aarch64": "arm64", "amd64": "x86_64", "x64": "x86_64", "x86-64": "x86_64"}


def host_architecture() -> str:
    """This machine's architecture in Lambda's words (what the local cloud runs natively)."""
    return "arm64" if platform.machine() in {"aarch64", "arm64"} else "x86_64"


@dataclass(frozen=True)
class Target:
    """A Lambda architecture and Python runtime version, validated."""

    arch: str
    python_version: str

    @classmethod
    def parse(cls, arch: str, python_version: str) -> Target:
        """Validate user input, failing with a message that names the allowed values."""
        if arch not in ARCHITECTURES:
            hint = f" (Lambda calls it '{_ARCH_ALIASES[arch]}')" if arch in _ARCH_ALIASES else ""
            allowed = " or ".join(ARCHITECTURES)
            raise BuildError(f"unknown architecture '{arch}'{hint}: use {allowed}")
        if python_version not in PYTHON_VERSIONS:
            allowed = " or ".join(PYTHON_VERSIONS)
            raise BuildError(
                f"unknown Python version '{python_version}': Lambda runtimes supported here are "
                f"{allowed}"
            )
        return cls(arch=arch, python_version=python_version)

    @property
    def machine(self) -> str:
        """The machine name in wheel and ELF terms (aarch64, x86_64)."""
        return ARCHITECTURES[self.arch][0]

    @property
    def elf_machine(self) -> int:
        """The ELF e_machine value a native extension for this target carries."""
        return ARCHITECTURES[self.arch][1]

    @property
    def platform_tag(self) -> str:
        """The pip --platform tag of the Lambda runtime (Amazon Linux 2023, glibc 2.34)."""
        return f"manylinux2014_{self.machine}"

    @property
    def cpython_tag(self) -> str:
        """The CPython tag, e.g. cp312."""
        return "cp" + self.python_version.replace(".", "")

    @property
    def runtime(self) -> str:
        """The Lambda runtime identifier, e.g. python3.12."""
        return f"python{self.python_version}"

    @property
    def extension_suffix(self) -> str:
        """The file-name suffix of a native extension built for this target."""
        digits = self.python_version.replace(".", "")
        return f".cpython-{digits}-{self.machine}-linux-gnu.so"
