"""The SQS event Lambda's event source mapping hands a function, built from received messages.

Field for field as AWS delivers it (docs: "Using Lambda with Amazon SQS", example event):
messageId, receiptHandle, body byte for byte, attributes (ApproximateReceiveCount,
SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp and, on FIFO, SequenceNumber,
MessageGroupId, MessageDeduplicationId), messageAttributes with lower-case keys and the list
fields AWS always includes, md5OfBody, md5OfMessageAttributes (only when there are attributes),
eventSource, eventSourceARN and awsRegion.
"""

from __future__ import annotations

import base64
from typing import Any

JsonObject = dict[str, Any]


def _attribute(value: JsonObject) -> JsonObject:
    """One message attribute as Lambda delivers it (binary values base64-encoded)."""
    converted: JsonObject = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [
            base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])
        ],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        binary = value["BinaryValue"]
        converted["binaryValue"] = base64.b64encode(
            binary if isinstance(binary, bytes) else str(binary).encode()
        ).decode()
    return converted


def record(message: JsonObject, queue_arn: str) -> JsonObject:
    """One event record from one message of a ReceiveMessage answer (all attributes asked)."""
    attributes = message.get("MessageAttributes") or {}
    built: JsonObject = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {name: _attribute(value) for name, value in attributes.items()},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
    if message.get("MD5OfMessageAttributes"):
        built["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return built


def event(messages: list[JsonObject], queue_arn: str) -> JsonObject:
    """The whole event: `{"Records": [...]}` in the order the messages were received."""
    return {"Records": [record(message, queue_arn) for message in messages]}


def failed_message_ids(answer: Any, batch_ids: set[str]) -> set[str] | None:
    """The message ids a function's answer reports in `batchItemFailures` (the mapping has
    ReportBatchItemFailures); None when Lambda counts the whole batch as failed.

    As AWS documents it: no answer, an empty object or an empty/null list is a success; a list
    that is not a list of `{"itemIdentifier": <a message id of the batch>}` fails the batch.
    """
    if not isinstance(answer, dict):
        return set()
    failures = answer.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    failed: set[str] = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(item, str) or item not in batch_ids:
            return None
        failed.add(item)
    return failed
