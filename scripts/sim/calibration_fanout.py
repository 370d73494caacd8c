"""Calibration against real fan-out: the runs `make bench-fanout` measured through LocalStack
(K concurrent invocations of the deployed function against a token-bucket entity API), stored
in calibration_fanout.toml, beside the simulator configured the same way: the project's own
poller (up to K batches at once, its own work per batch and the cold starts sharing the
host's cores), the rows in turn on one stack (each row served first by the environments the
row before left), the machine's speed (the poller's cycle, a cold start) read from the
one-at-a-time run of the same measurement, LocalStack's other constants from calibration.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.table import Table

from sim import calibration
from sim.function import Environment
from sim.loop import Loop
from sim.scenario import Api, Burst, Runtime, Scenario, Stack, Traffic
from sim.simulation import Simulation

FANOUT_FILE = Path(__file__).resolve().parent / "calibration_fanout.toml"
SHARE_TOLERANCE = 0.03
"""The simulated 429 share must be within 3 points of the measured one."""
DRAIN_TOLERANCE = 0.20
"""The simulated drain within 20% of the measured one."""
RELEASE_SECONDS = 0.5
"""The measured runs release every change at once (sent before the mapping is enabled)."""
HOST_CORES = 2
"""The cores of the machine the runs were measured on (calibration.toml's header): the
project's poller, LocalStack and the function's processes share them, so K pollers' own work
(receive, the invoke round trip, delete) and new environments' cold starts are done two
pieces at a time, and the K pollers released together start staggered."""
GAP_SECONDS = 10.0
"""Between two rows the bench pauses the poller, publishes the next 6,000 changes (~1,000/s)
and resets the API: about 10 s, which `scripts/bench/fanout.py` does not record. The rows
share one stack, so LocalStack (which keeps an environment warm for 10 minutes) serves a row
with the environments the row before left, each with its handler's Pacer: a pause under
`FORGET_AFTER_SECONDS` (60 s) keeps its learnt rate. Gaps of 10, 30 and 55 s give K = 12
5.3-6.0% 429s and K = 4 1.6-1.9% over six seeds (the rate really sent has decayed by then, the
rest is kept)."""


@dataclass(frozen=True)
class FanOutRun:
    """One measured run at K concurrent invocations."""

    concurrency: int
    drain_seconds: float
    share_429: float
    requests: int
    invocations: int
    p50_seconds: float
    max_seconds: float
    """Invocation durations as the poller measured them (invoke call to answer)."""


@dataclass(frozen=True)
class FanOutRow:
    """A measured run beside its simulation."""

    run: FanOutRun
    drain_seconds: float
    share_429: float
    requests: int
    peak_concurrency: int
    cold_starts: int
    """Execution environments the row added to those the row before left."""
    cycle_seconds: float
    """The poller's own time per batch the simulation used (`poller_cycle`)."""
    cold_start_seconds: float
    """A cold start the simulation used (`cold_start`)."""

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
        FanOutRun(
            r["K"],
            r["drain_seconds"],
            r["share_429"],
            r["requests"],
            r["invocations"],
            r["p50"],
            r["max"],
        )
        for r in document["run"]
        if isinstance(r["K"], int)
    ]
    return document, runs


def scenario_for(
    run: FanOutRun,
    setup: dict[str, Any],
    localstack: dict[str, Any],
    *,
    cycle_seconds: float,
    cold_start_seconds: float,
    release_at: float = 0.0,
) -> Scenario:
    """The measured run as a scenario: K pollers released at `release_at` on the host's cores,
    each cycle costing `cycle_seconds` of the poller's own work; the token bucket."""
    return Scenario(
        name=f"fan-out K={run.concurrency}",
        seed=11,
        max_duration_seconds=release_at + 1800,
        sample_seconds=1,
        traffic=Traffic(
            bursts=(Burst(release_at, RELEASE_SECONDS, int(setup["changes"])),),
            tick_seconds=0.05,
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
            cycle_overhead_seconds=cycle_seconds,
            host_cores=HOST_CORES,
            oldest_environment_first=True,
            cold_start_seconds=cold_start_seconds,
            poller_per_message_ms=localstack["poller_per_message_ms"],
            per_record_ms=localstack["per_record_ms"],
            invocation_overhead_seconds=localstack["invocation_overhead_seconds"],
            sqs_call_seconds=localstack["sqs_call_seconds"],
        ),
    )


