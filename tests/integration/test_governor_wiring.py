"""Integration: the concurrency governor deployed with the stack (adaptive_concurrency enabled).

LocalStack does not extract EMF metrics from logs, so the test puts the consumer's metrics
with PutMetricData (high-resolution, 10-s periods as Terraform's default), invokes the governor
and reads the mapping: throttling above target lowers MaximumConcurrency; a real backlog (the
mapping disabled while changes are published, so they wait in the queue the governor reads
with GetQueueAttributes) without throttling raises it; both within the bounds; the
EventBridge rule that runs it exists and passes each run its minute (`run_seconds`). The
governor's schedule is paused meanwhile and the mapping starts from the top of the bounds, so
only the test moves it; the mapping's setting is restored afterwards. LocalStack does not move
the mapping's LastModified on UpdateEventSourceMapping (AWS does); the governor keeps the time
of its own change in its state parameter, and the test waits from the time of its invocation.

A scheduled run that started before the schedule was paused goes on deciding for up to its
minute (every 10 s), on the metrics the test puts: it may make the change the test asked for
first. The test's own invocation then answers that it waits for metrics after that change; the
test reads the change's time from the state parameter, waits for a window after it and asks
again (at most twice: the run in flight ends within its minute).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from stack_support import GOVERNOR_WAITING, wait_for_governor_window_after

from bench.fanout_governor import GovernorDriver
from sbc_tools.ops import messages as message_factory
from sbc_tools.ops import observations as observe
from sbc_tools.ops import publish

pytestmark = pytest.mark.integration

PERIOD = 10
INSTANCE = os.environ.get("LOCALCLOUD_INSTANCE", "")


@pytest.fixture
def governor(stack: Any) -> Iterator[dict[str, Any]]:
    """The governor function's name and environment, its period shortened and its schedule
    paused (the tests before this one leave throttled metrics behind: a scheduled run reading
    them could move the mapping under the test); restored afterwards."""
    driver = GovernorDriver.for_instance(stack, INSTANCE, PERIOD)
    if driver is None:
        pytest.skip(
            "the stack was applied without adaptive_concurrency (no governor_function_name)"
        )
    lambda_client = stack.client("lambda")
    driver.take_over()
    uuid = driver.environment["EVENT_SOURCE_MAPPING_UUID"]
    before = lambda_client.get_event_source_mapping(UUID=uuid).get("ScalingConfig")
    try:
        yield {"driver": driver, "name": driver.name, "environment": driver.environment}
    finally:
        if before:
            lambda_client.update_event_source_mapping(UUID=uuid, ScalingConfig=before)
        driver.hand_back()


def _put(driver: GovernorDriver, *, throttled: int) -> None:
    """Metrics of the last 30 s: 100 requests per 10 s, `throttled` of them."""
    now = time.time()
    for back in (25, 15, 5):
        driver.put_metrics(now - back, 100, throttled)


@contextmanager
def _backlog(stack: Any, api: Any, waiter: Any, uuid: str, count: int) -> Iterator[None]:
    """`count` valid changes waiting in the queue (the mapping disabled meanwhile); once the
    mapping is enabled again, every one of them applied."""
    lambda_client, sqs = stack.client("lambda"), stack.client("sqs")
    lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
    messages = message_factory.generate(count)
    try:
        time.sleep(3)  # more than a refresh of the poller: it stops receiving
        publish.publish(sqs, stack.queue_url, [m.body for m in messages])
        waiter(lambda: observe.queue_depth(sqs, stack.queue_url)[0] > 0, 30, "a visible backlog")
        yield
    finally:
        lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)
    ids = {m.event_id for m in messages if m.event_id}
    waiter(lambda: ids <= message_factory.covered_event_ids(api.applied()), 90, "every change")


def _invoke(stack: Any, name: str) -> dict[str, Any]:
    answer = stack.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    return dict(payload)


def _concurrency(stack: Any, uuid: str) -> tuple[int, float]:
    mapping = stack.client("lambda").get_event_source_mapping(UUID=uuid)
    return int(mapping["ScalingConfig"]["MaximumConcurrency"]), mapping["LastModified"].timestamp()


def _changed_at(stack: Any, environment: dict[str, str]) -> float:
    """When the governor last changed the mapping (its state parameter), 0 when unknown."""
    name = environment.get("GOVERNOR_STATE_PARAMETER")
    if not name:
        return 0.0
    value = stack.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    changed_at = json.loads(value).get("changed_at")
    return float(changed_at) if isinstance(changed_at, int | float) else 0.0


def _decide(stack: Any, governor: dict[str, Any], *, throttled: int) -> tuple[int, dict[str, Any]]:
    """The mapping's setting, then the governor's answer to the metrics put just before it;
    while it waits for metrics after a change a scheduled run in flight made, wait for them
    and ask again (that run ends within its minute)."""
    uuid = governor["environment"]["EVENT_SOURCE_MAPPING_UUID"]
    for _ in range(3):
        before, _ = _concurrency(stack, uuid)
        _put(governor["driver"], throttled=throttled)
        answer = _invoke(stack, governor["name"])
        if answer["reason"] != GOVERNOR_WAITING:
            break
        wait_for_governor_window_after(
            _changed_at(stack, governor["environment"]) or time.time(), PERIOD
        )
    return before, answer


def test_the_governor_lowers_then_raises_maximum_concurrency_within_its_bounds(
    stack: Any, api: Any, waiter: Any, governor: dict[str, Any]
) -> None:
    environment = governor["environment"]
    uuid = environment["EVENT_SOURCE_MAPPING_UUID"]
    low, high = int(environment["MINIMUM_CONCURRENCY"]), int(environment["MAXIMUM_CONCURRENCY"])
    events = stack.client("events")
    rules = governor["driver"].rules
    assert rules, "an EventBridge rule runs the governor"
    assert events.describe_rule(Name=rules[0])["ScheduleExpression"].startswith("rate(")
    [target] = governor["driver"].targets[rules[0]]  # taken off while the test runs
    assert json.loads(target["Input"]) == {"run_seconds": 60}

    # from the top of the bounds, wherever the tests before left the mapping
    stack.client("lambda").update_event_source_mapping(
        UUID=uuid, ScalingConfig={"MaximumConcurrency": high}
    )
    start, _ = _concurrency(stack, uuid)
    assert start == high
    wait_for_governor_window_after(time.time(), PERIOD)
    before_decrease, lowered = _decide(stack, governor, throttled=60)
    changed_at = time.time()  # at or after the change the governor records
    after_decrease, _ = _concurrency(stack, uuid)

    assert lowered["changed"], lowered
    assert lowered["reason"].startswith("decrease"), lowered
    assert after_decrease == lowered["concurrency"] < before_decrease <= high
    assert after_decrease >= low

    wait_for_governor_window_after(changed_at, PERIOD)
    with _backlog(stack, api, waiter, uuid, 30):
        # From here: a run of the schedule queued before it was paused (an asynchronous
        # invocation LocalStack delivers late) may have moved the mapping meanwhile.
        before_increase, raised = _decide(stack, governor, throttled=0)
        after_increase, _ = _concurrency(stack, uuid)

    assert raised["reason"].startswith("increase"), raised
    assert after_increase == raised["concurrency"] > before_increase
    assert low <= before_increase < after_increase <= high
