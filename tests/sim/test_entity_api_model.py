"""The entity API model: token-bucket arithmetic, 429 with Retry-After, outages, rate changes."""

from __future__ import annotations

import random

import pytest

from sim.entity_api import APPLIED, REJECTED, TRANSIENT, EntityApi
from sim.scenario import Api, Outage, RateChange


def api(**settings: object) -> EntityApi:
    config = Api(latency_sigma=0.0, **settings)  # type: ignore[arg-type]
    return EntityApi(config, random.Random(1))


def test_burst_then_429_with_retry_after() -> None:
    model = api(rate=10.0, burst=5.0, retry_after_seconds=2.0)
    answers = [model.call(0.0, 1) for _ in range(7)]
    assert [a.status for a in answers] == [200] * 5 + [429] * 2
    assert answers[-1].retry_after == 2.0
    assert (model.requests, model.throttled) == (7, 2)


def test_tokens_refill_at_the_rate_up_to_the_burst() -> None:
    model = api(rate=10.0, burst=5.0)
    for _ in range(5):
        model.call(0.0, 1)
    # 0.45 s later: 4.5 tokens -> 4 accepted
    assert [model.call(0.45, 1).status for _ in range(5)] == [200] * 4 + [429]
    # a long pause refills only up to the burst
    assert [model.call(100.0, 1).status for _ in range(6)] == [200] * 5 + [429]


def test_accepted_requests_per_second_match_the_rate() -> None:
    model = api(rate=50.0, burst=50.0)
    accepted = sum(model.call(t / 1000, 1).status == 200 for t in range(0, 10_000))  # 1000/s
    assert accepted == pytest.approx(50 + 50 * 10, abs=2)


def test_rate_change_mid_run() -> None:
    model = api(rate=20.0, burst=20.0, rate_changes=(RateChange(at=10.0, rate=10.0),))
    assert model.rate_at(9.9) == 20.0
    assert model.rate_at(10.0) == 10.0
    accepted = sum(model.call(10.0 + t / 100, 1).status == 200 for t in range(1000))  # 10 s
    assert accepted == pytest.approx(10 + 10 * 10, abs=2)  # burst scaled to the new rate


def test_outage_answers_its_status_to_everything() -> None:
    model = api(rate=1000.0, burst=1000.0, outages=(Outage(start=5.0, duration=10.0, status=503),))
    assert model.call(4.9, 1).status == 200
    assert model.call(5.0, 1).status == 503
    assert model.call(14.9, 1).status == 503
    assert model.call(15.0, 1).status == 200
    assert model.unavailable == 2


def test_latency_median_and_per_operation_cost() -> None:
    model = EntityApi(Api(latency_median_ms=80, latency_sigma=0.3), random.Random(3))
    latencies = sorted(model.latency(0) for _ in range(4001))
    assert latencies[2000] == pytest.approx(0.080, rel=0.05)
    flat = api(latency_median_ms=80, latency_per_operation_ms=0.5)
    assert flat.latency(100) == pytest.approx(0.080 + 0.050)


def test_per_operation_failure_shares() -> None:
    model = EntityApi(
        Api(transient_operation_share=0.1, rejected_operation_share=0.05), random.Random(5)
    )
    outcomes = model.operation_outcomes(20_000)
    assert outcomes is not None
    assert outcomes.count(TRANSIENT) == pytest.approx(2000, rel=0.1)
    assert outcomes.count(REJECTED) == pytest.approx(1000, rel=0.15)
    assert outcomes.count(APPLIED) == 20_000 - outcomes.count(TRANSIENT) - outcomes.count(REJECTED)
    assert api().operation_outcomes(100) is None
