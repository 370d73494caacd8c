"""Visibility backoff with full jitter, Retry-After precedence, and retry-horizon arithmetic."""

from __future__ import annotations

import random

import pytest

from consumer.flow_control.backoff import (
    MAX_VISIBILITY_SECONDS,
    RetryPlan,
    horizon_deadline_ms,
    jittered_backoff,
    returns_as_copy,
    schedule_retry,
    seconds_left,
    visibility_delay,
)

T0 = 1_700_000_000_000  # an epoch instant in ms


@pytest.mark.parametrize(
    ("receive_count", "ceiling"), [(1, 2), (2, 4), (3, 8), (5, 32), (9, 512), (10, 900), (60, 900)]
)
def test_full_jitter_spans_zero_to_the_exponential_ceiling(
    receive_count: int, ceiling: int
) -> None:
    def delay(draw: float) -> int:
        return jittered_backoff(receive_count, base=2, cap=900, draw=draw)

    assert delay(0.0) == 0
    assert delay(0.999999) == ceiling
    assert delay(0.5) == -(-ceiling // 2)  # half the ceiling, rounded up


def test_jitter_is_spread_over_the_whole_range() -> None:
    rng = random.Random(7)
    delays = [jittered_backoff(6, base=2, cap=900, draw=rng.random()) for _ in range(2000)]
    assert min(delays) <= 2
    assert max(delays) >= 62
    assert all(0 <= d <= 64 for d in delays)
    assert 26 <= sum(delays) / len(delays) <= 38  # mean of uniform(0, 64), rounded up


def test_huge_receive_counts_stay_at_the_cap_without_overflow() -> None:
    assert jittered_backoff(10_000, base=2, cap=900, draw=0.999) == 900
    assert jittered_backoff(10_000, base=2, cap=10**9, draw=0.999999) == MAX_VISIBILITY_SECONDS


def test_receive_count_below_one_counts_as_the_first_receipt() -> None:
    assert jittered_backoff(0, base=2, cap=900, draw=0.99) == 2


@pytest.mark.parametrize("draw", [-0.1, 1.0, 2.0])
def test_draw_outside_unit_interval_is_refused(draw: float) -> None:
    with pytest.raises(ValueError, match="draw"):
        visibility_delay(1, base=2, cap=900, draw=draw)


def test_retry_after_takes_precedence_rounded_up_not_capped() -> None:
    assert visibility_delay(9, base=2, cap=900, draw=0.0, retry_after=7) == 7
    assert visibility_delay(1, base=2, cap=900, draw=0.9, retry_after=0.2) == 1
    assert visibility_delay(1, base=2, cap=5, draw=0.9, retry_after=60) == 60
    assert visibility_delay(1, base=2, cap=5, draw=0.9, retry_after=10**6) == MAX_VISIBILITY_SECONDS
    assert visibility_delay(1, base=2, cap=5, draw=0.9, retry_after=-3) == 0


def test_horizon_arithmetic() -> None:
    assert horizon_deadline_ms(T0, 3600) == T0 + 3_600_000
    assert seconds_left(T0, T0 + 600_000, 3600) == 3000.0
    assert seconds_left(T0, T0 + 3_599_999, 3600) > 0
    assert seconds_left(T0, T0 + 3_600_000, 3600) == 0
    assert seconds_left(T0, T0 + 3_601_500, 3600) == -1.5


def test_retry_is_scheduled_with_the_backoff_well_inside_the_horizon() -> None:
    plan = schedule_retry(3, T0, T0 + 60_000, horizon_seconds=3600, base=2, cap=900, draw=0.5)
    assert plan == RetryPlan(expired=False, visibility_seconds=4, clipped=False)


@pytest.mark.parametrize(
    ("age_seconds", "longest"),
    [
        (4, 2),  # a quarter of 4 s is below the base: the base
        (180, 45),  # failing for 3 minutes: back within 45 s of the API's recovery
        (1200, 300),
        (2000, 500),
        (3590, 10),  # (the horizon clips it: 10 s left)
    ],
)
def test_the_cap_grows_with_how_long_the_record_has_been_failing(
    age_seconds: int, longest: int
) -> None:
    delays = [
        schedule_retry(
            n, T0, T0 + age_seconds * 1000, horizon_seconds=3600, base=2, cap=900, draw=0.999
        ).visibility_seconds
        for n in range(1, 20)
    ]
    assert max(delays) == longest


def test_the_age_never_raises_the_configured_cap() -> None:
    plan = schedule_retry(
        30, T0, T0 + 40_000_000, horizon_seconds=86_400, base=2, cap=60, draw=0.999
    )
    assert plan.visibility_seconds == 60


def test_retry_never_reaches_past_the_horizon() -> None:
    now = T0 + 3_590_500  # 9.5 s left
    plan = schedule_retry(8, T0, now, horizon_seconds=3600, base=2, cap=900, draw=0.9)
    assert plan == RetryPlan(expired=False, visibility_seconds=9, clipped=True)
    assert seconds_left(T0, now + plan.visibility_seconds * 1000, 3600) > 0


def test_retry_after_beyond_the_horizon_is_clipped_for_a_last_attempt() -> None:
    plan = schedule_retry(
        1, T0, T0 + 3_500_000, horizon_seconds=3600, base=2, cap=900, draw=0.0, retry_after=600
    )
    assert plan == RetryPlan(expired=False, visibility_seconds=100, clipped=True)


@pytest.mark.parametrize("left_ms", [999, 0, -5_000])
def test_less_than_a_second_left_means_expired(left_ms: int) -> None:
    now = T0 + 3_600_000 - left_ms
    plan = schedule_retry(2, T0, now, horizon_seconds=3600, base=2, cap=900, draw=0.1)
    assert plan.expired


def test_one_second_left_still_retries_immediately_or_within_it() -> None:
    plan = schedule_retry(2, T0, T0 + 3_599_000, horizon_seconds=3600, base=2, cap=900, draw=0.9)
    assert plan == RetryPlan(expired=False, visibility_seconds=1, clipped=True)


# ---- copy or visibility -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("receive_count", "limit", "copy"),
    [
        (1, 5, False),
        (3, 5, False),
        (4, 5, True),
        (5, 5, True),
        (6, 5, True),
        (1, 1, True),
        (1, 2, True),
        (2, 2, True),
    ],
)
def test_a_record_comes_back_as_a_copy_from_the_receive_before_the_redrive_limit(
    receive_count: int, limit: int, copy: bool
) -> None:
    assert returns_as_copy(receive_count, limit) is copy


def test_without_a_redrive_policy_a_record_comes_back_through_its_visibility() -> None:
    assert returns_as_copy(1_000, None) is False


def test_an_unknown_redrive_limit_means_a_copy() -> None:
    assert returns_as_copy(1, None, limit_known=False) is True
    assert returns_as_copy(1, 5, limit_known=False) is True
