"""The adaptive token bucket: unpaced until throttled, CUBIC decrease and recovery, Retry-After."""

from __future__ import annotations

import itertools

import pytest

from consumer.flow_control.pacing import (
    BETA,
    CLIMB_SECONDS,
    FORGET_AFTER_SECONDS,
    MAX_RATE_SCALE,
    MIN_RATE,
    SENT_RATE_SECONDS,
    AdaptiveRateLimiter,
)


def bucket_rate(limiter: AdaptiveRateLimiter) -> float:
    """The limiter's smoothed half-second-bucket rate: its own state (the zip has no reader;
    what it changes shows in the fill rate a throttle leaves)."""
    return limiter._measured


def send_steadily(limiter: AdaptiveRateLimiter, rate: float, start: float, seconds: float) -> float:
    """Answers (unthrottled) at `rate` per second from `start`; returns the end time."""
    now = start
    for _ in range(int(rate * seconds)):
        limiter.record(now, throttled=False)
        now += 1.0 / rate
    return now


def test_unpaced_until_the_first_throttle() -> None:
    limiter = AdaptiveRateLimiter()
    for i in range(1000):
        assert limiter.acquire(i * 0.001) == 0.0
        limiter.record(i * 0.001, throttled=False)
    assert not limiter.enabled


@pytest.mark.parametrize("rate", [8.0, 40.0, 200.0])
def test_throttle_cuts_the_rate_to_beta_times_the_measured_send_rate(rate: float) -> None:
    limiter = AdaptiveRateLimiter()
    now = send_steadily(limiter, rate, 0.0, 20.0)  # long enough for the sent rate to follow
    limiter.record(now, throttled=True)
    assert limiter.enabled
    assert limiter.fill_rate == pytest.approx(BETA * rate, rel=0.1)


def test_a_throttle_before_the_first_bucket_closes_cuts_from_the_answers_so_far() -> None:
    # four requests in flight at the start of an invocation, the fifth answer a 429: the
    # environment has sent five requests in its life, not 5 per 0.5 s bucket (10/s), and not
    # nothing (which meant MIN_RATE, 0.5/s)
    limiter = AdaptiveRateLimiter(0.0)
    for n in range(4):
        limiter.record(0.01 * (n + 1), throttled=False)
    limiter.record(0.05, throttled=True)
    assert limiter.fill_rate == pytest.approx(BETA * 5 / SENT_RATE_SECONDS, rel=0.05)
    assert limiter.fill_rate > MIN_RATE
    limiter.record(0.06, throttled=False)  # a success in the same bucket does not undo it
    assert limiter.fill_rate == pytest.approx(BETA * 5 / SENT_RATE_SECONDS, rel=0.05)


def invocations(
    limiter: AdaptiveRateLimiter, start: float, count: int, *, requests: int, every: float
) -> float:
    """`count` invocations of one environment, one every `every` s, each sending `requests`
    at once (answered within 10 ms, unthrottled) and lasting 0.5 s; returns the time of the
    last answer."""
    now = start
    for n in range(count):
        now = start + n * every
        limiter.resume(now)
        for i in range(requests):
            limiter.record(now + 0.01 * i / requests, throttled=False)
        limiter.wait_seconds(now + 0.5)
    return now + 0.5


def test_a_throttle_cuts_from_what_the_environment_really_sent() -> None:
    # under fan-out an environment sends three requests together every 2 s (1.5/s): its
    # half-second buckets read 6/s, so botocore's law cut to 4.2/s, above what it sent
    limiter = AdaptiveRateLimiter(0.0)
    now = invocations(limiter, 0.0, 20, requests=3, every=2.0)
    assert bucket_rate(limiter) > 4.0
    limiter.record(now, throttled=True)
    # from under twice the 1.5/s it sent (an average over ~2 s reads high just after a burst),
    # not from the buckets' 6/s
    assert limiter.fill_rate < BETA * 2 * 1.5


