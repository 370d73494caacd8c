"""Outcome classification, Retry-After, backoff, and the client against the local API."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from typing import Any

import pytest

from consumer.aggregation import Operation, encode_operation
from consumer.entity_api import (
    APPLIED,
    BACKOFF_CAP_SECONDS,
    REJECTED,
    REQUEST_MARGIN_SECONDS,
    TRANSIENT,
    CallStats,
    EntityApiClient,
    backoff_seconds,
    classify_status,
    read_results,
    retry_after_seconds,
)
from consumer.settings import Settings
from consumer.time_budget import Deadline


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, APPLIED),
        (201, APPLIED),
        (204, APPLIED),
        (409, APPLIED),
        (400, REJECTED),
        (404, REJECTED),
        (422, REJECTED),
        (499, REJECTED),
        (408, TRANSIENT),
        (429, TRANSIENT),
        (500, TRANSIENT),
        (503, TRANSIENT),
        (599, TRANSIENT),
        (302, TRANSIENT),
        ("200", TRANSIENT),
        (None, TRANSIENT),
        (True, TRANSIENT),
    ],
)
def test_per_operation_status_classification(status: Any, kind: str) -> None:
    assert classify_status(status) == kind


def op(op_id: str, entity: str = "1") -> Operation:
    operation = Operation(
        op_id,
        ("order", entity),
        {
            "op": "update",
            "entity_type": "order",
            "entity_id": entity,
            "attributes": {},
            "occurred_at": "2026-01-01T00:00:00Z",
        },
        [0],
        [op_id],
    )
    encode_operation(operation)
    return operation


def test_read_results_maps_by_op_id_in_any_order() -> None:
    a, b, c = op("a"), op("b", "2"), op("c", "3")
    body = json.dumps(
        {
            "results": [
                {"op_id": "c", "status": 422, "error": "bad total"},
                {"op_id": "a", "status": 200},
                {"op_id": "zzz", "status": 200},
                "junk",
            ]
        }
    ).encode()
    outcomes, throttled = read_results(body, [a, b, c])

    assert outcomes[a].kind == APPLIED
    assert (outcomes[b].kind, outcomes[b].detail) == (TRANSIENT, "no result for this operation")
    assert outcomes[c].kind == REJECTED
    assert "bad total" in outcomes[c].detail
    assert throttled == 0


@pytest.mark.parametrize(
    "body", [b"<html>", b"", b"[]", b'{"results": 3}', b'{"nope": []}', b"[" * 100_000]
)
def test_an_unparseable_200_makes_every_operation_transient(body: bytes) -> None:
    a = op("a")

    outcomes, throttled = read_results(body, [a])

    assert (outcomes[a].kind, throttled) == (TRANSIENT, 0)


def test_retry_after_in_seconds_and_as_http_date() -> None:
    now = time.time()

    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(" 0 ") == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-3") is None
    in_ten = retry_after_seconds(formatdate(now + 10, usegmt=True), now=now)
    assert in_ten is not None
    assert 9 <= in_ten <= 10
    assert retry_after_seconds(formatdate(now - 100, usegmt=True), now=now) == 0.0


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "1\u00b2"])
def test_retry_after_with_non_ascii_digits_is_ignored_not_raised(value: str) -> None:
    # str.isdigit() accepts superscripts and other scripts' digits; float() refuses some, and
    # the raise skipped the retries of that 429/503. Delta-seconds is ASCII DIGIT only.
    assert retry_after_seconds(value) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    assert backoff_seconds(0, lambda: 0.0) == pytest.approx(0.05)
    assert backoff_seconds(0, lambda: 1.0) == pytest.approx(0.1)
    assert backoff_seconds(3, lambda: 0.0) == pytest.approx(0.4)
    assert backoff_seconds(30, lambda: 1.0) == BACKOFF_CAP_SECONDS


def client_for(api: Any, **settings: Any) -> EntityApiClient:
    waits: list[float] = []
    settings.setdefault("entity_api_timeout_seconds", 2.0)
    client = EntityApiClient(
        Settings(entity_api_url=api.endpoint_url, dlq_url="http://127.0.0.1:9/q", **settings),
        sleep=waits.append,
    )
    client.waits = waits  # type: ignore[attr-defined]
    return client


def test_bisection_finds_the_one_operation_to_blame(entity_api: Any) -> None:
    entity_api.set_faults({"reject_entities": ["order:3"]})
    ops = [op(f"e{n}", str(n)) for n in range(4)]
    stats = CallStats()
    outcomes = client_for(entity_api).send(ops, Deadline(10), stats)

    assert [outcomes[o].kind for o in ops] == [APPLIED, APPLIED, APPLIED, REJECTED]
    assert "400" in outcomes[ops[3]].detail
    assert stats.requests == 5  # 4 ops, then 2+2, then 1+1 of the bad half


def test_whole_request_413_and_422_are_bisected_too(entity_api: Any) -> None:
    entity_api.set_faults({"status_sequence": [413, 422]})
    ops = [op("a"), op("b", "2")]
    outcomes = client_for(entity_api).send(ops, Deadline(10), CallStats())

    assert [outcomes[o].kind for o in ops] == [REJECTED, APPLIED]


def test_retries_honour_retry_after_and_count_throttling(entity_api: Any) -> None:
    entity_api.set_faults({"status_sequence": [429, 503, 500], "retry_after": "2"})
    client = client_for(entity_api)
    stats = CallStats()
    outcomes = client.send([op("a")], Deadline(30), stats)

    assert [o.kind for o in outcomes.values()] == [APPLIED]
    assert (stats.requests, stats.throttled) == (4, 2)
    assert client.waits[:2] == [2.0, 2.0]  # type: ignore[attr-defined]
    assert client.waits[2] < 2.0  # a 500 without Retry-After backs off exponentially  # type: ignore[attr-defined]


def test_gives_up_after_the_attempt_limit(entity_api: Any) -> None:
    entity_api.set_faults({"status_always": 502})
    client = client_for(entity_api)
    stats = CallStats()
    outcomes = client.send([op("a")], Deadline(30), stats)

    assert [o.kind for o in outcomes.values()] == [TRANSIENT]
    assert stats.requests == 5
    assert len(client.waits) == 4  # type: ignore[attr-defined]


def test_auth_failure_stops_all_later_requests(entity_api: Any) -> None:
    entity_api.set_faults({"status_always": 403})
    client = client_for(entity_api)
    stats = CallStats()
    first = client.send([op("a")], Deadline(30), stats)
    second = client.send([op("b", "2")], Deadline(30), stats)

    assert [o.kind for o in [*first.values(), *second.values()]] == [TRANSIENT, TRANSIENT]
    assert stats.auth_failed
    assert stats.requests == 1


def test_an_unexpected_status_is_transient_and_remembered(entity_api: Any) -> None:
    entity_api.set_faults({"status_always": 404})
    stats = CallStats()
    outcomes = client_for(entity_api).send([op("a")], Deadline(30), stats)

    assert [o.kind for o in outcomes.values()] == [TRANSIENT]
    assert stats.requests == 1
    assert any("404" in problem for problem in stats.unexpected)


def test_connection_refused_is_transient_and_its_cause_remembered() -> None:
    class Nowhere:
        endpoint_url = "http://127.0.0.1:9/v1/operations:batch"

    stats = CallStats()
    client = client_for(Nowhere(), entity_api_timeout_seconds=0.5)
    outcomes = client.send([op("a")], Deadline(1.0), stats)

    assert [o.kind for o in outcomes.values()] == [TRANSIENT]
    assert "unreachable" in next(iter(outcomes.values())).detail
    assert stats.unreachable >= 1
    assert "refused" in stats.unreachable_cause.lower()


@pytest.mark.parametrize(("left", "sent"), [(0.95, False), (1.3, True)])
def test_a_request_starts_only_when_its_whole_timeout_fits(
    entity_api: Any, left: float, sent: bool
) -> None:
    # timeout 1.0 s + margin 0.25 s: with 0.95 s left no request may start (before the fix it
    # started with its timeout cut to the time left, and the API applied what the handler
    # then reported as failed); with 1.3 s left it is sent
    client = client_for(entity_api, entity_api_timeout_seconds=1.0)
    stats = CallStats()
    outcomes = client.send([op("a")], Deadline(left), stats)

    assert [o.kind for o in outcomes.values()] == [APPLIED if sent else TRANSIENT]
    assert entity_api.stats()["requests"] == (1 if sent else 0)
    assert stats.requests == (1 if sent else 0)


def test_the_read_timeout_is_capped_by_the_setting(entity_api: Any) -> None:
    # the API answers after 5 s; the time left would allow that wait, the setting does not
    entity_api.set_faults({"latency_seconds": 5})
    client = client_for(entity_api, entity_api_timeout_seconds=0.3)
    stats = CallStats()
    outcomes = client.send([op("a")], Deadline(0.6), stats)

    [outcome] = outcomes.values()
    assert outcome.kind == TRANSIENT
    assert "ReadTimeoutError" in outcome.detail
    assert stats.requests == 1


@pytest.mark.parametrize("cap", [0.5, 2.0, 10.0])
def test_connect_and_read_together_never_exceed_the_timeout(cap: float) -> None:
    # A slow connect followed by a slow answer must not add up to more than the timeout
    # setting (which is what a request needs left to start).
    import urllib3

    seen: list[urllib3.Timeout] = []

    class Pool:
        def connection_from_url(self, url: str) -> Any:
            return self

        def urlopen(self, *args: Any, timeout: urllib3.Timeout, **kwargs: Any) -> Any:
            seen.append(timeout)
            raise urllib3.exceptions.ConnectTimeoutError("stand-in")

    settings = Settings(
        entity_api_url="http://127.0.0.1:9/v1/operations:batch",
        dlq_url="http://127.0.0.1:9/q",
        entity_api_timeout_seconds=cap,
    )
    client = EntityApiClient(settings, pool=Pool(), sleep=lambda seconds: None)  # type: ignore[arg-type]
    client.send([op("a")], Deadline(900), CallStats())

    timeout = seen[0]
    assert timeout.connect_timeout == min(3.0, cap)
    assert timeout._read == cap
    assert timeout.total == cap


class RecordingPool:
    """The shared pool, with the timeout of every request written down."""

    def __init__(self) -> None:
        import urllib3

        self.pool = urllib3.PoolManager(retries=False)
        self.timeouts: list[float] = []

    def connection_from_url(self, url: str) -> Any:
        connection = self.pool.connection_from_url(url)
        timeouts = self.timeouts

        class Recorder:
            def urlopen(self, *args: Any, timeout: Any, **kwargs: Any) -> Any:
                timeouts.append(timeout.total)
                return connection.urlopen(*args, timeout=timeout, **kwargs)

        return Recorder()


@pytest.mark.parametrize("left", [2.0, 5.0, 9.0])
def test_with_less_time_left_than_the_timeout_a_request_still_goes_with_its_timeout_capped(
    entity_api: Any, left: float
) -> None:
    # issue 15 item 1: the default 10 s timeout and a 10 s function: no request ever started
    pool = RecordingPool()
    settings = Settings(entity_api_url=entity_api.endpoint_url, dlq_url="http://127.0.0.1:9/q")
    client = EntityApiClient(settings, pool=pool)  # type: ignore[arg-type]
    deadline = Deadline(left)

    outcomes = client.send([op("a")], deadline, CallStats())

    assert [o.kind for o in outcomes.values()] == [APPLIED]
    [timeout] = pool.timeouts
    assert settings.entity_api_timeout_floor <= timeout <= left - REQUEST_MARGIN_SECONDS


def test_a_slow_answer_is_given_up_on_within_the_time_left_not_after_the_setting(
    entity_api: Any,
) -> None:
    # the API answers after 5 s; the setting allows 10 s; only 2.5 s are left
    entity_api.set_faults({"latency_seconds": 5})
    pool = RecordingPool()
    settings = Settings(entity_api_url=entity_api.endpoint_url, dlq_url="http://127.0.0.1:9/q")
    client = EntityApiClient(settings, pool=pool)  # type: ignore[arg-type]
    deadline = Deadline(2.5)

    [outcome] = client.send([op("a")], deadline, CallStats()).values()

    assert outcome.kind == TRANSIENT
    assert "Timeout" in outcome.detail
    # the timeout it gave the request is within the time left (exact, whatever the load)...
    assert max(pool.timeouts) <= 2.5 - REQUEST_MARGIN_SECONDS
    # ...so it gave up long before the 5 s answer and the 10 s of the setting (how far past
    # 2.5 - margin it returns depends on the machine's load: CI saw 0.2 s past the deadline)
    assert deadline.remaining() > -1.5


def test_below_the_floor_no_request_starts(entity_api: Any) -> None:
    settings = Settings(entity_api_url=entity_api.endpoint_url, dlq_url="http://127.0.0.1:9/q")
    client = EntityApiClient(settings)
    floor = settings.entity_api_timeout_floor

    outcomes = client.send([op("a")], Deadline(floor + REQUEST_MARGIN_SECONDS - 0.1), CallStats())

    assert [o.kind for o in outcomes.values()] == [TRANSIENT]
    assert entity_api.stats()["requests"] == 0
