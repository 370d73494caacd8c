"""Delivery paced by the invocation's Pacer, against the local entity API server."""

from __future__ import annotations

from typing import Any

from consumer.time_budget import Deadline


def test_every_thread_honours_a_retry_after_another_one_got(h: Any) -> None:
    # 8 entities, one operation per request, 4 in flight: the first answer is a 429 with
    # Retry-After 1; no request may reach the API in the second that follows it
    h.api.set_faults({"status_sequence": [429], "retry_after": "1"})
    run = h.handle(
        h.event([h.change(f"e{n}", str(n)) for n in range(8)]),
        h.warm(max_operations_per_request=1),
    )

    assert run.failed == []
    assert len(h.api.applied()) == 8
    log = h.api.request_log()
    [throttled_at] = [entry["time"] for entry in log if entry["status"] == 429]
    during = [e for e in log if throttled_at + 0.1 < e["time"] < throttled_at + 0.95]
    assert during == []
    # the throttled request itself comes back after the Retry-After (how many others were
    # already in flight when the 429 arrived depends on the machine's load)
    assert sum(1 for e in log if e["time"] >= throttled_at + 0.95) >= 1


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
