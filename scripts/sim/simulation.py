"""One simulation run: producers -> queue -> event source mapping -> function -> entity API,
with the governor when enabled; returns the figures of the report and a timeline."""

from __future__ import annotations

import random
import time
from array import array
from dataclasses import dataclass, field

import numpy as np

from sim import cost, draws
from sim.cores import Cores
from sim.entity_api import EntityApi
from sim.esm import EventSourceMapping, Slot
from sim.function import Function
from sim.governor import MINUTE, Change, CloudWatch, GovernorRunner
from sim.loop import Loop
from sim.scenario import Burst, Scenario, ScenarioError, aws_refuses
from sim.sqs import Queue


@dataclass
class Timeline:
    """Samples every `scenario.sample_seconds`."""

    at: list[float] = field(default_factory=list)
    backlog: list[int] = field(default_factory=list)
    """Messages sent and not finished (visible, hidden or in flight)."""
    concurrency: list[int] = field(default_factory=list)
    maximum: list[int] = field(default_factory=list)
    requests_per_second: list[float] = field(default_factory=list)
    throttled_per_second: list[float] = field(default_factory=list)
    """429 answers per second."""
    oldest_age: list[float] = field(default_factory=list)


@dataclass
class Result:
    """The figures of one run."""

    label: str
    scenario: Scenario
    drain_seconds: float | None
    """From the first arrival to the last message finished (None: not within the run)."""
    bound_seconds: float
    requests: int
    answers_429: int
    max_oldest_age: float
    valid_in_dlq: int
    expired: int
    redriven_valid: int
    invalid_in_dlq: int
    rejected_in_dlq: int
    lost_to_retention: int
    still_queued: int
    applied: int
    invocations: int
    cold_starts: int
    gb_seconds: float
    lambda_cost: float
    sqs_requests: int
    sqs_cost: float
    double_deletes: int
    timeouts: int
    peak_concurrency: int
    events: int
    wall_seconds: float
    timeline: Timeline
    changes: list[Change]
    recovery_seconds: float | None = None
    """After the first drop of the API's limit: until the 429 share stays under target."""
    copies: int = 0
    """Delayed copies the handler sent at the redrive limit (each the same change)."""

    @property
    def share_429(self) -> float:
        """429 answers / requests."""
        return self.answers_429 / self.requests if self.requests else 0.0

    @property
    def events_per_second(self) -> float:
        """Simulated events per wall-clock second."""
        return self.events / self.wall_seconds if self.wall_seconds > 0 else 0.0


