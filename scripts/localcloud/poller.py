"""The local cloud's SQS event source mapping poller: real fan-out, as Lambda's mapping does it.

    python -m localcloud.poller --endpoint http://127.0.0.1:4566 --port 0 [--parent-pid PID]

LocalStack's own mapping invokes one batch at a time; `localcloud start` hands its SQS
mappings over to this process (see `localstack_host_executor/esm_handover.py`) and runs it
beside LocalStack. For every SQS mapping in LocalStack it runs up to the mapping's
`ScalingConfig.MaximumConcurrency` invocations at once (5, the pollers Lambda starts with,
when unset). Each receives up to `BatchSize` messages, waiting at most
`MaximumBatchingWindowInSeconds`, builds the SQS event as Lambda does (`localcloud.sqs_event`),
invokes the function (RequestResponse), and deletes every message its `batchItemFailures`
does not name (none on a function error), backing off after errors and empty receives. The
mappings are read again every `--refresh` seconds: the governor moving MaximumConcurrency, or
disabling a mapping, changes what runs here within that time. Filter criteria are not applied
(a mapping with filters is reported in the log).

It exits when LocalStack (`--parent-pid`) ends. Status on 127.0.0.1:`--port`:
    GET  /health        {"ok": true}
    GET  /status        per mapping: concurrency, busy, invocations, records, overlap, errors
    GET  /invocations   every invocation: mapping, start, end (epoch s), records, failed, error
    POST /reset         forget the invocations recorded so far
    POST /cap           {"concurrency": N} runs at most N invocations per mapping, below its
                        MaximumConcurrency (1 is allowed, AWS's minimum is 2; 0 pauses every
                        mapping); null: no cap
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cli
from cli import parser_for
from localcloud import sqs_event
from localcloud.overlap import measure
from localcloud.services import pid_alive

LOG = logging.getLogger("localcloud.poller")
UNSET_CONCURRENCY = 5  # Lambda starts SQS polling with five pollers
RUNNING_STATES = frozenset({"Enabled", "Enabling", "Updating"})
OVERRIDE_COUNT = "x-localstack-sqs-override-message-count"
OVERRIDE_WAIT = "x-localstack-sqs-override-wait-time-seconds"
EMPTY_BACKOFF = (0.1, 1.0)  # first and longest pause after an empty receive (s)
ERROR_BACKOFF = (1.0, 5.0)  # first and longest pause after a failed cycle (s)


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
                    self.counters.last_error = _one_line(error)
                LOG.warning("mapping %s: %s", config.uuid, _one_line(error))
                self._stopping.wait(failing.pause())
                continue
            finally:
                with self._lock:
                    self.counters.polling -= 1
            failing.reset()
            if received:
                empty.reset()
            else:
                self._stopping.wait(empty.pause())

    def _cycle(self, config: MappingConfig) -> int:
        """Receive one batch, invoke, delete what succeeded; the number of messages received."""
        messages = self._receive(config)
        with self._changed:
            self.counters.receives += 1
            if not messages:
                self.counters.empty_receives += 1
                return 0
            self.counters.records += len(messages)
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
            error = _one_line(exc)
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


def _add_headers(params: dict[str, Any], **_: Any) -> None:
    headers = getattr(_next_headers, "value", None)
    if headers:
        params["headers"].update(headers)
        _next_headers.value = None


def _queue_url(queue_arn: str, sqs: Any) -> str:
    _, _, _, _, account, name = queue_arn.split(":", 5)
    url: str = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return url


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


class Poller:
    """Reads the mappings every `refresh` seconds and keeps one runner per SQS mapping."""

    def __init__(self, endpoint: str, refresh: float) -> None:
        import boto3  # noqa: PLC0415 (slow import)
        from botocore.config import Config  # noqa: PLC0415

        credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        common = {"region_name": "us-east-1", "endpoint_url": endpoint, **credentials}
        pool = Config(max_pool_connections=128, retries={"max_attempts": 3, "mode": "standard"})
        invoke = Config(max_pool_connections=128, read_timeout=960, retries={"max_attempts": 1})
        self.sqs = boto3.client("sqs", config=pool, **common)
        self.sqs.meta.events.register("before-call.sqs", _add_headers)
        self.lambda_client = boto3.client("lambda", config=invoke, **common)
        self.control = boto3.client("lambda", config=pool, **common)
        self.refresh = refresh
        self.journal = Journal()
        self.runners: dict[str, MappingRunner] = {}
        # A local ceiling below every mapping's MaximumConcurrency (None: none). AWS accepts
        # 2-1000; the benchmark's one-at-a-time baseline sets 1 here.
        self.cap: int | None = None
        self._lock = threading.Lock()

    def read_mappings(self) -> list[MappingConfig]:
        found = []
        for page in self.control.get_paginator("list_event_source_mappings").paginate():
            for mapping in page["EventSourceMappings"]:
                if str(mapping.get("EventSourceArn", "")).startswith("arn:aws:sqs:"):
                    found.append(MappingConfig.from_api(mapping))
        return found

    def sync(self) -> None:
        """Start, update and stop runners to match the mappings LocalStack has now."""
        configs = {c.uuid: c for c in self.read_mappings()}
        with self._lock:
            if self.cap is not None:
                configs = {
                    uuid: replace(c, concurrency=min(c.concurrency, self.cap))
                    for uuid, c in configs.items()
                }
            for uuid in set(self.runners) - set(configs):
                LOG.info("mapping %s deleted", uuid)
                self.runners.pop(uuid).stop()
            for uuid, config in configs.items():
                if uuid in self.runners:
                    self.runners[uuid].update(config)
                else:
                    LOG.info(
                        "mapping %s: %s -> %s, batch %d, window %d s, concurrency %d",
                        uuid,
                        config.queue_arn.split(":")[-1],
                        config.function_arn.split(":")[-1],
                        config.batch_size,
                        config.window_seconds,
                        config.concurrency,
                    )
                    self.runners[uuid] = MappingRunner(
                        config, self.sqs, self.lambda_client, self.journal
                    )

    def status(self) -> list[dict[str, Any]]:
        with self._lock:
            runners = list(self.runners.values())
        return [runner.status() for runner in runners]

    def run(self, stop: threading.Event, parent_pid: int | None) -> None:
        while not stop.is_set():
            if parent_pid and not pid_alive(parent_pid):
                LOG.info("LocalStack (pid %d) has ended: stopping", parent_pid)
                break
            try:
                self.sync()
            except Exception as error:  # noqa: BLE001 - LocalStack busy or restarting: next round
                LOG.warning("reading the mappings failed: %s", _one_line(error))
            stop.wait(self.refresh)
        with self._lock:
            for runner in self.runners.values():
                runner.stop()


def _status_server(poller: Poller, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """No per-request lines in the log."""

        def _json(self, status: int, document: Any) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._json(200, {"ok": True})
            elif self.path == "/status":
                self._json(200, poller.status())
            elif self.path == "/invocations":
                self._json(200, [asdict(i) for i in poller.journal.all()])
            else:
                self._json(404, {"error": f"no such path: {self.path}"})

        def do_POST(self) -> None:
            if self.path == "/reset":
                poller.journal.reset()
                self._json(200, {"ok": True})
            elif self.path == "/cap":
                length = int(self.headers.get("Content-Length") or 0)
                cap = json.loads(self.rfile.read(length) or b"{}").get("concurrency")
                if cap is not None and (not isinstance(cap, int) or cap < 0):
                    self._json(400, {"error": "concurrency: expected an integer >= 0 or null"})
                    return
                poller.cap = cap
                poller.sync()
                self._json(200, {"concurrency": cap})
            else:
                self._json(404, {"error": f"no such path: {self.path}"})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="status", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, __spec__)
    parser.add_argument("--endpoint", required=True, help="LocalStack's URL")
    parser.add_argument("--port", type=cli.port, default=0, help="status port on 127.0.0.1")
    parser.add_argument("--parent-pid", type=cli.integer(1), help="exit when this process ends")
    parser.add_argument(
        "--refresh",
        type=cli.number(0, above_minimum=True),
        default=2.0,
        help="seconds between reads of the mappings",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    poller = Poller(args.endpoint, args.refresh)
    try:
        server = _status_server(poller, args.port)
    except OSError as error:
        print(f"poller: cannot listen on 127.0.0.1:{args.port}: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    port = server.server_address[1]
    LOG.info("polling the SQS mappings of %s; status on 127.0.0.1:%d", args.endpoint, port)
    with contextlib.suppress(KeyboardInterrupt):
        poller.run(stop, args.parent_pid)
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