@pytest.mark.parametrize("rate", [2.0, 40.0])
def test_the_climb_back_takes_climb_seconds_at_every_rate(rate: float) -> None:
    # botocore's fixed scale brought 2/s back in ~1 s (a probe, and a 429, every few seconds
    # from each environment under fan-out) and 40/s in ~3 s
    limiter = AdaptiveRateLimiter(0.0)
    now = send_steadily(limiter, rate, 0.0, 30.0)
    limiter.record(now, throttled=True)
    cut = limiter.fill_rate
    w_max = cut / BETA
    rates: dict[float, float] = {}
    for tenth in range(1, 10 * int(CLIMB_SECONDS) + 11):
        t = now + tenth / 10
        limiter.record(t, throttled=False)  # answers well above the rate: no ceiling binds
        limiter.record(t, throttled=False)
        rates[tenth / 10] = limiter.fill_rate
    assert rates[CLIMB_SECONDS / 2] < cut + 0.9 * (w_max - cut)
    assert rates[CLIMB_SECONDS] == pytest.approx(w_max, rel=0.02)
    assert rates[CLIMB_SECONDS + 1.0] < 1.05 * w_max  # then it probes, slowly


def test_a_throttle_below_the_last_one_gives_way_fast_convergence() -> None:
    # the second throttle comes at a lower rate (more environments share the API now): the
    # climb pauses below that rate, not at it, so the environment yields part of its share
    limiter = AdaptiveRateLimiter(0.0)
    now = send_steadily(limiter, 10.0, 0.0, 30.0)
    limiter.record(now, throttled=True)
    now = send_steadily(limiter, 6.0, now + 0.1, 20.0)
    basis = 6.0
    limiter.record(now, throttled=True)
    assert limiter.fill_rate == pytest.approx(BETA * basis, rel=0.05)
    for tenth in range(1, 10 * int(CLIMB_SECONDS) + 1):
        limiter.record(now + tenth / 10, throttled=False)
        limiter.record(now + tenth / 10, throttled=False)
    assert limiter.fill_rate == pytest.approx(basis * (1 + BETA) / 2, rel=0.05)


def test_tokens_arrive_at_the_fill_rate() -> None:
    limiter = AdaptiveRateLimiter()
    now = send_steadily(limiter, 20.0, 0.0, 5.0)
    limiter.record(now, throttled=True)
    rate = limiter.fill_rate
    saved = limiter.tokens  # earned before the throttle, at most one second's worth
    assert saved <= max(rate, 1.0)
    granted, t = 0, now
    for _ in range(10_000):
        if t >= now + 10.0:
            break
        wait = limiter.acquire(t)
        if wait == 0.0:
            granted += 1
        else:
            t += wait
    assert granted == pytest.approx(10.0 * rate + int(saved), abs=1)


def test_rate_recovers_along_the_cubic_curve_to_the_rate_before_the_drop() -> None:
    limiter = AdaptiveRateLimiter()
    now = send_steadily(limiter, 30.0, 0.0, 5.0)
    limiter.record(now, throttled=True)
    w_max = limiter.fill_rate / BETA
    after = limiter.fill_rate
    # keep answering at the (reduced) rate; the fill rate climbs back towards w_max
    t = now
    rates = []
    sent = [after]  # the rates answers came at: what the limiter measures
    for _ in range(40):
        sent.append(max(limiter.fill_rate, 1.0))
        t = send_steadily(limiter, sent[-1], t, 0.5)
        rates.append(limiter.fill_rate)
        # never above twice the rate measured, itself no faster than the fastest sending
        assert limiter.fill_rate <= MAX_RATE_SCALE * max(sent) * 1.1
    assert rates[0] >= after * 0.99
    assert max(rates) >= 0.95 * w_max


def test_repeated_throttling_drives_the_rate_down_to_the_floor_not_below() -> None:
    limiter = AdaptiveRateLimiter()
    now = send_steadily(limiter, 50.0, 0.0, 2.0)
    rates = []
    for i in range(60):
        limiter.record(now + i * 0.6, throttled=True)
        rates.append(limiter.fill_rate)
    assert rates[-1] == MIN_RATE
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(rates))


def test_retry_after_blocks_every_token_until_its_instant() -> None:
    limiter = AdaptiveRateLimiter()
    limiter.record(10.0, throttled=True, retry_after=3.0)
    assert limiter.acquire(10.0) == pytest.approx(3.0)
    assert limiter.acquire(12.5) == pytest.approx(0.5)  # Retry-After, not the bucket, blocks
    assert limiter.acquire(13.0) == 0.0


def test_retry_after_without_throttling_still_blocks() -> None:
    limiter = AdaptiveRateLimiter()
    limiter.record(1.0, throttled=False, retry_after=2.0)
    assert limiter.acquire(2.0) == pytest.approx(1.0)
    assert limiter.acquire(3.0) == 0.0


