"""Lambda entry point of the concurrency governor: `consumer.governor.lambda_handler`.

Run every minute by an EventBridge rule whose event gives the run's span (`run_seconds`); the
run decides every PERIOD_SECONDS within it (consumer.governor.schedule); what one decision
does is in consumer.governor.run. Settings are read at cold start: a bad or missing one fails
it with a SettingsError naming the setting. boto3 is imported on the first run.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Any

from consumer.governor.run import Clients, GovernorConfig, govern
from consumer.governor.schedule import DECISION_RESERVE_SECONDS, decision_offsets, run_seconds
from consumer.telemetry import log

CONFIG = GovernorConfig.from_environ(os.environ)

CALL_CONNECT_TIMEOUT_SECONDS = 2.0
CALL_READ_TIMEOUT_SECONDS = 5.0
CALL_ATTEMPTS = 2
"""Each AWS call of a decision: a connection within 2 s, each read of its answer within 5 s,
one retry (a refused or late call is tried once more; a second failure fails the decision):
at most 14 s, within DECISION_RESERVE_SECONDS. botocore's defaults (60-s reads, more retries)
would let one stalled call hold the run to Lambda's timeout."""


@lru_cache(maxsize=1)
def _clients() -> Clients:
    """The Lambda, CloudWatch, SQS and SSM clients, built on the first run (boto3 imported
    here)."""
    import boto3  # noqa: PLC0415 - lazy: the consumer shares this package and never needs it
    from botocore.config import Config  # noqa: PLC0415 - with boto3

    config = Config(
        connect_timeout=CALL_CONNECT_TIMEOUT_SECONDS,
        read_timeout=CALL_READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": CALL_ATTEMPTS},
    )
    return Clients(
        *(boto3.client(name, config=config) for name in ("lambda", "cloudwatch", "sqs", "ssm"))
    )


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """One run: a decision every period of the event's `run_seconds` (none: one decision);
    returns the last decision, how many were made and how many changed the setting. An AWS
    error is logged and raised (so the governor's error alarm sees it); the mapping is then
    left as it was."""
    started = _clock()
    offsets = decision_offsets(CONFIG.period_seconds, run_seconds(event))
    clients = _clients()
    made: list[Any] = []
    for offset in offsets:
        wait = max(0.0, started + offset - _clock())
        if made and context.get_remaining_time_in_millis() / 1000 - wait < DECISION_RESERVE_SECONDS:
            break
        _sleep(wait)
        made.append(_decide(clients))
    last = made[-1]
    return {
        "concurrency": last.concurrency,
        "changed": last.changed,
        "reason": last.reason,
        "decisions": len(made),
        "changes": sum(1 for decision in made if decision.changed),
    }


def _clock() -> float:
    """Now, epoch seconds."""
    return time.time()


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _decide(clients: Clients) -> Any:
    try:
        return govern(CONFIG, clients, _clock())
    except Exception as error:
        log(
            "ERROR",
            "governor run failed; MaximumConcurrency left as it was",
            error=type(error).__name__,
            detail=str(error)[:500],
        )
        raise
