"""Delivery paced by the invocation's Pacer, against the local entity API server."""

from __future__ import annotations

import time
from typing import Any

from consumer.delivery import Pacer
from consumer.time_budget import Deadline


class _WatchedPacer(Pacer):
    """The shipped Pacer, noting on its own clock (under its lock) each turn it grants and
    each answer it is told of: what the sender threads were allowed, whatever the load."""

    def __init__(self) -> None:
        super().__init__()
        self.granted: list[float] = []
        self.throttled: list[tuple[float, float | None]] = []

    def next_turn(self, deadline: Deadline, needed: float) -> float | None:
        wait = super().next_turn(deadline, needed)
        if wait == 0.0:
            self.granted.append(time.monotonic())
        return wait

    def record(self, status: int, retry_after: float | None) -> None:
        if status == 429:
            self.throttled.append((time.monotonic(), retry_after))
        super().record(status, retry_after)


def test_every_thread_honours_a_retry_after_another_one_got(h: Any) -> None:
    # an environment that has been sending fast (so its rate, cut on a 429, still allows many
    # requests a second), then 8 entities, one operation per request, 4 in flight: the first
    # answer is a 429 with Retry-After 1; no thread may be given a turn in the second after it
    warm = h.warm(max_operations_per_request=1)
    warm.pacers.append(pacer := _WatchedPacer())
    assert h.handle(h.event([h.change(f"w{n}", str(n)) for n in range(60)]), warm).failed == []
    pacer.granted.clear()
    h.api.set_faults({"status_sequence": [429], "retry_after": "1"})
    run = h.handle(h.event([h.change(f"e{n}", str(n)) for n in range(8)]), warm)

    assert run.failed == []
    assert len(h.api.applied()) == 60 + 8
    [(told_at, retry_after)] = pacer.throttled
    assert retry_after == 1.0
    # turns taken before the 429 was told may still reach the API after it (in flight; how
    # many depends on the machine's load); none is granted inside the Retry-After
    inside = [t - told_at for t in pacer.granted if told_at < t < told_at + 0.999]
    assert inside == []
    after = [t for t in pacer.granted if t >= told_at + 0.999]
    assert len(after) >= 1  # the throttled request itself, sent again after the Retry-After
    # and the API saw that: a request at least a second after the 429 left it
    log = h.api.request_log()
    [throttled_at] = [entry["time"] for entry in log if entry["status"] == 429]
    assert sum(1 for e in log if e["time"] >= throttled_at + 0.95) >= len(after)


def test_the_next_invocation_of_an_environment_starts_at_the_pace_it_learnt(h: Any) -> None:
    # one WarmState is one execution environment: a 429 in its first invocation paces its second
    warm = h.warm(max_operations_per_request=1)
    h.api.set_faults({"status_sequence": [429], "retry_after": "0"})
    first = h.handle(h.event([h.change(f"a{n}", str(n)) for n in range(4)]), warm)
    assert first.summary["throttled"] == 1
    learnt = warm.pacers[0].limiter.fill_rate
    h.api.set_faults({})

    count = 4
    second = h.handle(h.event([h.change(f"b{n}", str(n)) for n in range(count)]), warm)

    assert second.failed == []
    assert warm.pacers[0].limiter.enabled  # the second invocation waited for turns:
    log = [e["time"] for e in h.api.request_log() if e["status"] == 200][-count:]
    # `count` requests at the learnt rate (at most 2 x its measured rate after each answer):
    # the tokens saved up cover about one second's worth, the rest must wait
    assert log[-1] - log[0] >= (count - 1 - 2 * learnt) / (4 * learnt)


def test_a_new_environment_is_unpaced_without_a_known_share(h: Any) -> None:
    run = h.handle(
        h.event([h.change(f"e{n}", str(n)) for n in range(6)]),
        warm := h.warm(max_operations_per_request=1),
    )
    assert run.failed == []
    assert not warm.pacers[0].limiter.enabled
    # and stays unpaced: every turn is free at once (0.0: a token taken, no wait)
    deadline = Deadline(60.0)
    assert [warm.pacers[0].next_turn(deadline, 0.0) for _ in range(100)] == [0.0] * 100


def test_a_known_share_paces_the_first_invocation_of_an_environment(h: Any) -> None:
    # ENTITY_API_RATE_SHARE 4: 12 one-operation requests, 4 at once, then about 4 a second
    warm = h.warm(max_operations_per_request=1, entity_api_rate_share=4.0)
    run = h.handle(h.event([h.change(f"e{n}", str(n)) for n in range(12)]), warm)

    assert run.failed == []
    assert run.summary["throttled"] == 0
    times = sorted(e["time"] for e in h.api.request_log())
    assert len(times) == 12
    assert times[-1] - times[0] >= 1.0  # unpaced, 12 requests take a few milliseconds
    assert warm.pacers[0].limiter.fill_rate == 4.0  # the share, from the first invocation
