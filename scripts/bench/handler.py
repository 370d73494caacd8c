"""Handler benchmark (`make bench`): three figures, each against a baseline from the same run.

(a) the handler on a 10,000-record event against the local entity API (in its own process)
    / validating the same bodies with a prebuilt Draft202012Validator;      goal <= 1.3
(b) 1,000 records aggregated vs one request per record: requests and wall time; goal >= 50x
(c) cold import of consumer.handler / import of jsonschema + urllib3, fresh processes,
    median of several;                                                      goal <= 1.15
"""

from __future__ import annotations

import compileall
import contextlib
import io
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from consumer.aggregation import Plan, encode_operation, plan_operations
from consumer.batch import WarmState, process_batch
from consumer.delivery import deliver_plan
from consumer.entity_api import CallStats, EntityApiClient
from consumer.records import load_validator, parse_record, validate_record
from consumer.settings import Settings
from consumer.time_budget import Deadline
from sbc_tools.cli import parser_for
from sbc_tools.entity_api_admin import EntityApiAdmin
from sbc_tools.paths import REPO

FUNCTION_DIR = REPO / "function"

DLQ_PLACEHOLDER = "http://127.0.0.1:9/000000000000/bench-dlq-unused"
LIMIT = 1_048_576


@dataclass
class Figure:
    """One line of the result table."""

    name: str
    measured: str
    baseline: str
    ratio: float
    goal: str
    met: bool


class BudgetContext:
    """A Lambda context with a generous time budget."""

    function_name = "bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@contextlib.contextmanager
