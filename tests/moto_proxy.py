"""A TCP proxy on 127.0.0.1 in front of moto's server (SQS, SSM, Lambda, CloudWatch) that
misbehaves on cue: it answers chosen calls late or trickles their answer (after forwarding them,
so the service did the work) or refuses them (500, nothing forwarded). A call is chosen by a
string its request holds: the operation's name (`SendMessageBatch`, `GetQueueAttributes`) or,
for a REST API, its method and path (`PUT /2015-03-31/event-source-mappings`). A real socket,
a real HTTP exchange: the boto3 client sees what it would see."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

LATE = "late"
REFUSE = "refuse"
TRICKLE = "trickle"
"""Forward the call, then hand its answer back one byte every TRICKLE_SECONDS: each socket
read of the client returns well within its read timeout, the whole answer takes minutes."""
TRICKLE_SECONDS = 0.25
REFUSAL = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/x-amz-json-1.0\r\n"
    b"Content-Length: 61\r\nConnection: close\r\n\r\n"
    b'{"__type":"InternalFailure","message":"refused by the proxy"}'
)


class MotoProxy:
    """Forward to `upstream`; the next calls naming `operation` get the actions in `plan`."""

    def __init__(self, upstream_port: int, late_seconds: float = 2.5) -> None:
        self.upstream_port = upstream_port
        self.late_seconds = late_seconds
        self.plan: dict[str, list[str]] = {}
        self.seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def misbehave(self, operation: str, *actions: str) -> None:
        """The next calls whose request holds `operation` (e.g. SendMessageBatch) get these
        actions in turn."""
        with self._lock:
            self.plan.setdefault(operation, []).extend(actions)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        try:
            while True:
                request = _read_message(client)
                if not request:
                    return
                action = self._action(request)
                if action == REFUSE:
                    client.sendall(REFUSAL)
                    return
                upstream.sendall(request)
                answer = _read_message(upstream)
                if action == LATE:
                    time.sleep(self.late_seconds)
                if action == TRICKLE:
                    for byte in answer:
                        if self._stop.wait(TRICKLE_SECONDS):
                            return
                        client.sendall(bytes([byte]))
                    continue
                client.sendall(answer)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def _action(self, request: bytes) -> str | None:
        with self._lock:
            for operation, actions in self.plan.items():
                if operation.encode() in request:
                    self.seen[operation] = self.seen.get(operation, 0) + 1
                    return actions.pop(0) if actions else None
        return None


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP message (headers and a Content-Length body); b'' when the peer closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@contextmanager
def moto_proxy(moto_endpoint: str, late_seconds: float = 2.5) -> Iterator[MotoProxy]:
    """A proxy in front of the moto server at `moto_endpoint` (http://127.0.0.1:PORT)."""
    proxy = MotoProxy(int(moto_endpoint.rsplit(":", 1)[1]), late_seconds)
    try:
        yield proxy
    finally:
        proxy.close()
