"""The governor's control law: the event source mapping's MaximumConcurrency from metrics.

    decide(state, observations) -> Decision

Moves are sized to the distance from the target, not fixed steps:

- Decrease when the throttled share r of requests is above the target t: to
  C x (1 - r) / (1 - t), the concurrency whose share of the API's accepted rate would sit at
  the target if the offered rate scales with C; never below C x `decrease_factor` in one move
  (the evidence is some seconds old), always by at least 1; and no higher than the setting
  before the last change when that change was an increase (the increase was too much).
- Increase while messages wait in the queue and r <= t' = t x INCREASE_BELOW: by
  C x GROWTH x (t' - r) / t', at least `increase_step` (default 1): doubling when nothing is
  throttled. Below the `ceiling` (the setting the last decrease cut from) at most half way to
  it, at or above it at most x PROBE_ABOVE_CEILING: the law closes in on the level that
  throttled instead of swinging between it and half of it.
- Hold otherwise: r between t' and t (a dead band), no backlog, missing data, data that does
  not postdate the last change, or a period of the window in which the API accepted nothing
  (every request refused: an outage, not a rate limit; cutting concurrency would not let more
  through, and climbing back after the API recovers would cost the backlog minutes).
- Always within [minimum, maximum], computed from the setting brought within them (a mapping
  without MaximumConcurrency counts as 1,000).

Stable under metric lag: it never reacts twice to the same evidence. After a change, an
increase waits for observations that cover only time after the change
(`observations.since >= state.changed_at`); so does a second decrease. After an increase,
though, throttling seen in data newer than what that increase was based on
(`observations.since >= state.basis_until`) decreases at once: the increase never saw it, and
backing off a period earlier is what keeps the throttled share near target when the API's
limit drops. A datum CloudWatch has not published yet (None) means hold, never act.

The state a scheduled governor must carry between decisions: `concurrency` (the mapping's
MaximumConcurrency), `changed_at` (when the last change was made), `previous_concurrency`,
`basis_until` and `ceiling` (from its own memory of its changes). Unknown values (None) make
the law wait for data after the change, the safe choice, and grow without a ceiling.

Times are epoch seconds. Pure: no I/O, no clock reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

DEFAULT_DECREASE_FACTOR = 0.5
"""The deepest cut of one decrease: concurrency is multiplied by no less than this."""
GROWTH = 1.0
"""Relative increase with nothing throttled (x 2); scaled down by the throttled share's
closeness to INCREASE_BELOW x the target."""
PROBE_ABOVE_CEILING = 1.25
"""At or above the setting where throttling was last found, one increase adds at most 25%."""
INCREASE_BELOW = 0.5
"""Increases only while the throttled share is at most this fraction of the target: between
it and the target the law holds (a dead band: a share measured over a few hundred requests
moves by a point or two from window to window)."""
_EPSILON = 1e-9
"""Float rounding must not cost a whole step (40 x 0.8 is 31.999...)."""


@dataclass(frozen=True)
class LawSettings:
    """Bounds and tuning of the law (`adaptive_concurrency` in Terraform)."""

    minimum: int
    maximum: int
    target_throttle_ratio: float
    increase_step: int = 0
    """The smallest increase; 0 means the default, 1."""
    decrease_factor: float = DEFAULT_DECREASE_FACTOR

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, got {self.minimum}, {self.maximum}")
        if not 0.0 < self.target_throttle_ratio < 1.0:
            raise ValueError(
                f"target_throttle_ratio must be in (0, 1): {self.target_throttle_ratio}"
            )
        if not 0.0 < self.decrease_factor < 1.0:
            raise ValueError(f"decrease_factor must be in (0, 1): {self.decrease_factor}")
        if self.increase_step < 0:
            raise ValueError(f"increase_step must not be negative: {self.increase_step}")

    @property
    def step(self) -> int:
        """The smallest increase."""
        return self.increase_step or 1

    def clamp(self, concurrency: int) -> int:
        """`concurrency` within [minimum, maximum]."""
        return max(self.minimum, min(self.maximum, concurrency))


@dataclass(frozen=True)
class GovernorState:
    """What the law remembers between runs: the current setting and when it last changed."""

    settings: LawSettings
    concurrency: int
    changed_at: float | None = None
    """Epoch seconds of the last change this law made (None: none yet)."""
    previous_concurrency: int | None = None
    """The setting before the last change (None: unknown)."""
    basis_until: float | None = None
    """End of the data the last change was based on (None: unknown)."""
    ceiling: int | None = None
    """The setting the last decrease cut from: throttled above target there (None: unknown)."""

    @property
    def last_change_was_increase(self) -> bool:
        """Whether the last change raised the setting (False when unknown)."""
        previous = self.previous_concurrency
        return previous is not None and previous < self.concurrency


@dataclass(frozen=True)
class Observations:
    """Metrics over the window [since, until) as CloudWatch returned them at `observed_at`
    (None: no data)."""

    observed_at: float
    """When the metrics were read: a change decided on them takes effect from then."""
    since: float
    """Start of the earliest period the figures cover (epoch seconds)."""
    until: float
    """End of the latest period the figures cover."""
    requests: float | None
    throttled: float | None
    visible_messages: float | None
    """Messages waiting in the queue when read (None: unknown)."""
    periods_nothing_accepted: int = 0
    """Periods of the window with requests, every one of them throttled."""


@dataclass(frozen=True)
class Decision:
    """The law's answer: the concurrency to set, whether it changed, why, and the next state."""

    concurrency: int
    changed: bool
    reason: str
    throttle_ratio: float | None
    state: GovernorState


