"""The entity API client: one request with retries, backoff and bisection (contract section 2)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, Protocol

import urllib3
from urllib3.exceptions import HTTPError

from consumer.aggregation import Operation, request_body
from consumer.outcomes import Outcome, OutcomeKind, bounded
from consumer.settings import Settings
from consumer.time_budget import Deadline

APPLIED = OutcomeKind.APPLIED
REJECTED = OutcomeKind.REJECTED
TRANSIENT = OutcomeKind.TRANSIENT

MAX_ATTEMPTS = 5
"""Attempts per request for whole-request transient answers (429, 503, 5xx, network)."""
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 2.0
REQUEST_MARGIN_SECONDS = 0.25
"""Beyond its timeout, the time a request needs left before the delivery deadline to start: a
request never starts unless it can time out and be settled in time."""
CONNECT_TIMEOUT_CAP_SECONDS = 3.0
BISECT_STATUSES = frozenset({400, 413, 422})
AUTH_STATUSES = frozenset({401, 403})
THROTTLED_OPERATION_STATUS = 429
"""The rate limit's status, the one definition of it: as a whole answer it slows the pacer
(consumer.delivery.THROTTLING_STATUSES); per operation it makes its whole answer count as
throttled, for the pacer and the `throttled` metric. A per-operation 503 does not: that
entity's store is down, and fewer requests would not cure it (docs/flow-control.md)."""
THROTTLED_ANSWER_STATUSES = frozenset({THROTTLED_OPERATION_STATUS, 503})
"""Whole answers counted in the `throttled` metric (contract section 3, "asked to slow down"):
the rate limit, or the whole API unavailable. A whole-request 503 still does not slow the
pacer (an outage, not a rate limit: consumer.delivery.THROTTLING_STATUSES)."""


@dataclass(eq=False)
class CallStats:
    """Counts of one invocation's calls to the entity API (shared by the sender threads).

    `unexpected` holds answers outside the contract (status, size, type: never the body,
    which could echo message contents); `unreachable` counts requests that got no answer,
    `unreachable_cause` says why the first did not.
    """

    requests: int = 0
    throttled: int = 0
    auth_failed: bool = False
    auth_detail: str = ""
    unexpected: set[str] = field(default_factory=set)
    unreachable: int = 0
    unreachable_cause: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answered(self, status: int, problem: str, throttled_operations: int = 0) -> None:
        """Count one answer (status 0: no answer, `problem` says why). A 200 whose results
        hold `throttled_operations` > 0 per-operation 429s counts as one throttled answer."""
        with self._lock:
            self.requests += 1
            if status == 0:
                self.unreachable += 1
                self.unreachable_cause = self.unreachable_cause or problem
            elif status in THROTTLED_ANSWER_STATUSES or throttled_operations:
                self.throttled += 1
            elif status in AUTH_STATUSES:
                self.auth_failed = True
                self.auth_detail = f"entity API answered {status}: check the token"
            elif status != 200 and status not in BISECT_STATUSES and not _retryable(status):
                self.unexpected.add(problem)


class Pacing(Protocol):
    """Client-side pacing shared by the requests of one invocation (see consumer.delivery)."""

    def wait_turn(self, deadline: Deadline, needed: float) -> bool:
        """Wait until a request may go; False when that would leave less than `needed`
        seconds before `deadline` (nothing is sent then)."""
        ...

    def record(self, status: int, retry_after: float | None) -> None:
        """Account for one answer (a 429, whole or per operation, slows the pace; Retry-After
        blocks it)."""
        ...


def classify_status(status: Any) -> OutcomeKind:
    """Per-operation status -> applied (2xx, 409), transient (408, 429, 5xx, unknown) or
    rejected (any other 4xx)."""
    if isinstance(status, bool) or not isinstance(status, int):
        return TRANSIENT
    if 200 <= status < 300 or status == 409:
        return APPLIED
    if 400 <= status < 500 and status not in (408, 429):
        return REJECTED
    return TRANSIENT


