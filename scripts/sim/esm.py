"""The event source mapping: pollers that build batches and invoke the function.

AWS (Lambda developer guide, "Scaling and processing" for SQS): long polling until messages
appear, then 5 concurrent batches, up to 300 more per minute while messages remain (here: up
to 5 more each second), capped by MaximumConcurrency; scaled back towards 5 when polls come
back empty. A batch is taken when `batch_size` messages (or 6 MB) are visible, else when the
batching window has passed since the poller saw the first message.

LocalStack (`single_poller`): one poller, one invocation at a time, sleeping the poll
interval between batches and not holding a batch open for the window. The project's poller on
LocalStack (`host_cores`): K pollers whose own work per batch (receive, invoke round trip,
delete) shares the host's cores, so pollers released together start staggered.

The function is invoked when the poller gets there (the receive's half of the cycle after the
receive), so the handler's clock, and its Pacer's pause between invocations, start then.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from sim.cores import Cores
from sim.loop import Loop
from sim.scenario import Runtime, Stack
from sim.sqs import Queue

PAYLOAD_LIMIT_BYTES = 6 * 1_048_576
"""An invocation's payload limit (synchronous invoke), which caps a batch."""
LONG_POLL_SECONDS = 20.0
"""An idle poller's ReceiveMessage waits this long: one billed request per wait."""
SCALE_TICK_SECONDS = 1.0


class Slot:
    """One concurrent batch the mapping may run (a poller's turn)."""

    __slots__ = ("idle_since", "token")

    def __init__(self) -> None:
        self.token = 0
        self.idle_since = 0.0


