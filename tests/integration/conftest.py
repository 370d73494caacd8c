"""Fixtures for the integration tests: the stack that `scripts/localcloud/integration.sh` applied.

The tests talk to the real thing: SQS, the event source mapping, the packaged handler in
awslambdaric and CloudWatch Logs in LocalStack, and the local entity API server over HTTP.
They run only under `make integration`, which sets LOCALCLOUD_INSTANCE.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from stack_support import EntityApi, Waiter, wait_for

from localcloud.poller_admin import POLLER, PollerAdmin
from localcloud.services import read_service
from sbc_tools.ops import observations as observe
from sbc_tools.ops import stack as stack_lookup

INSTANCE = os.environ.get("LOCALCLOUD_INSTANCE", "")
STACK = os.environ.get("INTEGRATION_STACK") or None
"""The stack under test: the instance's main one, or a further one (the FIFO phase's `fifo`)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a stack these tests cannot run: say how to run them."""
    if INSTANCE:
        return
    skip = pytest.mark.skip(reason="needs the LocalStack stack: run `make integration`")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack() -> stack_lookup.Stack:
    return stack_lookup.resolve(instance=INSTANCE, stack=STACK)


@pytest.fixture(scope="session")
def project_poller() -> PollerAdmin | None:
    """The project's mapping poller beside the instance's LocalStack (None when LocalStack's
    own mapping runs: `start --esm localstack`)."""
    if read_service(INSTANCE, POLLER) is None:
        return None
    return PollerAdmin.of_instance(INSTANCE)


@pytest.fixture(scope="session")
def tfvars() -> dict[str, Any]:
    """The Terraform variables the stack was applied with."""
    return stack_variables(STACK)


@pytest.fixture(scope="session")
def other_stacks_settled(stack: stack_lookup.Stack) -> None:
    """Testing a further stack that shares the main one's entity API server, the main stack
    first drains its source queue: none of its retries reach the API during these tests. A
    stack with its own server (`deploy --api-instance`), or a phase run on its own
    (`INTEGRATION_PHASES=fifo`: no main stack), does not wait."""
    if STACK is None or not os.path.exists(stack_lookup.stack_file(INSTANCE)):
        return
    main = stack_lookup.resolve(instance=INSTANCE)
    if main.entity_api_base_url != stack.entity_api_base_url:
        return
    sqs = main.client("sqs")
    wait_for(
        lambda: observe.queue_depth(sqs, main.queue_url) == (0, 0),
        120,
        "the main stack's source queue to drain",
    )


SHORT_STACK = "short"
"""The second stack of the standard phase (`deploy --stack short`): a 1-minute retry horizon."""


@pytest.fixture(scope="session")
def short_stack() -> stack_lookup.Stack:
    """The second stack, in the same LocalStack and with the same entity API server."""
    return stack_lookup.resolve(instance=INSTANCE, stack=SHORT_STACK)


@pytest.fixture(scope="session")
def short_tfvars() -> dict[str, Any]:
    """The Terraform variables the second stack was applied with."""
    return stack_variables(SHORT_STACK)


def stack_variables(stack: str | None) -> dict[str, Any]:
    """The Terraform variables of the instance's main stack, or of its further stack `stack`."""
    path = stack_lookup.stack_dir(INSTANCE, stack) / "terraform" / "stack.tfvars.json"
    variables: dict[str, Any] = json.loads(path.read_text())
    return variables


@pytest.fixture(scope="session")
def sqs(stack: stack_lookup.Stack) -> Any:
    return stack.client("sqs")


@pytest.fixture(scope="session")
def logs(stack: stack_lookup.Stack) -> Any:
    return stack.client("logs")


@pytest.fixture(scope="session")
def api(stack: stack_lookup.Stack) -> EntityApi:
    assert stack.entity_api_base_url, "the stack records no entity API server"
    return EntityApi(stack.entity_api_base_url)


@pytest.fixture
def waiter() -> Waiter:
    return wait_for


@pytest.fixture
def fresh(
    sqs: Any, stack: stack_lookup.Stack, api: EntityApi, other_stacks_settled: None
) -> Iterator[int]:
    """Start a test from a drained queue and a reset API; yield the start time (epoch ms)."""
    wait_for(
        lambda: observe.queue_depth(sqs, stack.queue_url) == (0, 0),
        120,
        "the source queue to drain from the previous test",
    )
    time.sleep(1.5)  # the previous test's last log lines reach CloudWatch Logs
    api.reset()
    yield int(time.time() * 1000)
    api.faults({})


def summaries_since(logs: Any, stack: stack_lookup.Stack, since_ms: int) -> list[Any]:
    assert stack.log_group
    return observe.invocation_summaries(logs, stack.log_group, since_ms)


@pytest.fixture
def summaries(logs: Any, stack: stack_lookup.Stack) -> Callable[[int], list[Any]]:
    """The handler's per-invocation log lines written since a time (epoch ms)."""
    return lambda since_ms: summaries_since(logs, stack, since_ms)
