"""Import the handler from an unzipped package and invoke it once; run with `python -I -S`.

Usage: invoke_isolated.py CODE_DIR EVENT_JSON RESULT_JSON. Nothing but the standard library
and CODE_DIR is importable, as on Lambda (which adds only boto3, unused for valid records).
The result goes to a file because the handler itself logs to stdout.
"""

import json
import sys
import time

code_dir, event_path, result_path = sys.argv[1:4]
sys.path.insert(0, code_dir)

import consumer.handler  # noqa: E402  (the path must be set first)


class LambdaContext:
    """The parts of the Lambda context object a handler uses."""

    function_name = "sqs-batch-consumer-package-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:package-test"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/package-test"
    log_stream_name = "package-test"

    def __init__(self, budget_ms: int) -> None:
        self._deadline = time.monotonic() + budget_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


with open(event_path, encoding="utf-8") as stream:
    event = json.load(stream)
result = consumer.handler.lambda_handler(event, LambdaContext(budget_ms=30_000))
loaded_from = {
    name: getattr(sys.modules.get(name), "__file__", None)
    for name in ("consumer.handler", "jsonschema", "rpds", "urllib3", "rfc3339_validator")
}
report = {"result": result, "loaded_from": loaded_from, "site": "site" in sys.modules}
with open(result_path, "w", encoding="utf-8") as stream:
    json.dump(report, stream)
