"""The governor against moto's server (Lambda event source mapping, CloudWatch metrics, the
SQS queue): settings, decrease, hold while metrics are stale or the API accepts nothing,
increase, bounds, the log line, the entry and its decisions within a run."""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from moto_proxy import LATE, REFUSE, MotoProxy, moto_proxy

from bench.fanout_governor import consumer_metric_data
from consumer.governor.run import Clients, GovernorConfig, govern, window
from consumer.settings import SettingsError

PERIOD = 60
NAMESPACE = "GovernorTest"


@dataclass
class Stack:
    """A consumer function, its queue and its event source mapping on moto's server."""

    lambda_client: Any
    cloudwatch: Any
    sqs: Any
    function: str
    queue_url: str
    mapping: str

    def environ(self, **overrides: str) -> dict[str, str]:
        return {
            "EVENT_SOURCE_MAPPING_UUID": self.mapping,
            "CONSUMER_FUNCTION_NAME": self.function,
            "QUEUE_URL": self.queue_url,
            "METRICS_NAMESPACE": NAMESPACE,
            "MINIMUM_CONCURRENCY": "2",
            "MAXIMUM_CONCURRENCY": "40",
            "TARGET_THROTTLE_RATIO": "0.1",
            "PERIOD_SECONDS": str(PERIOD),
            **overrides,
        }

    def config(self, **overrides: str) -> GovernorConfig:
        return GovernorConfig.from_environ(self.environ(**overrides))

    def concurrency(self) -> int | None:
        mapping = self.lambda_client.get_event_source_mapping(UUID=self.mapping)
        value = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
        return None if value is None else int(value)

    def last_modified(self) -> float:
        mapping = self.lambda_client.get_event_source_mapping(UUID=self.mapping)
        return float(mapping["LastModified"].timestamp())

    def clients(self, ssm: Any = None) -> Clients:
        return Clients(self.lambda_client, self.cloudwatch, self.sqs, ssm)

    def put(self, at: float, *, requests: float, throttled: float) -> None:
        """The consumer's metrics at `at` (epoch seconds), as its EMF lines give them."""
        self.cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=consumer_metric_data(self.function, at, requests, throttled),
        )

    def backlog(self, count: int = 3) -> None:
        """`count` messages waiting in the queue (the mapping is disabled: nobody takes them)."""
        for n in range(count):
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=f"change {n}")


@pytest.fixture
def stack(moto_endpoint: str) -> Stack:
    import boto3

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_endpoint, region_name="us-east-1")

    name = f"consumer-{uuid.uuid4().hex[:8]}"
    role = client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return None\n")
    lambda_client = client("lambda")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handle",
        Code={"ZipFile": code.getvalue()},
    )
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=10,
        ScalingConfig={"MaximumConcurrency": 20},
        Enabled=False,  # moto's mapping would take messages (and try Docker to run them)
    )["UUID"]
    return Stack(lambda_client, client("cloudwatch"), sqs, name, url, mapping)


class CallLog:
    """The real boto3 client, with the names of the calls made through it written down."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.client, name)


def later(stack: Stack, periods: int = 4) -> float:
    """A run `periods` periods after the mapping's last change: its metrics postdate it."""
    return stack.last_modified() + periods * PERIOD


def run(stack: Stack, now: float, capsys: pytest.CaptureFixture[str], **env: str) -> Any:
    """One governor run at `now`; (decision, its log line). Asserts UpdateEventSourceMapping
    was called exactly when the decision is a change."""
    capsys.readouterr()
    lambda_client = CallLog(stack.lambda_client)
    clients = Clients(lambda_client, stack.cloudwatch, stack.sqs)
    decision = govern(stack.config(**env), clients, now)
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x]
    updates = lambda_client.calls.count("update_event_source_mapping")
    assert updates == (1 if decision.changed else 0)
    return decision, line


