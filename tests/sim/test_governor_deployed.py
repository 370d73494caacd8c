"""The simulated governor is the deployed one: the same metric history, replayed into moto's
server (CloudWatch, the Lambda mapping, the SQS queue, the SSM state parameter) and read there by
`consumer.governor.run.govern` with boto3, makes the same moves as in the simulation. The queue
holds one message where the simulated one held some (the law asks only whether any wait)."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from sim_scenarios import small_scenario

from bench.fanout_governor import consumer_metric_data
from consumer.governor.run import Clients, GovernorConfig, govern
from sim.governor import DEPLOYED_BEFORE_SECONDS, CloudWatch, environment
from sim.scenario import RateChange
from sim.simulation import Simulation

EPOCH = 1_700_000_000 // 3600 * 3600
"""Simulated instant 0 as epoch seconds in the replay (on a whole hour: minutes align)."""
NAMESPACE = "ReplayTest"


@contextlib.contextmanager
def aws_clock(at: float) -> Iterator[None]:
    """moto's Lambda stamps LastModified with its clock: set it to the run's instant, as a
    mapping updated by a run at that instant would be stamped."""
    naive = datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
    with mock.patch("moto.awslambda.models.utcnow", return_value=naive):
        yield


def put_second(cloudwatch: Any, recorded: CloudWatch, second: int, function: str) -> None:
    """One second of the simulation's figures, as the consumer's high-resolution EMF lines put
    them."""
    requests, throttled = recorded.by_second[second]
    at = EPOCH + second + 0.5
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE, MetricData=consumer_metric_data(function, at, requests, throttled)
    )


def hold_messages(sqs: Any, url: str, waiting: bool) -> None:
    """One message in the queue when `waiting`, none otherwise."""
    visible = int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
    )
    if waiting and not visible:
        sqs.send_message(QueueUrl=url, MessageBody="waiting")
    elif visible and not waiting:
        sqs.purge_queue(QueueUrl=url)


def test_the_same_metric_history_makes_the_same_moves_on_moto(moto_endpoint: str) -> None:
    import boto3

    scenario = small_scenario(
        count=24_000,
        span=900.0,  # 27 changes/s, one operation per request
        stack={"batch_size": 10, "maximum_concurrency": 5, "max_operations_per_request": 1},
        api={
            "rate": 60,
            "burst": 60,
            "latency_median_ms": 80,
            "rate_changes": (RateChange(at=250.0, rate=5.0),),  # deep enough that the pacing
            # kept per environment does not absorb it
        },
        governor={"enabled": True, "minimum": 2, "maximum": 20},
        max_duration_seconds=1500,
        sample_seconds=5,
    )
    simulation = Simulation(scenario)
    simulation.run()
    runner = simulation.governor
    assert runner is not None
    moves = [d.concurrency for d in runner.decisions]
    increase, decrease = runner.changes[0], runner.changes[1]
    assert increase.reason.startswith("increase")
    assert decrease.reason.startswith("decrease")
    # the limit drops as the backlog makes the governor raise the setting: the cut follows
    # within three decisions (the law's memory of the increase, kept in the state parameter,
    # lets throttling its basis never saw cut before a whole window postdates the increase)
    assert decrease.at <= increase.at + 30

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_endpoint, region_name="us-east-1")

    name = f"replay-{uuid.uuid4().hex[:8]}"
    lambda_client, cloudwatch, ssm = client("lambda"), client("cloudwatch"), client("ssm")
    role = client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handle",
        Code={"ZipFile": b"PK\x05\x06" + bytes(18)},  # an empty zip
    )
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    start = runner.settings.law_settings.clamp(scenario.stack.maximum_concurrency)
    with aws_clock(EPOCH - DEPLOYED_BEFORE_SECONDS):
        mapping = lambda_client.create_event_source_mapping(
            EventSourceArn=arn,
            FunctionName=name,
            BatchSize=10,
            ScalingConfig={"MaximumConcurrency": start},
            Enabled=False,  # moto's mapping would take the messages
        )["UUID"]
    parameter = f"/{name}/governor-state"
    ssm.put_parameter(Name=parameter, Value="{}", Type="String")  # as Terraform creates it
    config = GovernorConfig.from_environ(
        {
            **environment(scenario.governor),
            "EVENT_SOURCE_MAPPING_UUID": mapping,
            "CONSUMER_FUNCTION_NAME": name,
            "QUEUE_URL": url,
            "METRICS_NAMESPACE": NAMESPACE,
            "GOVERNOR_STATE_PARAMETER": parameter,
        }
    )
    recorded = simulation.cloudwatch
    backlog = dict(runner.clients.sqs.answers)
    clients = Clients(lambda_client, cloudwatch, sqs, ssm)
    put: set[int] = set()
    replayed = []
    for run in runner.decisions:
        for second in sorted(recorded.by_second):
            if second not in put and recorded.published_at(second) <= run.at:
                put_second(cloudwatch, recorded, second, name)
                put.add(second)
        hold_messages(sqs, url, backlog[run.at] > 0)
        with aws_clock(EPOCH + run.at), contextlib.redirect_stdout(io.StringIO()):
            decision = govern(config, clients, EPOCH + run.at)
        replayed.append(decision.concurrency)
        assert decision.reason == run.reason, f"run at {run.at:.0f} s"
    assert replayed == moves