class Simulation:
    """Wires the parts together and runs them."""

    def __init__(self, scenario: Scenario, label: str = "", loop: Loop | None = None) -> None:
        """`loop`: an event loop to continue (runs in turn sharing one clock); a new one else."""
        problem = aws_refuses(scenario.stack)
        if problem is not None and not scenario.runtime.single_poller:  # LocalStack accepts it
            raise ScenarioError(f"{label or scenario.name}: {problem}")
        self.scenario = scenario
        self.label = label or scenario.name
        self.uniforms = draws.Uniforms(random.Random(scenario.seed))
        """The producers' draws: entities and validity."""
        self.loop = loop or Loop()
        stack = scenario.stack
        self.queue = Queue(
            visibility_timeout=stack.visibility_timeout,
            max_receive_count=stack.max_receive_count,
            retention_seconds=stack.message_retention_seconds,
            message_bytes=scenario.traffic.message_bytes,
            on_visible=self._on_visible,
            schedule=self.loop.at,
        )
        self.api = EntityApi(scenario.api, random.Random(scenario.seed + 1))
        cores = Cores(scenario.runtime.host_cores)
        self.function = Function(
            self.loop,
            self.queue,
            self.api,
            scenario,
            rng=random.Random(scenario.seed + 2),
            finished=self._finished,
            on_answer=self._answered,
            cores=cores,
        )
        self.esm = EventSourceMapping(
            self.loop, self.queue, stack, scenario.runtime, self.function.invoke, cores=cores
        )
        self.cloudwatch = CloudWatch(
            scenario.governor,
            random.Random(scenario.seed + 3),
            by_second=self.function.counters.by_second,
        )
        self.governor: GovernorRunner | None = None
        if scenario.governor.enabled and not scenario.runtime.single_poller:
            self.governor = GovernorRunner(
                self.loop,
                scenario.governor,
                cloudwatch=self.cloudwatch,
                queue=self.queue,
                start_concurrency=stack.maximum_concurrency,
                apply=self.esm.set_maximum,
            )
        self.timeline = Timeline()
        self.total = scenario.changes
        self.sent = 0
        self.first_arrival: float | None = None
        self.drained_at: float | None = None
        self._requests = 0
        self._answers_429 = 0
        self.max_oldest_age = 0.0

    # ---- callbacks ---------------------------------------------------------------------------
    def _on_visible(self, now: float) -> None:
        self.esm.on_visible(now)

    def _answered(self, now: float, status: int) -> None:
        self._requests += 1
        if status == 429:
            self._answers_429 += 1

    def _finished(self, slot: Slot, now: float) -> None:
        self.esm.finished(slot, now)
        self._check_drained()

    def _check_drained(self) -> None:
        if self.sent == self.total and self.queue.unfinished == 0 and self.drained_at is None:
            self.drained_at = self.queue.last_finished_at
            self.loop.stop()

    # ---- producers -----------------------------------------------------------------------------
    def _arrive(self, now: float, argument: tuple[Burst, int]) -> None:
        """Release the burst's messages due by the end of this tick."""
        burst, sent = argument
        traffic = self.scenario.traffic
        tick = traffic.tick_seconds
        if now + tick >= burst.start + burst.duration:
            target = burst.count
        else:
            target = min(
                burst.count, int((now + tick - burst.start) / burst.duration * burst.count)
            )
        count = target - sent
        if count > 0:
            if self.first_arrival is None:
                self.first_arrival = now
            share = traffic.invalid_share
            # what rng.choices(range(entities), k=count) draws, without indexing the range
            spread = float(traffic.entities)
            entities = array(
                "q", np.floor(self.uniforms.take(count) * spread).astype(np.int64).tobytes()
            )
            if share > 0:
                valid = (self.uniforms.take(count) >= share).astype(np.uint8).tobytes()
            else:
                valid = b"\x01" * count
            self.sent += count
            self.queue.send(now, entities, valid, traffic.delay_seconds)
        if target < burst.count:
            self.loop.at(now + tick, self._arrive, (burst, target))

    # ---- sampling ------------------------------------------------------------------------------
    def _sample(self, now: float, _: object = None) -> None:
        step = self.scenario.sample_seconds
        self.loop.at(now + step, self._sample)
        timeline = self.timeline
        oldest = self.queue.oldest_age(now)
        self.max_oldest_age = max(self.max_oldest_age, oldest)
        timeline.at.append(now)
        timeline.backlog.append(self.queue.unfinished)
        timeline.concurrency.append(self.esm.busy)
        timeline.maximum.append(self.esm.maximum)
        timeline.requests_per_second.append(self._requests / step)
        timeline.throttled_per_second.append(self._answers_429 / step)
        timeline.oldest_age.append(oldest)
        self._requests = self._answers_429 = 0
        self._check_drained()

    # ---- run -------------------------------------------------------------------------------------
    def run(self) -> Result:
        """Simulate until everything is finished or `max_duration_seconds` has passed."""
        started = time.perf_counter()
        self.start()
        self.loop.run(self.scenario.max_duration_seconds)
        final = self.loop.now
        self.max_oldest_age = max(self.max_oldest_age, self.queue.oldest_age(final))
        return self._result(time.perf_counter() - started)

    def start(self) -> None:
        """Schedule the arrivals, the mapping, the governor and the samplers (`run` does this;
        tests call it to step the loop themselves)."""
        scenario = self.scenario
        for burst in scenario.traffic.bursts:
            if burst.count > 0:
                self.loop.at(burst.start, self._arrive, (burst, 0))
        self.esm.start(0.0)
        if self.governor is not None:
            self.governor.start(0.0)
        self.loop.at(0.0, self._sample)

    def _result(self, wall: float) -> Result:
        scenario, queue, counters = self.scenario, self.queue, self.function.counters
        first = self.first_arrival or 0.0
        drain = None if self.drained_at is None else self.drained_at - first
        memory_gb = scenario.stack.memory_size / 1024
        gb_seconds = counters.billed_ms / 1000 * memory_gb
        valid_in_dlq = counters.expired_to_dlq + queue.redriven_valid
        return Result(
            label=self.label,
            scenario=scenario,
            drain_seconds=drain,
            bound_seconds=scenario.physical_bound,
            requests=self.api.requests,
            answers_429=self.api.throttled,
            max_oldest_age=self.max_oldest_age,
            valid_in_dlq=valid_in_dlq,
            expired=counters.expired_to_dlq,
            redriven_valid=queue.redriven_valid,
            invalid_in_dlq=counters.invalid_to_dlq + queue.redriven_invalid,
            rejected_in_dlq=counters.rejected_to_dlq,
            lost_to_retention=queue.lost_to_retention,
            still_queued=queue.unfinished + (self.total - self.sent),
            applied=counters.applied,
            invocations=counters.invocations,
            cold_starts=counters.cold_starts,
            gb_seconds=gb_seconds,
            lambda_cost=cost.lambda_cost(
                counters.invocations, gb_seconds, scenario.stack.architecture
            ),
            sqs_requests=queue.requests,
            sqs_cost=cost.sqs_cost(queue.requests),
            double_deletes=queue.double_deletes,
            timeouts=counters.timeouts,
            peak_concurrency=self.esm.peak_busy,
            events=self.loop.events,
            wall_seconds=wall,
            timeline=self.timeline,
            changes=self.governor.changes if self.governor else [],
            recovery_seconds=recovery_after_drop(self.timeline, scenario),
            copies=queue.copies,
        )


def recovery_after_drop(timeline: Timeline, scenario: Scenario) -> float | None:
    """Seconds from the first drop of the API's limit to the end of the first 1-minute period
    (CloudWatch's, aligned to the minute) after it whose 429 share is at or under the
    governor's target (None without a drop, or if no such period comes)."""
    drops = [c.at for c in scenario.api.rate_changes if c.rate < scenario.api.rate]
    if not drops or not timeline.at:
        return None
    drop = min(drops)
    requests: dict[int, float] = {}
    throttled: dict[int, float] = {}
    step = scenario.sample_seconds
    for at, rate, throttle_rate in zip(
        timeline.at, timeline.requests_per_second, timeline.throttled_per_second, strict=True
    ):
        minute = int((at - step / 2) // MINUTE)  # the sample counts the step before `at`
        requests[minute] = requests.get(minute, 0.0) + rate * step
        throttled[minute] = throttled.get(minute, 0.0) + throttle_rate * step
    target = scenario.governor.target_throttle_ratio
    first = int(drop // MINUTE)
    for minute in sorted(m for m in requests if m >= first):
        if requests[minute] > 0 and throttled[minute] / requests[minute] <= target:
            if minute == first and throttled[minute] == 0:
                continue  # the minute of the drop before any throttling: not a recovery
            return (minute + 1) * MINUTE - drop
    return None


def run(scenario: Scenario, label: str = "") -> Result:
    """Simulate `scenario` once."""
    return Simulation(scenario, label).run()
