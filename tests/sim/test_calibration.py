"""Calibration: configured as LocalStack's single poller, the simulator reproduces the stored
LocalStack measurements (`make demo`: drain time and invocations) within 20%."""

from __future__ import annotations

import pytest

from sim import calibration

LOCALSTACK, MEASUREMENTS = calibration.load()
ASSERTED = [m for m in MEASUREMENTS if m.asserted]


def test_the_demo_measurement_is_stored_and_checked() -> None:
    demo = next(m for m in MEASUREMENTS if m.name == "make demo")
    assert demo.asserted
    assert (demo.messages, demo.batch_size, demo.drain_seconds, demo.invocations) == (
        2000,
        20,
        18.8,
        101,
    )


@pytest.mark.parametrize("measurement", ASSERTED, ids=[m.name for m in ASSERTED])
def test_simulated_within_20_percent_of_measured(measurement: calibration.Measurement) -> None:
    row = calibration.simulate(measurement, LOCALSTACK)
    assert abs(row.drain_error) <= calibration.TOLERANCE, (
        f"{measurement.name}: simulated {row.drain_seconds:.1f} s, measured "
        f"{measurement.drain_seconds} s"
    )
    if measurement.invocations is not None:
        assert row.invocation_error is not None
        assert abs(row.invocation_error) <= calibration.TOLERANCE


def test_one_invocation_at_a_time_like_localstack() -> None:
    demo = next(m for m in MEASUREMENTS if m.name == "make demo")
    from sim.simulation import Simulation

    simulation = Simulation(calibration.scenario_for(demo, LOCALSTACK))
    result = simulation.run()
    assert result.peak_concurrency == 1
    assert result.applied == result.scenario.changes - result.invalid_in_dlq
