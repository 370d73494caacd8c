"""The host executor behaves as Lambda does: timeouts, init errors, crashes and logs.

A small function (not the consumer) is created with boto3 in the same LocalStack and run by
the project's executor plugin in a real awslambdaric process.
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from stack_support import wait_for

pytestmark = pytest.mark.integration

APP = """
import os, sys, time
print("init: imported", flush=True)

def handler(event, context):
    print("handling", event.get("step"), context.get_remaining_time_in_millis() > 0)
    if event.get("sleep"):
        time.sleep(event["sleep"])
        print("woke up after", event["sleep"])
    if event.get("crash"):
        os._exit(3)
    if event.get("raise"):
        raise ValueError("boom")
    return {"pid": os.getpid(), "step": event.get("step")}
"""


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lambda_client(stack: Any) -> Any:
    return stack.client("lambda")


def _create(lambda_client: Any, handler: str) -> Iterator[str]:
    name = f"host-executor-{uuid.uuid4().hex[:8]}"
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/host-executor-test",
        Handler=handler,
        Code={"ZipFile": _zip({"app.py": APP, "broken.py": "import not_a_module\n"})},
        Timeout=1,
        Architectures=["x86_64"],
    )
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
    yield name
    lambda_client.delete_function(FunctionName=name)


@pytest.fixture
def function(lambda_client: Any) -> Iterator[str]:
    yield from _create(lambda_client, "app.handler")


@pytest.fixture
def broken_function(lambda_client: Any) -> Iterator[str]:
    yield from _create(lambda_client, "broken.handler")


def _invoke(lambda_client: Any, name: str, event: dict[str, Any]) -> tuple[str | None, Any]:
    answer = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return answer.get("FunctionError"), json.loads(answer["Payload"].read())


def _log_text(logs: Any, name: str) -> str:
    group = f"/aws/lambda/{name}"
    try:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return ""
    lines = []
    for stream in streams:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])
        lines += [event["message"] for event in events["events"]]
    return "".join(lines)


def test_a_timed_out_invocation_is_killed_and_the_next_one_starts_fresh(
    lambda_client: Any, logs: Any, function: str
) -> None:
    error, first = _invoke(lambda_client, function, {"step": 1})
    assert error is None
    error, timed_out = _invoke(lambda_client, function, {"step": 2, "sleep": 5})
    assert error == "Unhandled"
    assert timed_out["errorType"] == "Sandbox.Timedout"
    error, after = _invoke(lambda_client, function, {"step": 3})
    assert error is None
    assert after["pid"] != first["pid"], "a fresh runtime process after the timeout"

    text = wait_for(
        lambda: (t := _log_text(logs, function)) and "Task timed out after 1.00 seconds" in t and t,
        20,
        "the timeout line in CloudWatch Logs",
    )
    assert text.count("init: imported") == 2, "one init per process"
    assert "handling 1 True" in text
    assert text.count("START RequestId:") == 3
    assert text.count("REPORT RequestId:") == 3
    assert "Status: timeout" in text
    assert "woke up" not in text
    with pytest.raises(ProcessLookupError):  # the timed-out runtime process was killed
        os.kill(first["pid"], 0)


def test_errors_and_crashes_fail_the_invocation_with_the_runtime_error(
    lambda_client: Any, function: str
) -> None:
    error, raised = _invoke(lambda_client, function, {"raise": True})
    assert (error, raised["errorType"], raised["errorMessage"]) == (
        "Unhandled",
        "ValueError",
        "boom",
    )
    error, crashed = _invoke(lambda_client, function, {"crash": True})
    assert error == "Unhandled"
    assert crashed["errorType"] == "Runtime.ExitError"
    error, _ = _invoke(lambda_client, function, {"step": 4})
    assert error is None, "a crashed runtime is replaced"


def test_an_init_error_fails_the_invocation_and_is_logged(
    lambda_client: Any, logs: Any, broken_function: str
) -> None:
    error, payload = _invoke(lambda_client, broken_function, {})
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "not_a_module" in payload["errorMessage"]
    wait_for(
        lambda: "Runtime.ImportModuleError" in _log_text(logs, broken_function),
        20,
        "the init error in CloudWatch Logs",
    )
