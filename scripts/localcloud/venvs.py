"""The local cloud's virtual environments under `.localcloud/`, installed once and cached.

- `venv-localstack`: Python 3.13, LocalStack (fully pinned) and the project's host executor
  plugin (`scripts/localcloud/localstack_host_executor`).
- `venv-runtime-<X.Y>`: the Lambda runtime's Python with awslambdaric and boto3, the
  interpreter that runs the function.

A stamp file records a hash of what was installed; a changed requirement list or plugin
source triggers a reinstall, nothing else does.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from sbc_tools.cli import console
from sbc_tools.paths import REPO, STATE

PLUGIN_DIR = Path(__file__).resolve().parent / "localstack_host_executor"
LOCALSTACK_REQUIREMENTS = PLUGIN_DIR / "requirements-localstack.txt"
RUNTIME_REQUIREMENTS = PLUGIN_DIR / "requirements-runtime.txt"
LOCALSTACK_PYTHON_VERSION = "3.13"
PIP_FLAGS = ["--disable-pip-version-check", "--no-input", "--quiet"]


class SetupError(RuntimeError):
    """A setup step failed; the message says what to do."""


def _digest(paths: Iterable[Path], *extra: str) -> str:
    sha = hashlib.sha256()
    for path in sorted(paths):
        sha.update(path.relative_to(REPO).as_posix().encode())
        sha.update(path.read_bytes())
    for item in extra:
        sha.update(item.encode())
    return sha.hexdigest()


def _plugin_sources() -> list[Path]:
    return [p for p in PLUGIN_DIR.iterdir() if p.suffix == ".py" or p.name == "pyproject.toml"]


def find_python(version: str) -> str:
    """An interpreter of the given X.Y version, found by `scripts/find_python.sh`."""
    result = subprocess.run(
        [str(REPO / "scripts" / "find_python.sh"), version],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SetupError(result.stderr.strip() or f"no Python {version} found")
    return result.stdout.strip()


def _run_logged(args: list[str], log: Path, what: str) -> None:
    """Run a slow command with a spinner and elapsed time; on failure show its log tail."""
    started = time.monotonic()
    with log.open("a") as out, console.status(f"{what} ...") as status:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        while process.poll() is None:
            status.update(f"{what} ... {time.monotonic() - started:.0f} s")
            time.sleep(0.5)
    if process.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise SetupError(f"{what} failed (exit {process.returncode}); log: {log}\n{tail}")
    console.print(f"    {what}: done in {time.monotonic() - started:.0f} s")


def _uv() -> Path | None:
    """The tooling venv's uv, when there is one: it installs in parallel, and venvs it fills
    need no pip of their own (seconds, not minutes, on a busy machine)."""
    uv = Path(sys.executable).parent / "uv"
    return uv if uv.is_file() else None


def _install_command(python: Path, requirements: Path) -> list[str]:
    """Install a hash-pinned requirements file into the venv of `python`."""
    uv = _uv()
    if uv is not None:
        return [str(uv), "pip", "install", "--quiet", "--python", str(python), "--require-hashes",
                "-r", str(requirements)]  # fmt: skip
    return [str(python), "-m", "pip", *PIP_FLAGS, "install", "-r", str(requirements)]


def _create_venv(venv: Path, interpreter: str, log: Path) -> None:
    if venv.exists():
        shutil.rmtree(venv)
    without_pip = ["--without-pip"] if _uv() is not None else []
    _run_logged([interpreter, "-m", "venv", *without_pip, str(venv)], log, f"creating {venv.name}")


def _stamp_ok(stamp: Path, digest: str) -> bool:
    return stamp.exists() and stamp.read_text().strip() == digest


def ensure_localstack_venv() -> Path:
    """Create or update `venv-localstack`; return its python."""
    venv = STATE / "venv-localstack"
    python = venv / "bin" / "python"
    log = STATE / "logs" / "venv-localstack.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    deps_stamp, plugin_stamp = venv / ".deps-stamp", venv / ".plugin-stamp"
    deps_digest = _digest([LOCALSTACK_REQUIREMENTS], LOCALSTACK_PYTHON_VERSION)
    plugin_digest = _digest(_plugin_sources())
    if not (python.exists() and _stamp_ok(deps_stamp, deps_digest)):
        console.print(
            "==> installing LocalStack into .localcloud/venv-localstack "
            "(once; about a minute and ~500 MB)"
        )
        _create_venv(venv, find_python(LOCALSTACK_PYTHON_VERSION), log)
        _run_logged(_install_command(python, LOCALSTACK_REQUIREMENTS), log, "installing localstack")
        deps_stamp.write_text(deps_digest + "\n")
        plugin_stamp.unlink(missing_ok=True)
    if not _stamp_ok(plugin_stamp, plugin_digest):
        _install_plugin(python, log)
        plugin_stamp.write_text(plugin_digest + "\n")
    return python


def _install_plugin(python: Path, log: Path) -> None:
    """Install the executor plugin from a copy, so no build output lands in the repo."""
    build = STATE / "build" / "localstack_host_executor"
    if build.exists():
        shutil.rmtree(build)
    shutil.copytree(PLUGIN_DIR, build, ignore=shutil.ignore_patterns("__pycache__", "*.txt"))
    uv = _uv()
    installer = (
        [str(uv), "pip", "install", "--quiet", "--python", str(python)]
        if uv is not None
        else [str(python), "-m", "pip", *PIP_FLAGS, "install"]
    )
    _run_logged(
        [
            *installer,
            "--no-deps",
            "--no-build-isolation",
            "--reinstall" if uv else "--force-reinstall",
            str(build),
        ],
        log,
        "installing the host executor plugin",
    )


def ensure_runtime_venv(version: str) -> Path:
    """Create or update `venv-runtime-<version>`; return its python."""
    venv = STATE / f"venv-runtime-{version}"
    python = venv / "bin" / "python"
    log = STATE / "logs" / f"venv-runtime-{version}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    stamp = venv / ".deps-stamp"
    digest = _digest([RUNTIME_REQUIREMENTS], version)
    if not (python.exists() and _stamp_ok(stamp, digest)):
        console.print(f"==> preparing the Lambda python{version} runtime in {venv.name} (once)")
        _create_venv(venv, find_python(version), log)
        _run_logged(_install_command(python, RUNTIME_REQUIREMENTS), log, "installing awslambdaric")
        stamp.write_text(digest + "\n")
    return python
