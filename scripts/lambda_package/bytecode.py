"""Compile .pyc files with an interpreter of the target Python version, reproducibly."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lambda_package.errors import BuildError

# Where Lambda unpacks the zip; recorded in the .pyc as the source path for tracebacks.
LAMBDA_TASK_ROOT = "/var/task"
_FIND_PYTHON = Path(__file__).resolve().parent.parent / "find_python.sh"
_PROBE = "import sys, platform; print(platform.python_implementation(), platform.python_version())"


@dataclass(frozen=True)
class Interpreter:
    """A CPython interpreter of the target's X.Y version."""

    path: Path
    version: str  # full version, e.g. 3.12.1


def find_interpreter(python_version: str) -> Interpreter | None:
    """Find a CPython X.Y on this machine with scripts/find_python.sh, or None."""
    found = subprocess.run(
        [str(_FIND_PYTHON), python_version], capture_output=True, text=True, check=False
    )
    if found.returncode != 0 or not found.stdout.strip():
        return None
    path = Path(found.stdout.strip())
    probe = subprocess.run([str(path), "-c", _PROBE], capture_output=True, text=True, check=False)
    implementation, _, version = probe.stdout.strip().partition(" ")
    if probe.returncode != 0 or implementation != "CPython":
        return None
    if not (version == python_version or version.startswith(python_version + ".")):
        return None
    return Interpreter(path=path, version=version)


def compile_tree(interpreter: Interpreter, root: Path) -> None:
    """Write unchecked-hash .pyc files for every .py below root.

    The build folder is replaced by the Lambda task root so no path of this machine is recorded,
    and a fixed hash seed keeps anything hash-ordered stable (marshal itself sorts frozensets).
    """
    command = [
        str(interpreter.path), "-s", "-S", "-m", "compileall", "-q",
        "--invalidation-mode", "unchecked-hash",
        "-s", str(root), "-p", LAMBDA_TASK_ROOT,
        str(root),
    ]  # fmt: skip
    environment = {"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise BuildError(
            f"compiling .pyc with Python {interpreter.version} failed:\n  {output[-2000:]}"
        )
