"""Lambda running the handler: execution environments, cold starts, the handler's decisions.

The handler's policy is the project's own code: `pack_requests` (through sim.packing), the
entity API client's decision to try a request again and how long to wait (`retry_wait`: its
attempts, backoff and Retry-After, as `EntityApiClient.send` decides;
`REQUEST_MARGIN_SECONDS`), the time budget (`SAFETY_MARGIN_SECONDS`, `DLQ_RESERVE_SECONDS`),
`REQUESTS_IN_FLIGHT`, the handler's own pacing object (`consumer.delivery.Pacer` on the
simulated clock, with the lifetime `pacer_for_invocation` gives it and the throttling statuses
it reads), the handler's request counts (`CallStats`, the EMF `requests` and `throttled`), the
visibility backoff with the retry horizon (`schedule_retry`, given the failed request's
Retry-After as the handler passes it) and, on the receive that reached the redrive limit, the
delayed copy instead of the visibility (`returns_as_copy`). What is modelled rather than run:
parsing and validation (a cost per record and a share of invalid records), and coalescing
(records of one entity in a batch become one operation, as consecutive updates do).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import add, itemgetter

from consumer import delivery
from consumer.entity_api import REQUEST_MARGIN_SECONDS, CallStats, retry_wait
from consumer.flow_control import backoff
from consumer.sqs import DLQ_RESERVE_SECONDS
from consumer.time_budget import SAFETY_MARGIN_SECONDS, Deadline
from consumer.visibility import MAX_DELAY_SECONDS
from sim import draws, sqs
from sim.cores import Cores
from sim.entity_api import APPLIED, REJECTED, TRANSIENT, Answer, EntityApi
from sim.esm import Slot
from sim.loop import Loop
from sim.packing import request_sizes
from sim.scenario import Scenario
from sim.sqs import Queue, calls_for

NOT_SENT = 3
_CREATED = itertools.count()
"""Numbers environments in creation order, process-wide (runs may hand them on)."""
_RETRIED, _COPIED, _EXPIRED = 0, 1, 2
"""What `_retry_plan` decided for a failed record."""
RetryPlans = tuple[Sequence[int], list[int], Sequence[int], list[int]]
"""(records to retry through their visibility, their delays, records to re-send as a delayed
copy, their delays)."""


class Environment:
    """A Lambda execution environment: what the handler keeps at module level lives here
    (the Pacer, when `pacer_for_invocation` keeps one per environment)."""

    __slots__ = ("created", "pacers")

    def __init__(self) -> None:
        self.pacers: list[delivery.Pacer] = []
        self.created = next(_CREATED)
        """Creation order, across runs that hand environments on (LocalStack's choice)."""


class SimulatedDeadline(Deadline):
    """The handler's Deadline on the simulated clock."""

    def __init__(self, at: float, clock: Callable[[], float]) -> None:
        super().__init__(0.0)
        self._sim_at = at
        self._sim_clock = clock

    def remaining(self) -> float:
        """Seconds left (negative once passed), in simulated time."""
        return self._sim_at - self._sim_clock()


class Invocation:
    """One batch being handled."""

    __slots__ = (
        "budget",
        "dead_letters",
        "deadline",
        "environment",
        "invalid",
        "lanes",
        "messages",
        "next_request",
        "operations",
        "outcome",
        "pacer",
        "plain",
        "received",
        "requests",
        "retry_after",
        "slot",
        "started",
        "stats",
    )

    def __init__(
        self, slot: Slot, messages: Sequence[int], received: float, environment: Environment
    ) -> None:
        self.slot = slot
        self.messages = messages
        self.received = received
        self.started = received
        self.deadline = 0.0
        self.dead_letters = (0, 0, 0)
        """(invalid, rejected, expired) records it sends to the DLQ, counted when it returns."""
        self.budget: SimulatedDeadline | None = None
        """`deadline` as the handler's Deadline, for the Pacer (made on first use)."""
        self.environment = environment
        self.pacer: delivery.Pacer | None = None
        self.stats = CallStats()
        self.retry_after: dict[int, float] = {}
        """Request index -> the Retry-After of its last answer, for a request that failed."""
        self.invalid: list[int] = []
        self.operations: list[list[int]] = []
        self.plain = False
        """Every record valid and of its own entity: operation i is `[messages[i]]` (and
        `operations` is left empty)."""
        self.outcome = bytearray()
        self.requests: list[tuple[int, int]] = []
        self.next_request = 0
        self.lanes = 0


@dataclass
class Counters:
    """What the function did, for the report and CloudWatch."""

    invocations: int = 0
    cold_starts: int = 0
    billed_ms: int = 0
    timeouts: int = 0
    requests: int = 0
    throttled: int = 0
    applied: int = 0
    invalid_to_dlq: int = 0
    rejected_to_dlq: int = 0
    expired_to_dlq: int = 0
    retried: int = 0
    copied: int = 0
    """Records re-sent as a delayed copy at the redrive limit (their originals acknowledged)."""
    by_second: dict[int, list[int]] = field(default_factory=dict)
    """second -> [requests, throttled] as the EMF lines of invocations ending in it."""


class Function:
    """The consumer function: runs invocations for the event source mapping."""

    def __init__(
        self,
        loop: Loop,
        queue: Queue,
        api: EntityApi,
        scenario: Scenario,
        *,
        rng: random.Random,
        finished: Callable[[Slot, float], None],
        on_answer: Callable[[float, int], None],
        cores: Cores | None = None,
    ) -> None:
        self.loop = loop
        self.queue = queue
        self.api = api
        self.stack = scenario.stack
        self.runtime = scenario.runtime
        self.traffic = scenario.traffic
        self.rng = rng
        self.finished = finished
        self.on_answer = on_answer
        self.free: list[Environment] = []
        self.counters = Counters()
        self.request_reserve = api.config.request_timeout_seconds + REQUEST_MARGIN_SECONDS
        self.per_record = self.runtime.per_record_ms / 1000
        self.cores = cores or Cores(0)
        """The host's cores a cold start shares (none on AWS)."""

    # ---- start ---------------------------------------------------------------------------
    def invoke(self, slot: Slot, messages: Sequence[int], now: float) -> None:
        """The mapping invokes the function with `messages` at `now`."""
        counters = self.counters
        counters.invocations += 1
        if self.free:
            environment, start = self._warm(), now
        else:
            counters.cold_starts += 1
            environment = Environment()
            start = self.cores.done(now, self.runtime.cold_start_seconds)
        invocation = Invocation(slot, messages, now, environment)
        invocation.started = start
        timeout_at = start + self.stack.function_timeout
        invocation.deadline = timeout_at - SAFETY_MARGIN_SECONDS - DLQ_RESERVE_SECONDS
        if self.stack.pacing:
            invocation.pacer = delivery.pacer_for_invocation(environment.pacers, self._new_pacer)
        ready = start + self.runtime.invocation_overhead_seconds + self.per_record * len(messages)
        self._plan(invocation)
        operation_count = len(messages) if invocation.plain else len(invocation.operations)
        sizes = request_sizes(
            operation_count,
            self.traffic.operation_bytes,
            self.stack.max_operations_per_request,
            self.stack.max_request_bytes,
        )
        first = 0
        for size in sizes:
            invocation.requests.append((first, size))
            first += size
        invocation.outcome = bytearray([NOT_SENT]) * operation_count
        invocation.lanes = min(delivery.REQUESTS_IN_FLIGHT, len(sizes))
        if invocation.lanes == 0:
            self.loop.at(ready, self._settle, invocation)
        for _ in range(invocation.lanes):
            self.loop.at(ready, self._next_request, invocation)

    def _warm(self) -> Environment:
        """A free warm environment: the one freed last, or LocalStack's first created."""
        free = self.free
        if not self.runtime.oldest_environment_first:
            return free.pop()
        oldest = min(range(len(free)), key=lambda i: free[i].created)
        return free.pop(oldest)

    def _plan(self, invocation: Invocation) -> None:
        """Invalid records aside; the rest grouped by entity, one operation per entity."""
        queue = self.queue
        valid, entity = queue.valid, queue.entity
        messages = invocation.messages
        run = sqs.as_run(messages)
        if len(set(queue.entities(messages, run))) == len(messages) and queue.all_valid(
            messages, run
        ):
            invocation.plain = True  # nothing to coalesce: `operations` stays empty
            return
        groups: dict[int, list[int]] = {}
        for message in invocation.messages:
            if valid[message]:
                key = entity[message]
                group = groups.get(key)
                if group is None:
                    groups[key] = [message]
                else:
                    group.append(message)
            else:
                invocation.invalid.append(message)
        invocation.operations = list(groups.values())

    # ---- requests ----------------------------------------------------------------------------
    def _next_request(self, now: float, invocation: Invocation) -> None:
        if invocation.next_request >= len(invocation.requests):
            invocation.lanes -= 1
            if invocation.lanes == 0:
                self._settle(now, invocation)
            return
        index = invocation.next_request
        invocation.next_request += 1
        self._attempt(now, (invocation, index, 0))

    def _attempt(self, now: float, argument: tuple[Invocation, int, int]) -> None:
        invocation, index, attempt = argument
        if invocation.deadline - now < self.request_reserve:
            self._next_request(now, invocation)  # time budget exhausted: stays NOT_SENT
            return
        if invocation.pacer is not None:
            if invocation.budget is None:
                invocation.budget = SimulatedDeadline(invocation.deadline, self.loop.clock)
            wait = invocation.pacer.next_turn(invocation.budget, self.request_reserve)
            if wait is None:  # no turn within the time budget: stays NOT_SENT
                self._next_request(now, invocation)
                return
            if wait > 0.0:
                self.loop.at(now + wait, self._attempt, argument)
                return
        size = invocation.requests[index][1]
        answer = self.api.call(now, size)
        self.loop.at(now + answer.latency, self._answered, (invocation, index, attempt, answer))

    def _answered(self, now: float, argument: tuple[Invocation, int, int, Answer]) -> None:
        invocation, index, attempt, answer = argument
        status, retry_after = answer.status, answer.retry_after
        invocation.stats.answered(status, "")
        self.on_answer(now, status)
        if invocation.pacer is not None:
            invocation.pacer.record(status, retry_after)
        first, size = invocation.requests[index]
        if status == 200:
            outcomes = self.api.operation_outcomes(size)
            if outcomes is None:
                invocation.outcome[first : first + size] = bytes(size)  # all APPLIED (0)
            else:
                invocation.outcome[first : first + size] = bytes(outcomes)
            self._next_request(now, invocation)
            return
        spare = invocation.deadline - now - self.request_reserve
        wait = retry_wait(attempt, status, retry_after, spare, self.rng.random)
        if wait is None:
            invocation.outcome[first : first + size] = bytes([TRANSIENT]) * size
            if retry_after is not None:
                invocation.retry_after[index] = retry_after
            self._next_request(now, invocation)
            return
        self.loop.at(now + wait, self._attempt, (invocation, index, attempt + 1))

    def _new_pacer(self) -> delivery.Pacer:
        return delivery.Pacer(clock=self.loop.clock, sleep=_never_sleep)

    # ---- the end of an invocation ------------------------------------------------------------
    def _settle(self, now: float, invocation: Invocation) -> None:
        """DLQ sends, visibility changes, the response; the mapping deletes the successes."""
        counters, queue = self.counters, self.queue
        if now - invocation.started > self.stack.function_timeout:
            self._timed_out(invocation)
            return
        done, to_dlq, failed, retry_after = self._sort_outcomes(invocation)
        invalid, dead_before_plan = len(invocation.invalid), len(to_dlq)
        retried, delays, copied, copy_delays = self._retry_plan(now, failed, retry_after, to_dlq)
        invocation.dead_letters = (
            invalid,
            dead_before_plan - invalid,
            len(to_dlq) - dead_before_plan,
        )
        end = now
        sqs_calls = 0
        call_seconds = self.runtime.sqs_call_seconds
        if to_dlq:
            sqs_calls += calls_for(len(to_dlq), len(to_dlq) * queue.message_bytes)
            end += call_seconds
        if (retried or copied) and self.stack.visibility_backoff:
            sqs_calls += 1  # GetQueueAttributes: the redrive limit, once per invocation
            end += call_seconds
        if copied:
            calls = calls_for(len(copied), len(copied) * queue.message_bytes)
            end += call_seconds * calls  # SendMessageBatch (queue.requeue bills it)
        copy_at = _after(end, copy_delays)
        if retried and self.stack.visibility_backoff:
            calls = calls_for(len(retried))
            end += call_seconds * calls
            retry_at = _after(end, delays)
            sqs_calls += calls
        else:  # reported as failures: visible again when the visibility timeout runs out
            retry_at = [invocation.received + queue.visibility_timeout] * len(retried)
        counters.retried += len(retried)
        counters.copied += len(copied)
        queue.requests += sqs_calls
        counters.billed_ms += math.ceil((end - invocation.received) * 1000)
        stats = invocation.stats
        second = counters.by_second.setdefault(int(end), [0, 0])
        second[0] += stats.requests
        second[1] += stats.throttled
        counters.requests += stats.requests
        counters.throttled += stats.throttled
        self.loop.at(
            end, self._returned, (invocation, done, to_dlq, retried, retry_at, copied, copy_at)
        )

    def _timed_out(self, invocation: Invocation) -> None:
        """Lambda stopped the function: nothing is deleted, every record comes back after the
        visibility timeout. (The handler's time budget should make this impossible; a batch
        whose per-record cost alone exceeds the timeout shows it.)"""
        counters, queue = self.counters, self.queue
        counters.timeouts += 1
        end = invocation.started + self.stack.function_timeout
        counters.billed_ms += math.ceil((end - invocation.received) * 1000)
        messages = invocation.messages
        retry_at = [invocation.received + queue.visibility_timeout] * len(messages)
        counters.retried += len(messages)
        self.loop.at(end, self._returned, (invocation, [], [], messages, retry_at, [], []))

    def _sort_outcomes(
        self, invocation: Invocation
    ) -> tuple[Sequence[int], list[int], Sequence[int], list[float | None]]:
        """(applied, for the DLQ, failed transiently, the failed ones' Retry-After) records of
        the invocation (the Retry-After of the failed request's last answer, as the handler's
        outcome carries it; None for a record never sent or failed operation by operation)."""
        done: list[int] = []
        to_dlq: list[int] = list(invocation.invalid)
        failed: list[int] = []
        retry_after: list[float | None] = []
        outcomes, after = invocation.outcome, invocation.retry_after
        if not outcomes.strip(bytes([APPLIED])):  # every operation applied: the common case
            return _records(invocation, 0, len(outcomes)), to_dlq, failed, retry_after
        if len(invocation.requests) == 1 and not outcomes.strip(bytes([NOT_SENT, TRANSIENT])):
            # its one request failed as a whole (a storm's 429): the records as they came
            records = _records(invocation, 0, len(outcomes))
            return done, to_dlq, records, [after.get(0)] * len(records)
        for index, (first, size) in enumerate(invocation.requests):
            seconds = after.get(index)
            end = first + size
            applied = outcomes.count(APPLIED, first, end)
            if applied == size:
                done.extend(_records(invocation, first, end))
                continue
            if applied == 0 and outcomes.count(REJECTED, first, end) == 0:  # none went through
                records = _records(invocation, first, end)
                failed.extend(records)
                retry_after.extend([seconds] * len(records))
                continue
            for position in range(first, end):
                operation = _records(invocation, position, position + 1)
                outcome = outcomes[position]
                if outcome == APPLIED:
                    done.extend(operation)
                elif outcome == REJECTED:
                    to_dlq.extend(operation)
                else:
                    failed.extend(operation)
                    retry_after.extend([seconds] * len(operation))
        return done, to_dlq, failed, retry_after

    def _retry_plan(
        self, now: float, failed: Sequence[int], retry_after: list[float | None], to_dlq: list[int]
    ) -> RetryPlans:
        """(records to retry through their visibility, their delays, records to re-send as a
        delayed copy, their delays); expired ones join `to_dlq`.

        Without visibility backoff (the handler before flow control) every failed record waits
        out the visibility timeout: no horizon, no copy (delays are unused)."""
        if not failed or not self.stack.visibility_backoff:
            return failed, [], [], []
        if None not in retry_after:
            return self._retry_plan_by_key(now, failed, retry_after, to_dlq)
        queue = self.queue
        now_ms = math.floor(now * 1000)
        sent_at, counts, earlier = queue.sent_at, queue.receive_count, queue.earlier_attempts
        draw = self.rng.random
        known: list[tuple[int, int]] = []
        plans: dict[tuple[int, int, int, float], tuple[int, int]] = {}
        """(attempts, first send ms, receive count, Retry-After) -> (kind, delay) for records
        given a Retry-After: `schedule_retry` does not read the draw then (a test holds it),
        so one call serves every record of the key; each record still takes its draw."""
        for message, seconds in zip(failed, retry_after, strict=True):
            count = counts[message]
            attempts = earlier[message] + count
            sent_ms = math.floor(sent_at[message] * 1000)
            record_draw = draw()
            if seconds is None:
                known.append(
                    self._one_plan(attempts, sent_ms, count, None, now_ms=now_ms, draw=record_draw)
                )
                continue
            key = (attempts, sent_ms, count, seconds)
            plan = plans.get(key)
            if plan is None:
                plan = plans[key] = self._one_plan(*key, now_ms=now_ms, draw=record_draw)
            known.append(plan)
        return self._by_kind(failed, known, to_dlq)

    def _retry_plan_by_key(
        self, now: float, failed: Sequence[int], retry_after: list[float | None], to_dlq: list[int]
    ) -> RetryPlans:
        """`_retry_plan` when every failed record has a Retry-After: one `schedule_retry` call
        per (attempts, first send ms, receive count, Retry-After), the records' draws skipped
        unread (the shipped function does not read them then; a test holds it)."""
        queue = self.queue
        now_ms = math.floor(now * 1000)
        draws.skip(self.rng, len(failed))
        run = sqs.as_run(failed)
        counts, earlier, sent_at = queue.retry_fields(failed, run)
        if _same(counts) and _same(earlier) and _same(sent_at) and _same(retry_after):
            # the common case: a request's records, sent together, received as often
            key = (earlier[0] + counts[0], math.floor(sent_at[0] * 1000), counts[0], retry_after[0])
            return self._by_kind(failed, [self._one_plan(*key, now_ms=now_ms, draw=0.0)], to_dlq)
        attempts = map(add, earlier, counts)
        sent_ms = map(math.floor, map((1000.0).__mul__, sent_at))
        keys = list(zip(attempts, sent_ms, counts, retry_after, strict=True))
        plans = {key: self._one_plan(*key, now_ms=now_ms, draw=0.0) for key in dict.fromkeys(keys)}
        return self._by_kind(failed, list(map(plans.__getitem__, keys)), to_dlq)

    def _one_plan(
        self,
        attempts: int,
        sent_ms: int,
        receive_count: int,
        retry_after: float | None,
        *,
        now_ms: int,
        draw: float,
    ) -> tuple[int, int]:
        """(kind, delay) for one failed record, as the handler's `schedule_retry` and
        `returns_as_copy` decide."""
        stack = self.stack
        plan = backoff.schedule_retry(
            attempts,
            sent_ms,
            now_ms,
            horizon_seconds=stack.retry_horizon_seconds,
            base=stack.retry_backoff_base_seconds,
            cap=stack.retry_backoff_max_seconds,
            draw=draw,
            retry_after=retry_after,
        )
        if plan.expired:
            return (_EXPIRED, 0)
        if backoff.returns_as_copy(receive_count, self.queue.max_receive_count):
            return (_COPIED, min(plan.visibility_seconds, MAX_DELAY_SECONDS))
        return (_RETRIED, plan.visibility_seconds)

    def _by_kind(
        self, failed: Sequence[int], known: list[tuple[int, int]], to_dlq: list[int]
    ) -> RetryPlans:
        """(retried, their delays, copied, their delays) from each failed record's (kind,
        delay), or one (kind, delay) for all; expired ones join `to_dlq`."""
        if len(known) == 1:  # one plan for all: no list of plans, no pass over them
            kind, delay = known[0]
            if kind == _RETRIED:
                return failed, [delay] * len(failed), [], []
            if kind == _COPIED:
                return [], [], failed, [delay] * len(failed)
            known = known * len(failed)
        kinds = {kind for kind, _ in set(known)}  # the distinct plans: a few
        if kinds == {_RETRIED}:
            return failed, list(map(itemgetter(1), known)), [], []
        if kinds == {_COPIED}:
            return [], [], failed, list(map(itemgetter(1), known))
        retried: list[int] = []
        delays: list[int] = []
        copied: list[int] = []
        copy_delays: list[int] = []
        for message, (kind, delay) in zip(failed, known, strict=True):
            if kind == _RETRIED:
                retried.append(message)
                delays.append(delay)
            elif kind == _COPIED:
                copied.append(message)
                copy_delays.append(delay)
            else:
                to_dlq.append(message)
        return retried, delays, copied, copy_delays

    def _returned(
        self,
        now: float,
        argument: tuple[
            Invocation,
            Sequence[int],
            list[int],
            Sequence[int],
            list[float],
            Sequence[int],
            list[float],
        ],
    ) -> None:
        invocation, done, to_dlq, retried, retry_at, copied, copy_at = argument
        queue, counters = self.queue, self.counters
        # counted when the deletes happen: a run cut before an invocation returns counts its
        # records where the queue has them, still in flight
        invalid, rejected, expired = invocation.dead_letters
        counters.invalid_to_dlq += invalid
        counters.rejected_to_dlq += rejected
        counters.expired_to_dlq += expired
        counters.applied += len(done)
        if retried:
            queue.release_after(retried, retry_at, 0)
        if copied:
            queue.requeue(now, copied, copy_at)
        if to_dlq:
            queue.delete(now, to_dlq, sqs.DLQ_BY_HANDLER)
        if done:
            queue.delete(now, done, sqs.APPLIED)
        self.free.append(invocation.environment)
        self.finished(invocation.slot, now)


def _records(invocation: Invocation, first: int, end: int) -> Sequence[int]:
    """The records of operations [first, end) of the invocation, in order."""
    if invocation.plain:
        return invocation.messages[first:end]
    return list(itertools.chain.from_iterable(invocation.operations[first:end]))


def _after(end: float, delays: list[int]) -> list[float]:
    """`end + delay` for each delay (one addition when they are all equal, the common case)."""
    if delays and _same(delays):
        return [end + delays[0]] * len(delays)
    return [end + delay for delay in delays]


def _same(values: Sequence[object]) -> bool:
    """Whether all values are equal."""
    return values.count(values[0]) == len(values)


def _never_sleep(seconds: float) -> None:
    """The simulated Pacer never sleeps: the simulator asks `next_turn` and schedules."""
    raise AssertionError(f"the simulated Pacer was asked to sleep {seconds} s")
