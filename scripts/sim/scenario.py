"""Scenarios: what arrives, the stack's settings, the entity API, the governor (TOML files).

A scenario file (scripts/sim/scenarios/<name>.toml) has the sections of the dataclasses below,
each key named as the field; anything unknown or of the wrong type is refused with one line
naming it. `python -m sim list` shows the stored scenarios.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


BATCH_WITHOUT_WINDOW = 10
"""The largest batch_size AWS accepts without a batching window (CreateEventSourceMapping:
BatchSize above 10 needs MaximumBatchingWindowInSeconds of at least 1)."""
NEEDS_WINDOW = (
    "stack.batch_size above 10 needs stack.maximum_batching_window_in_seconds >= 1 "
    "(AWS refuses such a mapping)"
)


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message names the file and the key."""


@dataclass(frozen=True)
class Burst:
    """`count` changes arriving evenly over [start, start + duration)."""

    start: float = 0.0
    duration: float = 60.0
    count: int = 1000


@dataclass(frozen=True)
class Traffic:
    """What producers send."""

    bursts: tuple[Burst, ...] = (Burst(),)
    invalid_share: float = 0.0
    """Share of messages that fail the schema (the handler sends them to the DLQ)."""
    entities: int = 10_000_000
    """Distinct entities changes are spread over (repeats in a batch coalesce)."""
    message_bytes: int = 1024
    operation_bytes: int = 300
    delay_seconds: int = 0
    tick_seconds: float = 0.1
    """Arrivals are released in steps of this length (an event per step, not per message)."""


@dataclass(frozen=True)
class Stack:
    """The stack's settings, named as the Terraform inputs (and the handler's environment)."""

    batch_size: int = 100
    maximum_batching_window_in_seconds: float = 5.0
    maximum_concurrency: int = 5
    function_timeout: float = 60.0
    memory_size: int = 512
    architecture: str = "arm64"
    max_receive_count: int = 5
    visibility_timeout_seconds: float = 0.0
    """0: derived as the stack derives it, 6 x function_timeout + window."""
    message_retention_seconds: float = 345_600.0
    retry_horizon_seconds: float = 3600.0
    retry_backoff_base_seconds: float = 2.0
    retry_backoff_max_seconds: float = 900.0
    visibility_backoff: bool = True
    """The handler sets failed records' visibility to a backoff (off: the whole timeout)."""
    pacing: bool = True
    """The handler paces its requests with the adaptive token bucket."""
    max_operations_per_request: int = 100
    max_request_bytes: int = 1_048_576

    @property
    def visibility_timeout(self) -> float:
        """The queue's visibility timeout in seconds."""
        if self.visibility_timeout_seconds > 0:
            return self.visibility_timeout_seconds
        return 6 * self.function_timeout + self.maximum_batching_window_in_seconds


@dataclass(frozen=True)
class Governor:
    """The optional governor (`adaptive_concurrency` in Terraform, with its defaults) and
    CloudWatch's lag. It runs every minute, as the rule Terraform creates."""

    enabled: bool = False
    minimum: int = 2
    maximum: int = 20
    target_throttle_ratio: float = 0.05
    period_seconds: float = 10.0
    """The metric period of each decision, and the time between decisions (PERIOD_SECONDS):
    10, 20, 30, or a multiple of 60 up to 3600."""
    metric_lag_min_seconds: float = 5.0
    metric_lag_max_seconds: float = 30.0
    """A second's figures (the consumer's high-resolution EMF metrics) appear in CloudWatch
    this long (uniform in the range, drawn per second) after it ends (docs/tuning.md)."""


@dataclass(frozen=True)
class Outage:
    """The API answers `status` to everything over [start, start + duration)."""

    start: float = 0.0
    duration: float = 60.0
    status: int = 503


@dataclass(frozen=True)
class RateChange:
    """From `at` on, the API's limit is `rate` requests/s."""

    at: float = 0.0
    rate: float = 50.0


@dataclass(frozen=True)
class Api:
    """The entity API: a token bucket of `rate` requests/s with `burst`, and its latency."""

    rate: float = 50.0
    burst: float = 50.0
    latency_median_ms: float = 80.0
    latency_sigma: float = 0.3
    """Log-normal spread of the latency (0: constant)."""
    latency_per_operation_ms: float = 0.0
    retry_after_seconds: float = 1.0
    """Retry-After on a 429 (0: none)."""
    outage_retry_after_seconds: float = 0.0
    transient_operation_share: float = 0.0
    rejected_operation_share: float = 0.0
    request_timeout_seconds: float = 10.0
    outages: tuple[Outage, ...] = ()
    rate_changes: tuple[RateChange, ...] = ()


