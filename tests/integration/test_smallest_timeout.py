"""Integration: the smallest function timeout plan accepts still delivers.

The second stack of the standard phase (`deploy --stack short`) runs `function_timeout` 5 (the
least the rules allow with a 1-s API timeout), a 1-s window and the least visibility timeout
plan accepts (16 s). Changes published under 20% whole-request 503s are all applied, and none
reaches its DLQ (max_receive_count 2, a 1-minute retry horizon).
"""

from __future__ import annotations

from typing import Any

import pytest
from stack_support import EntityApi, Waiter

from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import observations as observe
from sbc_tools.ops import publish

pytestmark = pytest.mark.integration

CHANGES = 200


def test_the_smallest_function_timeout_plan_accepts_delivers_everything(
    short_stack: Any,
    sqs: Any,
    api: EntityApi,
    short_tfvars: dict[str, Any],
    fresh: int,
    waiter: Waiter,
) -> None:
    timeout = int(short_tfvars["function_timeout"])
    assert timeout == 5
    waiter(
        lambda: observe.queue_depth(sqs, short_stack.queue_url) == (0, 0),
        60,
        "the second stack's queue to be empty",
    )
    run = f"smallest{fresh}"
    changes = message_factory.generate(CHANGES, run=run, seed=5)
    ids = {m.event_id for m in changes}
    api.faults({"random_request_status": {"probability": 0.2, "statuses": [503], "seed": 5}})

    sent = publish.publish(sqs, short_stack.queue_url, [m.body for m in changes])
    assert sent.sent == CHANGES, sent.failed

    waiter(
        lambda: ids <= message_factory.covered_event_ids(api.applied()),
        120,
        f"all {CHANGES} changes applied by the stack with function_timeout {timeout}",
    )
    waiter(
        lambda: observe.queue_depth(sqs, short_stack.queue_url) == (0, 0),
        60,
        "the second stack's queue to be empty",
    )
    dead = [m for m in observe.peek_dlq(sqs, short_stack.dlq_url) if run in m.body]
    assert dead == [], f"valid changes dead-lettered: {[m.error_detail for m in dead]}"
    failed = sum(n for status, n in api.stats()["status_counts"].items() if status != "200")
    assert failed > 0, "no whole-request failure was injected"
    print(
        f"\nfunction_timeout {timeout} s: {CHANGES} changes applied, 0 in the DLQ, "
        f"{failed} failed requests retried"
    )
