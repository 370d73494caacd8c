"""The handler's cold start (Lambda's init phase) does not load the retry path (retries,
visibility, backoff policy): it loads with the first batch, which counts the copies it may
need (`copy_calls`) and plans its retries."""

from __future__ import annotations

import json
import subprocess
import sys

from paths import REPO

RETRY_PATH = {"consumer.retries", "consumer.visibility", "consumer.flow_control.backoff"}

PROBE = """
import json, sys
import consumer.handler
loaded = {m for m in sys.modules if m.startswith("consumer")}
print(json.dumps(sorted(loaded)))
"""


def test_cold_import_leaves_the_retry_path_unloaded() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO / "function"),
        "ENTITY_API_URL": "http://127.0.0.1:9/v1/operations:batch",
        "DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    probe = subprocess.run(  # noqa: S603 (this interpreter, our own probe)
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=False
    )
    assert probe.returncode == 0, probe.stderr
    loaded = set(json.loads(probe.stdout))

    assert "consumer.batch" in loaded
    assert loaded & RETRY_PATH == set()
