"""`consumer.handler.lambda_handler`: cold start, settings errors, lazy boto3, safety net."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "function"


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter with only `function/` on the path."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("ENTITY_API", "DLQ_", "MAX_"))
    }
    return subprocess.run(  # noqa: S603 - our own code
        [sys.executable, "-c", code],
        env={**clean, "PYTHONPATH": str(FUNCTION_DIR), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "ENTITY_API_URL is required and not set"),
        ({"ENTITY_API_URL": "http://127.0.0.1:9/x"}, "DLQ_URL is required and not set"),
        (
            {
                "ENTITY_API_URL": "http://127.0.0.1:9/x",
                "DLQ_URL": "http://q",
                "MAX_REQUEST_BYTES": "1e9",
            },
            "MAX_REQUEST_BYTES must be an integer in 1024-6291456, got '1e9'",
        ),
        (
            {"ENTITY_API_URL": "https://api.example.com:70000/x", "DLQ_URL": "http://q"},
            "ENTITY_API_URL must have a port in 1-65535 (or none), "
            "got 'https://api.example.com:70000/x'",
        ),
        (
            {
                "ENTITY_API_URL": "http://api.example.com/x",
                "DLQ_URL": "http://q",
                "ENTITY_API_TOKEN": "secret",
            },
            "ENTITY_API_URL must be https:// when a token is set",
        ),
    ],
)
def test_a_bad_setting_fails_the_cold_start_naming_it(env: dict[str, str], message: str) -> None:
    result = run_python("import consumer.handler", env)

    assert result.returncode != 0
    assert f"consumer.settings.SettingsError: {message}" in result.stderr


def test_cold_start_then_a_batch_without_importing_boto3(entity_api: Any) -> None:
    code = """
import json, sys
import consumer.handler as h
event = {"Records": [{"messageId": "m1", "body": json.dumps({
    "event_id": "e1", "entity_type": "order", "entity_id": "1", "op": "delete",
    "occurred_at": "2026-01-01T00:00:00Z"})}]}
answer = h.lambda_handler(event, None)
print(json.dumps({"answer": answer, "boto3": "boto3" in sys.modules}))
"""
    result = run_python(
        code, {"ENTITY_API_URL": entity_api.endpoint_url, "DLQ_URL": "http://127.0.0.1:9/q"}
    )

    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.splitlines()[-1])
    assert last == {"answer": {"batchItemFailures": []}, "boto3": False}
    assert [a["op_id"] for a in entity_api.applied()] == ["e1"]


def test_token_from_ssm_at_cold_start_and_never_logged(moto_endpoint: str) -> None:
    import boto3

    from localcloud.entity_api_server import EntityApiServer

    boto3.client("ssm", endpoint_url=moto_endpoint, region_name="us-east-1").put_parameter(
        Name="/handler/token", Value="ssm-token-value", Type="SecureString", Overwrite=True
    )
    body = {
        "event_id": "e1",
        "entity_type": "order",
        "entity_id": "1",
        "op": "update",
        "attributes": {},
        "occurred_at": "2026-01-01T00:00:00Z",
    }
    event = {"Records": [{"messageId": "m1", "body": json.dumps(body)}]}
    code = (
        "import consumer.handler as h\n"
        "print(h.WARM.settings)\n"
        f"print(h.lambda_handler({event!r}, None))\n"
    )
    with EntityApiServer(token="ssm-token-value") as api:
        result = run_python(
            code,
            {
                "ENTITY_API_URL": api.endpoint_url,
                "DLQ_URL": "http://127.0.0.1:9/q",
                "ENTITY_API_TOKEN_PARAMETER": "/handler/token",
                "AWS_ENDPOINT_URL": moto_endpoint,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1",
            },
        )
        applied = api.applied()

    assert result.returncode == 0, result.stderr
    assert "{'batchItemFailures': []}" in result.stdout
    assert "ssm-token-value" not in result.stdout + result.stderr
    assert [a["op_id"] for a in applied] == ["e1"]


def test_an_unexpected_error_retries_the_whole_batch_instead_of_raising(
    monkeypatch: pytest.MonkeyPatch, entity_api: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENTITY_API_URL", entity_api.endpoint_url)
    monkeypatch.setenv("DLQ_URL", "http://127.0.0.1:9/q")
    import importlib

    handler = importlib.import_module("consumer.handler")

    def broken(*_: Any) -> dict[str, Any]:
        raise RuntimeError("bug")

    monkeypatch.setattr(handler, "process_batch", broken)
    event = {
        "Records": [{"messageId": "a"}, {"messageId": "b"}, {"messageId": "a"}, {"body": "x"}, 7]
    }

    assert handler.lambda_handler(event, None) == {
        "batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]
    }
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "every record will be retried" in lines[0]["message"]
    # the summary is still written, and says the batch failed as a whole
    [summary] = [line for line in lines if line["message"] == "batch processed"]
    assert (summary["batch_failed"], summary["received"]) == (1, 5)
    assert "batch_failed" in {m["Name"] for m in summary["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
