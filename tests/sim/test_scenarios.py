"""Stored scenarios, the command line end to end on a small scenario, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import report, scenario
from sim.__main__ import main
from sim.scenario import ScenarioError, with_stack
from sim.simulation import Simulation

REQUIRED = {"seed-burst", "million-burst", "outage", "rate-drop"}


def test_the_four_scenarios_are_stored_and_load() -> None:
    assert set(scenario.available()) >= REQUIRED
    loaded = {name: scenario.load(name) for name in REQUIRED}
    burst = loaded["million-burst"]
    assert burst.changes == 1_000_000
    assert burst.arrival_span == 120
    assert (burst.api.rate, burst.stack.max_operations_per_request) == (50, 100)
    assert burst.api.latency_median_ms == 80
    assert burst.physical_bound == 200  # 1,000,000 / (50 x 100) > 120 s of arrivals
    assert loaded["outage"].api.outages[0].duration == 20 * 60
    drop = loaded["rate-drop"].api
    assert drop.rate_changes[0].rate == drop.rate / 2
    assert loaded["seed-burst"].stack.batch_size == 20
    assert loaded["seed-burst"].sla_seconds == 3600


SMALL = """
name = "small"
sla_seconds = 600
max_duration_seconds = 1800
sample_seconds = 2

[[traffic.bursts]]
start = 0
duration = 20
count = 4000

[stack]
batch_size = 50
maximum_batching_window_in_seconds = 1
maximum_concurrency = 5
max_receive_count = 10

[governor]
enabled = true
minimum = 2
maximum = 20

[api]
rate = 20
burst = 20
latency_median_ms = 50
"""


def test_simulate_prints_the_table_and_draws_the_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    png = tmp_path / "small.png"
    assert main(["simulate", str(path), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    for label in ("static 2", "static 50", "static 1000", "governor 2-20"):
        assert label in out
    assert "429 share" in out
    assert "valid in DLQ" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plan_prints_a_tfvars_snippet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    code = main(
        ["plan", str(path), "--batch-sizes", "50,100", "--windows", "1", "--concurrency", "2,5"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "batch_size" in out
    assert "maximum_concurrency" in out
    assert "runners-up" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[stack]\nbatch_sizes = 5\n", "unknown key 'batch_sizes'"),
        ("[stack]\nbatch_size = 'ten'\n", "stack.batch_size: expected a whole number"),
        ("[stack]\nmaximum_concurrency = 1\n", "maximum_concurrency must be 2-1000"),
        ("[api\n", "not valid TOML"),
    ],
)
def test_bad_scenarios_fail_with_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario.parse(text, "bad.toml")


def test_unknown_scenario_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert "no scenario 'no-such-scenario'" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_variants_are_the_three_static_settings_and_the_governor() -> None:
    labels = [label for label, _ in report.variants(scenario.load("outage"))]
    assert labels == ["static 2", "static 50", "static 1000", "governor 2-20"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--concurrency", "1,5", "--concurrency: each 2-1000, got 1,5"),
        ("--batch-sizes", "0", "--batch-sizes: each 1-10000"),
        ("--windows", "400", "--windows: each 0-300 seconds"),
        ("--windows", "0,1", "batch_size above 10 needs"),
    ],
)
def test_plan_refuses_sweep_values_the_stack_refuses(
    option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "million-burst", option, value]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_batch_above_10_without_a_window_is_refused_as_aws_does(tmp_path: Path) -> None:
    text = scenario.SCENARIO_DIR.joinpath("million-burst.toml").read_text(encoding="utf-8")
    path = tmp_path / "no-window.toml"
    path.write_text(
        text.replace(
            "maximum_batching_window_in_seconds = 5", "maximum_batching_window_in_seconds = 0"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match="batch_size above 10 needs"):
        scenario.load(str(path))
    refused = with_stack(scenario.load("million-burst"), maximum_batching_window_in_seconds=0)
    with pytest.raises(ScenarioError, match="batch_size above 10 needs"):
        Simulation(refused)
    Simulation(with_stack(refused, batch_size=10))  # 10 without a window is fine


def test_the_physical_bound_counts_outages_rate_changes_and_small_batches() -> None:
    from dataclasses import replace

    from sim.scenario import Outage, RateChange

    base = scenario.load("million-burst")  # 1,000,000 changes, 50 requests/s x 100: 200 s
    assert base.physical_bound == 200
    outage = replace(base, api=replace(base.api, outages=(Outage(100.0, 60.0),)))
    assert outage.physical_bound == 260  # nothing accepted for 60 s
    halved = replace(base, api=replace(base.api, rate_changes=(RateChange(100.0, 25.0),)))
    assert halved.physical_bound == 300  # 100 s at 50/s, the other half at 25/s
    small = with_stack(base, batch_size=20)  # a request carries at most the batch
    assert small.physical_bound == 1000
    down = replace(base, api=replace(base.api, rate_changes=(RateChange(0.0, 0.0),)))
    assert down.physical_bound == float("inf")


def test_bench_times_the_four_rows_and_reports_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "million-burst", "--changes", "3000"]) == 0
    out = capsys.readouterr().out
    for label in ("static 2", "static 50", "static 1000", "governor 2-20"):
        assert f"3,000 changes, {label}:" in out
    assert "the four-row table of 3,000 changes in" in out
    assert out.count("(CPU ") == 5  # each row and the table: one core's work
    assert "bytes per change" in out
    assert scenario.scaled(scenario.load("million-burst"), 3000).arrival_span == 120 * 3000 / 1e6
