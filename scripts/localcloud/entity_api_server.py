"""Local entity API server: contract section 2 on 127.0.0.1, with rate limit and fault injection.

Used by the handler tests, the benchmarks, the packaging test and the local-cloud demo.

Python::

    with EntityApiServer(rate_per_second=50, burst=100) as api:
        api.set_faults({"status_sequence": [429], "retry_after": "1"})
        ... POST to api.endpoint_url ...
        api.stats(); api.applied()

CLI (foreground, one line per request on stdout unless ``--quiet``)::

    python -m localcloud.entity_api_server --port 8080 [--rate N --burst N --latency S --strict]
    (a bearer token: --token-file PATH or the ENTITY_API_TOKEN environment variable)

HTTP:
    POST /v1/operations:batch   the entity API (contract section 2)
    GET  /_admin/stats          requests, operations, ops-per-request histogram, status counts
    GET  /_admin/applied        applied operations in order (op_id, op, entity, attributes)
    GET  /_admin/sequences      each entity's applied op_ids in the order they were applied
    GET  /_admin/requests       the per-request log (newest last, at most 10,000 entries)
    GET  /_admin/faults         the fault configuration in force
    GET  /_admin/rate           the token bucket: {"rate", "burst", "rate_limited"} (rate null: off)
    PUT  /_admin/rate           {"rate": N, "burst": B} sets the token bucket (full); {"rate": null}
                                removes it (burst defaults to the rate)
    GET  /_admin/conflicts      strict mode: applied op_ids that came again with other content
    PUT  /_admin/faults         replace the fault configuration (JSON below; {} clears it)
    POST /_admin/reset          clear faults, applied operations, stats and the request log

Fault configuration (every key optional; ``{}`` means a healthy API)::

    {
      "status_sequence": [429, 503],   # the next requests get these whole-request statuses,
                                       # one per request, consumed in order
      "status_always": 503,            # every request gets this status (null: off)
      "retry_after": "1",              # Retry-After header on 429/503 answers (seconds or
                                       # an HTTP date); none when absent
      "latency_seconds": 0.5,          # extra delay before every answer (slow API)
      "garbage_body": 2,               # the next N answers are 200 with a non-JSON body
                                       # (true: every answer)
      "reject_entities": ["order:42"], # whole-request 400 when any operation targets one of
                                       # these entities ("<entity_type>:<entity_id>")
      "op_status_by_entity": {"order:7": 422, "order:8": {"status": 500, "times": 1}},
      "op_status_by_op_id": {"evt-3": 500},
                                       # per-operation status: an int (always) or
                                       # {"status": S, "times": N} (the next N times only);
                                       # 2xx/409 apply the operation, anything else does not
      "omit_results": ["evt-9"],       # op_ids whose result is left out of the answer
                                       # (the operation is not applied)
      "random_op_status": {"probability": 0.1, "statuses": [500, 422], "seed": 7},
                                       # each operation fails with this probability
      "random_request_status": {"probability": 0.05, "statuses": [503], "seed": 7},
                                       # each request fails as a whole with this probability
      "max_operations": 100,           # 413 when a request carries more operations
      "max_request_bytes": 1048576     # 413 when a request body is larger
    }

Whole-request checks run in this order: token (401), size limits (413), malformed body (400),
rate limit (the token bucket: N requests/s with burst B, beyond it 429 with ``Retry-After: 1``,
counted apart as ``rate_limited`` in the stats), ``status_always``, ``status_sequence``,
``random_request_status``, ``reject_entities`` (400), then ``garbage_body``; otherwise every
operation gets a result. An ``op_id`` already applied answers 409 and is not applied again
(the API is idempotent on op_id). In strict mode
(``--strict``, ``EntityApiServer(strict=True)``) the server also keeps the content each op_id was
applied with, and lists every repeat that carried other content under ``/_admin/conflicts``:
an op_id must name exactly one set of changes (contract section 2), so a conflict is a change
acknowledged without being applied.

A malformed request never leaves a connection hanging: a Content-Length that is not a count
of bytes gets 400 and the connection is closed; a fault configuration of the wrong shape or
type gets 400 naming the key.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from sbc_tools import cli
from sbc_tools.cli import parser_for

BATCH_PATH = "/v1/operations:batch"
REQUEST_LOG_LIMIT = 10_000
OPERATION_KINDS = frozenset({"create", "update", "delete"})

JsonObject = dict[str, Any]


class FaultConfigError(ValueError):
    """A fault configuration that does not follow the documented format."""


def _status(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise FaultConfigError(f"{where}: expected an HTTP status 100-599, got {value!r}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise FaultConfigError(f"{where}: expected a JSON array, got {value!r}")
    return value


def _strings(value: Any, where: str) -> set[str]:
    items = _list(value, where)
    if not all(isinstance(item, str) for item in items):
        raise FaultConfigError(f"{where}: expected an array of strings")
    return set(items)


def _finite(value: Any, where: str, maximum: float | None = None) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (maximum is not None and value > maximum)
    ):
        upper = f" and <= {maximum:g}" if maximum is not None else ""
        raise FaultConfigError(f"{where}: expected a finite number >= 0{upper}, got {value!r}")
    return float(value)


def _op_rules(value: Any, where: str) -> dict[str, dict[str, int | None]]:
    if not isinstance(value, dict):
        raise FaultConfigError(f"{where}: expected an object of key -> status")
    rules: dict[str, dict[str, int | None]] = {}
    for key, rule in value.items():
        if isinstance(rule, dict):
            times = rule.get("times")
            if times is not None and (
                isinstance(times, bool) or not isinstance(times, int) or times < 0
            ):
                raise FaultConfigError(f"{where}.{key}.times: expected an integer >= 0")
            rules[str(key)] = {"status": _status(rule.get("status"), f"{where}.{key}.status")}
            rules[str(key)]["times"] = times
        else:
            rules[str(key)] = {"status": _status(rule, f"{where}.{key}"), "times": None}
    return rules


@dataclass
class Faults:
    """Parsed fault configuration (see the module docstring for the JSON format)."""

    status_sequence: list[int] = field(default_factory=list)
    status_always: int | None = None
    retry_after: str | None = None
    latency_seconds: float = 0.0
    garbage_body: int | bool = 0
    reject_entities: set[str] = field(default_factory=set)
    op_status_by_entity: dict[str, dict[str, int | None]] = field(default_factory=dict)
    op_status_by_op_id: dict[str, dict[str, int | None]] = field(default_factory=dict)
    omit_results: set[str] = field(default_factory=set)
    random_probability: float = 0.0
    random_statuses: list[int] = field(default_factory=list)
    request_probability: float = 0.0
    request_statuses: list[int] = field(default_factory=list)
    request_random: random.Random = field(default_factory=random.Random)
    random: random.Random = field(default_factory=random.Random)  # (shadows the module below)
    max_operations: int | None = None
    max_request_bytes: int | None = None
    source: JsonObject = field(default_factory=dict)

    def per_operation(self) -> bool:
        """Whether any per-operation fault is configured."""
        return bool(
            self.op_status_by_entity
            or self.op_status_by_op_id
            or self.omit_results
            or self.random_probability
        )

    @classmethod
    def from_json(cls, config: Any) -> Faults:
        """Validate a fault configuration object; raise FaultConfigError naming the bad key."""
        if not isinstance(config, dict):
            raise FaultConfigError("faults: expected a JSON object")
        unknown = sorted(set(config) - FAULT_KEYS)
        if unknown:
            raise FaultConfigError(f"faults: unknown keys {unknown}; known: {sorted(FAULT_KEYS)}")
        faults = cls(source=json.loads(json.dumps(config)))
        faults._read_request_faults(config)
        faults._read_operation_faults(config)
        return faults

    def _read_request_faults(self, config: dict[str, Any]) -> None:
        """The faults of a whole request: statuses, Retry-After, latency, body, limits."""
        self.status_sequence = [
            _status(s, "status_sequence[]")
            for s in _list(config.get("status_sequence", []), "status_sequence")
        ]
        if config.get("status_always") is not None:
            self.status_always = _status(config["status_always"], "status_always")
        self.retry_after = _retry_after(config.get("retry_after"))
        self.latency_seconds = _finite(config.get("latency_seconds", 0.0), "latency_seconds")
        garbage = config.get("garbage_body", 0)
        if not isinstance(garbage, bool | int) or garbage < 0:
            raise FaultConfigError("garbage_body: expected true/false or a count >= 0")
        self.garbage_body = garbage
        if "random_request_status" in config:
            rule = _random_rule(config["random_request_status"], "random_request_status")
            self.request_probability, self.request_statuses, self.request_random = rule
        self.max_operations = _limit(config, "max_operations")
        self.max_request_bytes = _limit(config, "max_request_bytes")

    def _read_operation_faults(self, config: dict[str, Any]) -> None:
        """The faults of single operations: rejected entities, set statuses, omitted results."""
        self.reject_entities = _strings(config.get("reject_entities", []), "reject_entities")
        self.op_status_by_entity = _op_rules(
            config.get("op_status_by_entity", {}), "op_status_by_entity"
        )
        self.op_status_by_op_id = _op_rules(
            config.get("op_status_by_op_id", {}), "op_status_by_op_id"
        )
        self.omit_results = _strings(config.get("omit_results", []), "omit_results")
        if "random_op_status" in config:
            self.random_probability, self.random_statuses, self.random = _random_rule(
                config["random_op_status"], "random_op_status"
            )


FAULT_KEYS = frozenset(
    {
        "status_sequence",
        "status_always",
        "retry_after",
        "latency_seconds",
        "garbage_body",
        "reject_entities",
        "op_status_by_entity",
        "op_status_by_op_id",
        "omit_results",
        "random_op_status",
        "random_request_status",
        "max_operations",
        "max_request_bytes",
    }
)
"""Every key a fault configuration may have."""


def _retry_after(value: Any) -> str | None:
    """The Retry-After header's value: seconds or an HTTP date; None when not set."""
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise FaultConfigError("retry_after: expected seconds or an HTTP date (a string)")
    return str(value)