class EventSourceMapping:
    """Pollers between the queue and the function."""

    def __init__(
        self,
        loop: Loop,
        queue: Queue,
        stack: Stack,
        runtime: Runtime,
        invoke: Callable[[Slot, Sequence[int], float], None],
        *,
        cores: Cores | None = None,
    ) -> None:
        self.loop = loop
        self.queue = queue
        self.runtime = runtime
        self.invoke = invoke
        self.batch_size = stack.batch_size
        self.window = stack.maximum_batching_window_in_seconds
        self.limit = min(stack.batch_size, PAYLOAD_LIMIT_BYTES // max(queue.message_bytes, 1))
        self.maximum = stack.maximum_concurrency
        self.active = 0
        self.busy = 0
        self.peak_busy = 0
        self.idle: list[Slot] = []
        self.gathering: dict[Slot, float] = {}
        self.per_tick = runtime.scale_up_per_minute * SCALE_TICK_SECONDS / 60.0
        self.per_message = runtime.poller_per_message_ms / 1000
        self._credit = 0.0
        self.cores = cores or Cores(0)
        """The cores the pollers' own work shares (none: each poller works alone)."""

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self, now: float) -> None:
        """Create the first pollers (5, or 1 for LocalStack) and the scaling clock."""
        first = (
            1 if self.runtime.single_poller else min(self.runtime.initial_concurrency, self.maximum)
        )
        for _ in range(first):
            self.active += 1
            slot = Slot()
            if self.runtime.single_poller:
                self.loop.at(now, self._poll_local, slot)
            else:
                self._go_idle(slot, now)
        if not self.runtime.single_poller:
            self.loop.at(now + SCALE_TICK_SECONDS, self._scale)

    def set_maximum(self, concurrency: int, now: float) -> None:
        """UpdateEventSourceMapping(MaximumConcurrency): extra idle pollers stop now, busy
        ones after their batch."""
        self.maximum = concurrency
        while self.active > self.maximum and self.idle:
            slot = self.idle.pop()
            self._bill_idle(slot, now)
            self.active -= 1

    @property
    def floor(self) -> int:
        """Pollers kept when polls come back empty."""
        return min(self.runtime.scale_down_floor, self.maximum)

    # ---- AWS pollers -----------------------------------------------------------------------
    def on_visible(self, now: float) -> None:
        """Messages became visible: wake idle pollers, take batches that are full."""
        if self.runtime.single_poller:
            return
        if self.idle:
            woken, self.idle = self.idle, []
            for slot in woken:
                self._bill_idle(slot, now)
                self._poll(slot, now)
        if self.gathering and self.queue.visible_count(now) >= self.limit:
            for slot in sorted(self.gathering, key=self.gathering.__getitem__):
                if self.queue.visible_count(now) < self.limit:
                    break
                self._take(slot, now)

    def _poll(self, slot: Slot, now: float) -> None:
        visible = self.queue.visible_count(now)
        if visible == 0:
            self._go_idle(slot, now)
        elif visible >= self.limit or self.window <= 0:
            self._take(slot, now)
        else:
            slot.token += 1
            until = now + self.window
            self.gathering[slot] = until
            self.loop.at(until, self._window_closed, (slot, slot.token))

    def _window_closed(self, now: float, argument: tuple[Slot, int]) -> None:
        slot, token = argument
        if slot.token == token and slot in self.gathering:
            self._take(slot, now)

    def _take(self, slot: Slot, now: float) -> None:
        slot.token += 1
        self.gathering.pop(slot, None)
        messages = self.queue.receive(now, self.limit, PAYLOAD_LIMIT_BYTES)
        if not messages:
            self._go_idle(slot, now)
            return
        self._invoke_later(slot, messages, now)

    def _invoke_later(self, slot: Slot, messages: Sequence[int], now: float) -> None:
        """Invoke the function with a batch received at `now` when the poller gets there: the
        handler's clock (its Pacer's pause between invocations) starts then, not at the
        receive."""
        self.busy += 1
        self.peak_busy = max(self.peak_busy, self.busy)
        self.loop.at(self._invoked_at(now, len(messages)), self._invoke_now, (slot, messages))

    def _invoke_now(self, now: float, argument: tuple[Slot, Sequence[int]]) -> None:
        slot, messages = argument
        self.invoke(slot, messages, now)

    def _invoked_at(self, now: float, messages: int) -> float:
        """When the function starts on a batch received at `now`."""
        work = self.runtime.cycle_overhead_seconds / 2 + self.per_message * messages
        return self.cores.done(now, work)

    def _go_idle(self, slot: Slot, now: float) -> None:
        if self.active > self.floor or self.active > self.maximum:
            self.active -= 1  # scale down
            return
        slot.idle_since = now
        self.idle.append(slot)

    def _bill_idle(self, slot: Slot, now: float) -> None:
        self.queue.empty_receives(math.floor((now - slot.idle_since) / LONG_POLL_SECONDS))

    def _scale(self, now: float, _: object = None) -> None:
        """Each second: up to 5 more pollers while messages wait and every poller is busy."""
        self.loop.at(now + SCALE_TICK_SECONDS, self._scale)
        room = self.maximum - self.active
        if room <= 0 or self.idle or self.queue.visible_count(now) == 0:
            self._credit = 0.0
            return
        self._credit = min(self._credit + self.per_tick, self.per_tick)
        add = min(room, int(self._credit))
        self._credit -= add
        for _ in range(add):
            self.active += 1
            self._poll(Slot(), now)

    # ---- both --------------------------------------------------------------------------------
    def finished(self, slot: Slot, now: float) -> None:
        """The function returned for `slot`'s batch at `now` (the mapping deletes, polls on)."""
        self.busy -= 1
        after = self.cores.done(now, self.runtime.cycle_overhead_seconds / 2)
        if self.runtime.single_poller:
            self.loop.at(after + self.runtime.poll_interval_seconds, self._poll_local, slot)
            return
        if self.active > self.maximum:
            self.active -= 1
            return
        self.loop.at(after, self._poll_again, slot)

    def _poll_again(self, now: float, slot: Slot) -> None:
        self._poll(slot, now)

    # ---- LocalStack's poller -------------------------------------------------------------------
    def _poll_local(self, now: float, slot: Slot) -> None:
        messages = self.queue.receive(now, self.limit, PAYLOAD_LIMIT_BYTES)
        if not messages:
            self.loop.at(now + self.runtime.empty_poll_backoff_seconds, self._poll_local, slot)
            return
        self._invoke_later(slot, messages, now)
