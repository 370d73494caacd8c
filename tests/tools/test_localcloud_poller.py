"""The local mapping poller's pure parts: the SQS event as Lambda builds it, what a function's
answer leaves on the queue, and the overlap measured from invocation times. (The poller itself
runs against LocalStack: tests/integration/test_fanout.py.)"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from typing import Any

import pytest

from localcloud import sqs_event
from localcloud.mapping_runner import MappingConfig
from localcloud.overlap import measure

ARN = "arn:aws:sqs:eu-west-1:000000000000:changes"


def _message(body: str, **extra: Any) -> dict[str, Any]:
    return {
        "MessageId": f"id-{body}",
        "ReceiptHandle": f"rh-{body}",
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 (SQS's checksum)
        "Body": body,
        "Attributes": {
            "ApproximateReceiveCount": "2",
            "SentTimestamp": "1767225600000",
            "SenderId": "AIDA",
            "ApproximateFirstReceiveTimestamp": "1767225600010",
        },
        **extra,
    }


def test_a_record_carries_every_field_lambda_delivers() -> None:
    message = _message(
        '{"é": 1}',
        MD5OfMessageAttributes="abc",
        MessageAttributes={
            "source": {"StringValue": "orders", "DataType": "String"},
            "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
        },
    )

    record = sqs_event.event([message], ARN)["Records"][0]

    assert record == {
        "messageId": 'id-{"é": 1}',
        "receiptHandle": 'rh-{"é": 1}',
        "body": '{"é": 1}',  # byte for byte, not re-serialised
        "attributes": message["Attributes"],
        "messageAttributes": {
            "source": {
                "stringValue": "orders",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "blob": {
                "binaryValue": base64.b64encode(b"\x00\x01").decode(),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        },
        "md5OfBody": message["MD5OfBody"],
        "md5OfMessageAttributes": "abc",
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "eu-west-1",
    }


def test_records_keep_the_received_order_and_omit_an_absent_attributes_md5() -> None:
    records = sqs_event.event([_message("b"), _message("a")], ARN)["Records"]

    assert [r["body"] for r in records] == ["b", "a"]
    assert "md5OfMessageAttributes" not in records[0]
    assert records[0]["messageAttributes"] == {}


@pytest.mark.parametrize(
    ("answer", "left"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}, {"m1", "m3"}),
        # what Lambda counts as a failure of the whole batch
        ({"batchItemFailures": [{"itemIdentifier": "elsewhere"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": [{"id": "m1"}]}, None),
        ({"batchItemFailures": "m1"}, None),
    ],
)
def test_what_a_functions_answer_leaves_on_the_queue(answer: Any, left: set[str] | None) -> None:
    assert sqs_event.failed_message_ids(answer, {"m1", "m2", "m3"}) == left


def test_overlap_is_the_most_in_flight_and_the_busy_time_weighted_mean() -> None:
    # in flight: 0-1 one, 1-2 two, 2-3 three, 3-4 two; then 10-11 one
    overlap = measure([(0.0, 4.0), (1.0, 3.0), (2.0, 4.0), (10.0, 11.0)])

    assert overlap.invocations == 4
    assert overlap.maximum == 3
    # busy 5 s (0-4 and 10-11), 9 invocation-seconds
    assert overlap.busy_seconds == pytest.approx(5.0)
    assert overlap.mean == pytest.approx((1 + 2 + 3 + 2 + 1) / 5)


def test_back_to_back_invocations_do_not_overlap() -> None:
    overlap = measure([(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)])

    assert (overlap.maximum, overlap.mean) == (1, pytest.approx(1.0))
    assert measure([]).invocations == 0


def test_the_mapping_is_read_as_lambda_reads_it() -> None:
    mapping = {
        "UUID": "u-1",
        "EventSourceArn": ARN,
        "FunctionArn": "arn:aws:lambda:eu-west-1:000000000000:function:consumer",
        "BatchSize": 50,
        "MaximumBatchingWindowInSeconds": 1,
        "ScalingConfig": {"MaximumConcurrency": 12},
        "State": "Enabled",
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }

    config = MappingConfig.from_api(mapping)
    unset = MappingConfig.from_api({**mapping, "ScalingConfig": {}, "State": "Disabled"})

    assert (config.batch_size, config.window_seconds, config.concurrency) == (50, 1, 12)
    assert config.running
    assert config.reports_failures
    assert not config.filtered
    assert unset.concurrency == 5
    assert not unset.running


def test_the_poller_ends_with_localstack() -> None:
    """The poller watches LocalStack's process (--parent-pid) and ends when it does."""
    localstack = subprocess.Popen(["sleep", "120"])  # noqa: S607 (stands for LocalStack's pid)
    poller = subprocess.Popen(  # noqa: S603 (our own module)
        [
            sys.executable,
            "-m",
            "localcloud.poller",
            "--endpoint",
            "http://127.0.0.1:9",  # nothing there: reading the mappings fails, it keeps going
            "--parent-pid",
            str(localstack.pid),
            "--refresh",
            "0.2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            poller.wait(timeout=3)  # alive while LocalStack is
        localstack.kill()
        localstack.wait()
        code = poller.wait(timeout=60)
    finally:
        for process in (poller, localstack):
            process.kill()
            process.wait()

    assert code == 0