def _limit(config: dict[str, Any], key: str) -> int | None:
    """An optional integer >= 1 (`max_operations`, `max_request_bytes`)."""
    value = config.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise FaultConfigError(f"{key}: expected an integer >= 1")
    return value


def _random_rule(rule: Any, where: str) -> tuple[float, list[int], random.Random]:
    """(probability, statuses, generator) of a `random_*_status` fault."""
    if not isinstance(rule, dict):
        raise FaultConfigError(f"{where}: expected an object")
    probability = _finite(rule.get("probability", 0.0), f"{where}.probability", maximum=1)
    statuses = [
        _status(s, f"{where}.statuses[]")
        for s in _list(rule.get("statuses", []), f"{where}.statuses")
    ]
    seed = rule.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | str)):
        raise FaultConfigError(f"{where}.seed: expected an integer or a string")
    if probability and not statuses:
        raise FaultConfigError(f"{where}.statuses: give at least one status")
    return float(probability), statuses, random.Random(seed)


def _take_rule(rules: dict[str, dict[str, int | None]], key: str) -> int | None:
    rule = rules.get(key)
    if rule is None:
        return None
    times = rule["times"]
    if times is not None:
        if times <= 0:
            return None
        rule["times"] = times - 1
    return rule["status"]


class TokenBucket:
    """Token bucket: `rate` tokens per second, at most `burst` stored (it starts full)."""

    def __init__(self, rate: float, burst: float) -> None:
        if not (math.isfinite(rate) and rate > 0 and math.isfinite(burst) and burst >= 1):
            raise FaultConfigError(
                f"rate limit: expected rate > 0 and burst >= 1, got rate {rate!r}, burst {burst!r}"
            )
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def take(self) -> float:
        """Take a token; return 0 on success, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    operations: int = 0


class EntityApiServer:
    """The entity API on 127.0.0.1 in a background thread (or the foreground, from the CLI)."""

    def __init__(
        self,
        port: int = 0,
        *,
        token: str | None = None,
        rate_per_second: float | None = None,
        burst: float | None = None,
        latency_seconds: float = 0.0,
        log_requests: bool = False,
        strict: bool = False,
    ) -> None:
        self.token = token
        self.latency_seconds = latency_seconds
        self.log_requests = log_requests
        self.strict = strict
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._bucket: TokenBucket | None = None
        if rate_per_second:
            self.set_rate(rate_per_second, burst)
        self.faults = Faults()
        self._reset_state()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint_url(self) -> str:
        """The batch endpoint: the handler's ENTITY_API_URL."""
        return self.base_url + BATCH_PATH

    def start(self) -> Self:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="entity-api", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving, wake slow answers and close the socket."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration and inspection ---------------------------------------------------
    def set_faults(self, config: JsonObject) -> None:
        """Replace the fault configuration (raises FaultConfigError on a bad one)."""
        faults = Faults.from_json(config)
        with self._lock:
            self.faults = faults

    def set_rate(self, rate_per_second: float | None, burst: float | None = None) -> None:
        """Token bucket of `rate_per_second` requests/s and `burst` (default: the rate), full
        now; None removes it. Raises FaultConfigError on a rate <= 0 or a burst < 1."""
        bucket = None
        if rate_per_second is not None:
            bucket = TokenBucket(rate_per_second, burst if burst is not None else rate_per_second)
        with self._lock:
            self._bucket = bucket

    def rate_limit(self) -> JsonObject:
        """The token bucket in force and the requests it refused since the last reset."""
        with self._lock:
            bucket = self._bucket
            return {
                "rate": bucket.rate if bucket else None,
                "burst": bucket.burst if bucket else None,
                "rate_limited": self._rate_limited,
            }

    def reset(self) -> None:
        """Clear faults, applied operations, stats and the request log."""
        with self._lock:
            self.faults = Faults()
            self._reset_state()

    def _reset_state(self) -> None:
        self._applied: list[JsonObject] = []
        self._applied_ids: set[str] = set()
        # Strict mode: the content each op_id was applied with, and repeats that differ.
        self._applied_content: dict[str, str] = {}
        self._conflicts: list[JsonObject] = []
        self._requests = 0
        self._operations = 0
        self._ops_histogram: Counter[int] = Counter()
        self._status_counts: Counter[int] = Counter()
        self._op_status_counts: Counter[int] = Counter()
        self._rate_limited = 0  # 429s of the token bucket (injected 429s not included)
        self._log: list[JsonObject] = []

    def stats(self) -> JsonObject:
        """Requests, operations, ops-per-request histogram and status counts."""
        with self._lock:
            return {
                "requests": self._requests,
                "operations": self._operations,
                "applied": len(self._applied),
                "ops_per_request": {str(k): v for k, v in sorted(self._ops_histogram.items())},
                "status_counts": {str(k): v for k, v in sorted(self._status_counts.items())},
                "op_status_counts": {str(k): v for k, v in sorted(self._op_status_counts.items())},
                "rate_limited": self._rate_limited,
                "strict": self.strict,
            }

    def fault_config(self) -> JsonObject:
        """The fault configuration in force, as given."""
        with self._lock:
            return dict(self.faults.source)

    def applied(self) -> list[JsonObject]:
        """Applied operations, oldest first: op_id, op, entity ("<type>:<id>"), attributes."""
        with self._lock:
            operations = list(self._applied)
        return [
            {
                "op_id": op["op_id"],
                "op": op["op"],
                "entity": _entity(op),
                "attributes": op.get("attributes") or {},
            }
            for op in operations
        ]

    def sequences(self) -> dict[str, list[str]]:
        """Each entity's applied op_ids ("<type>:<id>" -> op_ids), in the order applied."""
        with self._lock:
            operations = list(self._applied)
        sequences: dict[str, list[str]] = {}
        for op in operations:
            sequences.setdefault(_entity(op), []).append(op["op_id"])
        return sequences

    def entities(self) -> dict[str, JsonObject]:
        """Current state of every entity ("<type>:<id>" -> attributes), replayed in order."""
        state: dict[str, JsonObject] = {}
        for op in self.applied():
            if op["op"] == "delete":
                state.pop(op["entity"], None)
            elif op["op"] == "create":
                state[op["entity"]] = dict(op["attributes"])
            else:
                state.setdefault(op["entity"], {}).update(op["attributes"])
        return state

    def conflicts(self) -> list[JsonObject]:
        """Strict mode: each time an applied op_id came again with other content (refused
        with 409): `{"op_id", "applied", "repeated"}`, oldest first. Always [] otherwise."""
        with self._lock:
            return list(self._conflicts)

    def _note_applied(self, op: JsonObject) -> None:
        if self.strict:
            self._applied_content[op["op_id"]] = json.dumps(op, sort_keys=True)

    def _note_repeat(self, op: JsonObject) -> None:
        applied = self._applied_content.get(op["op_id"]) if self.strict else None
        if applied is not None and applied != json.dumps(op, sort_keys=True):
            self._conflicts.append(
                {"op_id": op["op_id"], "applied": json.loads(applied), "repeated": op}
            )

    def request_log(self) -> list[JsonObject]:
        """The per-request log, oldest first."""
        with self._lock:
            return list(self._log)

    # -- request processing -------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def handle_batch(self, body: bytes, authorization: str | None) -> _Answer:
        """Answer one POST of the batch endpoint (contract section 2)."""
        with self._lock:
            faults = self.faults
        self._sleep(self.latency_seconds + faults.latency_seconds)
        with self._lock:
            answer = self._answer(faults, body, authorization)
            self._requests += 1
            self._operations += answer.operations
            self._ops_histogram[answer.operations] += 1
            self._status_counts[answer.status] += 1
        return answer

    def _answer(self, faults: Faults, body: bytes, authorization: str | None) -> _Answer:
        operations, refusal = self._refusal(faults, body, authorization)
        if refusal is not None:
            return refusal
        if faults.garbage_body is True or faults.garbage_body > 0:
            if faults.garbage_body is not True:
                faults.garbage_body -= 1
            return _Answer(200, b"<html>502 Bad Gateway</html>", {}, len(operations))
        if faults.per_operation():
            results = [r for r in (self._apply(faults, op) for op in operations) if r is not None]
        else:
            results = self._apply_healthy(operations)
        return _Answer(200, json.dumps({"results": results}).encode(), {}, len(operations))

    def _refusal(
        self, faults: Faults, body: bytes, authorization: str | None
    ) -> tuple[list[JsonObject], _Answer | None]:
        """Whole-request checks, in the documented order; (operations, refusal or None)."""
        if self.token is not None and authorization != f"Bearer {self.token}":
            return [], _error(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token")
        if faults.max_request_bytes is not None and len(body) > faults.max_request_bytes:
            return [], _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
        operations, problem = _parse_operations(body)
        count = len(operations)
        refusal: _Answer | None = None
        if problem:
            refusal = _error(HTTPStatus.BAD_REQUEST, problem)
        elif faults.max_operations is not None and count > faults.max_operations:
            refusal = _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too many operations", count)
        elif self._bucket is not None and (wait := self._bucket.take()):
            self._rate_limited += 1
            retry_after = {"Retry-After": str(max(1, math.ceil(wait)))}
            refusal = _error(HTTPStatus.TOO_MANY_REQUESTS, "rate limited", count, retry_after)
        else:
            refusal = _injected_status(faults, count)
        if (
            refusal is None
            and faults.reject_entities
            and any(_entity(op) in faults.reject_entities for op in operations)
        ):
            refusal = _error(HTTPStatus.BAD_REQUEST, "rejected entity in request", count)
        return operations, refusal

    def _apply_healthy(self, operations: list[JsonObject]) -> list[JsonObject]:
        """The fast path when no per-operation fault is configured (status counts per request)."""
        applied_ids, applied = self._applied_ids, self._applied
        results: list[JsonObject] = []
        conflicts = 0
        for op in operations:
            op_id = op["op_id"]
            if op_id in applied_ids:
                conflicts += 1
                self._note_repeat(op)
                results.append({"op_id": op_id, "status": 409, "error": "op_id already applied"})
            else:
                applied_ids.add(op_id)
                applied.append(op)
                self._note_applied(op)
                results.append({"op_id": op_id, "status": 200})
        if conflicts:
            self._op_status_counts[409] += conflicts
        if len(operations) > conflicts:
            self._op_status_counts[200] += len(operations) - conflicts
        return results

    def _apply(self, faults: Faults, op: JsonObject) -> JsonObject | None:
        op_id, entity = op["op_id"], _entity(op)
        if op_id in faults.omit_results:
            return None
        status = _take_rule(faults.op_status_by_op_id, op_id)
        if status is None:
            status = _take_rule(faults.op_status_by_entity, entity)
        if (
            status is None
            and faults.random_probability
            and faults.random.random() < faults.random_probability
        ):
            status = faults.random.choice(faults.random_statuses)
        if status is None:
            status = 409 if op_id in self._applied_ids else 200
        if status == 409:
            self._note_repeat(op)
        if 200 <= status < 300:
            self._applied_ids.add(op_id)
            self._applied.append(op)
            self._note_applied(op)
        self._op_status_counts[status] += 1
        result: JsonObject = {"op_id": op_id, "status": status}
        if status >= 300 and status != 409:
            result["error"] = f"injected status {status}"
        elif status == 409:
            result["error"] = "op_id already applied"
        return result

    def record(self, entry: JsonObject) -> None:
        """Append one entry to the request log (and print it when logging is on)."""
        with self._lock:
            self._log.append(entry)
            if len(self._log) > REQUEST_LOG_LIMIT:
                del self._log[: len(self._log) - REQUEST_LOG_LIMIT]
        if self.log_requests:
            print(
                f"{entry['method']} {entry['path']} -> {entry['status']} "
                f"ops={entry['operations']} {entry['ms']:.1f} ms",
                flush=True,
            )


def _error(
    status: int, message: str, operations: int = 0, headers: dict[str, str] | None = None
) -> _Answer:
    return _Answer(status, json.dumps({"error": message}).encode(), headers or {}, operations)


def _entity(op: JsonObject) -> str:
    return f"{op['entity_type']}:{op['entity_id']}"


def _injected_status(faults: Faults, count: int) -> _Answer | None:
    """The injected whole-request status (status_always, then status_sequence), if any."""
    whole = faults.status_always
    if whole is None and faults.status_sequence:
        whole = faults.status_sequence.pop(0)
    if (
        whole is None
        and faults.request_probability
        and faults.request_random.random() < faults.request_probability
    ):
        whole = faults.request_random.choice(faults.request_statuses)
    if whole is None:
        return None
    headers = {}
    if faults.retry_after is not None and whole in (429, 503):
        headers["Retry-After"] = faults.retry_after
    return _error(whole, "injected fault", count, headers)


def _parse_operations(body: bytes) -> tuple[list[JsonObject], str]:
    """Return (operations, problem); problem is empty when the body is well formed."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return [], "body is not JSON"
    operations = document.get("operations") if isinstance(document, dict) else None
    if not isinstance(operations, list):
        return [], 'body must be {"operations": [...]}'
    for op in operations:
        if not (
            type(op) is dict  # json.loads makes exact dicts, lists and strs
            and type(op.get("op_id")) is str
            and op.get("op") in OPERATION_KINDS
            and type(op.get("entity_type")) is str
            and type(op.get("entity_id")) is str
            and type(op.get("attributes", _NO_ATTRIBUTES)) is dict
        ):
            return [], "malformed operation"
    return operations, ""


_NO_ATTRIBUTES: JsonObject = {}


def _rate_settings(document: Any) -> tuple[float | None, float | None]:
    """(rate, burst) of a PUT /_admin/rate body; FaultConfigError naming a bad key."""
    if not isinstance(document, dict) or "rate" not in document:
        raise FaultConfigError('rate: expected {"rate": N, "burst": B} or {"rate": null}')
    unknown = sorted(set(document) - {"rate", "burst"})
    if unknown:
        raise FaultConfigError(f"rate: unknown keys {unknown}; known: ['burst', 'rate']")
    rate, burst = document["rate"], document.get("burst")
    if rate is None:
        return None, None
    rate = _finite(rate, "rate")
    if burst is not None:
        burst = _finite(burst, "burst")
    return rate, burst


class EntityApiHandler(BaseHTTPRequestHandler):
    """One HTTP connection to `api`: the batch endpoint and the admin paths."""

    api: EntityApiServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr log: the server keeps its own."""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def _body(self) -> bytes | None:
        """The request body; None (answered 400) when Content-Length is not a count."""
        text = self.headers.get("Content-Length") or "0"
        length = int(text) if text.isascii() and text.isdigit() else -1
        if length < 0:
            # Where the body ends is unknown: answer and close the connection.
            self.close_connection = True
            self._json(400, {"error": f"Content-Length must be an integer >= 0, got {text!r}"})
            return None
        return self.rfile.read(length) if length else b""

    def _json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode())

    def _not_found(self) -> None:
        self._json(404, {"error": f"no such path: {self.path}"})

    def do_POST(self) -> None:
        """The batch endpoint, and `/_admin/reset`."""
        started = time.perf_counter()
        body = self._body()
        if body is None:
            return
        if self.path == "/_admin/reset":
            self.api.reset()
            self._send(204, b"")
        elif self.path == BATCH_PATH:
            self._post_batch(body, started)
        else:
            self._not_found()

    def _post_batch(self, body: bytes, started: float) -> None:
        answer = self.api.handle_batch(body, self.headers.get("Authorization"))
        self.api.record(  # before answering, so a client that got its answer sees the entry
            {
                "time": time.time(),
                "method": "POST",
                "path": self.path,
                "status": answer.status,
                "operations": answer.operations,
                "bytes": len(body),
                "ms": (time.perf_counter() - started) * 1000,
            }
        )
        self._send(answer.status, answer.body, answer.headers)

    def do_GET(self) -> None:
        """The admin views."""
        views: dict[str, Callable[[], Any]] = {
            "/_admin/stats": self.api.stats,
            "/_admin/applied": self.api.applied,
            "/_admin/sequences": self.api.sequences,
            "/_admin/requests": self.api.request_log,
            "/_admin/entities": self.api.entities,
            "/_admin/faults": self.api.fault_config,
            "/_admin/conflicts": self.api.conflicts,
            "/_admin/rate": self.api.rate_limit,
        }
        view = views.get(self.path)
        if view is None:
            self._not_found()
        else:
            self._json(200, view())

    def do_PUT(self) -> None:
        """Set the fault configuration (`/_admin/faults`) or the rate limit (`/_admin/rate`)."""
        if self.path not in ("/_admin/faults", "/_admin/rate"):
            self._not_found()
            return
        body = self._body()
        if body is None:
            return
        try:
            answer = self._put_setting(json.loads(body or b"{}"))
        except (ValueError, RecursionError) as exc:  # FaultConfigError is a ValueError
            self._json(400, {"error": str(exc)})
            return
        self._json(200, answer)

    def _put_setting(self, document: Any) -> Any:
        """Apply a PUT's document; the setting now in force."""
        if self.path == "/_admin/rate":
            self.api.set_rate(*_rate_settings(document))
            return self.api.rate_limit()
        self.api.set_faults(document)
        return self.api.faults.source


