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
from dataclasses import asdict, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localcloud.mapping_runner import Journal, MappingConfig, MappingRunner, add_headers, one_line
from localcloud.services import pid_alive
from sbc_tools import cli
from sbc_tools.cli import parser_for

LOG = logging.getLogger("localcloud.poller")


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
        self.sqs.meta.events.register("before-call.sqs", add_headers)
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
                LOG.warning("reading the mappings failed: %s", one_line(error))
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
