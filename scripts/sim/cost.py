"""Prices (us-east-1, first tier, as published in 2026) and what a run costs.

Free tiers are left out: the figures compare settings, not monthly bills.
"""

from __future__ import annotations

LAMBDA_REQUEST_PRICE = 0.20 / 1_000_000
LAMBDA_GB_SECOND_PRICE = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
SQS_REQUEST_PRICE = 0.40 / 1_000_000
"""Standard queue; each 64 KB chunk of a payload is one request."""


def lambda_cost(invocations: int, gb_seconds: float, architecture: str) -> float:
    """Requests plus duration, in USD."""
    return invocations * LAMBDA_REQUEST_PRICE + gb_seconds * LAMBDA_GB_SECOND_PRICE[architecture]


def sqs_cost(requests: int) -> float:
    """SQS requests in USD."""
    return requests * SQS_REQUEST_PRICE
