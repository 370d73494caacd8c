"""Integration tests 2 and 3: poison goes to the DLQ once; transient failures come back."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from stack_support import EntityApi, Waiter

from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import observations as observe
from sbc_tools.ops import publish

pytestmark = pytest.mark.integration


def _dlq_for_run(sqs: Any, stack: Any, run: str) -> list[observe.DlqMessage]:
    return [m for m in observe.peek_dlq(sqs, stack.dlq_url) if run in m.body]


def test_poison_reaches_the_dlq_with_its_error_code_and_is_not_retried(
    stack: Any,
    sqs: Any,
    api: EntityApi,
    fresh: int,
    waiter: Waiter,
    summaries: Callable[[int], list[dict[str, Any]]],
) -> None:
    run = "poison" + str(fresh)
    messages = message_factory.generate(50, poison_percent=40, run=run)
    poison = {m.body: m.kind for m in messages if m.kind in message_factory.POISON_KINDS}
    valid = {m.event_id for m in messages if m.kind == "valid"}
    assert len(poison) == 20
    assert publish.publish(sqs, stack.queue_url, [m.body for m in messages]).sent == 50

    in_dlq = waiter(
        lambda: (d := _dlq_for_run(sqs, stack, run)) and len(d) >= 20 and d,
        90,
        "20 poison messages in the DLQ",
    )
    waiter(lambda: valid <= message_factory.covered_event_ids(api.applied()), 60, "valid applied")
    waiter(lambda: observe.queue_depth(sqs, stack.queue_url) == (0, 0), 60, "an empty queue")

    assert Counter(m.body for m in in_dlq) == Counter(poison.keys()), "each poison once"
    for message in in_dlq:
        assert message.error_code == poison[message.body]
        assert message.error_detail
    # LocalStack writes an invocation's log lines from a thread of its own, after the
    # messages are deleted: an empty queue does not mean the last line is in CloudWatch yet.
    lines = waiter(
        lambda: (s := summaries(fresh)) and sum(x["received"] for x in s) >= 50 and s,
        30,
        "the invocation log lines of all 50 records",
    )
    assert sum(line["received"] for line in lines) == 50, "nothing was delivered twice"
    assert sum(line["invalid"] for line in lines) == 20
    assert sum(line["transient"] for line in lines) == 0


def test_transient_failures_come_back_and_one_that_keeps_failing_outlives_max_receive_count(
    stack: Any,
    sqs: Any,
    api: EntityApi,
    tfvars: dict[str, Any],
    fresh: int,
    waiter: Waiter,
    summaries: Callable[[int], list[dict[str, Any]]],
) -> None:
    # Within the retry horizon a valid change is never dead-lettered, however often it fails:
    # on the receive that reaches max_receive_count a delayed copy replaces it.
    max_receive_count = int(tfvars["max_receive_count"])
    run = "transient" + str(fresh)
    messages = message_factory.generate(10, run=run)
    flaky, broken = (json.loads(messages[i].body) for i in (1, 2))
    api.faults(
        {
            "op_status_by_entity": {
                f"order:{flaky['entity_id']}": {"status": 500, "times": 1},
                f"order:{broken['entity_id']}": 503,
            }
        }
    )
    assert publish.publish(sqs, stack.queue_url, [m.body for m in messages]).sent == 10

    applied_ids = waiter(
        lambda: (
            (c := message_factory.covered_event_ids(api.applied())) and flaky["event_id"] in c and c
        ),
        90,
        "the flaky record to be applied on redelivery",
    )
    waiter(
        lambda: api.stats()["op_status_counts"].get("503", 0) > max_receive_count + 1,
        120,
        f"the failing record to be tried more than {max_receive_count} + 1 times",
    )

    assert _dlq_for_run(sqs, stack, run) == [], "not dead-lettered within the horizon"
    assert broken["event_id"] not in applied_ids
    expected = {m.event_id for m in messages} - {broken["event_id"]}
    assert expected <= applied_ids
    stats = api.stats()
    # The siblings were applied once and never sent again: the partial batch response named
    # only the failing records (a whole-batch retry would have re-sent them: 409s).
    assert stats["op_status_counts"].get("409", 0) == 0
    assert stats["applied"] == 9
    assert stats["op_status_counts"].get("500", 0) == 1
    lines = waiter(
        lambda: (s := summaries(fresh)) and sum(x.get("requeued", 0) for x in s) >= 1 and s,
        30,
        "an invocation that replaced the failing record by a delayed copy",
    )
    backoffs = sum(line.get("backoff_set", 0) for line in lines)
    if max_receive_count > 2:  # receives before the one that copies back off by visibility
        assert backoffs >= 1
    else:  # the copy is made a receive before the limit: with 2, at every receive
        assert backoffs == 0

    api.faults({})  # the API recovers: the change is applied, nothing is left behind
    waiter(
        lambda: broken["event_id"] in message_factory.covered_event_ids(api.applied()),
        60,
        "the failing record to be applied once the API recovers",
    )
    waiter(lambda: observe.queue_depth(sqs, stack.queue_url) == (0, 0), 60, "an empty queue")
    assert _dlq_for_run(sqs, stack, run) == []
