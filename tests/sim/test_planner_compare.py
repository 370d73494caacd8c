"""python -m sim.compare's verdicts (on hand-made rows: no simulation)."""

from __future__ import annotations

from sim.compare import Row, Verdict, best_fixed


def row(label: str, conc: int, drain: float | None, share: float = 0.0, dlq: int = 0) -> Row:
    return Row(label, conc, drain, share, 1000, dlq)


def test_the_best_fixed_setting_is_the_fastest_within_the_target() -> None:
    rows = [
        row("static 2", 2, 500.0),
        row("static 5", 5, 210.0, share=0.04),
        row("static 8", 8, 210.0, share=0.01),
        row("static 20", 20, 150.0, share=0.2),  # faster, but throttled
        row("static 30", 30, 140.0, dlq=1),  # faster, but lost changes to the DLQ
        row("governor 2-20", 5, 100.0),
    ]
    assert best_fixed(rows).concurrency == 5  # ties on drain go to fewer


def test_without_a_passing_static_setting_the_least_throttled_is_shown() -> None:
    rows = [row("static 2", 2, 500.0, share=0.08), row("static 5", 5, 300.0, share=0.2)]
    assert best_fixed(rows).concurrency == 2


def test_the_goals_missed_are_named() -> None:
    best = row("static 8", 8, 200.0, share=0.01)
    default = row("static 5", 5, 240.0)
    assert Verdict("x", best, default, row("governor", 5, 229.0, share=0.02)).missed() == []
    slow = Verdict("x", best, default, row("governor", 5, 250.0, share=0.02))
    assert slow.missed() == ["drain", "vs default (+10.0 s)"]
    throttled = Verdict("x", best, default, row("governor", 5, 210.0, share=0.06))
    assert throttled.missed() == ["429", "vs default (more 429s)"]
    assert Verdict("x", best, default, row("governor", 5, None)).missed() == [
        "drain",
        "vs default (not drained)",
    ]
