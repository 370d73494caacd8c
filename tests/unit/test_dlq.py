"""DLQ routing: SendMessageBatch of 10, attributes, one retry of failed entries."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consumer.dlq import DlqEntry, route_to_dlq
from consumer.time_budget import Deadline


def entries(count: int, body: str = "payload {}") -> list[DlqEntry]:
    return [
        DlqEntry(n, body.format(n), "schema_violation", f"detail {n}", f"msg-{n}")
        for n in range(count)
    ]


def test_entries_arrive_with_their_attributes(dlq: str, dlq_messages: Any) -> None:
    failed = route_to_dlq(entries(25), dlq, Deadline(30))

    assert failed == set()
    messages = sorted(dlq_messages(dlq), key=lambda m: int(m["source_message_id"][4:]))
    assert len(messages) == 25
    assert messages[7] == {
        "body": "payload 7",
        "error_code": "schema_violation",
        "error_detail": "detail 7",
        "source_message_id": "msg-7",
    }


def test_bodies_that_sqs_cannot_carry_as_is_still_arrive(dlq: str, dlq_messages: Any) -> None:
    odd = [
        DlqEntry(0, "", "invalid_json", "body is empty", None),
        DlqEntry(1, None, "invalid_json", "body is NoneType", "m1"),
        DlqEntry(2, "caf\udce9", "invalid_json", "not UTF-8", "m2"),
        DlqEntry(3, b"raw", "invalid_json", "", "m3"),
    ]
    assert route_to_dlq(odd, dlq, Deadline(30)) == set()

    by_source = {m["source_message_id"]: m for m in dlq_messages(dlq)}
    assert by_source["unknown"]["body"] == "(empty body)"
    assert by_source["m2"]["body"] == "caf?"
    assert by_source["m3"]["error_detail"] == "-"


def test_nothing_is_sent_without_time_left(dlq: str, dlq_messages: Any) -> None:
    assert route_to_dlq(entries(3), dlq, Deadline(0.1)) == {0, 1, 2}
    assert dlq_messages(dlq) == []


NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class FlakySqs:
    """A stand-in SQS endpoint (JSON protocol) that fails chosen entries: moto cannot.

    Bodies containing FAIL always fail; bodies containing FLAKY fail the first time only.
    Like SQS, an entry whose body or attribute values hold characters outside the XML set
    (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF) fails: InvalidMessageContents.
    """

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.seen: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.calls.append([e["MessageBody"] for e in request["Entries"]])
                ok, failed = [], []
                for entry in request["Entries"]:
                    body = entry["MessageBody"]
                    flaky = "FLAKY" in body and body not in outer.seen
                    outer.seen.add(body)
                    texts = [body] + [
                        a["StringValue"] for a in entry.get("MessageAttributes", {}).values()
                    ]
                    if "FAIL" in body or flaky or any(NOT_XML.search(t) for t in texts):
                        failed.append({"Id": entry["Id"], "SenderFault": False, "Code": "X"})
                    else:
                        digest = hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
                        ok.append({"Id": entry["Id"], "MessageId": "x", "MD5OfMessageBody": digest})
                data = json.dumps({"Successful": ok, "Failed": failed}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/123456789012/flaky"


@pytest.fixture
def flaky_sqs() -> Iterator[FlakySqs]:
    sqs = FlakySqs()
    thread = threading.Thread(target=sqs.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield sqs
    sqs.server.shutdown()
    sqs.server.server_close()


def test_failed_entries_are_retried_once_then_reported(flaky_sqs: FlakySqs) -> None:
    batch = entries(12)
    batch[3] = DlqEntry(3, "FAIL 3", "invalid_json", "d", "msg-3")
    batch[5] = DlqEntry(5, "FLAKY 5", "invalid_json", "d", "msg-5")
    batch[11] = DlqEntry(11, "FAIL 11", "invalid_json", "d", "msg-11")

    failed = route_to_dlq(batch, flaky_sqs.url, Deadline(30))

    assert failed == {3, 11}
    assert [len(call) for call in flaky_sqs.calls] == [10, 2, 3]  # ten per call, then one retry
    assert sorted(flaky_sqs.calls[2]) == ["FAIL 11", "FAIL 3", "FLAKY 5"]


def test_a_failing_call_is_retried_once_then_everything_reported(moto_endpoint: str) -> None:
    missing = f"{moto_endpoint}/123456789012/no-such-queue"

    assert route_to_dlq(entries(11), missing, Deadline(30)) == set(range(11))


def test_bodies_and_details_with_characters_sqs_refuses_still_arrive(
    flaky_sqs: FlakySqs,
) -> None:
    # SQS accepts only XML characters in bodies and attribute values: a control character
    # or U+FFFE/U+FFFF (in a body that is not JSON, or in an API's error text) must be
    # replaced, or the record can never be dead-lettered and comes back forever.
    odd = [
        DlqEntry(0, "\x00\x01 not json \x1b[0m", "invalid_json", "body is not JSON", "m0"),
        DlqEntry(1, '{"a": "\ufffe\uffff"}', "schema_violation", "d", "m1"),
        DlqEntry(2, "{}", "rejected_by_api", "entity API status 422: bad \x00\x07 value", "m2"),
        DlqEntry(3, b"\xff\x00raw", "invalid_json", "body is not valid UTF-8", "m3"),
    ]

    assert route_to_dlq(odd, flaky_sqs.url, Deadline(30)) == set()
    assert flaky_sqs.calls[0][0] == "\ufffd\ufffd not json \ufffd[0m"


def test_boto3_is_not_even_loaded_without_time_for_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # Importing boto3 and building a client takes ~0.4 s, seconds on a small Lambda: with no
    # time left for a call it would only push the invocation towards its timeout.
    import consumer.dlq

    built: list[str] = []
    monkeypatch.setattr(consumer.dlq, "sqs_client", built.append)

    assert route_to_dlq(entries(3), "http://127.0.0.1:9/q", Deadline(1.0)) == {0, 1, 2}
    assert built == []


def test_a_body_that_is_not_a_string_keeps_its_content(dlq: str, dlq_messages: Any) -> None:
    entries = [
        DlqEntry(0, {"event_id": "obj", "n": [1, "é"]}, "invalid_json", "not a string", "m0"),
        DlqEntry(1, ["a"], "invalid_json", "not a string", "m1"),
        DlqEntry(2, 42, "invalid_json", "not a string", "m2"),
        DlqEntry(3, None, "invalid_json", "no body", "m3"),
    ]

    assert route_to_dlq(entries, dlq, Deadline(10)) == set()
    bodies = {m["source_message_id"]: m["body"] for m in dlq_messages(dlq)}
    assert json.loads(bodies["m0"]) == {"event_id": "obj", "n": [1, "é"]}
    assert (bodies["m1"], bodies["m2"], bodies["m3"]) == ('["a"]', "42", "(empty body)")
