"""Integration test 4, the chaos scenario: 2,000 messages while the API answers 15% of requests
429 (Retry-After 1), 5% 500 and 3% of operations 503; every change accounted for.

The messages come as real producers send them (`sbc_tools.ops.messages.with_producer_mix`:
~3% with a Binary attribute, ~2% with 9 and ~2% with 10 attributes, ~1% with a ~120 KB
body), and the stack's `max_receive_count` is 2 (issue 15).

Every valid change must be applied by the entity API (directly, or merged into a coalesced
operation: its unique `k<n>` attribute shows it), none in the DLQ: transient failures are
retried (visibility backoff) well within the retry horizon. Every poison message must be in the
DLQ exactly once. A message lost anywhere on the way fails this test. (`make bench-e2e` times
the same scenario with backoff on and off.) The API runs
in strict mode: an op_id that reaches it again with other content (changes acknowledged by a
409 without being applied) fails it too.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from stack_support import EntityApi, Waiter

from sbc_tools.entity_api_admin import chaos_faults
from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import observations as observe
from sbc_tools.ops import publish

pytestmark = pytest.mark.integration

FAULTS = chaos_faults(seed=11)


def _event_id(body: str) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("event_id") if isinstance(document, dict) else None


def test_nothing_is_lost_under_throttling_and_server_errors(
    stack: Any,
    sqs: Any,
    api: EntityApi,
    fresh: int,
    waiter: Waiter,
    summaries: Callable[[int], list[dict[str, Any]]],
    tfvars: dict[str, Any],
) -> None:
    assert int(tfvars["max_receive_count"]) == 2
    run = "lost" + str(fresh)
    messages = message_factory.with_producer_mix(
        message_factory.generate(2000, poison_percent=2, duplicate_percent=2, run=run, seed=5),
        seed=5,
    )
    valid = {m.event_id for m in messages if m.kind == "valid"}
    poison = Counter(m.body for m in messages if m.kind in message_factory.POISON_KINDS)
    api.faults(FAULTS)
    result = publish.publish(
        sqs,
        stack.queue_url,
        [m.body for m in messages],
        concurrency=4,
        attributes=[m.attributes for m in messages],
    )
    assert result.sent == 2000, result.failed

    def accounted() -> bool:
        if observe.queue_depth(sqs, stack.queue_url) != (0, 0):
            return False
        applied = message_factory.covered_event_ids(api.applied())
        dlq = [m for m in observe.peek_dlq(sqs, stack.dlq_url) if run in m.body]
        return valid <= applied | {_event_id(m.body) for m in dlq}

    waiter(accounted, 240, "every valid change to be applied or in the DLQ")

    applied = message_factory.covered_event_ids(api.applied())
    dlq = [m for m in observe.peek_dlq(sqs, stack.dlq_url) if run in m.body]
    dlq_ids = {_event_id(m.body) for m in dlq}
    missing = valid - applied - dlq_ids
    in_dlq_only = (valid - applied) & dlq_ids
    print(
        f"\n{len(valid)} valid changes: {len(valid & applied)} applied, "
        f"{len(in_dlq_only)} in the DLQ, {len(missing)} missing; "
        f"{sum(poison.values())} poison, {len(dlq)} DLQ messages; "
        f"API statuses {api.stats()['status_counts']}"
    )
    assert not missing
    assert api.stats()["strict"], "the entity API must run in strict mode"
    assert api.conflicts() == [], "an op_id reached the API with two different contents"
    assert not in_dlq_only, "a valid change reached the DLQ although the horizon had not passed"
    assert [m for m in dlq if m.error_code is None] == [], "SQS redrove a message (no reason)"
    # Each poison message in the DLQ, at least once: a DLQ send whose answer comes later than
    # its bound (a loaded machine) is sent again, and both copies land (at least once,
    # docs/flow-control.md). Run 17:32 UTC 2026-12-02: one of 40 poison messages twice.
    in_dlq = Counter(m.body for m in dlq if m.body in poison)
    assert set(in_dlq) == set(poison), "every poison message in the DLQ"
    duplicates = sum(in_dlq.values()) - sum(poison.values())
    assert duplicates <= len(poison) // 10, f"{duplicates} poison messages dead-lettered twice"
    for message in dlq:
        if message.body in poison:
            assert message.error_code in message_factory.POISON_KINDS
    stats = api.stats()
    assert stats["status_counts"].get("200", 0) > 0
    assert sum(v for k, v in stats["status_counts"].items() if k != "200") >= 8, "faults hit"
    lines = waiter(  # the last log lines may reach CloudWatch after the queue is empty
        lambda: (s := summaries(fresh)) and sum(x["received"] for x in s) >= 2000 and s,
        30,
        "the invocation log lines of all 2,000 records",
    )
    assert sum(line["transient"] for line in lines) > 0, "per-operation failures were retried"
