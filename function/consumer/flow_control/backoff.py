"""Visibility backoff for transiently failed records, and retry-horizon arithmetic.

A record whose change failed transiently is made visible again after a delay set with
ChangeMessageVisibility. The delay is the API's Retry-After when it gave one, else exponential
in the record's ApproximateReceiveCount with full jitter (AWS Architecture Blog, "Exponential
Backoff and Jitter"): uniform(0, min(cap, base * 2 ** (n - 1))). SQS takes whole seconds in
[0, 43200].

The cap grows with the outage the record has seen: a record that has been failing for
`age` seconds (since its first send) waits at most max(base, AGE_CAP_SHARE x age), and never
more than `cap`. After an outage of T seconds its records come back within T / 4 of the API's
recovery rather than after up to `cap` (a 3-minute outage: 45 s, not 900 s); the cost is more
attempts during a long outage: each one at most 1.25x the age of the one before, about
ln(T / base) / ln(1.125) receives per record (an hour: ~64; with the fixed 900 s cap ~17).

A valid change is retried until the retry horizon after its first send (SentTimestamp). A
retry is never scheduled past the horizon: the delay is clipped so the record comes back by
then for a last attempt; when less than `MIN_RETRY_SECONDS` is left, the record has expired.
Expiry is decided when an attempt fails, so a record received after its horizon still gets
one attempt (the change may well apply).

Signatures (all pure; randomness passed in as `draw`, a float in [0, 1)):

    jittered_backoff(receive_count, *, base, cap, draw) -> int
    visibility_delay(receive_count, *, base, cap, draw, retry_after=None) -> int
    horizon_deadline_ms(sent_timestamp_ms, horizon_seconds) -> int
    seconds_left(sent_timestamp_ms, now_ms, horizon_seconds) -> float
    schedule_retry(receive_count, sent_timestamp_ms, now_ms, *, horizon_seconds, base, cap,
                   draw, retry_after=None) -> RetryPlan
    returns_as_copy(receive_count, redrive_limit, *, limit_known=True) -> bool
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_VISIBILITY_SECONDS = 43_200
"""SQS's largest visibility timeout (12 hours); also the largest delay ever returned."""
AGE_CAP_SHARE = 0.25
"""A backoff never exceeds this share of the record's age (but may reach the base)."""
MIN_RETRY_SECONDS = 1.0
"""With less than this left before the horizon, a failed record expires instead of retrying."""


def _clamp(seconds: float) -> int:
    """Whole seconds for ChangeMessageVisibility: rounded up, within [0, 43200]."""
    if math.isnan(seconds) or seconds <= 0:
        return 0
    return min(MAX_VISIBILITY_SECONDS, math.ceil(seconds))


def _check_draw(draw: float) -> None:
    if not 0.0 <= draw < 1.0:
        raise ValueError(f"draw must be in [0, 1), got {draw!r}")


def jittered_backoff(receive_count: int, *, base: float, cap: float, draw: float) -> int:
    """Full-jitter backoff for the `receive_count`-th receipt (1 = first): whole seconds in
    [0, min(cap, base * 2 ** (receive_count - 1))], clamped to SQS's [0, 43200]."""
    _check_draw(draw)
    if base < 0 or cap < 0:
        raise ValueError("base and cap must not be negative")
    exponent = max(receive_count, 1) - 1
    # 2 ** exponent overflows a float past ~1024; the cap is reached long before that.
    ceiling = cap if exponent >= 64 else min(cap, base * 2.0**exponent)
    return _clamp(draw * min(ceiling, MAX_VISIBILITY_SECONDS))


def visibility_delay(
    receive_count: int,
    *,
    base: float,
    cap: float,
    draw: float,
    retry_after: float | None = None,
) -> int:
    """The visibility to set on a transiently failed record, in whole seconds.

    The API's Retry-After (seconds) takes precedence, rounded up and clamped to [0, 43200]
    (it is not limited by `cap`: the API said when to come back); else `jittered_backoff`.
    """
    if retry_after is not None:
        _check_draw(draw)
        return _clamp(retry_after)
    return jittered_backoff(receive_count, base=base, cap=cap, draw=draw)


def horizon_deadline_ms(sent_timestamp_ms: int, horizon_seconds: float) -> int:
    """The instant (epoch ms) the record's retry horizon ends."""
    return sent_timestamp_ms + math.floor(horizon_seconds * 1000)


def seconds_left(sent_timestamp_ms: int, now_ms: int, horizon_seconds: float) -> float:
    """Seconds from `now_ms` to the end of the retry horizon (negative once passed)."""
    return (horizon_deadline_ms(sent_timestamp_ms, horizon_seconds) - now_ms) / 1000


@dataclass(frozen=True)
class RetryPlan:
    """What to do with a transiently failed record.

    `expired`: send it to the DLQ as `expired`. Otherwise set its visibility to
    `visibility_seconds`; `clipped` tells that the horizon shortened the delay.
    """

    expired: bool
    visibility_seconds: int = 0
    clipped: bool = False


def schedule_retry(
    receive_count: int,
    sent_timestamp_ms: int,
    now_ms: int,
    *,
    horizon_seconds: float,
    base: float,
    cap: float,
    draw: float,
    retry_after: float | None = None,
) -> RetryPlan:
    """Retry (with `visibility_delay`, its cap limited by the record's age, clipped to come
    back by the horizon) or expire.

    Expired when less than MIN_RETRY_SECONDS is left before the horizon; otherwise the delay
    never reaches past the horizon's end (rounded down to whole seconds).
    """
    age = max(0.0, (now_ms - sent_timestamp_ms) / 1000)
    cap = min(cap, max(base, AGE_CAP_SHARE * age))
    delay = visibility_delay(receive_count, base=base, cap=cap, draw=draw, retry_after=retry_after)
    left = seconds_left(sent_timestamp_ms, now_ms, horizon_seconds)
    if left < MIN_RETRY_SECONDS:
        return RetryPlan(expired=True)
    latest = min(MAX_VISIBILITY_SECONDS, math.floor(left))
    if delay > latest:
        return RetryPlan(expired=False, visibility_seconds=latest, clipped=True)
    return RetryPlan(expired=False, visibility_seconds=delay)


def returns_as_copy(
    receive_count: int, redrive_limit: int | None, *, limit_known: bool = True
) -> bool:
    """Whether a record to retry comes back as a delayed copy rather than through its visibility.

    From the receive before the one that reaches the queue's redrive limit (`receive_count`,
    the message's ApproximateReceiveCount, at or past `redrive_limit` - 1, `redrive_limit`
    being its maxReceiveCount) the handler re-sends the record as a copy (a new message,
    receive count 0) and acknowledges the original: a copy that fails there still leaves
    the record the receive at the limit to be copied on, before SQS would move it to the DLQ
    on the receive after. With a limit of 1 every receive is the last: a copy on each.
    `redrive_limit` None: the queue has no redrive policy, nothing redrives, no copy.
    `limit_known` False: the limit could not be read, so assume the worst and copy.
    """
    if not limit_known:
        return True
    return redrive_limit is not None and receive_count >= max(redrive_limit - 1, 1)
