"""The planner's ranking and its .tfvars snippet (on hand-made candidates: no sweep)."""

from __future__ import annotations

from dataclasses import replace

from sim import planner
from sim.planner import Candidate
from sim.scenario import Api, Burst, Scenario, Stack, Traffic
from sim.simulation import Result, Timeline

SCENARIO = Scenario(name="plan-test", sla_seconds=600)


def candidate(
    *, cost: float, drain: float | None = 100.0, share: float = 0.0, dlq: int = 0, conc: int = 5
) -> Candidate:
    result = Result(
        label="plan",
        scenario=SCENARIO,
        drain_seconds=drain,
        bound_seconds=100.0,
        requests=1000,
        answers_429=int(share * 1000),
        max_oldest_age=(drain or 10_000.0) / 2,
        valid_in_dlq=dlq,
        expired=0,
        redriven_valid=dlq,
        invalid_in_dlq=0,
        rejected_in_dlq=0,
        lost_to_retention=0,
        still_queued=0 if drain is not None else 10,
        applied=1000,
        invocations=10,
        cold_starts=1,
        gb_seconds=1.0,
        lambda_cost=cost,
        sqs_requests=0,
        sqs_cost=0.0,
        double_deletes=0,
        timeouts=0,
        peak_concurrency=conc,
        events=1,
        wall_seconds=1.0,
        timeline=Timeline(),
        changes=[],
    )
    return Candidate(100, 5.0, conc, False, result)


def test_settings_failing_a_target_are_left_out() -> None:
    fine = candidate(cost=1.0)
    slow = candidate(cost=0.1, drain=None)
    throttled = candidate(cost=0.1, share=0.08)  # above the target (Terraform's 5%)
    lossy = candidate(cost=0.1, dlq=3)
    late = candidate(cost=0.1, drain=2000.0)  # oldest age 1,000 s > SLA 600 s
    assert planner.ranked(SCENARIO, [slow, throttled, lossy, late, fine]) == [fine]
    assert "429 share 8.0%" in throttled.problems(SCENARIO)
    assert "3 valid in DLQ" in lossy.problems(SCENARIO)


def test_cheapest_first_and_near_ties_go_to_the_fastest() -> None:
    cheap_slow = candidate(cost=1.000, drain=300.0, conc=2)
    cheap_fast = candidate(cost=1.005, drain=120.0, conc=5)
    dear = candidate(cost=2.0, drain=50.0, conc=50)
    dearer = candidate(cost=3.0, drain=40.0, conc=100)
    order = planner.ranked(SCENARIO, [dearer, dear, cheap_slow, cheap_fast])
    assert order == [cheap_fast, cheap_slow, dear, dearer]


def test_equally_cheap_and_fast_settings_go_to_the_fewest_concurrent_batches() -> None:
    many = candidate(cost=1.0, drain=120.9, conc=100)
    few = candidate(cost=1.003, drain=121.0, conc=5)
    some = candidate(cost=1.001, drain=120.3, conc=20)
    assert planner.ranked(SCENARIO, [many, some, few]) == [few, some, many]


def test_tfvars_for_a_static_and_a_governed_setting() -> None:
    static = candidate(cost=1.0, conc=20)
    text = planner.tfvars(SCENARIO, static)
    assert "batch_size                         = 100" in text
    assert "maximum_concurrency                = 20" in text
    assert "adaptive_concurrency" not in text
    governed = replace(static, governor=True)
    text = planner.tfvars(SCENARIO, governed)
    assert "maximum_concurrency                = 5" in text  # starts at the scenario's 5
    assert "  maximum               = 20" in text
    assert "  enabled               = true" in text
    assert "function_timeout                   = 60" in text
    assert "reserved_concurrent_executions     = 20" in text
    assert "max_receive_count                  = 5" in text


def test_the_grid_reaches_from_2_to_1000_through_10() -> None:
    assert min(planner.CONCURRENCY) == 2
    assert max(planner.CONCURRENCY) == 1000
    assert 10 in planner.CONCURRENCY
    assert planner.TARGET == 0.05


KNOWN = Scenario(
    name="known-best",
    sla_seconds=600,
    max_duration_seconds=3600,
    traffic=Traffic(bursts=(Burst(0.0, 10.0, 20_000),)),
    stack=Stack(batch_size=100, maximum_batching_window_in_seconds=1.0),
    api=Api(rate=10.0, burst=10.0, latency_median_ms=1000.0, latency_sigma=0.0),
)
"""An API of 10 requests/s answering in 1 s; batches of 100 make one request each, so C
concurrent batches offer ~C requests/s: 10 reach the limit with nothing to spare (the fastest
that is not throttled), 20 and more are throttled far above 5%, 2-5 drain slower at the same
cost (the same invocations, each as long)."""


def test_the_planner_picks_the_known_best_setting() -> None:
    candidates = planner.sweep(KNOWN, [100], [1.0], [2, 5, 10, 20, 50])
    [best, *_] = planner.ranked(KNOWN, candidates)
    assert (best.batch_size, best.concurrency, best.governor) == (100, 10, False)
    static = {c.concurrency: c for c in candidates if not c.governor}
    assert static[20].result.share_429 > planner.TARGET
    assert 50 not in static  # skipped: more concurrency than a throttled one