@dataclass(frozen=True)
class Runtime:
    """Lambda and the event source mapping (AWS figures by default; LocalStack in calibration)."""

    cold_start_seconds: float = 0.4
    per_record_ms: float = 0.05
    """The handler's own cost per record (parse, validate, encode)."""
    invocation_overhead_seconds: float = 0.01
    sqs_call_seconds: float = 0.02
    """Latency of one SQS call the handler makes (DLQ send, visibility change)."""
    initial_concurrency: int = 5
    scale_up_per_minute: int = 300
    scale_down_floor: int = 5
    cycle_overhead_seconds: float = 0.02
    """The poller's own time per batch (receive, delete)."""
    poller_per_message_ms: float = 0.0
    """The poller's time per message of a batch (LocalStack: ReceiveMessage calls of 10)."""
    host_cores: int = 0
    """Cores shared by the pollers' own work (cycle and per-message time) and the environments'
    cold starts, one piece at a time each (the project's poller on LocalStack's host: 2); 0:
    nothing shared (AWS)."""
    oldest_environment_first: bool = False
    """Which free warm environment an invocation gets: LocalStack's first created (its
    AssignmentService); False: the one freed last (AWS does not say)."""
    single_poller: bool = False
    """LocalStack's poller: one invocation at a time, sleeping `poll_interval_seconds`."""
    poll_interval_seconds: float = 0.0
    empty_poll_backoff_seconds: float = 1.0


