"""Client-side pacing of requests to a rate-limited API: an adaptive token bucket.

In the spirit of botocore's adaptive retry mode (botocore/retries/adaptive.py, bucket.py,
throttling.py), written for a caller that owns the clock:

- Until the first throttling answer, requests go out unpaced.
- The send rate is measured in half-second buckets, exponentially smoothed (before the first
  bucket closes: the answers so far over one bucket's width).
- On a throttling answer the fill rate drops to BETA x min(measured rate, fill rate, the rate
  really sent over the last ~SENT_RATE_SECONDS) and the rate at the drop is remembered as
  `w_max`.
- On success the fill rate follows the CUBIC curve scale x (t - t_drop - K) ** 3 + w_max: it
  climbs back to w_max in K seconds, pauses there, then probes above it; never above twice the
  measured rate. Unlike botocore (a fixed scale of 0.4 requests/s per s**3, so a rate of 2/s is
  back in ~1 s), the scale is relative to the rate: K is CLIMB_SECONDS at every rate. Under
  fan-out each execution environment's share is a few requests/s, and a climb of a second
  meant a probe, and a 429, every few seconds from each of them.
- Fast convergence (CUBIC, RFC 8312 4.6): a throttle below the previous one's rate sets w_max
  to the midpoint of the new rate and its cut, not the new rate, so an environment whose
  share shrank (more environments competing) stops probing back toward its old share.
- A Retry-After answer also blocks every token until its instant.
- `start_rate` (a known share of the API's limit) paces from the first request at that rate
  and caps it there: probing above a known share only buys 429s (measured: tight-api at 5
  concurrent batches, 11.2% 429s when it probed above). A 429 still lowers the rate below it.
- `resume(now)` starts a new invocation of the same execution environment: a pause up to
  `FORGET_AFTER_SECONDS` is not counted (the rate measurement and the CUBIC curve carry on
  where they stopped, the pause being neither idle sending nor recovery); a longer pause
  forgets everything (back to `start_rate`, or unpaced).

Pure: no sleeping and no clock reads. Every call takes `now` (monotonic seconds).

    limiter = AdaptiveRateLimiter()
    wait = limiter.acquire(now)      # 0.0: send now (a token was taken); > 0: ask again later
    limiter.record(now, throttled=False)                     # after each answer
    limiter.record(now, throttled=True, retry_after=2.0)     # a 429 with Retry-After: 2
"""

from __future__ import annotations

import math

BETA = 0.7
"""Multiplicative decrease on throttling."""
CLIMB_SECONDS = 6.0
"""Seconds the rate takes after a throttle to climb back to the rate it was cut from (CUBIC's
K, the same at every rate; botocore's fixed scale of 0.4 takes ~1 s at 2 requests/s, an
environment's share under fan-out, so each environment probed, and drew a 429, every few
seconds)."""
MIN_RATE = 0.5
"""The fill rate never goes below this (requests/s)."""
SMOOTHING = 0.8
"""Weight of the newest half-second bucket in the measured rate."""
BUCKET_SECONDS = 0.5
"""Width of the buckets the send rate is measured in."""
MAX_RATE_SCALE = 2.0
"""The fill rate never exceeds this multiple of the measured rate."""
FORGET_AFTER_SECONDS = 60.0
"""A pause between two invocations of one environment longer than this forgets the learnt
rate: under a backlog the mapping invokes again within a second, so a longer pause means the
backlog ended, and the API's state after it is anyone's guess."""
SENT_RATE_SECONDS = 2.0
"""Time constant of the rate the environment really sent (answers per second, exponentially
weighted over wall time, pauses between invocations included, nothing before the limiter
existed), the most a throttle cuts from. The half-second buckets of the measured rate see an
invocation's requests leave together (three in 10 ms read as 6/s) and do not count the pauses
(`resume`), so under fan-out they overstate an environment's share several times, and a fresh
environment throttled after its first few requests was cut to 0.7 x 6/s instead of ~1/s.
Simulated fan-out when it was chosen (calibration_fanout.toml's setup, 20 requests/s, this law
against botocore's, before the simulator staggered the pollers' start): K = 12 22.6% -> 7.5%
429s, K = 4 5.4% -> 1.6%, drains +5% and +7%; measured through LocalStack since: K = 12 4.8%.
The price: one environment throttled alone is cut deeper and climbs back slower (5 requests/s:
74 s -> 85 s for 6,000 changes; 8/s: 48 s -> 52 s); unthrottled (K = 1 at 20/s) it is
unchanged."""
_EPSILON = 1e-9
"""Token shortfall treated as none (float rounding must not yield endless tiny waits)."""


