"""The simulated governor is the deployed one: the same metric history, replayed into moto's
server (CloudWatch, the Lambda mapping, the SSM state parameter) and read there by
`consumer.governor.run.govern` with boto3, makes the same moves as in the simulation."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from sim_scenarios import small_scenario

from consumer.governor.run import GovernorConfig, govern
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


def put_minute(
    cloudwatch: Any, recorded: CloudWatch, minute: int, function: str, queue: str
) -> None:
    """One minute of the simulation's figures, as the consumer's EMF lines and SQS put them."""
    stamp = datetime.fromtimestamp(EPOCH + minute * 60 + 30, UTC)
    data = []
    figures = recorded.by_minute.get(minute)
    if figures is not None:
        consumer = [{"Name": "FunctionName", "Value": function}]
        for name, value in (("requests", figures[0]), ("throttled", figures[1])):
            data.append(
                {
                    "MetricName": name,
                    "Dimensions": consumer,
                    "Value": float(value),
                    "Timestamp": stamp,
                }
            )
    if data:
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)
    queue_dims = [{"Name": "QueueName", "Value": queue}]
    cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": queue_dims,
                "Value": float(value),
                "Timestamp": stamp,
            }
            for name, value in (
                ("ApproximateNumberOfMessagesVisible", recorded.visible[minute]),
                ("ApproximateAgeOfOldestMessage", recorded.oldest_age[minute]),
            )
        ],
    )


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
            "rate_changes": (RateChange(at=250.0, rate=5.0),),  # just before the increase, deep
            # enough that the pacing kept per environment does not absorb it
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
    # the limit drops just before the increase: the cut comes before any window starting after
    # the increase (two whole minutes from the next one, published a minute later at least)
    # could be read; the law's memory of the increase, kept in the state parameter, allows it
    assert decrease.at < increase.at + 4 * 60

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
        )["UUID"]
    parameter = f"/{name}/governor-state"
    ssm.put_parameter(Name=parameter, Value="{}", Type="String")  # as Terraform creates it
    config = GovernorConfig.from_environ(
        {
            **environment(scenario.governor),
            "EVENT_SOURCE_MAPPING_UUID": mapping,
            "CONSUMER_FUNCTION_NAME": name,
            "QUEUE_NAME": name,
            "METRICS_NAMESPACE": NAMESPACE,
            "GOVERNOR_STATE_PARAMETER": parameter,
        }
    )
    recorded = simulation.cloudwatch
    put: set[int] = set()
    replayed = []
    for run in runner.decisions:
        for minute in sorted(recorded.visible):
            if minute not in put and recorded.published_at(minute) <= run.at:
                put_minute(cloudwatch, recorded, minute, name, name)
                put.add(minute)
        with aws_clock(EPOCH + run.at), contextlib.redirect_stdout(io.StringIO()):
            decision = govern(config, lambda_client, cloudwatch, EPOCH + run.at, ssm)
        replayed.append(decision.concurrency)
        assert decision.reason == run.reason, f"run at {run.at:.0f} s"
    assert replayed == moves
