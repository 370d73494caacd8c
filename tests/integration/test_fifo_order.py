"""Integration on a FIFO stack (issue 12): 1,000 changes over 50 entities under injected
per-operation and whole-request failures; each entity's changes are applied in the order they
were published, none missing, none twice; poison is in the DLQ once.

Runs in the FIFO phase of `make integration` (the stack applied with `fifo_queue = true`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from stack_support import EntityApi, Waiter, own_mapping_uuid

from localcloud.poller_admin import PollerAdmin
from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import observations as observe
from sbc_tools.ops import publish

pytestmark = [pytest.mark.integration, pytest.mark.fifo]

CHANGES = 1000
ENTITIES = 50
FAULTS = {
    "random_op_status": {"probability": 0.08, "statuses": [500, 503, 429], "seed": 12},
    "random_request_status": {"probability": 0.05, "statuses": [503, 500, 502], "seed": 21},
}


def consume(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message of a FIFO queue, deleting each batch: reading without deleting cannot
    see a group's later messages while its earlier ones are being read."""
    taken: list[dict[str, Any]] = []
    for batch in observe.receive_batches(sqs, url):
        taken += batch
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)
            ],
        )
    return taken


def differences(applied: dict[str, list[str]], published: dict[str, list[str]]) -> str:
    """Per entity whose applied changes differ: what is missing, applied twice, or reordered."""
    lines = []
    for entity in sorted(set(applied) | set(published)):
        got, want = applied.get(entity, []), published.get(entity, [])
        if got == want:
            continue
        twice = sorted(e for e, n in Counter(got).items() if n > 1)
        firsts = list(dict.fromkeys(got))
        in_order = firsts == [event_id for event_id in want if event_id in firsts]
        lines.append(
            f"{entity}: missing {sorted(set(want) - set(got))}, twice {twice}, "
            f"{'in order' if in_order else 'reordered'}; applied {got}"
        )
    return "\n".join(lines)


def poller_report(poller: PollerAdmin | None, stack: Any) -> str:
    """The poller's longest receive-to-end of an invocation per queue, against the visibility
    timeout, and the stack's longest invocation it still has on record."""
    if poller is None:
        return ""
    uuid = own_mapping_uuid(stack)
    holds = {m["queue"]: round(m.get("longest_hold_seconds", 0.0), 1) for m in poller.status()}
    longest = max(
        (i["end"] - i["start"] for i in poller.invocations() if i["mapping"] == uuid),
        default=0.0,
    )
    return f"; poller: longest receive-to-end per queue {holds}, longest invocation {longest:.1f} s"


def test_the_stack_is_fifo_end_to_end(sqs: Any, stack: Any) -> None:
    queue, dlq = (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for url in (stack.queue_url, stack.dlq_url)
    )
    assert stack.queue_url.endswith(".fifo")
    assert stack.dlq_url.endswith(".fifo")
    assert (queue["FifoQueue"], dlq["FifoQueue"]) == ("true", "true")
    assert queue.get("ContentBasedDeduplication", "false") == "false"
    assert json.loads(queue["RedrivePolicy"])["deadLetterTargetArn"] == dlq["QueueArn"]


@pytest.mark.timeout(480)
def test_each_entity_is_applied_in_published_order_under_failures(
    stack: Any,
    sqs: Any,
    api: EntityApi,
    fresh: int,
    waiter: Waiter,
    summaries: Callable[[int], list[dict[str, Any]]],
    tfvars: dict[str, Any],
    project_poller: PollerAdmin | None,
) -> None:
    run = f"fifo{fresh}"
    messages = message_factory.generate(
        CHANGES, poison_percent=1, entities=ENTITIES, run=run, seed=12
    )
    published: dict[str, list[str]] = {}
    for message in messages:
        if message.kind == "valid":
            change = json.loads(message.body)
            entity = f"{change['entity_type']}:{change['entity_id']}"
            published.setdefault(entity, []).append(change["event_id"])
    poison = Counter(m.body for m in messages if m.kind in message_factory.POISON_KINDS)
    assert len(published) == ENTITIES
    api.faults(FAULTS)

    keys = [message_factory.fifo_keys(m) for m in messages]
    result = publish.publish(sqs, stack.queue_url, [m.body for m in messages], fifo_keys=keys)
    assert result.sent == CHANGES, result.failed
    assert not result.out_of_order

    def all_applied() -> dict[str, list[str]] | None:
        if observe.queue_depth(sqs, stack.queue_url) != (0, 0):
            return None
        applied = message_factory.applied_sequences(api.sequences(), api.applied(), run)
        return (
            applied
            if sum(map(len, applied.values())) >= sum(map(len, published.values()))
            else None
        )

    applied = waiter(all_applied, 420, "every change applied and the queue drained")

    # per entity: published order, nothing missing, nothing twice
    assert applied == published, differences(applied, published) + poller_report(
        project_poller, stack
    )
    dead = [m for m in consume(sqs, stack.dlq_url) if run in m["Body"]]
    assert Counter(m["Body"] for m in dead) == poison  # each poison message once, nothing else
    codes = {observe.attribute(m, "error_code") for m in dead}
    assert codes == set(message_factory.POISON_KINDS)
    assert all(m["Attributes"]["MessageGroupId"].startswith("order:") for m in dead)
    stats = api.stats()
    failed_ops = sum(n for s, n in stats["op_status_counts"].items() if s not in ("200", "409"))
    failed_requests = sum(n for status, n in stats["status_counts"].items() if status != "200")
    assert failed_ops > 0, "no per-operation failure was injected"
    assert failed_requests > 0, "no whole-request failure was injected"
    lines = summaries(fresh)
    assert sum(int(line.get("held_back", 0)) for line in lines) > 0
    assert all("message_groups" in line for line in lines)
    print(
        f"\n{CHANGES} changes over {ENTITIES} entities applied in order, none twice; "
        f"{failed_ops} failed operations, {failed_requests} failed requests; visibility timeout "
        f"{tfvars['visibility_timeout_seconds']} s{poller_report(project_poller, stack)}"
    )
