"""The entity API: a token bucket of R requests/s with burst B, latency, 429s, outages.

A request takes a token when it arrives; with none left it is answered 429 with Retry-After.
During an outage window every request gets the outage's status. The limit can change
mid-run. Operations of an accepted request fail on their own with the configured shares.
"""

from __future__ import annotations

import math
import random
from typing import NamedTuple

from sim.scenario import Api

APPLIED = 0
TRANSIENT = 1
REJECTED = 2


class Answer(NamedTuple):
    """The API's answer to one request."""

    status: int
    latency: float
    retry_after: float | None


class EntityApi:
    """The rate-limited API, answering requests at simulated instants."""

    def __init__(self, config: Api, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.rate = config.rate
        self.burst = config.burst
        self.tokens = config.burst
        self.updated = 0.0
        self._changes = sorted(config.rate_changes, key=lambda c: c.at)
        self._median = config.latency_median_ms / 1000
        self._per_op = config.latency_per_operation_ms / 1000
        self.requests = 0
        self.throttled = 0
        self.unavailable = 0

    def rate_at(self, now: float) -> float:
        """The limit in force at `now`."""
        rate = self.config.rate
        for change in self._changes:
            if change.at <= now:
                rate = change.rate
        return rate

    def outage_status(self, now: float) -> int | None:
        """The status every request gets at `now`, if an outage is on."""
        for outage in self.config.outages:
            if outage.start <= now < outage.start + outage.duration:
                return outage.status
        return None

    def latency(self, operations: int) -> float:
        """One request's round trip (log-normal around the median, plus a cost per operation)."""
        sigma = self.config.latency_sigma
        spread = math.exp(self.rng.gauss(0.0, sigma)) if sigma > 0 else 1.0
        return self._median * spread + self._per_op * operations

    def call(self, now: float, operations: int) -> Answer:
        """Answer a request carrying `operations` that arrives at `now`."""
        self.requests += 1
        latency = self.latency(operations)
        status = self.outage_status(now) if self.config.outages else None
        if status is not None:
            self.unavailable += 1
            after = self.config.outage_retry_after_seconds
            return Answer(status, min(latency, self._median), after or None)
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return Answer(200, latency, None)
        self.throttled += 1
        return Answer(429, min(latency, self._median), self.config.retry_after_seconds or None)

    def operation_outcomes(self, operations: int) -> list[int] | None:
        """Per operation of an accepted request: APPLIED, TRANSIENT or REJECTED (None: all
        applied, the common case, without a draw per operation)."""
        transient_share = self.config.transient_operation_share
        rejected_share = self.config.rejected_operation_share
        if transient_share <= 0 and rejected_share <= 0:
            return None
        draw = self.rng.random
        outcomes = []
        for _ in range(operations):
            x = draw()
            if x < transient_share:
                outcomes.append(TRANSIENT)
            elif x < transient_share + rejected_share:
                outcomes.append(REJECTED)
            else:
                outcomes.append(APPLIED)
        return outcomes

    def _refill(self, now: float) -> None:
        rate = self.rate_at(now) if self._changes else self.config.rate
        if rate != self.rate:
            self.rate = rate
            self.burst = max(1.0, self.config.burst * rate / self.config.rate)
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
