"""The local entity API server: contract answers, faults, rate limit, admin endpoints, CLI."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import urllib3

from localcloud.entity_api_server import EntityApiServer, FaultConfigError, Faults

SERVER = Path(__file__).resolve().parents[2] / "scripts" / "localcloud" / "entity_api_server.py"
HTTP = urllib3.PoolManager(retries=False)


def operation(
    op_id: str, entity: str = "1", op: str = "update", **attributes: Any
) -> dict[str, Any]:
    return {
        "op_id": op_id,
        "op": op,
        "entity_type": "order",
        "entity_id": entity,
        "attributes": attributes,
    }


def post(
    api: EntityApiServer, *ops: dict[str, Any], token: str | None = None
) -> urllib3.BaseHTTPResponse:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return HTTP.request(
        "POST", api.endpoint_url, body=json.dumps({"operations": list(ops)}), headers=headers
    )


def results(response: urllib3.BaseHTTPResponse) -> dict[str, int]:
    return {r["op_id"]: r["status"] for r in json.loads(response.data)["results"]}


def test_operations_are_applied_in_order_and_op_ids_are_idempotent(
    entity_api: EntityApiServer,
) -> None:
    first = post(entity_api, operation("a", a=1), operation("b", "2", "create", b=2))
    again = post(entity_api, operation("a", a=1), operation("c", "2", "delete"))

    assert (first.status, results(first)) == (200, {"a": 200, "b": 200})
    assert results(again) == {"a": 409, "c": 200}
    assert [a["op_id"] for a in entity_api.applied()] == ["a", "b", "c"]
    assert entity_api.entities() == {"order:1": {"a": 1}}
    stats = entity_api.stats()
    assert (stats["requests"], stats["operations"], stats["ops_per_request"]) == (2, 4, {"2": 2})


def test_malformed_requests_get_400(entity_api: EntityApiServer) -> None:
    for body in (b"nope", b"[]", b'{"operations": [{"op": "x"}]}'):
        assert HTTP.request("POST", entity_api.endpoint_url, body=body).status == 400


def test_wrong_or_missing_token_gets_401() -> None:
    with EntityApiServer(token="t0k") as api:
        assert post(api, operation("a")).status == 401
        assert post(api, operation("a"), token="other").status == 401
        assert post(api, operation("a"), token="t0k").status == 200


def test_token_bucket_answers_429_with_retry_after() -> None:
    with EntityApiServer(rate_per_second=0.5, burst=2) as api:
        statuses = [post(api, operation(f"e{n}")) for n in range(3)]

        assert [r.status for r in statuses] == [200, 200, 429]
        assert statuses[2].headers["Retry-After"] == "2"


def _admin(api: EntityApiServer, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body)
    response = HTTP.request(method, api.base_url + path, body=data)
    return response.status, json.loads(response.data) if response.data else None


def test_token_bucket_lets_the_burst_through_then_counts_its_429s() -> None:
    # 0.05 requests/s: no token comes back during the test, however slow the machine
    with EntityApiServer(rate_per_second=0.05, burst=3) as api:
        statuses = [post(api, operation(f"e{n}")).status for n in range(5)]
        stats = api.stats()
        limit = api.rate_limit()

    assert statuses == [200, 200, 200, 429, 429]
    assert stats["rate_limited"] == 2
    assert stats["status_counts"] == {"200": 3, "429": 2}
    assert limit == {"rate": 0.05, "burst": 3, "rate_limited": 2}


def test_retry_after_is_one_second_when_the_rate_is_one_per_second_or_more() -> None:
    with EntityApiServer(rate_per_second=5, burst=5) as api:
        answers = []
        for n in range(500):
            answer = post(api, operation(f"e{n}"))
            answers.append(answer)
            if answer.status == 429:
                break

    assert answers[-1].status == 429, "the bucket never ran dry"
    assert answers[-1].headers["Retry-After"] == "1"
    assert len(answers) > 5  # the burst went through first


def test_injected_429s_are_not_counted_as_rate_limited(entity_api: EntityApiServer) -> None:
    entity_api.set_faults({"status_sequence": [429], "retry_after": "1"})

    assert post(entity_api, operation("a")).status == 429
    assert entity_api.stats()["rate_limited"] == 0
    assert entity_api.rate_limit() == {"rate": None, "burst": None, "rate_limited": 0}


def test_the_admin_api_sets_reads_and_removes_the_token_bucket(entity_api: EntityApiServer) -> None:
    assert _admin(entity_api, "PUT", "/_admin/rate", {"rate": 0.05, "burst": 2}) == (
        200,
        {"rate": 0.05, "burst": 2, "rate_limited": 0},
    )
    limited = [post(entity_api, operation(f"e{n}")).status for n in range(3)]
    read = _admin(entity_api, "GET", "/_admin/rate")
    stats_429 = _admin(entity_api, "GET", "/_admin/stats")[1]["rate_limited"]
    removed = _admin(entity_api, "PUT", "/_admin/rate", {"rate": None})
    unlimited = [post(entity_api, operation(f"f{n}")).status for n in range(5)]

    assert limited == [200, 200, 429]
    assert read == (200, {"rate": 0.05, "burst": 2, "rate_limited": 1})
    assert stats_429 == 1
    assert removed == (200, {"rate": None, "burst": None, "rate_limited": 1})
    assert unlimited == [200] * 5


def test_reset_clears_the_429_count_and_keeps_the_bucket(
    entity_api: EntityApiServer,
) -> None:
    entity_api.set_rate(0.05, 1)
    first = [post(entity_api, operation(f"e{n}")).status for n in range(2)]
    entity_api.reset()

    assert first == [200, 429]
    assert entity_api.rate_limit() == {"rate": 0.05, "burst": 1, "rate_limited": 0}
    assert post(entity_api, operation("after")).status == 429  # the bucket stays as it was


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"rate": -1}, "rate"),
        ({"rate": "fast"}, "rate"),
        ({"rate": 1, "burst": 0.5}, "burst"),
        ({"rat": 1}, "rate"),
        ({"rate": 1, "size": 3}, "size"),
        ([1], "rate"),
    ],
)
def test_a_bad_rate_setting_gets_400_naming_it(
    entity_api: EntityApiServer, body: Any, named: str
) -> None:
    status, answer = _admin(entity_api, "PUT", "/_admin/rate", body)

    assert status == 400
    assert named in answer["error"]
    assert entity_api.rate_limit()["rate"] is None


def test_injected_faults(entity_api: EntityApiServer) -> None:
    entity_api.set_faults(
        {
            "status_sequence": [503],
            "retry_after": "3",
            "op_status_by_entity": {"order:7": {"status": 500, "times": 1}},
            "op_status_by_op_id": {"x": 422},
            "omit_results": ["gone"],
        }
    )
    throttled = post(entity_api, operation("a"))
    mixed = post(
        entity_api, operation("a"), operation("s", "7"), operation("x", "8"), operation("gone", "9")
    )
    later = post(entity_api, operation("t", "7"))

    assert (throttled.status, throttled.headers["Retry-After"]) == (503, "3")
    assert results(mixed) == {"a": 200, "s": 500, "x": 422}
    assert results(later) == {"t": 200}


def test_reject_entities_garbage_and_size_limits(entity_api: EntityApiServer) -> None:
    entity_api.set_faults({"reject_entities": ["order:2"], "garbage_body": 1, "max_operations": 2})

    assert post(entity_api, operation("a"), operation("b", "2")).status == 400
    garbage = post(entity_api, operation("a"))
    assert (garbage.status, garbage.data[:1]) == (200, b"<")
    assert post(entity_api, operation("a")).status == 200
    assert post(entity_api, *(operation(f"e{n}", str(10 + n)) for n in range(3))).status == 413


def test_random_operation_faults_are_reproducible() -> None:
    config = {"random_op_status": {"probability": 0.5, "statuses": [500], "seed": 3}}
    seen = []
    for _ in range(2):
        with EntityApiServer() as api:
            api.set_faults(config)
            seen.append(results(post(api, *(operation(f"e{n}", str(n)) for n in range(20)))))

    assert seen[0] == seen[1]
    assert set(seen[0].values()) == {200, 500}


def test_random_request_faults_fail_whole_requests_reproducibly() -> None:
    config = {"random_request_status": {"probability": 0.5, "statuses": [503], "seed": 5}}
    seen = []
    for _ in range(2):
        with EntityApiServer() as api:
            api.set_faults(config)
            seen.append([post(api, operation(f"e{n}", str(n))).status for n in range(20)])
            applied = {a["op_id"] for a in api.applied()}

    assert seen[0] == seen[1]
    assert set(seen[0]) == {200, 503}
    assert applied == {f"e{n}" for n, status in enumerate(seen[1]) if status == 200}


def test_sequences_are_each_entitys_applied_op_ids_in_order(entity_api: EntityApiServer) -> None:
    entity_api.set_faults({"op_status_by_op_id": {"b2": {"status": 500, "times": 1}}})
    post(entity_api, operation("a1", "A", "create"), operation("b1", "B", "create"))
    post(entity_api, operation("b2", "B"), operation("a2", "A", "delete"))
    post(entity_api, operation("b2", "B"), operation("a1", "A", "create"))  # b2 again, a1 409

    assert entity_api.sequences() == {"order:A": ["a1", "a2"], "order:B": ["b1", "b2"]}
    over_http = HTTP.request("GET", f"{entity_api.base_url}/_admin/sequences")
    assert json.loads(over_http.data) == entity_api.sequences()


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"bogus": 1}, "unknown keys"),
        ({"status_always": 99}, "status_always"),
        ({"status_sequence": ["x"]}, "status_sequence"),
        ({"op_status_by_op_id": {"a": {"status": 500, "times": -1}}}, "times"),
        ({"latency_seconds": -1}, "latency_seconds"),
        ({"random_op_status": {"probability": 2}}, "probability"),
        ({"random_request_status": {"probability": 0.1}}, "random_request_status.statuses"),
        ({"max_request_bytes": 0}, "max_request_bytes"),
        ({"max_operations": True}, "max_operations"),
        ({"retry_after": True}, "retry_after"),
        ({"retry_after": 1.5}, "retry_after"),
        ({"garbage_body": -1}, "garbage_body"),
        ({"reject_entities": "order:1"}, "reject_entities"),
        ([], "JSON object"),
    ],
)
def test_bad_fault_configurations_are_refused_by_name(config: Any, named: str) -> None:
    with pytest.raises(FaultConfigError, match=named):
        Faults.from_json(config)


def test_admin_endpoints_over_http(entity_api: EntityApiServer) -> None:
    base = entity_api.base_url
    put = HTTP.request("PUT", f"{base}/_admin/faults", body=json.dumps({"status_always": 503}))
    refused = HTTP.request("PUT", f"{base}/_admin/faults", body=b'{"nope": 1}')
    assert (put.status, refused.status) == (200, 400)
    assert b"unknown keys" in refused.data
    assert json.loads(HTTP.request("GET", f"{base}/_admin/faults").data) == {"status_always": 503}
    assert post(entity_api, operation("a")).status == 503

    assert HTTP.request("POST", f"{base}/_admin/reset").status == 204
    assert post(entity_api, operation("a")).status == 200
    stats = json.loads(HTTP.request("GET", f"{base}/_admin/stats").data)
    applied = json.loads(HTTP.request("GET", f"{base}/_admin/applied").data)
    log = json.loads(HTTP.request("GET", f"{base}/_admin/requests").data)
    assert (stats["requests"], stats["status_counts"]) == (1, {"200": 1})
    assert applied == [{"op_id": "a", "op": "update", "entity": "order:1", "attributes": {}}]
    assert [(e["status"], e["operations"]) for e in log] == [(200, 1)]
    assert HTTP.request("GET", f"{base}/_admin/nothing").status == 404


def test_cli_serves_logs_each_request_and_names_a_bad_fault_config() -> None:
    process = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(SERVER), "--port", "0", "--rate", "100"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        body = json.dumps({"operations": [operation("a")]})
        assert HTTP.request("POST", url, body=body).status == 200
        assert "-> 200 ops=1" in process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
    bad = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(SERVER), "--port", "0", "--faults", '{"x": 1}'],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "unknown keys" in bad.stderr


@pytest.mark.parametrize(
    "body",
    [
        b'{"status_sequence": 5}',
        b'{"reject_entities": 3}',
        b'{"omit_results": [1]}',
        b'{"random_op_status": {"probability": 0.5, "statuses": 500}}',
        b'{"random_op_status": {"probability": "high", "statuses": [500]}}',
        b'{"latency_seconds": NaN}',
        b'{"latency_seconds": Infinity}',
        b'{"max_operations": true}',
        b'{"op_status_by_entity": {"order:1": {"status": 500, "times": true}}}',
        b'{"retry_after": ["1"]}',
    ],
)
def test_badly_typed_admin_json_gets_400_naming_the_key(
    entity_api: EntityApiServer, body: bytes
) -> None:
    answer = HTTP.request("PUT", f"{entity_api.base_url}/_admin/faults", body=body)

    assert answer.status == 400
    key = next(iter(json.loads(body.replace(b"NaN", b"0").replace(b"Infinity", b"0"))))
    assert key in json.loads(answer.data)["error"]
    assert entity_api.fault_config() == {}  # the configuration in force did not change
    assert post(entity_api, operation("a")).status == 200


@pytest.mark.parametrize("length", ["-5", "many", "-0x1"])
def test_a_content_length_that_is_not_a_count_gets_400_instead_of_a_hung_connection(
    entity_api: EntityApiServer, length: str
) -> None:
    request = (
        f"POST /v1/operations:batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", entity_api.port), timeout=10) as sock:
        sock.sendall(request)
        answer = sock.makefile("rb").readline()  # a hung connection raises TimeoutError

    assert answer.startswith(b"HTTP/1.1 400 ")


def test_strict_mode_refuses_a_repeated_op_id_and_records_its_two_contents() -> None:
    with EntityApiServer(strict=True) as api:
        first = post(api, operation("evB", y=2))
        repeated = post(api, operation("evB", x=1, y=2))
        same_again = post(api, operation("evB", y=2))
        conflicts = api.conflicts()
        over_http = json.loads(HTTP.request("GET", f"{api.base_url}/_admin/conflicts").data)

    assert (results(first), results(repeated), results(same_again)) == (
        {"evB": 200},
        {"evB": 409},
        {"evB": 409},
    )
    assert [op["attributes"] for op in api.applied()] == [{"y": 2}]  # x=1 was not applied
    assert conflicts == [
        {
            "op_id": "evB",
            "applied": operation("evB", y=2),
            "repeated": operation("evB", x=1, y=2),
        }
    ]
    assert over_http == conflicts
    assert api.stats()["strict"] is True


def test_without_strict_mode_no_contents_are_recorded(entity_api: EntityApiServer) -> None:
    post(entity_api, operation("evB", y=2))
    assert results(post(entity_api, operation("evB", x=1))) == {"evB": 409}
    assert entity_api.conflicts() == []
    assert entity_api.stats()["strict"] is False


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--port", "-5"], "--port"),
        (["--latency", "nan"], "--latency"),
        (["--rate", "0"], "--rate"),
        (["--faults", '{"status_sequence": 5}'], "status_sequence"),
        (["--faults", '{"latency_seconds": NaN}'], "latency_seconds"),
        (["--token-file", "/nonexistent/token"], "--token-file"),
    ],
)
def test_cli_refuses_a_wrong_argument_with_one_line_naming_it(argv: list[str], named: str) -> None:
    bad = subprocess.run(  # noqa: S603 - our own script
        # A free port unless the port is the point: a busy 8080 must not decide the outcome.
        [sys.executable, str(SERVER), *(argv if "--port" in argv else ["--port", "0", *argv])],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )

    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1, bad.stderr
    assert named in bad.stderr


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_admin/nothing"),
        ("GET", "/_admin/nothing"),
        ("PUT", "/_admin/stats"),
        ("GET", "/_admin/stats/more"),
    ],
)
def test_an_unknown_path_gets_404_naming_it(
    entity_api: EntityApiServer, method: str, path: str
) -> None:
    status, document = _admin(entity_api, method, path, body={})

    assert status == 404
    assert document == {"error": f"no such path: {path}"}


def test_a_post_beside_the_batch_path_gets_404_and_applies_nothing(
    entity_api: EntityApiServer,
) -> None:
    response = HTTP.request(
        "POST",
        entity_api.endpoint_url + "-other",
        body=json.dumps({"operations": [operation("op-1")]}),
    )

    assert response.status == 404
    assert entity_api.entities() == {}
