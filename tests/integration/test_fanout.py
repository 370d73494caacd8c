"""Integration: real fan-out in the local cloud (the project's mapping poller, `localcloud.poller`).

The poller runs up to the mapping's MaximumConcurrency invocations at once, as Lambda does. With
the entity API as a token bucket, K = 4 concurrent invocations really overlap (measured from
their start and end times), and every change is applied, none in the DLQ. The deployed governor,
lowering MaximumConcurrency on throttling, changes how many invocations the poller runs at
once. The governor's schedule is paused meanwhile, so only the test moves the mapping.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from stack_support import GOVERNOR_WAITING, own_mapping_uuid, wait_for_governor_window_after

from bench.fanout_governor import GovernorDriver
from localcloud.poller_admin import PollerAdmin
from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import observations as observe
from sbc_tools.ops import publish

pytestmark = pytest.mark.integration

INSTANCE = os.environ.get("LOCALCLOUD_INSTANCE", "")


@pytest.fixture(scope="module")
def poller(stack: Any, project_poller: PollerAdmin | None) -> PollerAdmin:
    if project_poller is None:
        pytest.skip("the local cloud runs LocalStack's own mapping (start --esm localstack)")
    return project_poller


@pytest.fixture(scope="module")
def mapping_uuid(stack: Any) -> Iterator[str]:
    uuid = own_mapping_uuid(stack)
    mapping = stack.client("lambda").get_event_source_mapping(UUID=uuid)
    before = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
    yield uuid
    # the tests after these (the governor's wiring) start from the stack's own setting
    if before is not None:
        stack.client("lambda").update_event_source_mapping(
            UUID=uuid, ScalingConfig={"MaximumConcurrency": before}
        )


@pytest.fixture
def governor(stack: Any) -> Iterator[GovernorDriver]:
    """The deployed governor, its schedule paused and its period 10 s; restored afterwards."""
    driver = GovernorDriver.for_instance(stack, INSTANCE, 10)
    if driver is None:
        pytest.skip("the stack was applied without adaptive_concurrency")
    driver.take_over()
    try:
        yield driver
    finally:
        driver.hand_back()


def _set_concurrency(stack: Any, poller: PollerAdmin, uuid: str, concurrency: int) -> None:
    stack.client("lambda").update_event_source_mapping(
        UUID=uuid, ScalingConfig={"MaximumConcurrency": concurrency}
    )
    _wait_until_poller_runs(poller, uuid, concurrency)


def _wait_until_poller_runs(poller: PollerAdmin, uuid: str, concurrency: int) -> None:
    give_up = time.monotonic() + 30
    while (poller.mapping(uuid) or {}).get("concurrency") != concurrency:
        if time.monotonic() > give_up:
            pytest.fail(f"the poller did not take MaximumConcurrency {concurrency} in 30 s")
        time.sleep(0.3)


def _decision_on_throttling(
    stack: Any, poller: PollerAdmin, uuid: str, governor: GovernorDriver
) -> dict[str, Any]:
    """From MaximumConcurrency 8, the governor's answer to two periods 60% throttled. A run of
    the schedule queued before it was paused (an asynchronous invocation LocalStack delivers
    late) may have changed the mapping just before: then the governor waits for metrics after
    that change; wait until its window starts after it and ask again."""
    for _ in range(3):
        _set_concurrency(stack, poller, uuid, 8)
        now = time.time()
        for back in (15, 5):  # the governor's window: two 10-s periods, 60% throttled
            governor.put_metrics(now - back, requests=100, throttled=60)
        decision = governor.invoke()
        if decision["reason"] != GOVERNOR_WAITING:
            break
        wait_for_governor_window_after(time.time(), governor.period)
    return decision


def _publish_and_drain(stack: Any, api: Any, waiter: Any, count: int) -> set[str]:
    """Publish `count` valid changes; wait until all are applied and the queue is empty.
    Returns the event ids not applied (lost)."""
    sqs = stack.client("sqs")
    messages = message_factory.generate(count)
    ids = {m.event_id for m in messages if m.event_id}
    publish.publish(sqs, stack.queue_url, [m.body for m in messages])
    waiter(lambda: ids <= message_factory.covered_event_ids(api.applied()), 90, "every change")
    waiter(lambda: observe.queue_depth(sqs, stack.queue_url) == (0, 0), 60, "an empty queue")
    return ids - message_factory.covered_event_ids(api.applied())


def test_k_invocations_overlap_against_a_token_bucket_and_nothing_is_lost(
    stack: Any,
    api: Any,
    fresh: int,
    waiter: Any,
    poller: PollerAdmin,
    mapping_uuid: str,
    governor: GovernorDriver,
    tfvars: dict[str, Any],
) -> None:
    sqs = stack.client("sqs")
    dlq_before = sum(observe.queue_depth(sqs, stack.dlq_url))
    _set_concurrency(stack, poller, mapping_uuid, 4)
    api.rate(20, 20)
    poller.reset()
    try:
        lost = _publish_and_drain(stack, api, waiter, 300)
    finally:
        api.rate(None)
    overlap = poller.overlap(mapping_uuid)
    invocations = [i for i in poller.invocations() if i["mapping"] == mapping_uuid]

    assert lost == set()
    assert sum(observe.queue_depth(sqs, stack.dlq_url)) == dlq_before
    assert overlap.maximum > 1, "invocations never ran at once"
    assert overlap.maximum <= 4
    assert overlap.mean > 1
    assert all(i["records"] <= tfvars["batch_size"] for i in invocations)
    assert sum(i["records"] for i in invocations) >= 300


def test_the_governor_lowering_maximum_concurrency_lowers_the_invocations_run_at_once(
    stack: Any,
    api: Any,
    fresh: int,
    waiter: Any,
    poller: PollerAdmin,
    mapping_uuid: str,
    governor: GovernorDriver,
    tfvars: dict[str, Any],
) -> None:
    decision = _decision_on_throttling(stack, poller, mapping_uuid, governor)
    lowered = int(decision["concurrency"])
    _wait_until_poller_runs(poller, mapping_uuid, lowered)
    # A slow API holds each invocation open: the poller runs as many at once as it may.
    api.faults({"latency_seconds": 0.4})
    poller.reset()
    lost = _publish_and_drain(stack, api, waiter, tfvars["batch_size"] * 2 * lowered)
    overlap = poller.overlap(mapping_uuid)

    assert decision["reason"].startswith("decrease"), decision
    assert 2 <= lowered < 8
    assert lost == set()
    assert overlap.maximum == lowered


def test_a_disabled_mapping_is_not_polled_until_it_is_enabled_again(
    stack: Any, api: Any, fresh: int, waiter: Any, poller: PollerAdmin, mapping_uuid: str
) -> None:
    lambda_client, sqs = stack.client("lambda"), stack.client("sqs")
    lambda_client.update_event_source_mapping(UUID=mapping_uuid, Enabled=False)
    try:
        waiter(lambda: not (poller.mapping(mapping_uuid) or {}).get("running"), 30, "a pause")
        messages = message_factory.generate(30)
        publish.publish(sqs, stack.queue_url, [m.body for m in messages])
        waiter(lambda: observe.queue_depth(sqs, stack.queue_url)[0] == 30, 30, "30 visible")
        time.sleep(3)  # more than a refresh of the poller: it would have received by now
        while_disabled = observe.queue_depth(sqs, stack.queue_url)
    finally:
        lambda_client.update_event_source_mapping(UUID=mapping_uuid, Enabled=True)
    ids = {m.event_id for m in messages if m.event_id}
    waiter(lambda: ids <= message_factory.covered_event_ids(api.applied()), 60, "every change")

    assert while_disabled == (30, 0)


def test_an_empty_queue_is_watched_by_two_workers_whatever_the_concurrency(
    stack: Any, fresh: int, poller: PollerAdmin, mapping_uuid: str
) -> None:
    # MaximumConcurrency 8 and nothing to read: the workers beyond the first two park (the
    # test above shows a burst wakes them: every one of its workers invoked at once)
    _set_concurrency(stack, poller, mapping_uuid, 8)
    time.sleep(3)  # each worker has had its empty receive (a 1-s window) and parked
    before = (poller.mapping(mapping_uuid) or {})["receives"]
    time.sleep(10)
    receives = (poller.mapping(mapping_uuid) or {})["receives"] - before

    # two workers: at most one receive a second each (each waits out the 1-s window), in
    # practice about one every 2 s; a parked worker looks again after 20 s. Eight workers
    # polling would make about 40.
    assert receives <= 24, f"{receives} receives of an empty queue in 10 s"
