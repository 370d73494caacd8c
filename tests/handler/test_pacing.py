"""Delivery paced by the invocation's Pacer, against the local entity API server."""

from __future__ import annotations

from typing import Any


def test_every_thread_honours_a_retry_after_another_one_got(h: Any) -> None:
    # 8 entities, one operation per request, 4 in flight: the first answer is a 429 with
    # Retry-After 1; no request may reach the API in the second that follows it
    h.api.set_faults({"status_sequence": [429], "retry_after": "1"})
    run = h.handle(
        h.event([h.change(f"e{n}", str(n)) for n in range(8)]),
        h.runtime(max_operations_per_request=1),
    )

    assert run.failed == []
    assert len(h.api.applied()) == 8
    log = h.api.request_log()
    [throttled_at] = [entry["time"] for entry in log if entry["status"] == 429]
    during = [e for e in log if throttled_at + 0.1 < e["time"] < throttled_at + 0.95]
    assert during == []
    assert sum(1 for e in log if e["time"] >= throttled_at + 0.95) >= 4