_APPLIED_OUTCOME = Outcome(APPLIED)
"""Shared by every applied operation (outcomes are never changed once made)."""


def read_results(
    body: bytes, operations: Sequence[Operation]
) -> tuple[dict[Operation, Outcome], int]:
    """(outcomes from a 200 body, how many of the operations the API answered 429: throttled);
    an unparseable body or a missing result -> transient."""
    try:
        document = json.loads(body)
        results = document["results"]
        if not isinstance(results, list):
            raise TypeError("results is not a list")
    except (ValueError, TypeError, KeyError, RecursionError):
        missing = Outcome(TRANSIENT, "entity API answered 200 with an unparseable body")
        return dict.fromkeys(operations, missing), 0
    by_id: dict[str, Any] = {}
    for result in results:
        if isinstance(result, dict) and isinstance(op_id := result.get("op_id"), str):
            by_id.setdefault(op_id, result)
    outcomes: dict[Operation, Outcome] = {}
    applied = _APPLIED_OUTCOME
    throttled = 0
    for operation in operations:
        result = by_id.get(operation.op_id)
        if result is None:
            outcomes[operation] = Outcome(TRANSIENT, "no result for this operation")
            continue
        status = result.get("status")
        if type(status) is int and (200 <= status < 300 or status == 409):
            outcomes[operation] = applied  # the common case, without the detail text
            continue
        throttled += type(status) is int and status == THROTTLED_OPERATION_STATUS
        kind = classify_status(status)
        error = result.get("error")
        detail = f"entity API status {status}" + (f": {error}" if isinstance(error, str) else "")
        outcomes[operation] = Outcome(kind, bounded(detail) if kind != APPLIED else "")
    return outcomes, throttled


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_seconds(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with equal jitter: half fixed, half random."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * float(2**attempt))
    return ceiling / 2 + ceiling / 2 * rand()


def retry_wait(
    attempt: int,
    status: int,
    retry_after: float | None,
    spare: float,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """How long to wait before trying a request again after attempt `attempt` (0-based) was
    answered `status` (0: no answer), or None when it is not tried again: the status is not
    retryable, the attempts are spent, or the wait does not fit in `spare` (the time left less
    what the next attempt needs). The wait is the API's Retry-After, else `backoff_seconds`."""
    wait = retry_after if retry_after is not None else backoff_seconds(attempt, rand)
    if not _retryable(status) or attempt + 1 >= MAX_ATTEMPTS or wait > spare:
        return None
    return wait


@lru_cache(maxsize=1)
def shared_pool() -> urllib3.PoolManager:
    """One connection pool per container, reused across invocations (no urllib3 retries)."""
    return urllib3.PoolManager(num_pools=4, maxsize=8, block=False, retries=False)


class EntityApiClient:
    """Sends operations to the batch endpoint and returns one outcome per operation."""

    def __init__(
        self,
        settings: Settings,
        pool: urllib3.PoolManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = settings.entity_api_url
        self.path = urllib3.util.parse_url(self.url).request_uri
        self.timeout_cap = settings.entity_api_timeout_seconds
        # the least time a request needs left to start: its floor timeout plus the margin; with
        # more left its timeout grows up to the setting, never past the delivery deadline
        self.request_seconds = settings.entity_api_timeout_floor + REQUEST_MARGIN_SECONDS
        self.pool = pool or shared_pool()
        self.sleep = sleep
        self.headers = {"Content-Type": "application/json", "User-Agent": "sqs-batch-consumer"}
        if settings.token:
            self.headers["Authorization"] = f"Bearer {settings.token}"

    def send(
        self,
        operations: Sequence[Operation],
        deadline: Deadline,
        stats: CallStats,
        pacer: Pacing | None = None,
    ) -> dict[Operation, Outcome]:
        """Deliver `operations` in one request (retrying, bisecting) within `deadline`;
        every attempt waits for its turn from `pacer` and reports its answer to it."""
        if stats.auth_failed:
            return dict.fromkeys(operations, Outcome(TRANSIENT, stats.auth_detail))
        body = request_body(operations)
        for attempt in range(MAX_ATTEMPTS):
            if (refusal := self._no_time(deadline, pacer)) is not None:
                return dict.fromkeys(operations, Outcome(TRANSIENT, refusal))
            status, data, retry_after, problem = self._post(body, self.timeout_for(deadline))
            outcomes, throttled = read_results(data, operations) if status == 200 else ({}, 0)
            stats.answered(status, problem, throttled)
            if pacer is not None and status != 0:
                # per-operation 429s slow the pace as a whole-request 429 does
                pacer.record(THROTTLED_OPERATION_STATUS if throttled else status, retry_after)
            if status == 200:
                return outcomes
            if status in BISECT_STATUSES:
                return self._bisect(operations, status, data, deadline, stats, pacer=pacer)
            if status in AUTH_STATUSES:
                return dict.fromkeys(operations, Outcome(TRANSIENT, stats.auth_detail))
            wait = retry_wait(
                attempt, status, retry_after, deadline.remaining() - self.request_seconds
            )
            if wait is None:
                failed = Outcome(TRANSIENT, problem, retry_after=retry_after)
                return dict.fromkeys(operations, failed)
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def timeout_for(self, deadline: Deadline) -> float:
        """The timeout of a request starting now: the setting, capped by the time left before
        `deadline` (less the margin to settle it); `_no_time` keeps it at or above the floor."""
        return max(0.001, min(self.timeout_cap, deadline.remaining() - REQUEST_MARGIN_SECONDS))

    def _no_time(self, deadline: Deadline, pacer: Pacing | None) -> str | None:
        """Why no attempt may start now (None: it may): too little time left, or none left
        once the pace allows it."""
        if deadline.remaining() < self.request_seconds:
            return "time budget exhausted"
        if pacer is not None and not pacer.wait_turn(deadline, self.request_seconds):
            return "time budget exhausted while pacing requests after throttling"
        return None

    def _bisect(
        self,
        operations: Sequence[Operation],
        status: int,
        data: bytes,
        deadline: Deadline,
        stats: CallStats,
        *,
        pacer: Pacing | None,
    ) -> dict[Operation, Outcome]:
        if len(operations) == 1:
            reason = bounded(f"entity API answered {status} to this operation alone: {_text(data)}")
            return {operations[0]: Outcome(REJECTED, reason)}
        middle = len(operations) // 2
        outcomes = self.send(operations[:middle], deadline, stats, pacer)
        outcomes.update(self.send(operations[middle:], deadline, stats, pacer))
        return outcomes

    def _post(self, body: bytes, longest: float) -> tuple[int, bytes, float | None, str]:
        """(status, body, Retry-After seconds, problem) of one POST that may take at most
        `longest` seconds; status 0 for a network failure.

        `problem` never quotes the answer's body (it is logged, and an API may echo input).
        """
        # total: a slow connect and a slow answer together stay within the timeout
        timeout = urllib3.Timeout(
            connect=min(CONNECT_TIMEOUT_CAP_SECONDS, longest), read=longest, total=longest
        )
        try:
            response = self.pool.connection_from_url(self.url).urlopen(
                "POST",
                self.path,
                body=body,
                headers=self.headers,
                timeout=timeout,
                retries=False,
                redirect=False,
            )
        except (HTTPError, OSError) as exc:
            return 0, b"", None, bounded(f"entity API unreachable: {type(exc).__name__}: {exc}")
        if response.status == 200:
            return 200, response.data, None, ""
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        kind = response.headers.get("Content-Type") or "no content type"
        problem = (
            f"entity API answered {response.status} "
            f"({len(response.data)} bytes, {kind}; body not logged)"
        )
        return response.status, response.data, retry_after, bounded(problem)


def _retryable(status: int) -> bool:
    return status == 0 or status in (408, 429) or 500 <= status < 600


def _text(data: bytes, limit: int = 300) -> str:
    return data[:limit].decode("utf-8", "replace").strip() or "(empty body)"
