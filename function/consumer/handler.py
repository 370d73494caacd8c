"""Lambda entry point: `consumer.handler.lambda_handler` (contract section 3).

Settings, the schema validator and the HTTP connection pool are built once, at cold start;
a bad or missing setting fails the cold start with a SettingsError naming it.
"""

from __future__ import annotations

import os
from typing import Any

from consumer.batch import WarmState, fail_whole_batch, process_batch, retry_everything
from consumer.outcomes import BatchResponse

WARM = WarmState.from_environ(os.environ)
"""What this execution environment keeps between invocations (built at cold start)."""


def lambda_handler(event: Any, context: Any) -> BatchResponse:
    """Process one SQS batch; return `{"batchItemFailures": [...]}`. Never raises."""
    try:
        return process_batch(event, context, WARM)
    except Exception as exc:  # noqa: BLE001 - a bug must not fail the whole batch opaquely
        try:
            return fail_whole_batch(event, context, WARM, exc)
        except Exception:  # noqa: BLE001 - not even logging works: still retry every record
            return retry_everything(event)
