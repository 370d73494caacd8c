"""Calibration against real fan-out: at K = 1, 4 and 12 concurrent invocations through
LocalStack (`make bench-fanout`, scripts/sim/calibration_fanout.toml), the simulator's 429
share is within 3 points and its drain within 20% of the measured ones."""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest

from sim import calibration, calibration_fanout

LOCALSTACK, _ = calibration.load()
SETUP, RUNS = calibration_fanout.load()
IDS = [f"K={run.concurrency}" for run in RUNS]


@functools.cache
def simulated() -> list[calibration_fanout.FanOutRow]:
    """The stored runs simulated as the bench ran them (once per session, when first asked)."""
    return calibration_fanout.simulate(RUNS, SETUP, LOCALSTACK)


def test_the_measured_runs_are_stored() -> None:
    assert [run.concurrency for run in RUNS] == [1, 4, 12]
    assert (SETUP["changes"], SETUP["rate"], SETUP["batch_size"]) == (6000, 20.0, 50)
    assert SETUP["max_operations_per_request"] == 20
    assert all(run.invocations == 120 for run in RUNS)


@pytest.mark.parametrize("index", range(len(RUNS)), ids=IDS)
def test_simulated_429_share_within_3_points(index: int) -> None:
    row = simulated()[index]
    run = row.run
    assert row.peak_concurrency == run.concurrency
    assert abs(row.share_429 - run.share_429) <= calibration_fanout.SHARE_TOLERANCE, (
        f"K={run.concurrency}: simulated 429 share {row.share_429:.1%}, measured "
        f"{run.share_429:.1%}"
    )


@pytest.mark.parametrize("index", range(len(RUNS)), ids=IDS)
def test_simulated_drain_within_20_percent(index: int) -> None:
    row = simulated()[index]
    run = row.run
    assert abs(row.drain_seconds / run.drain_seconds - 1) <= calibration_fanout.DRAIN_TOLERANCE, (
        f"K={run.concurrency}: simulated drain {row.drain_seconds:.1f} s, measured "
        f"{run.drain_seconds} s"
    )


def test_each_row_starts_with_the_environments_the_row_before_left() -> None:
    assert [row.cold_starts for row in simulated()] == [1, 3, 8]


def test_the_poller_cycle_comes_from_the_one_at_a_time_run() -> None:
    cycle = calibration_fanout.poller_cycle(RUNS[0], SETUP, LOCALSTACK)
    slower = replace(RUNS[0], drain_seconds=RUNS[0].drain_seconds * 1.5)
    assert 0.05 < cycle < RUNS[0].drain_seconds / RUNS[0].invocations
    assert calibration_fanout.poller_cycle(slower, SETUP, LOCALSTACK) == pytest.approx(
        cycle + RUNS[0].drain_seconds * 0.5 / 120
    )