def test_throttling_above_target_cuts_the_concurrency_to_what_the_api_took(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    now = later(stack)
    since, until = window(now, PERIOD)
    stack.put(until - 30, requests=100, throttled=30)

    decision, line = run(stack, now, capsys)

    # 30% throttled at 20, target 10%: 20 x 0.7 / 0.9
    assert (decision.concurrency, decision.changed) == (15, True)
    assert stack.concurrency() == 15
    assert line["governor_concurrency"] == 15
    assert line["previous"] == 20
    assert line["reason"].startswith("decrease")
    assert line["throttle_ratio"] == pytest.approx(0.3)
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Metrics"] == [{"Name": "governor_concurrency", "Unit": "Count"}]
    assert line["FunctionName"] == stack.function
    assert since < until


def test_after_a_change_it_holds_until_the_metrics_postdate_it(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.lambda_client.update_event_source_mapping(
        UUID=stack.mapping, ScalingConfig={"MaximumConcurrency": 16}
    )
    changed_at = stack.last_modified()
    now = changed_at + PERIOD  # the window still covers time before the change
    stack.put(window(now, PERIOD)[1] - 30, requests=100, throttled=50)

    decision, line = run(stack, now, capsys)

    assert (decision.concurrency, decision.changed) == (16, False)
    assert "waiting for metrics" in line["reason"]
    assert stack.last_modified() == changed_at  # no UpdateEventSourceMapping call


def test_a_backlog_under_target_raises_it_by_the_headroom_left(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    now = later(stack)
    stack.put(window(now, PERIOD)[1] - 30, requests=100, throttled=2)
    stack.backlog()

    decision, line = run(stack, now, capsys)

    # 2% throttled, increases below half the 10% target: 60% of that headroom, 20 + 0.6 x 20
    assert (decision.concurrency, stack.concurrency()) == (32, 32)
    assert line["reason"].startswith("increase")


@pytest.mark.parametrize(("waiting", "reason"), [(0, "hold: no backlog"), (3, "increase")])
def test_the_backlog_is_read_from_the_queue_when_deciding(
    stack: Stack, capsys: pytest.CaptureFixture[str], waiting: int, reason: str
) -> None:
    """No metric lag on the backlog: what waits in the queue at the decision counts, even
    with CloudWatch's queue metrics saying otherwise (the governor does not read them)."""
    now = later(stack)
    until = window(now, PERIOD)[1]
    stack.put(until - PERIOD - 30, requests=50, throttled=0)
    stack.put(until - 30, requests=50, throttled=0)
    stack.cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": stack.function}],
                "Value": 500 - 500 * bool(waiting),
                "Timestamp": datetime.fromtimestamp(until - 30, UTC),
            }
        ],
    )
    stack.backlog(waiting)

    decision, line = run(stack, now, capsys)

    assert line["visible_messages"] == waiting
    assert line["requests"] == 100
    assert line["reason"].startswith(reason)
    assert decision.changed is (reason == "increase")


