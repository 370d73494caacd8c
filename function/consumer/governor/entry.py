"""Lambda entry point of the concurrency governor: `consumer.governor.lambda_handler`.

Run every PERIOD_SECONDS by an EventBridge rule; what one run does is in consumer.governor.run.
Settings are read at cold start: a bad or missing one fails it with a SettingsError naming
the setting. boto3 is imported on the first run.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Any

from consumer.governor.run import GovernorConfig, govern
from consumer.telemetry import log

CONFIG = GovernorConfig.from_environ(os.environ)


@lru_cache(maxsize=1)
def _clients() -> tuple[Any, Any, Any]:
    """The Lambda, CloudWatch and SSM clients, built on the first run (boto3 imported here)."""
    import boto3  # noqa: PLC0415 - lazy: the consumer shares this package and never needs it

    return boto3.client("lambda"), boto3.client("cloudwatch"), boto3.client("ssm")


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """One scheduled run; returns the decision. An AWS error is logged and raised (so the
    governor's error alarm sees it); the mapping is then left as it was."""
    del event, context
    lambda_client, cloudwatch, ssm = _clients()
    try:
        decision = govern(CONFIG, lambda_client, cloudwatch, time.time(), ssm)
    except Exception as error:
        log(
            "ERROR",
            "governor run failed; MaximumConcurrency left as it was",
            error=type(error).__name__,
            detail=str(error)[:500],
        )
        raise
    return {
        "concurrency": decision.concurrency,
        "changed": decision.changed,
        "reason": decision.reason,
    }
