"""Calibration against real fan-out: the runs `make bench-fanout` measured through LocalStack
(K concurrent invocations of the deployed function against a token-bucket entity API), stored
in calibration_fanout.toml, beside the simulator configured the same way (the project's own
poller: up to K batches at once, LocalStack's invoke round trip from calibration.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from sim import calibration
from sim.scenario import Api, Burst, Runtime, Scenario, Stack, Traffic
from sim.simulation import Simulation

FANOUT_FILE = Path(__file__).resolve().parent / "calibration_fanout.toml"
SHARE_TOLERANCE = 0.03
"""The simulated 429 share must be within 3 points of the measured one."""
DRAIN_TOLERANCE = 0.20
"""The simulated drain within 20% of the measured one."""
RELEASE_SECONDS = 0.5
"""The measured runs release every change at once (sent before the mapping is enabled)."""
POLLER_CYCLE_SECONDS = 0.25
"""The project's poller's own time per batch (its ReceiveMessage and DeleteMessageBatch calls of
10 and LocalStack's invoke round trip): fitted on K = 1, the only run where it shows alone
(120 batches in 34.7 s, nothing throttled). LocalStack's own poller costs 0.115 s."""


@dataclass(frozen=True)
class FanOutRun:
    """One measured run at K concurrent invocations."""

    concurrency: int
    drain_seconds: float
    share_429: float
    requests: int
    invocations: int


@dataclass(frozen=True)
class FanOutRow:
    """A measured run beside its simulation."""

    run: FanOutRun
    drain_seconds: float
    share_429: float
    requests: int
    peak_concurrency: int

    @property
    def within(self) -> bool:
        """429 share within 3 points and drain within 20% of the measured ones."""
        share_ok = abs(self.share_429 - self.run.share_429) <= SHARE_TOLERANCE
        drain_ok = abs(self.drain_seconds / self.run.drain_seconds - 1) <= DRAIN_TOLERANCE
        return share_ok and drain_ok


def load(path: Path = FANOUT_FILE) -> tuple[dict[str, Any], list[FanOutRun]]:
    """The measured setup and the runs at a fixed K (the governed run is left out)."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    runs = [
        FanOutRun(r["K"], r["drain_seconds"], r["share_429"], r["requests"], r["invocations"])
        for r in document["run"]
        if isinstance(r["K"], int)
    ]
    return document, runs


def scenario_for(run: FanOutRun, setup: dict[str, Any], localstack: dict[str, Any]) -> Scenario:
    """The measured run as a scenario: K pollers at once from the start, the token bucket."""
    return Scenario(
        name=f"fan-out K={run.concurrency}",
        seed=11,
        max_duration_seconds=1800,
        sample_seconds=1,
        traffic=Traffic(
            bursts=(Burst(0.0, RELEASE_SECONDS, int(setup["changes"])),), tick_seconds=0.05
        ),
        stack=Stack(
            batch_size=int(setup["batch_size"]),
            maximum_batching_window_in_seconds=float(setup["maximum_batching_window_in_seconds"]),
            maximum_concurrency=run.concurrency,
            function_timeout=float(setup["function_timeout"]),
            max_operations_per_request=int(setup["max_operations_per_request"]),
        ),
        api=Api(
            rate=float(setup["rate"]),
            burst=float(setup["burst"]),
            latency_median_ms=localstack["api_latency_ms"],
            latency_sigma=0.2,
            retry_after_seconds=1.0,
        ),
        runtime=Runtime(
            initial_concurrency=run.concurrency,
            scale_down_floor=run.concurrency,
            cycle_overhead_seconds=POLLER_CYCLE_SECONDS,
            cold_start_seconds=localstack["cold_start_seconds"],
            poller_per_message_ms=localstack["poller_per_message_ms"],
            per_record_ms=localstack["per_record_ms"],
            invocation_overhead_seconds=localstack["invocation_overhead_seconds"],
            sqs_call_seconds=localstack["sqs_call_seconds"],
        ),
    )


def simulate(run: FanOutRun, setup: dict[str, Any], localstack: dict[str, Any]) -> FanOutRow:
    """Simulate one measured run."""
    result = Simulation(scenario_for(run, setup, localstack)).run()
    if result.drain_seconds is None:
        raise RuntimeError(f"fan-out calibration K={run.concurrency} did not drain")
    return FanOutRow(
        run, result.drain_seconds, result.share_429, result.requests, result.peak_concurrency
    )


def compare(path: Path = FANOUT_FILE) -> list[FanOutRow]:
    """Every stored fan-out run beside its simulation."""
    localstack, _ = calibration.load()
    setup, runs = load(path)
    return [simulate(run, setup, localstack) for run in runs]


def table(rows: list[FanOutRow]) -> Table:
    """Measured vs simulated fan-out."""
    out = Table(title="LocalStack fan-out measured vs simulated", title_justify="left")
    for header in (
        "K",
        "drain measured",
        "simulated",
        "429 measured",
        "simulated",
        "requests",
        "simulated",
        "checked",
    ):
        out.add_column(header, justify="right")
    for row in rows:
        out.add_row(
            str(row.run.concurrency),
            f"{row.run.drain_seconds:.1f} s",
            f"{row.drain_seconds:.1f} s",
            f"{row.run.share_429:.1%}",
            f"{row.share_429:.1%}",
            str(row.run.requests),
            str(row.requests),
            "within" if row.within else "OUTSIDE",
        )
    return out
