"""The local cloud signals only processes it started, keeps a token off command lines and out
of its files, and deploys without the local entity API when the stack talks to another API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tool_runs import run_tool

from localcloud import deploy
from localcloud.__main__ import main as localcloud_main
from localcloud.services import RUN_ID_VARIABLE, instance_dir, leftover_processes
from sbc_tools.ops import stack as stack_lookup
from sbc_tools.paths import REPO


@pytest.fixture
def instance() -> Iterator[str]:
    """A fresh instance name; its folder under .localcloud/ is removed afterwards."""
    name = f"test-{os.getpid()}"
    yield name
    localcloud_main(["--instance", name, "api-stop"])
    shutil.rmtree(instance_dir(name), ignore_errors=True)


def _sleeper(cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], cwd=cwd, env={"PATH": "/usr/bin:/bin", **env})  # noqa: S607


def test_leftovers_are_only_processes_the_tool_started(instance: str) -> None:
    folder = instance_dir(instance) / "tmp"
    folder.mkdir(parents=True)
    stranger = _sleeper(folder, {})  # works in the folder, but was not started by the tool
    ours = _sleeper(folder, {RUN_ID_VARIABLE: "run-1"})
    other_run = _sleeper(folder, {RUN_ID_VARIABLE: "run-2"})
    try:
        found = leftover_processes(instance, {"run-1"})
        found_without_runs = leftover_processes(instance, set())
    finally:
        for process in (stranger, ours, other_run):
            process.kill()
            process.wait()

    assert found == [ours.pid]
    assert found_without_runs == []


def _status(url: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = json.dumps({"operations": []}).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("source", ["environment", "file"])
def test_api_start_takes_the_token_from_the_environment_or_a_file_and_never_stores_it(
    instance: str, source: str, tmp_path: Path
) -> None:
    token = f"tok-{os.getpid()}-{source}-do-not-store"
    env = {**os.environ, "ENTITY_API_TOKEN": token}
    argv = ["--instance", instance, "api-start", "--port", "0"]
    if source == "file":
        (tmp_path / "token").write_text(token + "\n")
        env.pop("ENTITY_API_TOKEN")
        argv += ["--token-file", str(tmp_path / "token")]
    started = run_tool("localcloud", argv, env)
    assert started.returncode == 0, started.stderr
    record = json.loads((instance_dir(instance) / "entity-api.json").read_text())
    url = f"http://127.0.0.1:{record['port']}/v1/operations:batch"

    stored = "".join(p.read_text(errors="replace") for p in instance_dir(instance).iterdir())
    command_line = Path(f"/proc/{record['pid']}/cmdline").read_bytes().decode()
    assert token not in stored
    assert token not in command_line
    assert (_status(url, None), _status(url, "wrong"), _status(url, token)) == (401, 401, 200)


def test_deploy_needs_the_local_api_only_when_the_url_points_at_it(
    instance: str, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = ["--var", "entity_api_url=https://api.example.com/v1/operations:batch"]

    to_elsewhere = deploy.main(["apply", "--instance", instance, *elsewhere])
    elsewhere_err = capsys.readouterr().err
    to_local = deploy.main(["apply", "--instance", instance])
    local_err = capsys.readouterr().err

    # Neither LocalStack nor the entity API runs for this instance: with another API's URL
    # the deploy gets as far as needing LocalStack; without one it needs the local API.
    assert (to_elsewhere, to_local) == (1, 1)
    assert f"LocalStack ({instance}) is not running" in elsewhere_err
    assert "entity API server" not in elsewhere_err
    assert f"the entity API server ({instance}) is not running" in local_err


def test_deploy_asks_for_the_api_server_of_the_instance_it_is_pointed_at(
    instance: str, capsys: pytest.CaptureFixture[str]
) -> None:
    other = f"{instance}-api"
    status = deploy.main(["apply", "--instance", instance, "--api-instance", other])

    assert status == 1
    assert f"the entity API server ({other}) is not running" in capsys.readouterr().err


def test_a_further_stack_keeps_its_own_records_and_is_forgotten_with_the_instance(
    instance: str,
) -> None:
    def outputs(queue: str) -> dict[str, Any]:
        return {"queue_url": {"value": queue}, "function_name": {"value": f"{queue}-fn"}}

    stack_lookup.save(instance, outputs("main"), "http://127.0.0.1:1", None)
    stack_lookup.save(instance, outputs("short"), "http://127.0.0.1:1", None, "short")
    state = instance_dir(instance) / "stacks" / "short" / "terraform" / "terraform.tfstate"
    state.parent.mkdir(parents=True)
    state.write_text("{}")

    main_stack = stack_lookup.resolve(instance=instance)
    short_stack = stack_lookup.resolve(instance=instance, stack="short")
    assert (main_stack.queue_url, main_stack.function_name) == ("main", "main-fn")
    assert (short_stack.queue_url, short_stack.function_name) == ("short", "short-fn")

    script = 'PY=true; source scripts/localcloud/instance.sh; forget_stack "$1"'
    subprocess.run(["bash", "-c", script, "forget", instance], cwd=REPO, check=True)  # noqa: S603, S607
    assert not state.exists()
    assert not Path(stack_lookup.stack_file(instance, "short")).exists()
    assert not Path(stack_lookup.stack_file(instance)).exists()


def test_deploy_with_an_unreadable_token_file_is_a_usage_error_naming_it(
    instance: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing-token"

    status = deploy.main(["apply", "--instance", instance, "--token-file", str(missing)])

    err = capsys.readouterr().err
    assert status == 2
    assert f"--token-file: cannot read {missing}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("url", "base", "needed"),
    [
        ("http://127.0.0.1:8080/v1/operations:batch", "http://127.0.0.1:8080", True),
        ("https://api.example.com/v1/operations:batch", "http://127.0.0.1:8080", False),
        ("http://127.0.0.1:80801/v1/operations:batch", "http://127.0.0.1:8080", False),
        ("http://127.0.0.1:8080/v1/operations:batch", None, False),
    ],
)
def test_the_local_api_is_needed_only_for_a_url_below_it(
    url: str, base: str | None, needed: bool
) -> None:
    assert deploy.local_api_for(url, base) == (base if needed else None)
