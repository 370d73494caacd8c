"""A minimal AWS Lambda Runtime API server on 127.0.0.1 for one runtime process.

Serves what awslambdaric calls: `GET /2018-06-01/runtime/invocation/next`,
`POST .../invocation/{id}/response`, `POST .../invocation/{id}/error` and
`POST .../runtime/init/error`. awslambdaric needs `Lambda-Runtime-Trace-Id` on every
invocation (it crashes without it) and `Content-Length` on every response.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_PREFIX = "/2018-06-01/runtime"


class _QuietServer(ThreadingHTTPServer):
    """A runtime killed mid-request (timeout, crash) is expected: no traceback for it."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore: the process on the other end was killed on purpose."""


@dataclass
class PendingInvocation:
    """One invocation handed to the runtime, and its outcome once the runtime posts it."""

    request_id: str
    payload: bytes
    function_arn: str
    trace_id: str
    timeout_seconds: float
    handed_out: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    deadline_epoch_ms: int = 0
    started_at: float = 0.0
    result: bytes = b""
    is_error: bool = False


class RuntimeApiServer:
    """The Runtime API of one process; a new process gets a new server (and port)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[PendingInvocation | None] = queue.Queue()
        self._current: dict[str, PendingInvocation] = {}
        self.ready = threading.Event()  # the runtime asked for its first invocation
        self.init_failed = threading.Event()
        self.init_error = b""
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="host-executor-runtime-api", daemon=True
        )

    @property
    def address(self) -> str:
        """`host:port`, the value of AWS_LAMBDA_RUNTIME_API."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; a runtime blocked in /next gets an error and no invocation."""
        self._queue.put(None)
        self._server.shutdown()
        self._server.server_close()

    def submit(self, invocation: PendingInvocation) -> None:
        self._current[invocation.request_id] = invocation
        self._queue.put(invocation)

    def forget(self, invocation: PendingInvocation) -> None:
        self._current.pop(invocation.request_id, None)

    def _next_invocation(self) -> PendingInvocation | None:
        self.ready.set()
        invocation = self._queue.get()
        if invocation is None:
            self._queue.put(None)  # keep waking any other waiter
            return None
        invocation.started_at = time.monotonic()
        invocation.deadline_epoch_ms = int((time.time() + invocation.timeout_seconds) * 1000)
        invocation.handed_out.set()
        return invocation

    def _finish(self, request_id: str, body: bytes, is_error: bool) -> bool:
        invocation = self._current.get(request_id)
        if invocation is None or invocation.done.is_set():
            return False
        invocation.result = body
        invocation.is_error = is_error
        invocation.done.set()
        return True

    def _fail_init(self, body: bytes) -> None:
        self.init_error = body
        self.init_failed.set()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class serving this server's runtime."""
        return type("Handler", (RuntimeApiHandler,), {"api": self})


NOT_FOUND = b'{"errorType":"NotFound"}'
ACCEPTED = json.dumps({"status": "OK"}).encode()


def _invocation_headers(invocation: PendingInvocation) -> dict[str, str]:
    """The headers awslambdaric reads with an invocation (it crashes without the trace id)."""
    return {
        "Content-Type": "application/json",
        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
        "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_epoch_ms),
        "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
        "Lambda-Runtime-Trace-Id": invocation.trace_id,
    }


def _parts(path: str) -> list[str]:
    """The segments of a Runtime API path after the version prefix."""
    return path.removeprefix(_PREFIX).strip("/").split("/")


def _outcome(parts: list[str]) -> tuple[str, bool] | None:
    """(request id, is an error) of `invocation/{id}/response|error`; None for other paths."""
    if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
        return parts[1], parts[2] == "error"
    return None


class RuntimeApiHandler(BaseHTTPRequestHandler):
    """One request of the runtime process to `api`."""

    api: RuntimeApiServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the function's own output is what the logs are for."""

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        """The next invocation (waits for one); 500 Runtime.Shutdown once the server stops."""
        if self.path != f"{_PREFIX}/invocation/next":
            self._reply(404, NOT_FOUND)
            return
        invocation = self.api._next_invocation()
        if invocation is None:
            self._reply(500, b'{"errorType":"Runtime.Shutdown"}')
        else:
            self._reply(200, invocation.payload, _invocation_headers(invocation))

    def do_POST(self) -> None:
        """An invocation's response or error (400 when unknown or already done); init/error."""
        body = self._body()
        parts = _parts(self.path)
        outcome = _outcome(parts)
        if parts == ["init", "error"]:
            self.api._fail_init(body)
            self._reply(202, ACCEPTED)
        elif outcome is not None:
            known = self.api._finish(outcome[0], body, is_error=outcome[1])
            self._reply(202 if known else 400, ACCEPTED)
        else:
            self._reply(404, NOT_FOUND)
