"""One SQS event source mapping, run as Lambda runs it: the workers of `localcloud.poller`.

Worker i of a mapping runs while i < its MaximumConcurrency and the mapping is enabled: it
receives up to BatchSize messages (waiting at most the batching window), invokes the function
with the SQS event (RequestResponse), and deletes what `batchItemFailures` does not name
(nothing on a function error), backing off after errors and empty receives. MaximumConcurrency
also bounds the invocations in flight. Every invocation's start and end go to the `Journal`.

An empty queue is watched by the first IDLE_POLLERS workers only, as Lambda scales its pollers
down when there is nothing to read: a further worker that received nothing parks until a worker
receives messages (then they all read at once) or PARK_SECONDS pass. Twenty workers polling an
empty queue kept LocalStack a quarter of a core busy.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from localcloud import sqs_event
from localcloud.overlap import measure

LOG = logging.getLogger("localcloud.poller")  # one log for the poller and its workers
UNSET_CONCURRENCY = 5  # Lambda starts SQS polling with five pollers
RUNNING_STATES = frozenset({"Enabled", "Enabling", "Updating"})
OVERRIDE_COUNT = "x-localstack-sqs-override-message-count"
OVERRIDE_WAIT = "x-localstack-sqs-override-wait-time-seconds"
EMPTY_BACKOFF = (0.1, 1.0)  # first and longest pause after an empty receive (s)
ERROR_BACKOFF = (1.0, 5.0)  # first and longest pause after a failed cycle (s)
IDLE_POLLERS = 2  # workers that keep receiving from an empty queue
PARK_SECONDS = 20.0  # the longest a further idle worker waits for another's receive (s)


@dataclass(frozen=True)
class MappingConfig:
    """What the poller reads of one event source mapping."""

    uuid: str
    queue_arn: str
    function_arn: str
    batch_size: int
    window_seconds: int
    concurrency: int
    running: bool
    reports_failures: bool
    filtered: bool

    @classmethod
    def from_api(cls, mapping: dict[str, Any]) -> MappingConfig:
        scaling = mapping.get("ScalingConfig") or {}
        return cls(
            uuid=mapping["UUID"],
            queue_arn=mapping["EventSourceArn"],
            function_arn=mapping["FunctionArn"],
            batch_size=int(mapping.get("BatchSize") or 10),
            window_seconds=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
            concurrency=int(scaling.get("MaximumConcurrency") or UNSET_CONCURRENCY),
            running=mapping.get("State") in RUNNING_STATES,
            reports_failures="ReportBatchItemFailures"
            in (mapping.get("FunctionResponseTypes") or []),
            filtered=bool((mapping.get("FilterCriteria") or {}).get("Filters")),
        )


@dataclass
class Invocation:
    """One invocation as the poller saw it (epoch seconds)."""

    mapping: str
    start: float
    end: float
    records: int
    failed: int  # records left on the queue (reported, or the whole batch on an error)
    error: str = ""


@dataclass
class Counters:
    """Running totals of one mapping."""

    receives: int = 0
    empty_receives: int = 0
    records: int = 0
    deleted: int = 0
    errors: int = 0
    busy: int = 0  # invocations in flight
    polling: int = 0  # workers in a cycle (receive, invoke, delete)
    last_error: str = ""
    longest_hold_seconds: float = 0.0  # a batch's receive to its invocation's end (cf. visibility)
    concurrency_changes: list[tuple[float, int]] = field(default_factory=list)


class Backoff:
    """Doubling pauses between a first and a longest one; `reset` after a success."""

    def __init__(self, first: float, longest: float) -> None:
        self.first, self.longest, self.next = first, longest, first

    def pause(self) -> float:
        current = self.next
        self.next = min(self.longest, self.next * 2)
        return current

    def reset(self) -> None:
        self.next = self.first


class Journal:
    """The invocations of every mapping, shared by the workers and the status server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._invocations: list[Invocation] = []

    def add(self, invocation: Invocation) -> None:
        with self._lock:
            self._invocations.append(invocation)

    def all(self) -> list[Invocation]:
        with self._lock:
            return list(self._invocations)

    def reset(self) -> None:
        with self._lock:
            self._invocations.clear()


