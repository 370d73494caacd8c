"""Integration tests 1 and 5: batch sizes, aggregated requests, the per-invocation log line."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from stack_support import EntityApi, Waiter, own_mapping_uuid

from localcloud.poller_admin import PollerAdmin
from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import observations as observe
from sbc_tools.ops import publish

pytestmark = pytest.mark.integration


def batches_invoked(
    poller: PollerAdmin | None, stack: Any, sqs: Any, since_ms: int, waiter: Waiter
) -> list[int] | None:
    """The size of every batch the project's poller invoked the stack's function with since
    `since_ms`, once the queue is drained and none is in flight (None without the poller)."""
    if poller is None:
        return None
    uuid = own_mapping_uuid(stack)

    def settled() -> list[int] | None:
        if observe.queue_depth(sqs, stack.queue_url) != (0, 0):
            return None
        if (poller.mapping(uuid) or {}).get("busy", 1):
            return None
        return [
            int(i["records"])
            for i in poller.invocations()
            if i["mapping"] == uuid and i["start"] >= since_ms / 1000
        ]

    invoked: list[int] = waiter(settled, 60, "the queue drained and no invocation in flight")
    return invoked


def test_batches_never_exceed_batch_size_and_requests_are_aggregated(
    stack: Any,
    sqs: Any,
    api: EntityApi,
    tfvars: dict[str, Any],
    fresh: int,
    waiter: Waiter,
    summaries: Callable[[int], list[dict[str, Any]]],
    project_poller: PollerAdmin | None,
) -> None:
    batch_size, max_ops = int(tfvars["batch_size"]), int(tfvars["max_operations_per_request"])
    messages = message_factory.generate(300)  # distinct entities: one wave per invocation
    event_ids = {m.event_id for m in messages}
    assert publish.publish(sqs, stack.queue_url, [m.body for m in messages]).sent == 300

    waiter(
        lambda: event_ids <= message_factory.covered_event_ids(api.applied()),
        120,
        "all 300 changes to be applied",
    )
    lines = waiter(
        lambda: (s := summaries(fresh)) and sum(x["received"] for x in s) >= 300 and s,
        30,
        "the invocation log lines of all 300 records",
    )

    sizes = [line["received"] for line in lines]
    # at least once: with several invocations at once (the local poller, as Lambda), a record
    # whose invocation outlived its visibility can be handed to a second one
    assert sum(sizes) >= 300
    assert max(sizes) <= batch_size, f"a batch larger than batch_size={batch_size}: {sizes}"
    assert max(sizes) > 1, "messages that were waiting should arrive in batches"
    for line in lines:  # the aggregation bound: ceil(operations / max ops) requests
        assert line["requests"] <= math.ceil(line["operations"] / max_ops), line
    # an invocation that outlived its time writes no line, but its requests reached the API;
    # the project's poller saw every invocation (LocalStack's own mapping: the log lines)
    invoked = batches_invoked(project_poller, stack, sqs, fresh, waiter)
    stats = api.stats()
    assert stats["requests"] >= sum(line["requests"] for line in lines)
    bound = sum(math.ceil(s / max_ops) for s in (invoked if invoked is not None else sizes))
    assert stats["requests"] <= bound, f"batches invoked: {invoked}, logged: {sizes}"
    assert stats["requests"] < 300 / 2, "aggregation should send far fewer requests than records"
    assert max(int(k) for k in stats["ops_per_request"]) <= max_ops


def test_the_invocation_log_line_reaches_cloudwatch_logs_with_its_counts(
    stack: Any,
    sqs: Any,
    api: EntityApi,
    fresh: int,
    waiter: Waiter,
    summaries: Callable[[int], list[dict[str, Any]]],
) -> None:
    messages = message_factory.generate(8)
    bodies = [m.body for m in messages]
    bodies += [bodies[0], "{not json"]  # one duplicate, one poison
    assert publish.publish(sqs, stack.queue_url, bodies).sent == 10

    lines = waiter(
        lambda: (s := summaries(fresh)) and sum(x["received"] for x in s) >= 10 and s,
        60,
        "the invocation log lines of 10 records in CloudWatch Logs",
    )
    totals = {name: sum(int(line[name]) for line in lines) for name in observe.COUNTS}
    assert totals["received"] == 10
    assert totals["invalid"] == 1
    assert totals["dlq"] == 1
    assert totals["permanent"] == totals["transient"] == 0
    assert totals["operations"] + totals["duplicates"] + totals["coalesced"] == 9
    assert totals["requests"] >= 1
    for line in lines:
        assert set(observe.COUNTS) <= set(line), f"counts missing from {json.dumps(line)}"
        metrics = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        assert {m["Name"] for m in metrics} == set(observe.COUNTS), "EMF metric declarations"
    assert len(api.applied()) == 8
