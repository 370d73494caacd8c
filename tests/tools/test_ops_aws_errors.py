"""An AWS error that retrying cannot fix stops a tool at once with one line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tool_runs import run_tool

from sbc_tools.ops import publish

MISSING_QUEUE = "/123456789012/no-such-queue"


def test_publish_stops_at_the_first_call_when_the_queue_does_not_exist(
    sqs: Any, moto_endpoint: str
) -> None:
    calls: list[str] = []
    sqs.meta.events.register("before-send.sqs.SendMessageBatch", lambda **_: calls.append("send"))
    try:
        with pytest.raises(ClientError) as raised:
            publish.publish(sqs, moto_endpoint + MISSING_QUEUE, ["{}"] * 10)  # one batch
    finally:
        sqs.meta.events.unregister("before-send.sqs.SendMessageBatch")

    assert "NonExistentQueue" in str(raised.value) or "QueueDoesNotExist" in str(raised.value)
    assert calls == ["send"]  # one attempt, not 6


def _tool(module: str, argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a tool with no AWS credentials anywhere (no profile, no metadata service)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_REGION="us-east-1",
    )
    return run_tool(module, argv, env)


def test_publish_without_credentials_stops_with_one_line(tmp_path: Path) -> None:
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"

    run = _tool("sbc_tools.ops.publish", ["--queue-url", queue, "--count", "30"], tmp_path)

    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines()[-1:] == errors, run.stderr  # one error line, at the end
    assert "credentials" in errors[0]
    assert "could not be sent" not in run.stderr  # stopped at once, no retries


@pytest.mark.parametrize(
    "module", ["sbc_tools.ops.drain", "sbc_tools.ops.redrive", "sbc_tools.ops.report"]
)
def test_a_missing_queue_is_one_line(module: str, moto_endpoint: str, tmp_path: Path) -> None:
    queue = moto_endpoint + MISSING_QUEUE
    argv = ["--queue-url", queue, "--dlq-url", queue, "--endpoint-url", moto_endpoint]

    run = _tool(module, argv, tmp_path)

    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("error: "), run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