def throttle_ratio(observations: Observations) -> float | None:
    """Throttled share of requests (0.0 without requests), None when a figure is missing."""
    if observations.requests is None or observations.throttled is None:
        return None
    if observations.requests <= 0:
        return 0.0
    return min(1.0, max(0.0, observations.throttled / observations.requests))


def backlog_waits(observations: Observations) -> bool:
    """Whether messages wait in the queue (visible ones)."""
    return observations.visible_messages is not None and observations.visible_messages > 0


def decide(state: GovernorState, observations: Observations) -> Decision:
    """The next MaximumConcurrency (see the module docstring for the rules)."""
    settings = state.settings
    bounded = settings.clamp(state.concurrency)
    ratio = throttle_ratio(observations)
    wanted, reason = _wanted(state, observations, ratio, bounded)
    if wanted == bounded and bounded != state.concurrency:  # changed by hand, out of bounds
        reason += "; brought within bounds"
    if wanted == state.concurrency:
        return Decision(state.concurrency, False, reason, ratio, state)
    # The change takes effect when it is made: only data from periods starting at or after
    # this instant shows its effect.
    new_state = replace(
        state,
        concurrency=wanted,
        changed_at=observations.observed_at,
        previous_concurrency=state.concurrency,
        basis_until=observations.until,
        ceiling=bounded if wanted < bounded and reason.startswith("decrease") else state.ceiling,
    )
    return Decision(wanted, True, reason, ratio, new_state)


def _wanted(
    state: GovernorState, observations: Observations, ratio: float | None, bounded: int
) -> tuple[int, str]:
    """(concurrency the rules ask for, why), starting from the current one within bounds."""
    settings = state.settings
    if ratio is None or observations.visible_messages is None:
        return bounded, "hold: metrics missing"
    after_change = state.changed_at is None or observations.since >= state.changed_at
    unseen_by_increase = (
        state.last_change_was_increase
        and state.basis_until is not None
        and observations.since >= state.basis_until
    )
    throttled = ratio > settings.target_throttle_ratio
    if not (after_change or (throttled and unseen_by_increase)):
        return bounded, "hold: waiting for metrics after the last change"
    if observations.periods_nothing_accepted > 0:
        return bounded, "hold: the API accepted nothing in a period (an outage, not a rate limit)"
    if throttled:
        return _lowered(state, ratio, bounded)
    return _raised(state, observations, ratio, bounded)


def _raised(
    state: GovernorState, observations: Observations, ratio: float, bounded: int
) -> tuple[int, str]:
    """(the setting with throttling at or under target, why): raised while a backlog waits
    and the share is well under the target, held otherwise."""
    settings = state.settings
    if ratio > settings.target_throttle_ratio * INCREASE_BELOW:
        return bounded, "hold: throttling near target"
    if not backlog_waits(observations):
        return bounded, "hold: no backlog"
    higher = settings.clamp(increased(bounded, ratio, settings, state.ceiling))
    if higher > bounded:
        return higher, "increase: backlog waits, throttling under target"
    return bounded, "hold: backlog waits at the maximum"


def _lowered(state: GovernorState, ratio: float, bounded: int) -> tuple[int, str]:
    """(the setting after throttling above target, why): the sized cut, and no higher than
    the setting before an increase that brought the throttling."""
    settings = state.settings
    lower = settings.clamp(decreased(bounded, ratio, settings))
    if state.last_change_was_increase and state.previous_concurrency is not None:
        lower = min(lower, settings.clamp(state.previous_concurrency))
    if lower < bounded:
        return lower, "decrease: throttled above target"
    return bounded, "hold: throttled above target at the minimum"


def decreased(concurrency: int, ratio: float, settings: LawSettings) -> int:
    """The setting after a decrease from `concurrency` at throttled share `ratio` (> target)."""
    target = settings.target_throttle_ratio
    sized = math.floor(concurrency * (1.0 - ratio) / (1.0 - target) + _EPSILON)
    deepest = math.floor(concurrency * settings.decrease_factor)
    return min(concurrency - 1, max(sized, deepest))


def increased(
    concurrency: int, ratio: float, settings: LawSettings, ceiling: int | None = None
) -> int:
    """The setting after an increase from `concurrency` at throttled share `ratio` (under
    INCREASE_BELOW x target): sized by the headroom left; below a `ceiling` (where the last
    decrease found throttling) at most half way to it, at or above it by at most
    PROBE_ABOVE_CEILING; always by at least the step."""
    target = settings.target_throttle_ratio * INCREASE_BELOW
    headroom = max(0.0, (target - ratio) / target)
    grown = concurrency + math.floor(concurrency * GROWTH * headroom + _EPSILON)
    if ceiling is not None and concurrency < ceiling:
        grown = min(grown, (concurrency + ceiling) // 2)
    elif ceiling is not None:
        grown = min(grown, math.floor(concurrency * PROBE_ABOVE_CEILING + _EPSILON))
    return max(grown, concurrency + settings.step)
