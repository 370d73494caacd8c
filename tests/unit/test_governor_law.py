"""The governor's control law: decrease, increase, hold, bounds, metric lag, missing data,
outages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consumer.governor.law import (
    GovernorState,
    LawSettings,
    Observations,
    decide,
)

SETTINGS = LawSettings(minimum=2, maximum=100, target_throttle_ratio=0.05, increase_step=5)


def state(concurrency: int, changed_at: float | None = None) -> GovernorState:
    return GovernorState(SETTINGS, concurrency, changed_at)


def seen(
    *,
    at: float = 1000.0,
    requests: float | None = 1000,
    throttled: float | None = 0,
    visible: float | None = 5000,
    nothing_accepted: int = 0,
) -> Observations:
    """Observations read at `at`, covering the two minutes that ended 60 s earlier (lag)."""
    return Observations(at, at - 180, at - 60, requests, throttled, visible, nothing_accepted)


def test_throttling_above_target_cuts_to_what_the_api_accepted() -> None:
    # 20% throttled at 40: the API took 80% of 40; at target (5%) that is 40 x 0.8 / 0.95
    decision = decide(state(40), seen(throttled=200))
    assert (decision.concurrency, decision.changed) == (33, True)
    assert decision.throttle_ratio == pytest.approx(0.2)
    assert decision.reason.startswith("decrease")
    assert decision.state.concurrency == 33
    assert decision.state.changed_at == 1000.0


def test_heavy_throttling_at_most_halves_in_one_move() -> None:
    assert decide(state(40), seen(throttled=900)).concurrency == 20


def test_throttling_just_above_target_still_decreases_by_one() -> None:
    assert decide(state(40), seen(throttled=51)).concurrency == 39


def test_backlog_under_target_grows_by_the_headroom_left() -> None:
    # 1% throttled, increases below half the 5% target: 60% of that headroom, 40 + 0.6 x 40
    decision = decide(state(40), seen(throttled=10))
    assert (decision.concurrency, decision.changed) == (64, True)
    assert decision.reason.startswith("increase")


def test_throttling_between_half_the_target_and_the_target_holds() -> None:
    """A dead band: a share measured over a few hundred requests wanders by a point or two."""
    for throttled in (26, 40, 50):
        decision = decide(state(30), seen(throttled=throttled))
        assert (decision.concurrency, decision.changed) == (30, False)
        assert decision.reason == "hold: throttling near target"


def test_backlog_without_throttling_doubles() -> None:
    assert decide(state(30), seen(throttled=0)).concurrency == 60


def test_no_backlog_and_no_throttling_holds() -> None:
    decision = decide(state(30), seen(visible=0))
    assert (decision.concurrency, decision.changed) == (30, False)
    assert decision.reason == "hold: no backlog"


def test_throttling_exactly_at_target_does_not_decrease() -> None:
    assert decide(state(30), seen(throttled=50)).concurrency == 30
    assert decide(state(30), seen(throttled=51)).concurrency == 29


def test_bounds_are_never_crossed() -> None:
    assert decide(state(3), seen(throttled=900)).concurrency == 2
    at_minimum = decide(state(2), seen(throttled=900))
    assert (at_minimum.concurrency, at_minimum.changed) == (2, False)
    assert decide(state(98), seen()).concurrency == 100
    at_maximum = decide(state(100), seen())
    assert (at_maximum.concurrency, at_maximum.changed) == (100, False)


def test_a_setting_outside_the_bounds_is_brought_back() -> None:
    decision = decide(state(500), seen(requests=None))
    assert (decision.concurrency, decision.changed) == (100, True)


@pytest.mark.parametrize(
    "missing",
    [{"requests": None}, {"throttled": None}, {"visible": None}],
)
def test_missing_data_holds(missing: dict[str, None]) -> None:
    figures: dict[str, float | None] = {"throttled": 500.0, **missing}  # would decrease
    decision = decide(state(40), seen(**figures))  # type: ignore[arg-type]
    assert (decision.concurrency, decision.changed) == (40, False)
    assert decision.reason == "hold: metrics missing"


def test_no_requests_means_no_throttling() -> None:
    assert decide(state(40), seen(requests=0, throttled=0)).concurrency == 80


def test_data_older_than_the_last_change_is_not_acted_on_again() -> None:
    first = decide(state(40), seen(at=1000, throttled=300))
    assert first.concurrency == 29
    # one minute later CloudWatch still shows (mostly) periods from before the change
    stale = decide(first.state, seen(at=1060, throttled=300))
    assert (stale.concurrency, stale.changed) == (29, False)
    assert stale.reason == "hold: waiting for metrics after the last change"
    # once the whole window postdates the change, the law acts again: half way back to where
    # it found throttling (40)
    fresh = decide(first.state, seen(at=1180, throttled=0))
    assert fresh.concurrency == 34


def test_the_smallest_increase_is_the_step() -> None:
    default = LawSettings(minimum=2, maximum=1000, target_throttle_ratio=0.05)
    assert default.step == 1
    # throttling at half the target leaves no headroom for increases: only the step is added
    assert decide(GovernorState(default, 100), seen(throttled=25)).concurrency == 101
    assert decide(state(100 - 50), seen(throttled=25)).concurrency == 55  # step 5


def test_a_mapping_without_a_setting_is_cut_from_the_bound_not_from_1000() -> None:
    # UNSET_CONCURRENCY (1,000) with a maximum of 20: a cut starts from 20
    narrow = LawSettings(minimum=2, maximum=20, target_throttle_ratio=0.05)
    decision = decide(GovernorState(narrow, 1000), seen(throttled=500))
    assert (decision.concurrency, decision.changed) == (10, True)
    assert decision.reason.startswith("decrease")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"minimum": 0, "maximum": 5},
        {"minimum": 6, "maximum": 5},
        {"target_throttle_ratio": 0.0},
        {"target_throttle_ratio": 1.0},
        {"decrease_factor": 1.0},
        {"increase_step": -1},
    ],
)
def test_settings_refuse_nonsense(kwargs: dict[str, float]) -> None:
    base: dict[str, float] = {"minimum": 2, "maximum": 10, "target_throttle_ratio": 0.05}
    with pytest.raises(ValueError):  # noqa: PT011 - the messages differ per rule
        LawSettings(**{**base, **kwargs})  # type: ignore[arg-type]


def test_closed_loop_under_lag_converges_without_oscillating_wildly() -> None:
    """A plant where throttling starts above 20 concurrent batches, observed 2 minutes late:
    the law settles in a band around 20 instead of swinging between the bounds."""
    settings = replace(SETTINGS, increase_step=2)
    current = GovernorState(settings, 2)
    history: list[tuple[float, int]] = [(-1e9, 2)]

    def setting_at(t: float) -> int:
        return [c for at, c in history if at <= t][-1]

    levels = []
    for minute in range(1, 121):
        now = minute * 60.0
        since, until = now - 180.0, now - 120.0  # the 1-minute period CloudWatch has by now
        c = max(setting_at(since), setting_at(until - 1e-6))  # the busiest setting in the period
        throttled = max(0.0, (c - 20) / c) * 1000
        decision = decide(current, Observations(now, since, until, 1000, throttled, 10_000))
        current = decision.state
        history.append((now, decision.concurrency))
        levels.append(decision.concurrency)
    late = levels[60:]
    assert max(late) <= 30
    assert min(late) >= 10


def test_throttling_the_last_increase_never_saw_decreases_at_once() -> None:
    raised = decide(state(40), seen(at=1000))  # based on [820, 940)
    assert raised.concurrency == 80
    assert raised.state.basis_until == 940
    assert raised.state.previous_concurrency == 40
    # one minute later: the period after the increase's basis shows the API throttling; the
    # increase was too much: back to the setting before it (not 80 x 0.7 / 0.95 = 58)
    newer = Observations(1060, 940, 1000, 1000, 300, 5000)
    cut = decide(raised.state, newer)
    assert cut.concurrency == 40
    assert cut.state.ceiling == 80


def test_after_throttling_increases_go_half_way_back_then_probe_by_a_quarter() -> None:
    """Where the last decrease found throttling (its ceiling) bounds the next increases: half
    way to it while below, 25% a move at or above it, so the law does not swing between the
    setting that throttled and half of it."""
    cut = decide(state(40), seen(at=1000, throttled=900))
    assert (cut.concurrency, cut.state.ceiling) == (20, 40)
    back = decide(cut.state, seen(at=1200, throttled=0))
    assert (back.concurrency, back.state.ceiling) == (30, 40)  # not 40 (doubling)
    near = decide(back.state, seen(at=1400, throttled=0))
    assert near.concurrency == 35
    at_ceiling = decide(replace(near.state, concurrency=40), seen(at=1600, throttled=0))
    assert at_ceiling.concurrency == 50  # 40 x 1.25
    without = decide(replace(near.state, concurrency=40, ceiling=None), seen(at=1600))
    assert without.concurrency == 80  # no throttling remembered: doubling


def test_after_an_increase_its_own_basis_does_not_count_again() -> None:
    raised = decide(state(40), seen(at=1000))
    same_or_older = Observations(1060, 880, 1000, 1000, 300, 5000)  # starts before 940
    decision = decide(raised.state, same_or_older)
    assert (decision.concurrency, decision.changed) == (80, False)


def test_after_an_increase_more_increases_still_wait_for_data_after_it() -> None:
    raised = decide(state(40), seen(at=1000))
    newer_calm = Observations(1060, 940, 1000, 1000, 0, 5000)
    assert decide(raised.state, newer_calm).changed is False


def test_unknown_direction_of_the_last_change_waits_for_data_after_it() -> None:
    unknown = GovernorState(SETTINGS, 45, changed_at=1000.0)  # previous setting not known
    newer = Observations(1060, 940, 1000, 1000, 300, 5000)
    assert decide(unknown, newer).changed is False


def test_an_outage_holds_where_a_rate_limit_would_cut() -> None:
    """Every request of a period refused (a 503 outage counts as throttled, by the metric's
    meaning): cutting would not let more through, so the setting stays for the recovery."""
    outage = decide(state(20), seen(requests=300, throttled=300, nothing_accepted=2))
    assert (outage.concurrency, outage.changed) == (20, False)
    assert outage.reason.startswith("hold: the API accepted nothing")
    # the window that straddles the recovery: one period refused, one mostly accepted
    edge = decide(state(20), seen(requests=900, throttled=400, nothing_accepted=1))
    assert (edge.concurrency, edge.changed) == (20, False)
    # the same share with something accepted in every period is a rate limit: cut
    assert decide(state(20), seen(requests=900, throttled=400)).concurrency == 11
