"""The ops tools install as commands (`pipx` / `uv tool install`) and work against a queue;
`make help` writes no colour codes into a pipe."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from sbc_tools.paths import REPO

COMMANDS = ("sbc-publish", "sbc-redrive", "sbc-report", "sbc-drain")
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "scripts", "function/consumer")


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own build and commands)
        command, capture_output=True, text=True, check=False, timeout=300, **kwargs
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the project's wheel installed; its bin folder."""
    work = tmp_path_factory.mktemp("install")
    source = work / "src"
    for name in SOURCES:  # a copy: the build writes its own files beside the sources
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    wheel = _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(work / "dist"), str(source)]
    )  # fmt: skip
    assert wheel.returncode == 0, wheel.stderr
    venv = work / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)]).returncode == 0
    uv = Path(sys.executable).parent / "uv"
    wheels = [str(w) for w in (work / "dist").glob("*.whl")]
    install = _run(
        [str(uv), "pip", "install", "--quiet", "--offline", "--no-deps",
         "--python", str(venv / "bin" / "python"), *wheels]
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    return venv / "bin"


def _environment(**extra: str) -> dict[str, str]:
    """The dependencies from the tooling venv, but not the repository's import roots."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = sysconfig.get_path("purelib")  # its .pth files are not read from here
    env.update(extra)
    return env


@pytest.mark.parametrize("command", COMMANDS)
def test_an_installed_command_runs_help_outside_the_repository(
    installed: Path, command: str, tmp_path: Path
) -> None:
    run = _run([str(installed / command), "--help"], env=_environment(), cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"usage: {command} ")
    assert "--queue-url" in run.stdout


def test_installed_publish_works_against_a_queue(
    installed: Path, sqs: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    queue = sqs.create_queue(QueueName=f"entry-points-{os.getpid()}")["QueueUrl"]
    target = ["--queue-url", queue, "--endpoint-url", moto_endpoint]
    env = _environment(AWS_REGION="us-east-1")

    published = _run(
        [str(installed / "sbc-publish"), *target, "--count", "25", "--poison-percent", "0"],
        env=env,
        cwd=tmp_path,
    )
    waiting = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]

    assert published.returncode == 0, published.stderr
    assert "sent 25 of 25" in published.stderr
    assert waiting == "25"


def test_make_help_writes_no_colour_codes_into_a_pipe() -> None:
    run = _run(["make", "--no-print-directory", "help"], cwd=REPO)

    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout
    assert "  test " in run.stdout