class MappingRunner:
    """The workers of one mapping: worker i runs while i < the mapping's concurrency."""

    def __init__(self, config: MappingConfig, sqs: Any, lambda_client: Any, journal: Journal):
        self.config = config
        self.sqs, self.lambda_client, self.journal = sqs, lambda_client, journal
        self.queue_url = _queue_url(config.queue_arn, sqs)
        self.counters = Counters(concurrency_changes=[(time.time(), config.concurrency)])
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._receipts = 0  # receives that brought messages: wakes parked workers
        self._workers: list[threading.Thread] = []
        self._ensure_workers(config.concurrency)
        if config.filtered:
            LOG.warning(
                "mapping %s has filter criteria: this poller does not apply them", config.uuid
            )

    def update(self, config: MappingConfig) -> None:
        """Take the mapping's settings as read now (concurrency, state, batching)."""
        with self._changed:
            if config.concurrency != self.config.concurrency:
                LOG.info(
                    "mapping %s: MaximumConcurrency %d -> %d",
                    config.uuid,
                    self.config.concurrency,
                    config.concurrency,
                )
                self.counters.concurrency_changes.append((time.time(), config.concurrency))
            if config.running != self.config.running:
                LOG.info("mapping %s: %s", config.uuid, "enabled" if config.running else "paused")
            self.config = config
            self._changed.notify_all()
        self._ensure_workers(config.concurrency)

    def stop(self) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()

    def _ensure_workers(self, count: int) -> None:
        while len(self._workers) < count:
            worker = threading.Thread(
                target=self._work,
                args=(len(self._workers),),
                name=f"{self.config.uuid[:8]}-{len(self._workers)}",
                daemon=True,
            )
            self._workers.append(worker)
            worker.start()

    def _allowed(self, index: int) -> MappingConfig | None:
        """Wait until worker `index` may run a cycle; the config to run it with (None: stop)."""
        with self._changed:
            while not self._stopping.is_set():
                if self.config.running and index < self.config.concurrency:
                    self.counters.polling += 1  # one cycle; `_work` counts it down
                    return self.config
                self._changed.wait(1.0)
        return None

    def _work(self, index: int) -> None:
        empty, failing = Backoff(*EMPTY_BACKOFF), Backoff(*ERROR_BACKOFF)
        while (config := self._allowed(index)) is not None:
            try:
                received = self._cycle(config)
            except Exception as error:  # noqa: BLE001 - any failure: back off, as Lambda does
                with self._lock:
                    self.counters.errors += 1
                    self.counters.last_error = one_line(error)
                LOG.warning("mapping %s: %s", config.uuid, one_line(error))
                self._stopping.wait(failing.pause())
                continue
            finally:
                with self._lock:
                    self.counters.polling -= 1
            failing.reset()
            if received:
                empty.reset()
            elif index >= IDLE_POLLERS:
                self._park()
            else:
                self._stopping.wait(empty.pause())

    def _park(self) -> None:
        """Wait until a worker receives messages, the runner stops, or PARK_SECONDS pass."""
        give_up = time.monotonic() + PARK_SECONDS
        with self._changed:
            seen = self._receipts
            while self._receipts == seen and not self._stopping.is_set():
                left = give_up - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def _cycle(self, config: MappingConfig) -> int:
        """Receive one batch, invoke, delete what succeeded; the number of messages received."""
        messages = self._receive(config)
        received_at = time.monotonic()
        with self._changed:
            self.counters.receives += 1
            if not messages:
                self.counters.empty_receives += 1
                return 0
            self._receipts += 1
            self._changed.notify_all()  # parked workers read too: there is work
            # disabled (or paused by the cap) while this receive was under way: not invoked
            stopped = not self.config.running or self.config.concurrency == 0
            if not stopped:
                self.counters.records += len(messages)
        if stopped:
            self._release(messages)
            return 0
        with self._changed:
            # MaximumConcurrency bounds the invocations in flight: a receive that began before
            # it was lowered waits for a free slot (its messages stay invisible meanwhile).
            while self.counters.busy >= max(1, self.config.concurrency):
                self._changed.wait(0.5)
            self.counters.busy += 1
        try:
            failed, error = self._invoke(config, messages)
        finally:
            with self._changed:
                self.counters.busy -= 1
                self._changed.notify_all()
        keep = {m["MessageId"] for m in messages} if failed is None else failed
        done = [m for m in messages if m["MessageId"] not in keep]
        with self._lock:  # past the visibility timeout, the delete below may be refused
            held = time.monotonic() - received_at
            self.counters.longest_hold_seconds = max(self.counters.longest_hold_seconds, held)
        self._delete(config, done)
        with self._lock:
            self.counters.deleted += len(done)
        if error:
            raise InvocationError(error)
        return len(messages)

    def _receive(self, config: MappingConfig) -> list[dict[str, Any]]:
        headers = {}
        if config.batch_size > 10:
            headers[OVERRIDE_COUNT] = str(config.batch_size)
        if config.window_seconds > 20:
            headers[OVERRIDE_WAIT] = str(config.window_seconds)
        answer = _with_headers(self.sqs, headers).receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, config.batch_size),
            WaitTimeSeconds=min(20, config.window_seconds),
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    def _invoke(
        self, config: MappingConfig, messages: list[dict[str, Any]]
    ) -> tuple[set[str] | None, str]:
        """Invoke with the batch; (ids to leave on the queue or None for all, error text)."""
        payload = json.dumps(sqs_event.event(messages, config.queue_arn)).encode()
        started = time.time()
        failed: set[str] | None = None
        error = ""
        try:
            answer = self.lambda_client.invoke(
                FunctionName=config.function_arn,
                InvocationType="RequestResponse",
                Payload=payload,
            )
            body = answer["Payload"].read()
            if answer.get("FunctionError"):
                error = f"function error: {body[:300].decode(errors='replace')}"
            else:
                result = json.loads(body) if body else None
                ids = {m["MessageId"] for m in messages}
                failed = (
                    sqs_event.failed_message_ids(result, ids) if config.reports_failures else set()
                )
                if failed is None:
                    error = f"answer fails the whole batch: {body[:300].decode(errors='replace')}"
        except Exception as exc:  # noqa: BLE001 - recorded with the invocation, then raised
            error = one_line(exc)
        self.journal.add(
            Invocation(
                mapping=config.uuid,
                start=started,
                end=time.time(),
                records=len(messages),
                failed=len(messages) if failed is None else len(failed),
                error=error,
            )
        )
        return failed, error

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Make messages received for a mapping that has since stopped visible again."""
        for offset in range(0, len(messages), 10):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(messages[offset : offset + 10])
                ],
            )

    def _delete(self, config: MappingConfig, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        headers = {OVERRIDE_COUNT: str(len(messages))} if len(messages) > 10 else {}
        answer = _with_headers(self.sqs, headers).delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        if answer.get("Failed"):
            raise InvocationError(f"{len(answer['Failed'])} deletes failed: {answer['Failed'][0]}")

    def status(self) -> dict[str, Any]:
        invocations = [i for i in self.journal.all() if i.mapping == self.config.uuid]
        overlap = measure([(i.start, i.end) for i in invocations])
        with self._lock:
            counters = asdict(self.counters)
        return {
            "uuid": self.config.uuid,
            "function": self.config.function_arn.split(":")[-1],
            "queue": self.config.queue_arn.split(":")[-1],
            "running": self.config.running,
            "concurrency": self.config.concurrency,
            "batch_size": self.config.batch_size,
            "window_seconds": self.config.window_seconds,
            "invocations": overlap.invocations,
            "overlap_max": overlap.maximum,
            "overlap_mean": round(overlap.mean, 3),
            **counters,
        }


class InvocationError(RuntimeError):
    """A batch that was not processed as a whole: the worker backs off."""


def _with_headers(client: Any, headers: dict[str, str]) -> Any:
    """The client, with `headers` added to its next request on this thread."""
    _next_headers.value = headers
    return client


_next_headers = threading.local()


def add_headers(params: dict[str, Any], **_: Any) -> None:
    headers = getattr(_next_headers, "value", None)
    if headers:
        params["headers"].update(headers)
        _next_headers.value = None


def _queue_url(queue_arn: str, sqs: Any) -> str:
    _, _, _, _, account, name = queue_arn.split(":", 5)
    url: str = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return url


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
