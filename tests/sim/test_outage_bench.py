"""bench.outage_sim: the drain after an outage beside the normal one, and the outage's cost."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from test_scenarios import SMALL

from bench import outage_sim
from sim import sqs
from sim.simulation import Timeline

OUTAGE = (
    SMALL.replace("max_receive_count = 10", "max_receive_count = 2")
    + """
[[api.outages]]
start = 0
duration = 60
status = 503
"""
)
"""test_scenarios' small scenario (4,000 changes, 20 requests/s) behind a 1-minute outage."""


def test_it_prints_both_rows_with_the_outage_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "small-outage.toml"
    path.write_text(OUTAGE)
    original = sqs.Queue.receive

    status = outage_sim.main([str(path)])

    out = capsys.readouterr().out
    assert sqs.Queue.receive is original  # the counting is undone
    rows = [line for line in out.splitlines() if line.startswith(("│ static 5", "│ governor"))]
    assert len(rows) == 2, out
    cells = [c.strip() for c in rows[0].split("│") if c.strip()]
    # setting, normal, after, goal, requests, /s, receives, per change, copies, valid in DLQ
    assert float(cells[4].replace(",", "")) > 0  # the pollers kept trying the down API
    assert int(cells[6].replace(",", "")) >= 4000  # every change received during the outage
    assert cells[9] == "0"
    assert status == (0 if all("met" in r for r in rows) else 1)


def test_requests_before_sums_the_sampled_rate_up_to_the_end() -> None:
    # two samples of 5 s at 2 and 4 requests/s up to the end, one after it
    timeline = Timeline(at=[5.0, 10.0, 15.0], requests_per_second=[2.0, 4.0, 100.0])
    result = SimpleNamespace(timeline=timeline, scenario=SimpleNamespace(sample_seconds=5))
    assert outage_sim.requests_before(result, 10.0) == 30.0  # type: ignore[arg-type]
