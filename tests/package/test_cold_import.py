"""The handler's cold start (Lambda's init phase) does not load the retry path (retries,
visibility, backoff policy): it loads with the first batch, which counts the copies it may
need (`copy_calls`) and plans its retries. The DLQ path loads only with the first record to
dead-letter."""

from __future__ import annotations

import json
import subprocess
import sys

from sbc_tools.paths import REPO

RETRY_PATH = {"consumer.retries", "consumer.visibility", "consumer.flow_control.backoff"}
DLQ_PATH = {"consumer.dlq"}

PROBE = """
import json, sys
import consumer.handler
def loaded():
    return sorted(m for m in sys.modules if m.startswith("consumer"))
cold = loaded()
print("probe:", json.dumps(consumer.handler.lambda_handler({"Records": []}, None)))
empty = loaded()
invalid = {"messageId": "m1", "body": "{}", "attributes": {}}  # not the schema's: the DLQ
print("probe:", json.dumps(consumer.handler.lambda_handler({"Records": [invalid]}, None)))
print("probe:", json.dumps([cold, empty, loaded()]))
"""


def test_cold_import_leaves_the_retry_and_dlq_paths_unloaded() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO / "function"),
        "ENTITY_API_URL": "http://127.0.0.1:9/v1/operations:batch",
        "DLQ_URL": "http://127.0.0.1:9/123456789012/orders-dlq",  # refused at once
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    probe = subprocess.run(  # noqa: S603 (this interpreter, our own probe)
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=False
    )
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.splitlines()  # the probe's lines among the handler's log lines
    probed = [line.removeprefix("probe: ") for line in lines if line.startswith("probe: ")]
    empty_answer, invalid_answer, loaded = map(json.loads, probed)
    cold, empty, after_invalid = map(set, loaded)

    assert "consumer.batch" in cold
    assert cold & (RETRY_PATH | DLQ_PATH) == set()
    assert empty_answer == {"batchItemFailures": []}
    assert empty & DLQ_PATH == set()  # a batch with nothing to dead-letter
    # the DLQ (nothing listens on port 9) refused the send: the record comes back
    assert invalid_answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert after_invalid >= DLQ_PATH
