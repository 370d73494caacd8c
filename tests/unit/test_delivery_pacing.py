"""Pacing inside an invocation: the Pacer (flow_control.pacing with a clock and sleeping).
Delivery honouring it against the local entity API server: tests/handler/test_pacing.py."""

from __future__ import annotations

import pytest

from consumer.delivery import Pacer
from consumer.time_budget import Deadline


class FakeTime:
    """A clock that only sleeping moves (the Pacer's sleep is the only thing that waits)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def answer_steadily(pacer: Pacer, time: FakeTime, rate: float, seconds: float) -> None:
    for _ in range(int(rate * seconds)):
        pacer.record(200, None)
        time.now += 1.0 / rate


def test_unthrottled_requests_never_wait() -> None:
    time = FakeTime()
    pacer = Pacer(time.clock, time.sleep)
    for _ in range(200):
        assert pacer.wait_turn(Deadline(30), 1.0)
        pacer.record(200, None)
        time.now += 0.001
    assert time.slept == []


def test_after_a_429_turns_come_at_the_lowered_rate() -> None:
    time = FakeTime()
    pacer = Pacer(time.clock, time.sleep)
    answer_steadily(pacer, time, 40.0, 3.0)
    pacer.record(429, None)
    rate = pacer.limiter.fill_rate
    assert rate < 40.0

    for _ in range(int(rate) + 2):  # spend the tokens saved up (at most one second's worth)
        assert pacer.wait_turn(Deadline(300), 1.0)
    started = time.now
    for _ in range(40):
        assert pacer.wait_turn(Deadline(300), 1.0)
    assert time.now - started == pytest.approx(40 / rate, rel=0.05)


def test_a_503_is_not_a_rate_limit_but_its_retry_after_holds_everyone() -> None:
    time = FakeTime()
    pacer = Pacer(time.clock, time.sleep)
    answer_steadily(pacer, time, 40.0, 3.0)
    pacer.record(503, 2.0)
    assert not pacer.limiter.enabled

    started = time.now
    assert pacer.wait_turn(Deadline(300), 1.0)
    assert time.now - started == pytest.approx(2.0)


def test_no_turn_when_the_wait_would_not_leave_time_for_the_request() -> None:
    time = FakeTime()
    pacer = Pacer(time.clock, time.sleep)
    pacer.record(429, 30.0)

    assert not pacer.wait_turn(Deadline(10), 1.0)
    assert time.slept == []