@dataclass(frozen=True)
class Scenario:
    """Everything one simulation run needs."""

    name: str = "unnamed"
    description: str = ""
    seed: int = 1
    sla_seconds: float = 3600.0
    max_duration_seconds: float = 4 * 3600.0
    sample_seconds: float = 5.0
    traffic: Traffic = field(default_factory=Traffic)
    stack: Stack = field(default_factory=Stack)
    governor: Governor = field(default_factory=Governor)
    api: Api = field(default_factory=Api)
    runtime: Runtime = field(default_factory=Runtime)

    @property
    def changes(self) -> int:
        """Messages the producers send."""
        return sum(b.count for b in self.traffic.bursts)

    @property
    def arrival_span(self) -> float:
        """Seconds from the first arrival to the last."""
        starts = [b.start for b in self.traffic.bursts if b.count]
        ends = [b.start + b.duration for b in self.traffic.bursts if b.count]
        return max(ends) - min(starts) if starts else 0.0

    @property
    def operations_per_request(self) -> int:
        """The most operations one request can carry: the stack's limit, the request's bytes,
        and the batch (an invocation packs only its own batch)."""
        by_bytes = max(1, self.stack.max_request_bytes // max(1, self.traffic.operation_bytes))
        return min(self.stack.max_operations_per_request, by_bytes, self.stack.batch_size)

    @property
    def physical_bound(self) -> float:
        """The longer of the arrival span and the time the API needs to accept every valid
        change at `operations_per_request`, from the first arrival, at the limit in force
        (rate changes) and nothing during outages. Ignores the API's initial burst (at most
        `burst` requests earlier), latency and coalescing (every change counted as one
        operation)."""
        requests = self.changes * (1 - self.traffic.invalid_share) / self.operations_per_request
        return max(self.arrival_span, self._serving_seconds(requests))

    def _serving_seconds(self, requests: float) -> float:
        """Seconds from the first arrival until the API can have accepted `requests`."""
        api = self.api
        start = min((b.start for b in self.traffic.bursts if b.count), default=0.0)
        edges = {c.at for c in api.rate_changes}
        edges |= {o.start for o in api.outages} | {o.start + o.duration for o in api.outages}
        points = sorted(t for t in edges if t > start)
        at, left = start, requests
        for end in [*points, math.inf]:
            rate = self._rate_at(at)
            if rate > 0 and (end == math.inf or rate * (end - at) >= left):
                return at + left / rate - start
            left -= rate * (end - at) if end != math.inf else 0.0
            at = end
        return math.inf

    def _rate_at(self, now: float) -> float:
        """Requests/s the API accepts at `now` (0 during an outage)."""
        if any(o.start <= now < o.start + o.duration for o in self.api.outages):
            return 0.0
        rate = self.api.rate
        for change in sorted(self.api.rate_changes, key=lambda c: c.at):
            if change.at <= now:
                rate = change.rate
        return rate


def _convert(kind: Any, value: Any, where: str) -> Any:
    """`value` from TOML as `kind` (a field type), or ScenarioError naming `where`."""
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if not isinstance(value, dict):
            raise ScenarioError(f"{where}: expected a table")
        return _build(kind, value, where)
    if origin is tuple:
        item = typing.get_args(kind)[0]
        if not isinstance(value, list):
            raise ScenarioError(f"{where}: expected a list")
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if kind is bool:
        if not isinstance(value, bool):
            raise ScenarioError(f"{where}: expected true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where}: expected a whole number, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScenarioError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ScenarioError(f"{where}: expected a string, got {value!r}")
        return value
    raise ScenarioError(f"{where}: unsupported type {kind!r}")  # pragma: no cover


def _build[T](kind: type[T], table: dict[str, Any], where: str) -> T:
    hints = typing.get_type_hints(kind)
    known = {f.name for f in fields(kind)}  # type: ignore[arg-type]
    unknown = sorted(set(table) - known)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    values = {k: _convert(hints[k], v, f"{where}.{k}" if where else k) for k, v in table.items()}
    return kind(**values)


def _check(scenario: Scenario, where: str) -> None:
    """Refuse values the model cannot run, naming the key."""
    rules: list[tuple[bool, str]] = [
        (1 <= scenario.stack.batch_size <= 10_000, "stack.batch_size must be 1-10000"),
        (
            0 <= scenario.stack.maximum_batching_window_in_seconds <= 300,
            "stack.maximum_batching_window_in_seconds must be 0-300",
        ),
        (aws_refuses(scenario.stack) is None, str(aws_refuses(scenario.stack))),
        (
            2 <= scenario.stack.maximum_concurrency <= 1000,
            "stack.maximum_concurrency must be 2-1000",
        ),
        (scenario.stack.max_receive_count >= 1, "stack.max_receive_count must be >= 1"),
        (scenario.stack.function_timeout > 2, "stack.function_timeout must be > 2 s"),
        (scenario.stack.architecture in ("arm64", "x86_64"), "stack.architecture: arm64 or x86_64"),
        (scenario.api.rate > 0 and scenario.api.burst >= 1, "api.rate > 0 and api.burst >= 1"),
        (scenario.changes > 0, "traffic.bursts must send at least one change"),
        (0 <= scenario.traffic.invalid_share < 1, "traffic.invalid_share must be in [0, 1)"),
        (scenario.traffic.entities >= 1, "traffic.entities must be >= 1"),
        (
            2 <= scenario.governor.minimum <= scenario.governor.maximum <= 1000,
            "governor: 2 <= minimum <= maximum <= 1000",
        ),
        (
            0 < scenario.governor.target_throttle_ratio < 1,
            "governor.target_throttle_ratio in (0, 1)",
        ),
        (
            scenario.governor.period_seconds in (10, 20, 30)
            or (
                60 <= scenario.governor.period_seconds <= 3600
                and scenario.governor.period_seconds % 60 == 0
            ),
            "governor.period_seconds must be 10, 20, 30 or a multiple of 60 up to 3600 "
            "(as Terraform's)",
        ),
        (
            0
            <= scenario.governor.metric_lag_min_seconds
            <= scenario.governor.metric_lag_max_seconds,
            "governor: 0 <= metric_lag_min_seconds <= metric_lag_max_seconds",
        ),
        (scenario.sample_seconds > 0, "sample_seconds must be > 0"),
        (scenario.runtime.host_cores >= 0, "runtime.host_cores must be >= 0"),
    ]
    for ok, message in rules:
        if not ok:
            raise ScenarioError(f"{where}: {message}")


def aws_refuses(stack: Stack) -> str | None:
    """Why AWS would refuse the mapping these settings make (None: it accepts them)."""
    if stack.batch_size > BATCH_WITHOUT_WINDOW and stack.maximum_batching_window_in_seconds < 1:
        return NEEDS_WINDOW
    return None


def parse(text: str, where: str) -> Scenario:
    """A scenario from TOML text; `where` names it in errors."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: not valid TOML: {exc}") from None
    scenario = _build(Scenario, table, "")
    _check(scenario, where)
    return scenario


def available() -> list[str]:
    """Names of the stored scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load(name_or_path: str) -> Scenario:
    """A stored scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        names = ", ".join(available())
        raise ScenarioError(f"no scenario {name_or_path!r} (stored: {names})")
    try:
        return parse(path.read_text(encoding="utf-8"), path.name)
    except ScenarioError as exc:
        if str(exc).startswith(path.name):
            raise
        raise ScenarioError(f"{path.name}: {exc}") from None


def scaled(scenario: Scenario, changes: int | None) -> Scenario:
    """A copy whose bursts send `changes` in all (each burst's share and rate kept: its
    duration grows with its count); the scenario itself when `changes` is None."""
    if changes is None:
        return scenario
    factor = changes / scenario.changes
    bursts = tuple(
        replace(b, count=round(b.count * factor), duration=b.duration * factor)
        for b in scenario.traffic.bursts
    )
    return replace(scenario, traffic=replace(scenario.traffic, bursts=bursts))


def with_stack(scenario: Scenario, **changes: Any) -> Scenario:
    """A copy with some stack settings changed."""
    return replace(scenario, stack=replace(scenario.stack, **changes))


def with_governor(scenario: Scenario, **changes: Any) -> Scenario:
    """A copy with some governor settings changed."""
    return replace(scenario, governor=replace(scenario.governor, **changes))