def test_acquire_takes_a_token_only_when_it_grants() -> None:
    limiter = AdaptiveRateLimiter()
    now = send_steadily(limiter, 10.0, 0.0, 3.0)
    limiter.record(now, throttled=True)
    later = now + 5.0
    assert limiter.acquire(later) == 0.0
    tokens = limiter.tokens
    wait = limiter.acquire(later)
    if wait > 0.0:
        assert limiter.tokens == tokens
    else:
        assert limiter.tokens == pytest.approx(tokens - 1.0)


def learnt_then_paused(resume: bool, pause: float) -> tuple[float, AdaptiveRateLimiter, float]:
    """A limiter throttled after 3 s at 40/s, paused `pause` s (resumed or not), then 3 paced
    answers: (the rate learnt, the limiter, the time)."""
    limiter = AdaptiveRateLimiter(0.0)
    now = send_steadily(limiter, 40.0, 0.0, 3.0)
    limiter.record(now, throttled=True)
    learnt = limiter.fill_rate
    now += pause
    if resume:
        limiter.resume(now)
    for _ in range(3):
        while (wait := limiter.acquire(now)) > 0.0:
            now += wait
        limiter.record(now, throttled=False)
    return learnt, limiter, now


def test_a_short_pause_between_invocations_keeps_the_learnt_rate() -> None:
    learnt, limiter, _ = learnt_then_paused(resume=True, pause=10.0)
    assert limiter.enabled
    assert limiter.fill_rate >= learnt
    assert bucket_rate(limiter) > learnt  # the pause is not measured as sending nothing


def test_without_resume_a_pause_reads_as_idle_sending_and_drags_the_rate_down() -> None:
    _, resumed, _ = learnt_then_paused(resume=True, pause=10.0)
    _, limiter, _ = learnt_then_paused(resume=False, pause=10.0)
    assert bucket_rate(limiter) < 0.5 * bucket_rate(resumed)  # why resume() exists
    assert limiter.fill_rate < 0.9 * resumed.fill_rate


def test_a_long_pause_forgets_the_learnt_rate() -> None:
    limiter = AdaptiveRateLimiter(0.0)
    now = send_steadily(limiter, 40.0, 0.0, 3.0)
    limiter.record(now, throttled=True)
    limiter.resume(now + FORGET_AFTER_SECONDS + 1.0)
    assert not limiter.enabled
    assert limiter.acquire(now + FORGET_AFTER_SECONDS + 1.0) == 0.0


def test_a_retry_after_still_holds_after_a_short_pause() -> None:
    limiter = AdaptiveRateLimiter(0.0)
    limiter.record(1.0, throttled=True, retry_after=30.0)
    limiter.resume(5.0)
    assert limiter.wait_seconds(5.0) == pytest.approx(26.0)


def test_a_start_rate_paces_from_the_first_request() -> None:
    limiter = AdaptiveRateLimiter(0.0, start_rate=4.0)
    assert limiter.enabled
    now, sent = 0.0, []
    for _ in range(12):
        while (wait := limiter.acquire(now)) > 0.0:
            now += wait
        sent.append(now)
        limiter.record(now + 0.01, throttled=False)
    # 4 tokens at once (a second's worth), then about 4/s: 8 more need about 2 s
    assert sent[3] == 0.0
    assert sent[-1] >= 1.5
    assert limiter.fill_rate >= 4.0  # one answer measured is not a reason to go below it


def test_a_start_rate_is_where_a_forgotten_limiter_starts_again() -> None:
    limiter = AdaptiveRateLimiter(0.0, start_rate=4.0)
    limiter.record(0.5, throttled=True)
    limiter.resume(0.5 + FORGET_AFTER_SECONDS + 1.0)
    assert limiter.enabled
    assert limiter.fill_rate == pytest.approx(4.0)


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_a_start_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="start_rate"):
        AdaptiveRateLimiter(0.0, start_rate=rate)


def test_a_start_rate_is_never_exceeded_but_a_429_still_lowers_it() -> None:
    limiter = AdaptiveRateLimiter(0.0, start_rate=4.0)
    now = 0.0
    for _ in range(400):  # 100 s of successes: the CUBIC curve alone would be far above 4
        while (wait := limiter.acquire(now)) > 0.0:
            now += wait
        limiter.record(now, throttled=False)
    assert limiter.fill_rate == pytest.approx(4.0)
    limiter.record(now, throttled=True)
    assert limiter.fill_rate < 4.0