def cold_start(first: FanOutRun) -> float:
    """A cold start on the machine as it was (the runtime process and the handler's imports,
    CPU on the shared cores): the one-at-a-time run's longest invocation, its first on a fresh
    stack, less its median one."""
    return max(0.0, first.max_seconds - first.p50_seconds)


def poller_cycle(first: FanOutRun, setup: dict[str, Any], localstack: dict[str, Any]) -> float:
    """The poller's own time per batch beyond the handler and the per-message time (its
    receive and delete, LocalStack's invoke round trip), on the machine as it was when the
    runs were measured: read from the one-at-a-time run, the only one where it shows alone
    (nothing throttled): its drain per invocation less what the simulator already spends
    (the handler and the per-message time, simulated without the API's limit)."""
    if first.concurrency != 1:
        raise ValueError(f"the first stored run must be K = 1, got K = {first.concurrency}")
    scenario = scenario_for(
        first, setup, localstack, cycle_seconds=0.0, cold_start_seconds=cold_start(first)
    )
    unlimited = replace(scenario, api=replace(scenario.api, rate=1e6, burst=1e6))
    bare = Simulation(unlimited).run()  # nothing throttled, as measured
    if bare.drain_seconds is None:
        raise RuntimeError("fan-out calibration K=1 did not drain")
    return max(0.0, (first.drain_seconds - bare.drain_seconds) / first.invocations)


def simulate(
    runs: list[FanOutRun], setup: dict[str, Any], localstack: dict[str, Any]
) -> list[FanOutRow]:
    """Simulate the measured runs as the bench ran them: in turn, on one stack, each released
    `GAP_SECONDS` after the one before drained, with the execution environments (and their
    Pacers) it left."""
    cycle, cold = poller_cycle(runs[0], setup, localstack), cold_start(runs[0])
    loop = Loop()
    environments: list[Environment] = []
    rows: list[FanOutRow] = []
    for run in runs:
        release_at = loop.now + GAP_SECONDS if rows else 0.0
        scenario = scenario_for(
            run,
            setup,
            localstack,
            cycle_seconds=cycle,
            cold_start_seconds=cold,
            release_at=release_at,
        )
        simulation = Simulation(scenario, loop=loop)
        simulation.function.free.extend(environments)
        loop.stopped = False
        result = simulation.run()
        if result.drain_seconds is None:
            raise RuntimeError(f"fan-out calibration K={run.concurrency} did not drain")
        environments = simulation.function.free
        rows.append(
            FanOutRow(
                run,
                result.drain_seconds,
                result.share_429,
                result.requests,
                result.peak_concurrency,
                result.cold_starts,
                cycle,
                cold,
            )
        )
    return rows


def compare(path: Path = FANOUT_FILE) -> list[FanOutRow]:
    """Every stored fan-out run beside its simulation."""
    localstack, _ = calibration.load()
    setup, runs = load(path)
    return simulate(runs, setup, localstack)


def table(rows: list[FanOutRow]) -> Table:
    """Measured vs simulated fan-out."""
    cycle = (
        f"; from K = 1: poller cycle {rows[0].cycle_seconds:.3f} s, "
        f"cold start {rows[0].cold_start_seconds:.2f} s"
        if rows
        else ""
    )
    out = Table(
        title=f"LocalStack fan-out measured vs simulated ({HOST_CORES} cores{cycle})",
        title_justify="left",
    )
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
