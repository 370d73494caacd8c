"""Calibration: the simulator configured as LocalStack's single poller, against measured runs
stored in calibration.toml (drain time, and invocations where measured)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from sim.scenario import Api, Burst, Runtime, Scenario, Stack, Traffic
from sim.simulation import Simulation

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.toml"
TOLERANCE = 0.20
"""Simulated figures must be within 20% of the measured ones."""


@dataclass(frozen=True)
class Measurement:
    """One measured LocalStack run."""

    name: str
    source: str
    asserted: bool
    messages: int
    batch_size: int
    window_seconds: float
    poll_interval_seconds: float
    publish_seconds: float
    drain_seconds: float
    drain_from: str
    """"publish_end" (the demo's clock starts after publishing) or "publish_start"."""
    invalid_share: float = 0.0
    invocations: int | None = None


@dataclass(frozen=True)
class Row:
    """A measurement beside the simulation of it."""

    measurement: Measurement
    drain_seconds: float
    invocations: int

    @property
    def drain_error(self) -> float:
        """Relative error of the simulated drain time."""
        return self.drain_seconds / self.measurement.drain_seconds - 1

    @property
    def invocation_error(self) -> float | None:
        """Relative error of the simulated invocation count (None when not measured)."""
        measured = self.measurement.invocations
        return None if measured is None else self.invocations / measured - 1

    @property
    def within(self) -> bool:
        """Both figures within TOLERANCE."""
        errors = [self.drain_error, self.invocation_error]
        return all(abs(e) <= TOLERANCE for e in errors if e is not None)


def load(path: Path = CALIBRATION_FILE) -> tuple[dict[str, Any], list[Measurement]]:
    """The LocalStack constants and the measurements."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    return document["localstack"], [Measurement(**m) for m in document["measurement"]]


def scenario_for(measurement: Measurement, localstack: dict[str, Any]) -> Scenario:
    """The measured run as a scenario: LocalStack's poller, a local API without a limit."""
    return Scenario(
        name=f"calibration: {measurement.name}",
        seed=7,
        max_duration_seconds=3600,
        sample_seconds=1,
        traffic=Traffic(
            bursts=(Burst(0.0, measurement.publish_seconds, measurement.messages),),
            invalid_share=measurement.invalid_share,
            tick_seconds=0.05,
        ),
        stack=Stack(
            batch_size=measurement.batch_size,
            maximum_batching_window_in_seconds=measurement.window_seconds,
            function_timeout=30,
        ),
        api=Api(
            rate=1e6, burst=1e6, latency_median_ms=localstack["api_latency_ms"], latency_sigma=0.2
        ),
        runtime=Runtime(
            single_poller=True,
            poll_interval_seconds=measurement.poll_interval_seconds,
            cycle_overhead_seconds=localstack["cycle_overhead_seconds"],
            cold_start_seconds=localstack["cold_start_seconds"],
            poller_per_message_ms=localstack["poller_per_message_ms"],
            empty_poll_backoff_seconds=localstack["empty_poll_backoff_seconds"],
            per_record_ms=localstack["per_record_ms"],
            invocation_overhead_seconds=localstack["invocation_overhead_seconds"],
            sqs_call_seconds=localstack["sqs_call_seconds"],
        ),
    )


def simulate(measurement: Measurement, localstack: dict[str, Any]) -> Row:
    """Simulate one measured run."""
    simulation = Simulation(scenario_for(measurement, localstack))
    result = simulation.run()
    if simulation.drained_at is None:
        raise RuntimeError(f"calibration run {measurement.name!r} did not drain")
    start = measurement.publish_seconds if measurement.drain_from == "publish_end" else 0.0
    return Row(measurement, simulation.drained_at - start, result.invocations)


def compare(path: Path = CALIBRATION_FILE) -> list[Row]:
    """Every stored measurement beside its simulation."""
    localstack, measurements = load(path)
    return [simulate(m, localstack) for m in measurements]


def table(rows: list[Row]) -> Table:
    """Measured vs simulated."""
    out = Table(title="LocalStack measured vs simulated (single poller)", title_justify="left")
    for header in (
        "run",
        "drain measured",
        "simulated",
        "error",
        "invocations",
        "simulated",
        "error",
        "checked",
    ):
        out.add_column(header, justify="left" if header == "run" else "right")
    for row in rows:
        m = row.measurement
        invocation_error = row.invocation_error
        out.add_row(
            m.name,
            f"{m.drain_seconds:g} s",
            f"{row.drain_seconds:.1f} s",
            f"{row.drain_error:+.0%}",
            "-" if m.invocations is None else f"{m.invocations}",
            f"{row.invocations}",
            "-" if invocation_error is None else f"{invocation_error:+.0%}",
            ("within 20%" if row.within else "OUTSIDE 20%") if m.asserted else "reference",
        )
    return out