def api_process(latency: float = 0.0) -> Iterator[str]:
    """The entity API server in a separate process; yields its batch endpoint URL."""
    command = [sys.executable, "-m", "localcloud.entity_api_server", "--port", "0", "--quiet"]
    if latency:
        command += ["--latency", str(latency)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        if "listening on" not in line:
            raise SystemExit(f"bench: the entity API server did not start: {line!r}")
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def admin(endpoint: str) -> EntityApiAdmin:
    """The admin client of the server whose batch endpoint is `endpoint`."""
    return EntityApiAdmin(endpoint.split("/v1/", 1)[0])


def make_bodies(count: int, attributes: int = 24) -> list[str]:
    """`count` valid ~1 KB messages, one entity each."""
    bodies = []
    for n in range(count):
        message = {
            "event_id": f"evt-{n:08d}",
            "entity_type": "order",
            "entity_id": f"order-{n:08d}",
            "op": "update",
            "attributes": {
                f"field_{k:02d}": f"value-{n}-{k}-abcdefghij" for k in range(attributes)
            },
            "occurred_at": f"2026-01-01T00:{(n // 60) % 60:02d}:{n % 60:02d}.{n % 1000:03d}Z",
        }
        bodies.append(json.dumps(message))
    return bodies


def make_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS event carrying `bodies`."""
    return {
        "Records": [
            {
                "messageId": f"msg-{n}",
                "receiptHandle": f"rh-{n}",
                "body": body,
                "attributes": {"SentTimestamp": str(1_767_225_600_000 + n)},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for n, body in enumerate(bodies)
        ]
    }


def best_of(
    repeats: int, action: Callable[[], Any], before: Callable[[], Any] | None = None
) -> float:
    """The fastest of `repeats` timings of `action` (seconds)."""
    timings = []
    for _ in range(repeats):
        if before is not None:
            before()
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


def run_handler(warm: WarmState, event: dict[str, Any]) -> dict[str, Any]:
    """One invocation with the summary line kept off the terminal."""
    with contextlib.redirect_stdout(io.StringIO()) as output:
        response = process_batch(event, BudgetContext(), warm)
    summary: dict[str, Any] = json.loads(output.getvalue().splitlines()[-1])
    if response["batchItemFailures"]:
        raise SystemExit(f"bench: the handler reported failures: {summary}")
    return summary


def figure_validation(bodies: list[str], repeats: int) -> tuple[Figure, list[str]]:
    """(a) handler time vs schema validation of the same bodies."""
    records = len(bodies)
    event = make_event(bodies)
    validator = load_validator()
    parsed = [json.loads(b) for b in bodies]
    timings: dict[str, list[float]] = {"is_valid": [], "parse": [], "handler": []}
    with api_process() as endpoint:
        warm = WarmState.from_settings(Settings(entity_api_url=endpoint, dlq_url=DLQ_PLACEHOLDER))
        run_handler(warm, make_event(bodies[:10]))  # warm the connection pool
        for _ in range(repeats):  # interleaved, so a busy machine slows both sides alike
            timings["is_valid"].append(best_of(1, lambda: [validator.is_valid(m) for m in parsed]))
            timings["parse"].append(
                best_of(1, lambda: [validator.is_valid(json.loads(b)) for b in bodies])
            )
            admin(endpoint).reset()
            timings["handler"].append(best_of(1, lambda: run_handler(warm, event)))
        stats = admin(endpoint).stats()
    is_valid_only, parse_and_validate, handler = (
        min(timings[k]) for k in ("is_valid", "parse", "handler")
    )
    ratio = handler / parse_and_validate
    median_ratio = statistics.median(timings["handler"]) / statistics.median(timings["parse"])
    notes = [
        f"(a) {records} records of ~{len(bodies[0])} bytes; best of {repeats}; the API answered "
        f"{stats['requests']} requests / {stats['operations']} operations in the last run",
        f"    medians of the {repeats} interleaved runs: handler "
        f"{statistics.median(timings['handler']) * 1000:.0f} ms / json.loads + is_valid "
        f"{statistics.median(timings['parse']) * 1000:.0f} ms = {median_ratio:.2f}",
        f"    is_valid alone on pre-parsed bodies: {is_valid_only * 1000:.0f} ms "
        f"(handler / that = {handler / is_valid_only:.2f})",
    ]
    return (
        Figure(
            f"(a) handler, {records:,} records",
            f"{handler * 1000:.0f} ms",
            f"json.loads + is_valid {parse_and_validate * 1000:.0f} ms",
            ratio,
            "<= 1.3",
            ratio <= 1.3,
        ),
        notes,
    )


def planned(event: dict[str, Any]) -> Plan:
    """The event's operations, validated and planned (not yet encoded)."""
    validator = load_validator()
    records = [parse_record(raw, n, LIMIT) for n, raw in enumerate(event["Records"])]
    plan = plan_operations(records, lambda record: validate_record(record, validator))
    plan.complete()
    return plan


def figure_aggregation(bodies: list[str], repeats: int, latency: float) -> tuple[Figure, list[str]]:
    """(b) delivery of the same operations: aggregated vs one request per record.

    Both sides encode the operations and post through the same pooled client; validation is
    left out (both would do the same). One request per record is sent one after another,
    as a record-at-a-time processor does.
    """
    event = make_event(bodies)
    plans: list[Plan] = []
    with api_process(latency) as endpoint:
        settings = Settings(entity_api_url=endpoint, dlq_url=DLQ_PLACEHOLDER)
        client = EntityApiClient(settings)

        def prepare() -> None:
            admin(endpoint).reset()
            plans[:] = [planned(event)]

        def aggregated() -> None:
            deliver_plan(
                plans[0],
                client,
                Deadline(600),
                max_operations=settings.max_operations_per_request,
                max_bytes=settings.max_request_bytes,
                stats=CallStats(),
            )

        def one_per_record() -> None:
            stats, deadline = CallStats(), Deadline(600)
            for chain in plans[0].chains():
                for operation in chain:
                    encode_operation(operation)
                    client.send([operation], deadline, stats)

        prepare()
        aggregated()  # warm the connection pool
        measured = {}
        for name, action in (("aggregated", aggregated), ("single", one_per_record)):
            seconds = best_of(repeats, action, prepare)
            measured[name] = (seconds, admin(endpoint).stats()["requests"])
    (single, single_requests), (together, requests) = measured["single"], measured["aggregated"]
    ratio = single / together
    label = f", API latency {latency * 1000:.0f} ms" if latency else ", loopback"
    return (
        Figure(
            f"(b) aggregated vs 1 request/record{label}",
            f"{requests} requests, {together * 1000:.0f} ms",
            f"{single_requests} requests, {single * 1000:.0f} ms",
            ratio,
            ">= 50x",
            ratio >= 50,
        ),
        [],
    )


def import_seconds(statement: str, env: dict[str, str]) -> float:
    """Seconds `statement` takes in a fresh interpreter (measured inside it)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"bench: `{statement}` failed in a fresh process:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def figure_cold_import(repeats: int) -> tuple[Figure, list[str]]:
    """(c) import of consumer.handler (settings, validator, pool built) vs its libraries.

    The handler is imported from a copy of function/ compiled to .pyc the way the package
    ships it, as the libraries in site-packages are (pip compiled them at install).
    """
    with tempfile.TemporaryDirectory(prefix="bench-function-") as copy:
        shutil.copytree(FUNCTION_DIR, copy, dirs_exist_ok=True)
        compileall.compile_dir(
            copy, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
        env = {
            **os.environ,
            "PYTHONPATH": copy,
            "ENTITY_API_URL": "http://127.0.0.1:9/v1/operations:batch",
            "DLQ_URL": DLQ_PLACEHOLDER,
        }
        env.pop("ENTITY_API_TOKEN_PARAMETER", None)
        handler, baseline = [], []
        for _ in range(repeats):
            baseline.append(import_seconds("import jsonschema, urllib3", env))
            handler.append(import_seconds("import consumer.handler", env))
    ours, theirs = statistics.median(handler), statistics.median(baseline)
    ratio = ours / theirs
    return (
        Figure(
            "(c) cold import of consumer.handler",
            f"{ours * 1000:.1f} ms",
            f"jsonschema + urllib3 {theirs * 1000:.1f} ms",
            ratio,
            "<= 1.15",
            ratio <= 1.15,
        ),
        [
            f"(c) median of {repeats} fresh processes each, alternating; the handler figure "
            "includes building the settings, the schema validator and the connection pool"
        ],
    )


def print_table(figures: list[Figure], notes: list[str]) -> None:
    """Print the results as a plain table."""
    headers = ("figure", "measured", "baseline", "ratio", "goal", "met")
    rows = [
        (f.name, f.measured, f.baseline, f"{f.ratio:.2f}", f.goal, "yes" if f.met else "NO")
        for f in figures
    ]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    for row in [headers, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
        if row is headers:
            print(line)
    print(line)
    for note in notes:
        print(note)


def main(argv: list[str] | None = None) -> int:
    """Run the three figures and print the table."""
    parser = parser_for(__doc__, __spec__)
    parser.add_argument("--records", type=int, default=10_000, help="records for figure (a)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure")
    parser.add_argument("--import-repeats", type=int, default=9, help="fresh processes for (c)")
    args = parser.parse_args(argv)
    print(
        f"Python {sys.version.split()[0]} on {os.cpu_count()} cores; "
        "the entity API runs in a separate process"
    )
    bodies = make_bodies(args.records)
    figures: list[Figure] = []
    notes: list[str] = []
    for figure, extra in (
        figure_validation(bodies, args.repeats),
        figure_aggregation(bodies[:1_000], args.repeats, 0.0),
        figure_aggregation(bodies[:1_000], 1, 0.005),
        figure_cold_import(args.import_repeats),
    ):
        figures.append(figure)
        notes.extend(extra)
    print_table(figures, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
