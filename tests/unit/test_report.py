"""The run report's sections, rendered from figures (no stack needed)."""

from __future__ import annotations

from typing import Any

import pytest

from sbc_tools.ops import observations as observe
from sbc_tools.ops import report


def summary(**counts: int) -> dict[str, Any]:
    return {"message": "batch processed", **dict.fromkeys(observe.COUNTS, 0), **counts}


def rendered(capsys: pytest.CaptureFixture[str], *sections: Any) -> str:
    capsys.readouterr()
    for section in sections:
        section()
    return capsys.readouterr().out


def test_the_handler_section_lists_every_count_the_handler_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 12 counts (with expired and batch_failed) once failed to render: two columns of 5 and 7
    run = report.RunReport(
        [summary(received=7, expired=2, batch_failed=1)], None, [], (0, 0), (0, 0)
    )
    out = rendered(capsys, lambda: report.render_aggregation(run))

    for name in observe.COUNTS:
        assert name in out


def test_the_groups_section_shows_groups_per_batch_held_back_and_dlq_groups(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summaries = [
        summary(received=10) | {"message_groups": 1, "held_back": 0},
        summary(received=10) | {"message_groups": 3, "held_back": 4},
    ]
    dead = [
        observe.DlqMessage("d1", "{", "invalid_json", "x", 1, group="order:7"),
        observe.DlqMessage("d2", "{", "invalid_json", "x", 1, group="order:7"),
    ]
    sequences = {"order:1": ["a", "b"], "order:2": ["c"]}
    run = report.RunReport(summaries, None, dead, (0, 0), (0, 0), sequences=sequences)
    out = rendered(capsys, lambda: report.render_groups(run, fifo=True))

    assert "groups per batch: min 1, mean 2.0, max 3" in out
    assert "held back behind an earlier failure of their group: 4" in out
    assert "2 entities changed" in out
    assert "order:7 (2)" in out


def test_a_standard_queue_has_no_groups_section(capsys: pytest.CaptureFixture[str]) -> None:
    run = report.RunReport([summary(received=3)], None, [], (0, 0), (0, 0))
    assert rendered(capsys, lambda: report.render_groups(run, fifo=False)) == ""


def test_the_dlq_count_comes_from_the_queue_when_reading_saw_fewer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen = [observe.DlqMessage(f"d{n}", "{", "invalid_json", "x", 1, group="g") for n in range(39)]
    run = report.RunReport([], None, seen, (0, 0), (40, 0))
    out = rendered(capsys, lambda: report.render_queues(run))

    assert "DLQ: 40 messages (39 could be read" in out
