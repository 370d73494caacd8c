"""Install the pinned runtime dependencies for the target platform with pip, cached by input."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lambda_package.errors import BuildError
from lambda_package.sources import display
from lambda_package.targets import Target

# The Lambda runtime provides these; shipping them would only add weight and version skew.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
# Folders inside dependencies that are never needed at run time.
_PRUNED_DIRS = {"__pycache__", "tests", "test", "benchmarks"}
# dist-info files written by the installer (paths, hashes of pruned files, console scripts);
# METADATA, WHEEL and the licence files stay.
_INSTALLER_NOISE = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "entry_points.txt"}
_COMPLETE_MARKER = ".complete"


def pip_command(
    requirements: Path, target: Target, destination: Path, pip_cache: Path
) -> list[str]:
    """The pip invocation that installs wheels for the Lambda platform, never the host's."""
    return [
        sys.executable, "-m", "pip", "install",
        "--disable-pip-version-check", "--no-input", "--no-compile",
        "--no-warn-script-location", "--quiet",
        "--platform", target.platform_tag,
        "--only-binary=:all:",
        "--implementation", "cp",
        "--python-version", target.python_version,
        "--target", str(destination),
        "--cache-dir", str(pip_cache),
        "--requirement", str(requirements),
    ]  # fmt: skip


def requirements_hash_checked(requirements: Path) -> bool:
    """Whether pip will check hashes for this file (it does once any line has --hash)."""
    return "--hash=" in requirements.read_text(encoding="utf-8")


def _cache_key(requirements: Path, target: Target) -> str:
    """A short digest of what decides the installed tree."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(f"{target.platform_tag}|{target.cpython_tag}".encode())
    return digest.hexdigest()[:16]


def _pip_errors(output: str) -> str:
    """The lines of pip's output that explain a failure (config warnings left out)."""
    lines = [line for line in output.splitlines() if line.strip()]
    relevant = [line for line in lines if not line.startswith("WARNING: Location")]
    errors = [i for i, line in enumerate(relevant) if line.startswith("ERROR")]
    shown = relevant[errors[0] :] if errors else relevant[-10:]
    return "\n".join("  " + line for line in shown[:20])


def _prune(site: Path) -> None:
    """Remove console scripts, tests, caches and installer records from an installed tree."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for path in sorted(site.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _PRUNED_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in {".pyc", ".pyo"}:
            path.unlink()
    for dist_info in site.glob("*.dist-info"):
        for name in _INSTALLER_NOISE:
            (dist_info / name).unlink(missing_ok=True)


def _refuse_runtime_provided(site: Path, requirements: Path) -> None:
    """Fail when the requirements pull in a library the Lambda runtime already has."""
    found = [name for name in RUNTIME_PROVIDED if (site / name).exists()]
    if found:
        raise BuildError(
            f"{display(requirements)} pulls in {', '.join(found)}: the Lambda Python runtime "
            "provides boto3 and botocore, so they must not be shipped; remove them (and any "
            "requirement that depends on them)"
        )


def install_dependencies(requirements: Path, target: Target, cache_root: Path) -> Path:
    """Install the requirements for the target into a cached folder and return it."""
    installs = cache_root / "deps"
    site = installs / f"{target.arch}-{target.cpython_tag}-{_cache_key(requirements, target)}"
    if (site / _COMPLETE_MARKER).is_file():
        return site
    shutil.rmtree(site, ignore_errors=True)  # an unfinished install from an interrupted build
    installs.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=installs))
    try:
        command = pip_command(requirements, target, staging, cache_root / "pip")
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BuildError(
                f"pip could not install {display(requirements)} for {target.runtime} "
                f"{target.arch} ({target.platform_tag}):\n"
                + _pip_errors(result.stdout + result.stderr)
            )
        _prune(staging)
        _refuse_runtime_provided(staging, requirements)
        (staging / _COMPLETE_MARKER).touch()
        try:
            os.replace(staging, site)
        except OSError:  # another build finished the same install first
            if not (site / _COMPLETE_MARKER).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return site
