"""The wheel as a user installs it (`uv tool install` / `pipx`): built from the sources, put in
a fresh virtual environment with its dependencies from the index (the uv cache when the index
is unreachable), then every command and every module run from outside the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sbc_tools.paths import REPO

SOURCES = ("pyproject.toml", "README.md", "LICENSE", "scripts", "function")
TOOLS_PACKAGE = "sbc_tools"
HANDLER_PACKAGE = "consumer"
SCHEMA_FOLDER = "schema"  # beside consumer/, where it reads the schema (as in the zip)
# One worker builds the wheel and runs every test of it (`--dist loadgroup`, make test-package).
pytestmark = pytest.mark.xdist_group("installed_wheel")
AWS_TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
}
# What the entry modules read at import: the environment Terraform gives each function.
LAMBDA_ENVIRONMENT = {
    "ENTITY_API_URL": "http://127.0.0.1:9",
    "DLQ_URL": "http://127.0.0.1:9/000000000000/entity-changes-dlq",
    "EVENT_SOURCE_MAPPING_UUID": "00000000-0000-0000-0000-000000000000",
    "CONSUMER_FUNCTION_NAME": "consumer",
    "QUEUE_URL": "http://127.0.0.1:9/000000000000/entity-changes",
    "MINIMUM_CONCURRENCY": "2",
    "MAXIMUM_CONCURRENCY": "10",
}
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


@dataclass(frozen=True)
class Installed:
    """The built wheel and the bin folder of the fresh venv it is installed in."""

    wheel: Path
    bin: Path


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own build and commands)
        command, capture_output=True, text=True, check=False, timeout=300, **kwargs
    )


def _uv(*args: str) -> None:
    """`uv ARGS` against the index, else (unreachable) from the uv cache alone."""
    uv = str(Path(sys.executable).parent / "uv")
    online = _run([uv, *args], env={**_clean_environment(), "UV_HTTP_TIMEOUT": "20"})
    if online.returncode != 0:
        offline = _run([uv, *args, "--offline"], env=_clean_environment())
        assert offline.returncode == 0, f"{online.stderr}\n--offline:\n{offline.stderr}"


def _clean_environment(**extra: str) -> dict[str, str]:
    """The environment without the repository's import roots (the Makefile exports them)."""
    return {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from a copy of the sources and install it into a fresh venv."""
    work = tmp_path_factory.mktemp("install")
    source = work / "src"
    source.mkdir()
    for name in SOURCES:  # a copy: the build writes its own files beside the sources
        if (REPO / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.zip", ".localcloud")
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, source / name)
    _uv("build", "--wheel", "--quiet", "--out-dir", str(work / "dist"), str(source))
    (wheel,) = (work / "dist").glob("*.whl")
    venv = work / "venv"
    _uv("venv", "--quiet", "--python", sys.executable, str(venv))
    _uv("pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel))
    return Installed(wheel, venv / "bin")


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def _modules(wheel: Path) -> list[str]:
    """Every module the wheel installs, by import name."""
    return sorted(
        name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for name in _wheel_names(wheel)
        if name.endswith(".py")
    )


def test_the_wheel_holds_the_tools_package_and_the_handler_as_the_zip_lays_it_out(
    installed: Installed,
) -> None:
    names = set(_wheel_names(installed.wheel))
    top_level = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    handler = {
        path.relative_to(REPO / "function").as_posix()
        for path in (REPO / "function").rglob("*")
        if path.suffix in {".py", ".json"}
    }
    data = {name for name in names if name.startswith(f"{SCHEMA_FOLDER}/")}

    assert top_level == {TOOLS_PACKAGE, HANDLER_PACKAGE, SCHEMA_FOLDER}
    assert handler <= names  # every module of the handler, not the few the tools import
    assert all(name.endswith(".json") for name in data)  # a data folder, nothing to import


def test_the_wheel_declares_the_commands_of_pyproject(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        declared = archive.read(entry_points).decode()

    for command, target in PROJECT["scripts"].items():
        assert f"{command} = {target}" in declared
        assert target.startswith(f"{TOOLS_PACKAGE}.")


def test_every_module_of_the_wheel_imports_from_the_fresh_venv(
    installed: Installed, tmp_path: Path
) -> None:
    modules = _modules(installed.wheel)
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    module = importlib.import_module(name)\n"
        "    print(name, module.__file__)\n"
    )

    run = _run(
        [str(installed.bin / "python"), "-c", script, *modules],
        env=_clean_environment(**AWS_TEST_CREDENTIALS, **LAMBDA_ENVIRONMENT),
        cwd=tmp_path,
    )

    assert run.returncode == 0, run.stderr
    loaded = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    assert sorted(loaded) == modules
    assert all("site-packages" in path for path in loaded.values())  # not the repository's


@pytest.mark.parametrize("command", sorted(PROJECT["scripts"]))
def test_an_installed_command_runs_help_and_version_outside_the_repository(
    installed: Installed, command: str, tmp_path: Path
) -> None:
    help_run = _run(
        [str(installed.bin / command), "--help"], env=_clean_environment(), cwd=tmp_path
    )
    version_run = _run(
        [str(installed.bin / command), "--version"], env=_clean_environment(), cwd=tmp_path
    )

    assert help_run.returncode == 0, help_run.stderr
    assert help_run.stdout.startswith(f"usage: {command} ")
    assert "--queue-url" in help_run.stdout
    assert "--version" in help_run.stdout
    assert version_run.returncode == 0, version_run.stderr
    assert version_run.stdout == f"{command} {PROJECT['version']}\n"


@pytest.mark.parametrize("state", [".localcloud", "elsewhere"])
def test_an_installed_command_reads_its_state_where_it_runs_not_in_site_packages(
    installed: Installed, sqs: Any, moto_endpoint: str, tmp_path: Path, state: str
) -> None:
    queue = sqs.create_queue(QueueName=f"installed-state-{os.getpid()}")["QueueUrl"]
    recorded = tmp_path / state / "default" / "stack.json"
    recorded.parent.mkdir(parents=True)
    recorded.write_text(json.dumps({"queue_url": queue, "endpoint_url": moto_endpoint}))
    elsewhere = {"LOCALCLOUD_STATE_DIR": str(tmp_path / state)} if state == "elsewhere" else {}

    run = _run(
        [str(installed.bin / "sbc-report")],
        env=_clean_environment(**AWS_TEST_CREDENTIALS, **elsewhere),
        cwd=tmp_path,
    )

    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr


def test_an_installed_command_without_a_stack_names_the_state_folder_it_looked_in(
    installed: Installed, tmp_path: Path
) -> None:
    run = _run(
        [str(installed.bin / "sbc-report")],
        env=_clean_environment(**AWS_TEST_CREDENTIALS),
        cwd=tmp_path,
    )

    assert run.returncode != 0
    assert "no stack recorded in .localcloud/default/stack.json" in run.stderr
    assert "Traceback" not in run.stderr


def test_installed_publish_works_against_a_queue(
    installed: Installed, sqs: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    queue = sqs.create_queue(QueueName=f"installed-wheel-{os.getpid()}")["QueueUrl"]
    target = ["--queue-url", queue, "--endpoint-url", moto_endpoint]

    published = _run(
        [str(installed.bin / "sbc-publish"), *target, "--count", "25", "--poison-percent", "0"],
        env=_clean_environment(**AWS_TEST_CREDENTIALS),
        cwd=tmp_path,
    )
    waiting = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]

    assert published.returncode == 0, published.stderr
    assert "sent 25 of 25" in published.stderr
    assert waiting == "25"
