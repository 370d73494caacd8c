"""Delivery of a plan in waves: per entity, an operation is sent only after the one before it
was applied; a failure stops the entity's later operations (they fail with it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from queue import SimpleQueue

from consumer.aggregation import Operation, Plan, encode_operation, fits_alone, pack_requests
from consumer.entity_api import THROTTLED_OPERATION_STATUS, CallStats, EntityApiClient
from consumer.flow_control.pacing import AdaptiveRateLimiter
from consumer.outcomes import ErrorCode, Outcome, OutcomeKind, bounded
from consumer.telemetry import log
from consumer.time_budget import Deadline

REQUESTS_IN_FLIGHT = 4
"""Requests of one wave sent at the same time (each wave holds distinct entities)."""
THROTTLING_STATUSES = frozenset({THROTTLED_OPERATION_STATUS})
"""Answers that slow the pace. A 503 is an outage, not a rate limit: its Retry-After holds
the requests, but it does not lower the rate (as botocore's adaptive mode)."""


PACER_PER_ENVIRONMENT = True
"""The pacing state's lifetime, one decision read by the handler and the simulator alike
(through `pacer_for_invocation`): True, one Pacer per execution environment, kept by every
invocation it serves (as botocore's adaptive client keeps its bucket for the client's life),
so an invocation under fan-out starts at the rate its environment learnt before, the pause
between invocations aged by `AdaptiveRateLimiter.resume`; False, a new one per invocation."""


class Pacer:
    """The request pace: flow_control.pacing's adaptive token bucket with the clock, the
    sleeping and a lock around it (the sender threads share one).

    Requests go out unpaced until the API throttles (or at `start_rate`, a known share of the
    API's limit); then the send rate drops and recovers as answers succeed, and a Retry-After
    holds every request until its instant. How long one lives is `PACER_PER_ENVIRONMENT`
    (`pacer_for_invocation`).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        start_rate: float | None = None,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.start_rate = start_rate
        self.limiter = AdaptiveRateLimiter(clock(), start_rate=start_rate)

    def begin_invocation(self) -> None:
        """A new invocation of the environment starts: the pause since the last one is aged
        (`AdaptiveRateLimiter.resume`)."""
        with self._lock:
            self.limiter.resume(self._clock())

    def wait_turn(self, deadline: Deadline, needed: float) -> bool:
        """Wait for a token; False (no token taken) when the wait would leave less than
        `needed` seconds before `deadline`."""
        while True:
            wait = self.next_turn(deadline, needed)
            if wait is None:
                return False
            if wait <= 0.0:
                return True
            self._sleep(wait)

    def next_turn(self, deadline: Deadline, needed: float) -> float | None:
        """`wait_turn` without sleeping (for an event-driven caller, such as the simulator):
        0.0 when a token was taken, seconds to wait before asking again, or None (no token
        taken) when that wait would leave less than `needed` seconds before `deadline`."""
        with self._lock:
            wait = self.limiter.acquire(self._clock())
            if wait <= 0.0:
                return 0.0
            if deadline.remaining() - wait < needed:
                return None
            return wait

    def record(self, status: int, retry_after: float | None) -> None:
        """Account for one answer of the API."""
        with self._lock:
            self.limiter.record(
                self._clock(), throttled=status in THROTTLING_STATUSES, retry_after=retry_after
            )


def pacer_for_invocation(kept: list[Pacer], new: Callable[[], Pacer] = Pacer) -> Pacer:
    """The Pacer one invocation uses: a new one from `new`, or with PACER_PER_ENVIRONMENT the
    one in `kept` (the execution environment's, made on its first invocation)."""
    if not PACER_PER_ENVIRONMENT:
        return new()
    if not kept:
        kept.append(new())
    else:
        kept[0].begin_invocation()
    return kept[0]


_ENVIRONMENT_PACER: list[Pacer] = []
"""This execution environment's Pacer, when PACER_PER_ENVIRONMENT."""


def deliver_plan(
    plan: Plan,
    client: EntityApiClient,
    deadline: Deadline,
    *,
    max_operations: int,
    max_bytes: int,
    stats: CallStats,
    while_sending: Callable[[], None] | None = None,
    pacer: Pacer | None = None,
) -> dict[Operation, Outcome]:
    """Send every operation of `plan`; return one outcome per operation.

    `while_sending` is called once, when the first wave is packed (so every record reached
    in time has been validated) and its requests may still be in flight. Every request of
    every wave is paced by `pacer` (`pacer_for_invocation`'s when not given).

    Wave k carries the k-th operation of every entity whose earlier operations were all
    applied, so one request never holds two operations on the same entity and no operation
    overtakes an earlier one on its entity. Requests of a wave are sent while the rest of
    the wave is still being validated, encoded and packed, up to REQUESTS_IN_FLIGHT at once.
    """
    outcomes: dict[Operation, Outcome] = {}
    active: Iterable[list[Operation]] = plan.chains()
    depth = 0
    pacer = pacer or pacer_for_invocation(_ENVIRONMENT_PACER)
    while True:
        sender = _Sender(client, deadline, stats, outcomes, pacer)
        in_wave: list[list[Operation]] = []
        wave = _encoded(active, depth, max_bytes, outcomes, in_wave=in_wave, deadline=deadline)
        for request in pack_requests(wave, max_operations, max_bytes):
            sender.submit(request)
        if while_sending is not None and depth == 0:
            while_sending()
        sender.finish()
        depth += 1
        still_active = []
        for chain in in_wave:
            outcome = outcomes[chain[depth - 1]]
            if outcome.kind != OutcomeKind.APPLIED:
                _fail_rest(chain, depth, outcome, outcomes)
            elif depth < len(chain):
                still_active.append(chain)
        if not still_active:
            return outcomes
        active = still_active


def _encoded(
    chains: Iterable[list[Operation]],
    depth: int,
    max_bytes: int,
    outcomes: dict[Operation, Outcome],
    *,
    in_wave: list[list[Operation]],
    deadline: Deadline,
) -> Iterator[Operation]:
    """The wave's sendable operations, encoded one by one; the others get their outcome.

    Chains taken part in the wave are appended to `in_wave`. Once the deadline has passed
    nothing more could be sent: the remaining chains are left unbuilt (their records retried).
    """
    for chain in chains:
        if deadline.remaining() <= 0:
            return
        if len(chain) <= depth:
            continue
        in_wave.append(chain)
        operation = chain[depth]
        problem = encode_operation(operation)
        if problem is None and not fits_alone(operation, max_bytes):
            what = "this change alone" if len(operation.records) == 1 else "these changes"
            problem = (
                f"too large to send: {what} encode(s) to a {len(operation.encoded)}-byte "
                f"operation, and no request of at most {max_bytes} bytes (MAX_REQUEST_BYTES) "
                "can carry it"
            )
        if problem is None:
            yield operation
        else:
            outcomes[operation] = Outcome(OutcomeKind.REJECTED, problem, ErrorCode.SCHEMA_VIOLATION)


class _Sender:
    """Sends the requests of one wave on up to REQUESTS_IN_FLIGHT threads."""

    def __init__(
        self,
        client: EntityApiClient,
        deadline: Deadline,
        stats: CallStats,
        outcomes: dict[Operation, Outcome],
        pacer: Pacer,
    ) -> None:
        self.client = client
        self.pacer = pacer
        self.deadline = deadline
        self.stats = stats
        self.outcomes = outcomes
        self.queue: SimpleQueue[Sequence[Operation] | None] = SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.submitted: list[Sequence[Operation]] = []
        self.closed = False

    def submit(self, request: Sequence[Operation]) -> None:
        """Queue one request; start another thread while under the limit."""
        if len(self.threads) < REQUESTS_IN_FLIGHT:
            thread = threading.Thread(target=self._work, daemon=True)
            thread.start()
            self.threads.append(thread)
        self.submitted.append(request)
        self.queue.put(request)

    def finish(self) -> None:
        """Wait until every queued request has its outcomes, or the deadline has passed.

        Socket timeouts bound each read, not a whole request: an API that trickles its answer
        could hold a request far past the deadline. Whatever has no outcome by then is
        transient, and a late answer is ignored.
        """
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join(max(self.deadline.remaining(), 0.0))
        with self.lock:
            self.closed = True
            late = Outcome(OutcomeKind.TRANSIENT, "no answer before the time budget ran out")
            for request in self.submitted:
                for operation in request:
                    self.outcomes.setdefault(operation, late)

    def _work(self) -> None:
        while (request := self.queue.get()) is not None:
            try:
                result = self.client.send(request, self.deadline, self.stats, self.pacer)
            except Exception as exc:  # noqa: BLE001 - never lose a request's outcome
                # Only the exception's type is logged: its text could quote request headers.
                log(
                    "ERROR",
                    "sending a request failed unexpectedly; its records will be retried",
                    error=type(exc).__name__,
                    operations=len(request),
                )
                failed = Outcome(OutcomeKind.TRANSIENT, f"send failed: {type(exc).__name__}")
                result = dict.fromkeys(request, failed)
            with self.lock:
                if not self.closed:
                    self.outcomes.update(result)


def _fail_rest(
    chain: list[Operation], start: int, cause: Outcome, outcomes: dict[Operation, Outcome]
) -> None:
    """Later operations of an entity share the failure of the one that failed first; the
    detail names the earlier change(s) and the cause."""
    blocker = chain[start - 1]
    changes = ", ".join(blocker.event_ids)
    code = f"{cause.error_code}: " if cause.kind == OutcomeKind.REJECTED else ""
    detail = bounded(
        f"not sent: the earlier change {changes} on this entity was {cause.kind} "
        f"({code}{cause.detail or 'no detail'})"
    )
    kind = OutcomeKind.REJECTED if cause.kind == OutcomeKind.REJECTED else OutcomeKind.TRANSIENT
    failed = Outcome(kind, detail)
    for operation in chain[start:]:
        outcomes[operation] = failed