class AdaptiveRateLimiter:
    """An adaptive token bucket: call `acquire(now)` before each request and
    `record(now, throttled=..., retry_after=...)` after each answer."""

    __slots__ = (
        "_bucket_start",
        "_count",
        "_drop_at",
        "_k",
        "_last_refill",
        "_last_seen",
        "_measured",
        "_paused",
        "_previous_w_max",
        "_scale",
        "_sent",
        "_sent_at",
        "_w_max",
        "capacity",
        "enabled",
        "fill_rate",
        "not_before",
        "start_rate",
        "tokens",
    )

    def __init__(self, now: float = 0.0, *, start_rate: float | None = None) -> None:
        if start_rate is not None and not start_rate > 0.0:
            raise ValueError(f"start_rate must be positive, got {start_rate!r}")
        self.start_rate = start_rate
        self._reset(now)

    def _reset(self, now: float) -> None:
        self.enabled = False
        self.fill_rate = MIN_RATE
        self.capacity = 1.0
        self.tokens = 0.0
        self.not_before = -math.inf
        self._last_refill: float | None = None
        self._measured = 0.0
        self._bucket_start = math.floor(now / BUCKET_SECONDS) * BUCKET_SECONDS
        self._count = 0
        self._paused = 0.0
        self._sent = 0.0
        self._sent_at = now
        self._w_max = 0.0
        self._previous_w_max = 0.0
        self._scale = 0.0
        self._k = 0.0
        self._drop_at = now
        self._last_seen = now
        if self.start_rate is not None:
            self._w_max = self.start_rate
            self.enabled = True
            self._set_rate(now, self.start_rate)
            self.tokens = self.capacity

    def resume(self, now: float) -> None:
        """A new invocation starts at `now`: carry on after a short pause, forget a long one."""
        pause = now - self._last_seen
        if pause > FORGET_AFTER_SECONDS:
            self._reset(now)
            return
        if pause <= 0.0:
            return
        self._drop_at += pause
        self._paused += pause  # the rate is measured on the clock without the pauses
        if self._last_refill is not None:
            self._last_refill += pause
        self._last_seen = now

    def wait_seconds(self, now: float) -> float:
        """Seconds until a request may be sent (0.0: now), without taking a token."""
        self._last_seen = max(self._last_seen, now)
        blocked = max(0.0, self.not_before - now)
        if not self.enabled:
            return blocked
        self._refill(now)
        short = 1.0 - self.tokens
        return max(blocked, short / self.fill_rate if short > _EPSILON else 0.0)

    def acquire(self, now: float) -> float:
        """Take a token and return 0.0 if a request may go now; else the seconds to wait
        before asking again (no token is taken)."""
        wait = self.wait_seconds(now)
        if wait > 0.0:
            return wait
        if self.enabled:
            self.tokens = max(0.0, self.tokens - 1.0)
        return 0.0

    def record(self, now: float, *, throttled: bool, retry_after: float | None = None) -> None:
        """Account for one answer: adapt the fill rate, honour Retry-After (seconds)."""
        self._last_seen = max(self._last_seen, now)
        measured = self._measure(now)
        if retry_after is not None and retry_after > 0:
            self.not_before = max(self.not_before, now + retry_after)
        if throttled:
            basis = min(measured, self.fill_rate) if self.enabled else measured
            basis = min(basis, self._sent)  # what it really sent, its pauses included
            new_rate = basis * BETA
            self._w_max = basis
            if basis < self._previous_w_max:  # fast convergence: give way to the others
                self._w_max = basis * (1.0 + BETA) / 2.0
            self._previous_w_max = basis
            self._scale = basis * (1.0 - BETA) / CLIMB_SECONDS**3
            self._k = ((self._w_max - new_rate) / self._scale) ** (1.0 / 3.0) if basis > 0 else 0.0
            self._drop_at = now
            self.enabled = True
        else:
            new_rate = self._scale * (now - self._drop_at - self._k) ** 3 + self._w_max
        ceiling = MAX_RATE_SCALE * measured
        if self.start_rate is not None:  # a known share: the rate, never doubted, never exceeded
            ceiling = self.start_rate
        self._set_rate(now, min(new_rate, ceiling))

    def _measure(self, now: float) -> float:
        decay = math.exp(-(now - self._sent_at) / SENT_RATE_SECONDS)
        self._sent = self._sent * decay + 1.0 / SENT_RATE_SECONDS
        self._sent_at = now
        now -= self._paused
        bucket = math.floor(now / BUCKET_SECONDS) * BUCKET_SECONDS
        self._count += 1
        if bucket > self._bucket_start:
            current = self._count / (bucket - self._bucket_start)
            self._measured = current * SMOOTHING + self._measured * (1.0 - SMOOTHING)
            self._count = 0
            self._bucket_start = bucket
        if self._measured > 0.0:
            return self._measured
        # nothing measured yet (the first bucket is still open): the answers so far, as a
        # rate over one bucket, rather than 0 (which would drop the rate to MIN_RATE)
        return self._count / BUCKET_SECONDS

    def _refill(self, now: float) -> None:
        if self._last_refill is None or now < self._last_refill:
            self._last_refill = now
            return
        self.tokens = min(self.capacity, self.tokens + (now - self._last_refill) * self.fill_rate)
        self._last_refill = now

    def _set_rate(self, now: float, rate: float) -> None:
        self._refill(now)  # tokens earned so far count at the old rate
        self.fill_rate = max(rate, MIN_RATE)
        self.capacity = max(rate, 1.0)
        self.tokens = min(self.tokens, self.capacity)
