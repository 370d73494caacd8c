"""The host executor's Lambda Runtime API server, spoken to over HTTP as awslambdaric does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import urllib3

from localcloud.localstack_host_executor.runtime_api import PendingInvocation, RuntimeApiServer

HTTP = urllib3.PoolManager(retries=False, timeout=10)
PREFIX = "/2018-06-01/runtime"


@pytest.fixture
def api() -> Iterator[RuntimeApiServer]:
    server = RuntimeApiServer()
    server.start()
    yield server
    server.stop()


def _url(api: RuntimeApiServer, path: str) -> str:
    return f"http://{api.address}{PREFIX}{path}"


def _invocation(request_id: str = "req-1") -> PendingInvocation:
    return PendingInvocation(
        request_id=request_id,
        payload=b'{"Records": []}',
        function_arn="arn:aws:lambda:us-east-1:000000000000:function:consumer",
        trace_id="Root=1-00000000-000000000000000000000000",
        timeout_seconds=30,
    )


def test_next_hands_out_the_invocation_with_the_headers_awslambdaric_reads(
    api: RuntimeApiServer,
) -> None:
    invocation = _invocation()
    api.submit(invocation)

    response = HTTP.request("GET", _url(api, "/invocation/next"))

    assert response.status == 200
    assert response.data == invocation.payload
    assert response.headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
    assert response.headers["Lambda-Runtime-Invoked-Function-Arn"] == invocation.function_arn
    assert response.headers["Lambda-Runtime-Trace-Id"] == invocation.trace_id
    assert int(response.headers["Lambda-Runtime-Deadline-Ms"]) == invocation.deadline_epoch_ms
    assert invocation.handed_out.is_set()
    assert api.ready.is_set()


@pytest.mark.parametrize(("outcome", "is_error"), [("response", False), ("error", True)])
def test_a_posted_outcome_finishes_its_invocation_once(
    api: RuntimeApiServer, outcome: str, is_error: bool
) -> None:
    invocation = _invocation()
    api.submit(invocation)
    HTTP.request("GET", _url(api, "/invocation/next"))

    first = HTTP.request("POST", _url(api, f"/invocation/req-1/{outcome}"), body=b'{"ok": 1}')
    again = HTTP.request("POST", _url(api, f"/invocation/req-1/{outcome}"), body=b"{}")
    unknown = HTTP.request("POST", _url(api, f"/invocation/req-2/{outcome}"), body=b"{}")

    assert first.status == 202
    assert json.loads(first.data) == {"status": "OK"}
    assert invocation.done.is_set()
    assert (invocation.result, invocation.is_error) == (b'{"ok": 1}', is_error)
    assert (again.status, unknown.status) == (400, 400)


def test_an_init_error_is_recorded(api: RuntimeApiServer) -> None:
    response = HTTP.request("POST", _url(api, "/init/error"), body=b'{"errorType": "Boom"}')

    assert response.status == 202
    assert api.init_failed.is_set()
    assert api.init_error == b'{"errorType": "Boom"}'


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/invocation/other"), ("POST", "/invocation/req-1/other"), ("POST", "/nothing")],
)
def test_other_paths_get_404(api: RuntimeApiServer, method: str, path: str) -> None:
    assert HTTP.request(method, _url(api, path), body=b"").status == 404


def test_a_runtime_waiting_for_its_next_invocation_gets_shutdown_when_the_server_stops() -> None:
    server = RuntimeApiServer()
    server.start()
    answers: list[int] = []
    waiter = threading.Thread(
        target=lambda: answers.append(HTTP.request("GET", _url(server, "/invocation/next")).status)
    )
    waiter.start()
    assert server.ready.wait(10)

    server._queue.put(None)  # what stop() puts first: the waiting request is answered
    waiter.join(10)
    server.stop()

    assert answers == [500]
