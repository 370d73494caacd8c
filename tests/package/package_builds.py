"""Run `python -m lambda_package` the way `make package` does, and find target interpreters."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Shared with `make package`: the installed dependencies are reused across sessions.
CACHE_DIR = REPO_ROOT / ".cache" / "package"


@dataclass(frozen=True)
class BuildRun:
    """One run of `python -m lambda_package`."""

    returncode: int
    stdout: str
    stderr: str
    output: Path


def run_build(
    output: Path,
    arch: str = "x86_64",
    python_version: str = "3.12",
    *extra: str,
    env: dict[str, str] | None = None,
) -> BuildRun:
    """Run the build script's command line with the shared dependency cache."""
    command = [
        sys.executable, "-m", "lambda_package", "--arch", arch, "--python-version", python_version,
        "--output", str(output), "--cache-dir", str(CACHE_DIR), *extra,
    ]  # fmt: skip
    result = subprocess.run(  # noqa: S603  (our own script, fixed arguments)
        command, capture_output=True, text=True, cwd=REPO_ROOT, env=env, check=False
    )
    return BuildRun(result.returncode, result.stdout, result.stderr, output)


def build_ok(output: Path, arch: str, python_version: str, *extra: str) -> BuildRun:
    """Run a build that must succeed."""
    run = run_build(output, arch, python_version, *extra)
    assert run.returncode == 0, f"build failed:\n{run.stdout}\n{run.stderr}"
    return run


def find_python(version: str) -> Path:
    """The interpreter of that X.Y version that the build itself would use for .pyc."""
    found = subprocess.run(  # noqa: S603  (our own script)
        [str(REPO_ROOT / "scripts" / "find_python.sh"), version],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, f"no Python {version} on this machine: {found.stderr}"
    return Path(found.stdout.strip())