def test_a_period_in_which_the_api_accepted_nothing_holds(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """An outage (every request refused, 503s counted as throttled) is not a rate limit: the
    governor keeps the setting for the recovery instead of cutting it to the minimum."""
    now = later(stack)
    until = window(now, PERIOD)[1]
    stack.put(until - PERIOD - 30, requests=100, throttled=10)
    stack.put(until - 30, requests=40, throttled=40)
    stack.backlog()

    decision, line = run(stack, now, capsys)

    assert (decision.concurrency, decision.changed) == (20, False)
    assert line["reason"].startswith("hold: the API accepted nothing")
    assert line["periods_nothing_accepted"] == 1
    assert line["throttle_ratio"] == pytest.approx(50 / 140)


def test_a_mapping_without_a_setting_is_cut_from_the_maximum(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # no MaximumConcurrency counts as 1,000: brought to the bound, then cut from there
    stack.lambda_client.update_event_source_mapping(UUID=stack.mapping, ScalingConfig={})
    assert stack.concurrency() is None
    now = later(stack)
    stack.put(window(now, PERIOD)[1] - 30, requests=100, throttled=55)

    decision, line = run(stack, now, capsys)

    assert (decision.concurrency, stack.concurrency()) == (20, 20)  # 40 x 0.5, not 1,000's
    assert line["previous"] == 1000
    assert line["reason"].startswith("decrease")


def test_no_backlog_and_no_data_both_hold_without_calling_update(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stack.last_modified()
    now = later(stack)
    decision, line = run(stack, now, capsys)  # nothing published in the window
    assert (decision.changed, line["reason"]) == (False, "hold: metrics missing")

    stack.put(window(now, PERIOD)[1] - 30, requests=100, throttled=0)
    decision, line = run(stack, now, capsys)
    assert (decision.changed, line["reason"]) == (False, "hold: no backlog")
    assert stack.last_modified() == before


def test_it_stays_within_its_bounds(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    now = later(stack)
    stack.put(window(now, PERIOD)[1] - 30, requests=100, throttled=90)

    decision, _ = run(stack, now, capsys, MINIMUM_CONCURRENCY="15")

    assert (decision.concurrency, stack.concurrency()) == (15, 15)  # not 10: the minimum


def test_a_mapping_set_by_hand_above_the_maximum_is_brought_within_bounds(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.lambda_client.update_event_source_mapping(
        UUID=stack.mapping, ScalingConfig={"MaximumConcurrency": 900}
    )
    now = later(stack)
    stack.put(window(now, PERIOD)[1] - 30, requests=100, throttled=0)

    decision, line = run(stack, now, capsys)

    assert (decision.concurrency, stack.concurrency()) == (40, 40)
    assert "brought within bounds" in line["reason"]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"EVENT_SOURCE_MAPPING_UUID": ""}, "EVENT_SOURCE_MAPPING_UUID is required"),
        ({"EVENT_SOURCE_MAPPING_UUID": "abc"}, "EVENT_SOURCE_MAPPING_UUID must be"),
        ({"CONSUMER_FUNCTION_NAME": "a b"}, "CONSUMER_FUNCTION_NAME must be"),
        ({"QUEUE_URL": ""}, "QUEUE_URL is required"),
        ({"QUEUE_URL": "orders"}, "QUEUE_URL must be an SQS queue URL"),
        ({"MINIMUM_CONCURRENCY": "1"}, "MINIMUM_CONCURRENCY must be an integer in 2-1000"),
        ({"MAXIMUM_CONCURRENCY": "1001"}, "MAXIMUM_CONCURRENCY must be an integer in 2-1000"),
        ({"MAXIMUM_CONCURRENCY": ""}, "MAXIMUM_CONCURRENCY is required"),
        ({"MINIMUM_CONCURRENCY": "50"}, "MINIMUM_CONCURRENCY (50) must not exceed"),
        ({"TARGET_THROTTLE_RATIO": "1"}, "TARGET_THROTTLE_RATIO must be in (0, 1)"),
        ({"TARGET_THROTTLE_RATIO": "x"}, "TARGET_THROTTLE_RATIO must be a number"),
        ({"PERIOD_SECONDS": "90"}, "PERIOD_SECONDS must be 10, 20, 30 or a multiple of 60"),
        ({"PERIOD_SECONDS": "15"}, "PERIOD_SECONDS must be 10, 20, 30 or a multiple of 60"),
        ({"PERIOD_SECONDS": "5"}, "PERIOD_SECONDS must be an integer in 10-3600"),
        ({"METRICS_NAMESPACE": "AWS/Lambda"}, "METRICS_NAMESPACE"),
        ({"GOVERNOR_STATE_PARAMETER": "a name with spaces"}, "GOVERNOR_STATE_PARAMETER must be"),
    ],
)
def test_a_bad_setting_is_named(stack: Stack, overrides: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        stack.config(**overrides)
    assert named in str(caught.value)


@pytest.fixture
def entry(moto_endpoint: str) -> Iterator[Callable[[dict[str, str]], Any]]:
    """`entry(environ)`: consumer.governor imported afresh (a cold start) with `environ`."""

    def load(environ: dict[str, str]) -> Any:
        sys.modules.pop("consumer.governor.entry", None)
        with mock.patch.dict(os.environ, {**environ, "AWS_ENDPOINT_URL": moto_endpoint}):
            # as Lambda's runtime loads Terraform's handler string at cold start
            importlib.import_module("consumer.governor").lambda_handler  # noqa: B018
            module = sys.modules["consumer.governor.entry"]
            module._clients.cache_clear()
            module._clients()
        return module

    yield load
    sys.modules.pop("consumer.governor.entry", None)


def test_the_entry_point_runs_one_decision(
    stack: Stack, entry: Callable[[dict[str, str]], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    governor = entry(stack.environ())
    capsys.readouterr()

    answer = governor.lambda_handler({"source": "aws.events"}, None)

    # the mapping was created moments ago: its metrics cannot postdate it yet
    assert answer == {
        "concurrency": 20,
        "changed": False,
        "reason": answer["reason"],
        "decisions": 1,  # no run_seconds in the event: one decision
        "changes": 0,
    }
    assert "hold" in answer["reason"]
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x]
    assert line["governor_concurrency"] == 20


class LambdaContext:
    """What the handler reads of Lambda's context: the time left of `seconds` by `clock`."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.deadline = clock() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - self.clock()) * 1000)


@pytest.mark.parametrize(
    ("period", "budget", "decisions"),
    [
        ("10", 80.0, 6),  # the schedule's run: every period of its minute
        ("20", 80.0, 3),
        ("60", 30.0, 1),
        ("10", 20.0, 1),  # too little time left for a second decision
    ],
)
def test_a_scheduled_run_decides_every_period_of_its_minute(
    stack: Stack,
    entry: Callable[[dict[str, str]], Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    period: str,
    budget: float,
    decisions: int,
) -> None:
    governor = entry(stack.environ(PERIOD_SECONDS=period))
    clock = [time.time()]
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the run's waits, without waiting
        waits.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(governor, "_clock", lambda: clock[0])
    monkeypatch.setattr(governor, "_sleep", sleep)
    capsys.readouterr()

    answer = governor.lambda_handler({"run_seconds": 60}, LambdaContext(budget, lambda: clock[0]))

    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x]
    assert answer["decisions"] == len(lines) == decisions
    assert sum(waits) == pytest.approx(int(period) * (decisions - 1), abs=0.5)


@pytest.mark.parametrize("bad", ["60", -1, 601, True, None])
def test_a_bad_run_span_is_named(
    stack: Stack, entry: Callable[[dict[str, str]], Any], bad: object
) -> None:
    governor = entry(stack.environ())
    with pytest.raises(ValueError, match="run_seconds must be a number of seconds"):
        governor.lambda_handler({"run_seconds": bad}, LambdaContext(60))


def test_a_bad_setting_fails_the_cold_start(
    stack: Stack, entry: Callable[[dict[str, str]], Any]
) -> None:
    with pytest.raises(SettingsError, match="PERIOD_SECONDS"):
        entry(stack.environ(PERIOD_SECONDS="45"))


def test_an_aws_error_is_logged_and_raised(
    stack: Stack, entry: Callable[[dict[str, str]], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    governor = entry(stack.environ(EVENT_SOURCE_MAPPING_UUID=str(uuid.uuid4())))
    capsys.readouterr()

    with pytest.raises(Exception, match=r"ResourceNotFound|not found|does not exist"):
        governor.lambda_handler({}, None)

    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x]
    assert line["level"] == "ERROR"
    assert "left as it was" in line["message"]


def test_boto3_waits_for_the_first_run(stack: Stack) -> None:
    probe = (
        "import sys; from consumer.governor import lambda_handler; print('boto3' in sys.modules)"
    )
    function_dir = Path(__file__).resolve().parents[2] / "function"
    result = subprocess.run(  # noqa: S603 - our own code
        [sys.executable, "-c", probe],
        env={**os.environ, **stack.environ(), "PYTHONPATH": str(function_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"


def test_the_run_and_the_law_import_without_the_governors_settings() -> None:
    """The simulator imports consumer.governor.run; only the entry point reads the settings."""
    probe = (
        "import consumer.governor.run, consumer.governor.law, consumer.governor as g\n"
        "try:\n    g.lambda_handler\nexcept Exception as e:\n    print(type(e).__name__)"
    )
    function_dir = Path(__file__).resolve().parents[2] / "function"
    result = subprocess.run(  # noqa: S603 - our own code
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(function_dir)},  # none of the governor's settings
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "SettingsError"


# ---- the law's memory in the state parameter (SSM on moto's server) ----------------------


@pytest.fixture
def ssm(moto_endpoint: str) -> Any:
    import boto3

    return boto3.client("ssm", endpoint_url=moto_endpoint, region_name="us-east-1")


def remembered_increase(stack: Stack, ssm: Any, stored: dict[str, Any]) -> tuple[float, str]:
    """The mapping raised to 16 by the governor moments ago (its LastModified), the parameter
    holding `stored`; throttling shows in a window that starts before that change."""
    stack.lambda_client.update_event_source_mapping(
        UUID=stack.mapping, ScalingConfig={"MaximumConcurrency": 16}
    )
    now = stack.last_modified() + PERIOD
    until = window(now, PERIOD)[1]
    stack.put(until - 30, requests=100, throttled=50)
    parameter = f"/{stack.function}/governor-state"
    ssm.put_parameter(Name=parameter, Value=json.dumps(stored), Type="String")
    return now, parameter


def test_the_memory_of_an_increase_lets_throttling_cut_at_once(
    stack: Stack, ssm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    now = stack.last_modified() + PERIOD
    newest_start = window(now, PERIOD)[1] - PERIOD
    basis = newest_start - 2 * PERIOD  # the increase saw data up to before this window
    stored = {"concurrency": 16, "previous_concurrency": 15, "basis_until": basis}
    now, parameter = remembered_increase(stack, ssm, stored)

    config = stack.config(GOVERNOR_STATE_PARAMETER=parameter)
    decision = govern(config, stack.clients(ssm), now)

    assert (decision.concurrency, decision.changed) == (8, True)
    assert decision.reason.startswith("decrease")
    saved = json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    assert saved["concurrency"] == 8
    assert saved["previous_concurrency"] == 16
    assert saved["basis_until"] == decision.state.basis_until
    capsys.readouterr()


@pytest.mark.parametrize(
    "stored",
    [
        {},  # as Terraform creates it
        {"concurrency": 15, "previous_concurrency": 14, "basis_until": 0},  # changed by hand
        "not json",
    ],
)
def test_without_a_memory_that_matches_the_mapping_it_waits(
    stack: Stack, ssm: Any, stored: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    now, parameter = remembered_increase(stack, ssm, {})
    value = stored if isinstance(stored, str) else json.dumps(stored)
    ssm.put_parameter(Name=parameter, Value=value, Type="String", Overwrite=True)

    config = stack.config(GOVERNOR_STATE_PARAMETER=parameter)
    decision = govern(config, stack.clients(ssm), now)

    assert (decision.concurrency, decision.changed) == (16, False)
    assert "waiting for metrics" in decision.reason
    capsys.readouterr()


def test_a_missing_parameter_is_no_memory_and_no_error(
    stack: Stack, ssm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    now, _ = remembered_increase(stack, ssm, {})
    config = stack.config(GOVERNOR_STATE_PARAMETER=f"/{stack.function}/no-such-parameter")
    decision = govern(config, stack.clients(ssm), now)
    assert (decision.concurrency, decision.changed) == (16, False)
    capsys.readouterr()


def test_metrics_published_late_are_still_read(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """CloudWatch publishes a minute or two late: the newest periods may hold nothing yet, and
    the governor judges the newest ones that do."""
    now = later(stack, periods=8)
    until = window(now, PERIOD)[1]
    stack.put(until - 3 * PERIOD - 30, requests=100, throttled=30)

    decision, line = run(stack, now, capsys)

    assert decision.changed
    assert decision.concurrency < 20
    assert decision.reason.startswith("decrease")
    assert line["throttle_ratio"] == pytest.approx(0.3)  # the late period's figures


def test_the_memory_keeps_the_time_of_the_change_where_last_modified_does_not_move(
    stack: Stack, ssm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """LocalStack does not move LastModified on an update: the law's own record of when it
    changed the setting keeps it from acting twice on the same evidence."""
    now = later(stack)  # LastModified is four periods old
    stack.put(window(now, PERIOD)[1] - 30, requests=100, throttled=50)
    parameter = f"/{stack.function}/governor-state"
    stored = {"concurrency": 20, "previous_concurrency": 40, "changed_at": now - 5, "ceiling": 40}
    ssm.put_parameter(Name=parameter, Value=json.dumps(stored), Type="String")
    config = stack.config(GOVERNOR_STATE_PARAMETER=parameter)

    held = govern(config, stack.clients(ssm), now)
    assert (held.concurrency, held.changed) == (20, False)
    assert "waiting for metrics" in held.reason
    assert held.state.ceiling == 40

    ssm.put_parameter(Name=parameter, Value="{}", Type="String", Overwrite=True)
    cut = govern(config, stack.clients(ssm), now)  # no record: LastModified alone
    assert (cut.concurrency, cut.changed) == (11, True)  # 20 x 0.5 / 0.9
    saved = json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    assert saved == {
        "concurrency": 11,
        "previous_concurrency": 20,
        "basis_until": cut.state.basis_until,
        "changed_at": now,
        "ceiling": 20,
    }
    capsys.readouterr()


# ---- faults of its own AWS calls: a proxy in front of moto's server (tests/moto_proxy.py) ----

SHORT_READ_SECONDS = 0.5
"""The clients' read timeout in these tests (the shipped 5 s, shortened to keep them quick)."""
CALLS = ["GetQueueAttributes", "GetMetricData", "GET /2015-03-31/event-source-mappings"]


@contextmanager
def governor_through_proxy(
    stack: Stack, entry: Callable[[dict[str, str]], Any], moto_endpoint: str
) -> Iterator[tuple[Any, MotoProxy]]:
    """The entry point at a cold start, its clients built as shipped but with a read timeout
    of SHORT_READ_SECONDS, every call through a proxy that answers late after 2 x that."""
    governor = entry(stack.environ())
    with moto_proxy(moto_endpoint, late_seconds=2 * SHORT_READ_SECONDS) as proxy:
        governor.CALL_READ_TIMEOUT_SECONDS = SHORT_READ_SECONDS
        governor._clients.cache_clear()
        with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"}):
            governor._clients()
        yield governor, proxy


def test_each_call_of_a_decision_gives_up_within_the_decision_reserve(
    stack: Stack, entry: Callable[[dict[str, str]], Any]
) -> None:
    from consumer.governor.schedule import DECISION_RESERVE_SECONDS

    governor = entry(stack.environ())
    config = governor._clients().sqs.meta.config  # as built for every client
    worst = config.retries["total_max_attempts"] * (config.connect_timeout + config.read_timeout)
    assert worst < DECISION_RESERVE_SECONDS


@pytest.fixture(params=[(c, a) for c in CALLS for a in (LATE, REFUSE)], ids="-".join)
def faulted(
    request: pytest.FixtureRequest,
    stack: Stack,
    entry: Callable[[dict[str, str]], Any],
    moto_endpoint: str,
) -> Iterator[tuple[Any, MotoProxy, str, str]]:
    """(the governor, its proxy, the call to fail, how: late or refused), for each call a
    decision makes."""
    call, action = request.param
    with governor_through_proxy(stack, entry, moto_endpoint) as (governor, proxy):
        yield governor, proxy, call, action


def test_a_call_refused_or_answered_late_once_is_tried_again(
    faulted: tuple[Any, MotoProxy, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    governor, proxy, call, action = faulted
    healthy = governor.lambda_handler({}, None)
    proxy.misbehave(call, action)
    capsys.readouterr()

    answer = governor.lambda_handler({}, None)

    assert answer == healthy
    assert proxy.seen[call] == 2  # the call, then its retry
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x]
    assert line["level"] == "INFO"


def test_a_call_that_fails_twice_fails_the_run_and_leaves_the_mapping(
    faulted: tuple[Any, MotoProxy, str, str], stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    governor, proxy, call, action = faulted
    proxy.misbehave(call, action, action)
    capsys.readouterr()
    started = time.monotonic()

    with pytest.raises(Exception, match=r"Read timeout|InternalFailure|refused|500"):
        governor.lambda_handler({}, None)
    took = time.monotonic() - started

    # two attempts of a short read timeout each (a stalled call does not hold the run)
    assert took < 10 * SHORT_READ_SECONDS
    assert proxy.seen[call] == 2
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x]
    assert line["level"] == "ERROR"
    assert "left as it was" in line["message"]
    assert stack.concurrency() == 20