def _handler_class(server: EntityApiServer) -> type[BaseHTTPRequestHandler]:
    """The request handler class serving `server` (http.server makes one per connection)."""
    return type("Handler", (EntityApiHandler,), {"api": server})


def main(argv: list[str] | None = None) -> int:
    """Run the server in the foreground until Ctrl-C."""
    parser = parser_for(__doc__, __spec__)
    parser.add_argument("--port", type=cli.port, default=8080, help="TCP port on 127.0.0.1")
    parser.add_argument(
        "--rate", type=cli.number(0, above_minimum=True), help="token bucket: requests per second"
    )
    parser.add_argument("--burst", type=cli.number(1), help="token bucket size (default: --rate)")
    cli.add_token_file(parser, "require 'Authorization: Bearer <token>'")
    parser.add_argument(
        "--latency", type=cli.number(0), default=0.0, help="seconds before each answer"
    )
    parser.add_argument("--faults", help="initial fault configuration (JSON)")
    parser.add_argument("--quiet", action="store_true", help="no per-request lines")
    parser.add_argument(
        "--strict", action="store_true", help="record op_ids repeated with other content"
    )
    args = parser.parse_args(argv)
    try:
        token = cli.read_token(args.token_file)
    except cli.SecretError as exc:
        print(f"entity API server: {exc}", file=sys.stderr)
        return 2
    try:
        server = EntityApiServer(
            port=args.port,
            token=token,
            rate_per_second=args.rate,
            burst=args.burst,
            latency_seconds=args.latency,
            log_requests=not args.quiet,
            strict=args.strict,
        )
        if args.faults:
            server.set_faults(json.loads(args.faults))
    except OSError as exc:
        print(f"entity API server: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, FaultConfigError) as exc:
        print(f"entity API server: bad --faults: {exc}", file=sys.stderr)
        return 2
    print(f"entity API listening on {server.endpoint_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
