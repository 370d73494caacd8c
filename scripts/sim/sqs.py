"""An SQS standard queue with its DLQ: visibility, receive counts, redrive, retention, delay.

Messages are integers (their arrival order); their attributes live in parallel typed arrays
(`array`, ~35 bytes a message, no object each). Visible messages wait in a FIFO of runs of
consecutive numbers (a burst is one run; SQS does not promise order; returning retries to the
back is the pessimistic choice for the age of the oldest message); hidden ones (in flight,
delayed, backing off) in a heap of groups by the instant they become visible again.

A record the handler re-sends as a delayed copy (on the receive that reached the redrive
limit, `requeue`) stays the same message here, as it is the same change: the original is
deleted, and the copy starts with receive count 0, its own send time for retention, and the
change's first send and earlier attempts carried over (the handler's `retry_first_sent_timestamp`
and `retry_attempts`).
"""

from __future__ import annotations

import heapq
import itertools
import math
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence

# Message states
WAITING = 0
"""In the queue: visible, delayed or hidden after a failed attempt."""
IN_FLIGHT = 1
APPLIED = 2
"""Applied by the API and deleted."""
DLQ_BY_HANDLER = 3
"""Sent to the DLQ by the handler (invalid, rejected by the API, expired), then deleted."""
DLQ_BY_REDRIVE = 4
"""Moved to the DLQ by the redrive policy (received more than max_receive_count times)."""
EXPIRED_BY_RETENTION = 5
"""Deleted by SQS at the end of the retention period: lost."""
FINAL = frozenset({APPLIED, DLQ_BY_HANDLER, DLQ_BY_REDRIVE, EXPIRED_BY_RETENTION})

RECEIVE_ENTRIES = 10
"""Entries per ReceiveMessage / DeleteMessageBatch / ChangeMessageVisibilityBatch /
SendMessageBatch call."""
CHUNK_BYTES = 65_536
"""SQS bills each 64 KB chunk of a payload as one request."""


def calls_for(count: int, total_bytes: int = 0) -> int:
    """Billed SQS requests for a batch call family carrying `count` entries."""
    if count <= 0:
        return 0
    return max(math.ceil(count / RECEIVE_ENTRIES), math.ceil(total_bytes / CHUNK_BYTES))


class Runs:
    """A FIFO of message numbers kept as runs [first, end) of consecutive ones."""

    __slots__ = ("_count", "_runs")

    def __init__(self) -> None:
        self._runs: deque[list[int]] = deque()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def add_run(self, first: int, end: int) -> None:
        """Append first, first + 1, ..., end - 1."""
        if end <= first:
            return
        runs = self._runs
        if runs and runs[-1][1] == first:
            runs[-1][1] = end
        else:
            runs.append([first, end])
        self._count += end - first

    def add(self, message: int) -> None:
        """Append one message."""
        self.add_run(message, message + 1)

    def take(self, most: int) -> range:
        """Take up to `most` (>= 1) messages from the front: those of the first run."""
        run = self._runs[0]
        first = run[0]
        end = min(run[1], first + most)
        run[0] = end
        if end == run[1]:
            self._runs.popleft()
        self._count -= end - first
        return range(first, end)


class Queue:
    """The source queue, with counters for the DLQ and for billing."""

    def __init__(
        self,
        *,
        visibility_timeout: float,
        max_receive_count: int,
        retention_seconds: float,
        message_bytes: int,
        on_visible: Callable[[float], None],
        schedule: Callable[[float, Callable[[float, float], None], float], None],
    ) -> None:
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self.retention_seconds = retention_seconds
        self.message_bytes = message_bytes
        self._on_visible = on_visible
        self._schedule = schedule
        # per message
        self.sent_at = array("d")
        """The change's first send (a copy carries it)."""
        self.enqueued_at = array("d")
        """This message's own send (the copy's, for a copy): retention counts from it."""
        self.receive_count = array("i")
        self.earlier_attempts = array("i")
        """Receives of the copies before this one (the handler's `retry_attempts`)."""
        self.entity = array("q")
        self.valid = bytearray()
        self.state = bytearray()
        self.deletes = bytearray()
        # where they wait
        self.visible = Runs()
        self.hidden: list[tuple[float, int, Sequence[int]]] = []
        """(visible again at, order, messages): a heap of groups due at one instant."""
        self._order = itertools.count()
        self._wakes: set[float] = set()
        self._next_wake = math.inf
        # counters
        self.in_flight = 0
        self.finished = 0
        self.double_deletes = 0
        self.redriven_valid = 0
        self.redriven_invalid = 0
        self.copies = 0
        """Delayed copies sent by the handler (each replaced an acknowledged original)."""
        self.lost_to_retention = 0
        self.requests = 0
        self.oldest_unfinished = 0
        self.last_finished_at = 0.0

    # ---- producers -----------------------------------------------------------------------
    def send(self, now: float, entities: Iterable[int], valid: Sequence[int], delay: float) -> None:
        """Messages sent at `now` (one per entity given; `valid`: 1 or 0 each), visible after
        `delay` seconds."""
        first = len(self.state)
        count = len(valid)
        times = array("d", [now]) * count
        self.sent_at.extend(times)
        self.enqueued_at.extend(times)
        zeros = array("i", bytes(4 * count))
        self.receive_count.extend(zeros)
        self.earlier_attempts.extend(zeros)
        self.entity.extend(entities)
        self.valid.extend(valid)
        self.state.extend(bytes(count))
        self.deletes.extend(bytes(count))
        if delay > 0:
            self._hide_group(range(first, first + count), now + delay)
        else:
            self.visible.add_run(first, first + count)
            self._on_visible(now)

    # ---- the consumer side ---------------------------------------------------------------
    def visible_count(self, now: float) -> int:
        """Messages a receive at `now` can get (before redrive and retention checks)."""
        self._release(now)
        return len(self.visible)

    def receive(self, now: float, max_messages: int, max_bytes: int) -> list[int]:
        """Up to `max_messages` visible messages (within `max_bytes`), now in flight.

        A message past retention is dropped; one already received max_receive_count times
        moves to the DLQ instead of being returned (SQS's redrive).
        """
        self._release(now)
        limit = min(max_messages, max(1, max_bytes // max(self.message_bytes, 1)))
        taken: list[int] = []
        visible, state, counts = self.visible, self.state, self.receive_count
        enqueued, most = self.enqueued_at, self.max_receive_count
        oldest_kept = now - self.retention_seconds
        while visible and len(taken) < limit:
            run = visible.take(limit - len(taken))
            first, end = run.start, run.stop
            if min(enqueued[first:end]) >= oldest_kept and max(counts[first:end]) < most:
                # the common case, a run in bulk: none expired, none at the redrive limit
                counts[first:end] = array("i", map((1).__add__, counts[first:end]))
                state[first:end] = bytes([IN_FLIGHT]) * (end - first)
                taken.extend(run)
                continue
            for message in run:
                if enqueued[message] < oldest_kept:
                    state[message] = EXPIRED_BY_RETENTION
                    self.lost_to_retention += 1
                    self.finished += 1
                    self.last_finished_at = now
                elif counts[message] >= most:
                    state[message] = DLQ_BY_REDRIVE
                    if self.valid[message]:
                        self.redriven_valid += 1
                    else:
                        self.redriven_invalid += 1
                    self.finished += 1
                    self.last_finished_at = now
                else:
                    counts[message] += 1
                    state[message] = IN_FLIGHT
                    taken.append(message)
        self.in_flight += len(taken)
        self.requests += calls_for(len(taken), len(taken) * self.message_bytes) or 1
        return taken

    def delete(self, now: float, messages: list[int], final_state: int) -> None:
        """Delete in-flight messages (DeleteMessageBatch) and record why they are done."""
        state, deletes = self.state, self.deletes
        before = self.double_deletes
        for message in messages:
            if state[message] != IN_FLIGHT:
                self.double_deletes += 1
                continue
            state[message] = final_state
            deletes[message] += 1
        self.in_flight -= len(messages) - self.double_deletes + before
        self.finished += len(messages) - self.double_deletes + before
        self.requests += calls_for(len(messages))
        self.last_finished_at = now

    def release_after(self, messages: list[int], visible_at: list[float], calls: int) -> None:
        """In-flight messages become visible again at the given instants (ChangeMessageVisibility
        with `calls` billed calls, or their visibility timeout running out with 0)."""
        groups: dict[float, list[int]] = {}
        for message, when in zip(messages, visible_at, strict=True):
            if self.state[message] != IN_FLIGHT:
                continue
            self.state[message] = WAITING
            self.in_flight -= 1
            groups.setdefault(when, []).append(message)
        for when, group in groups.items():
            self._hide_group(group, when)
        self.requests += calls

    def attempts(self, message: int) -> int:
        """Receives of the change so far, its copies' included (the handler's attempts)."""
        return self.earlier_attempts[message] + self.receive_count[message]

    def requeue(self, now: float, messages: list[int], visible_at: list[float]) -> None:
        """The handler re-sends in-flight messages as delayed copies at `now` (SendMessageBatch,
        visible at the given instants) and the originals are acknowledged (DeleteMessageBatch).
        Each stays one change: receive count back to 0, attempts and first send carried."""
        state, counts, earlier = self.state, self.receive_count, self.earlier_attempts
        sent: list[int] = []
        groups: dict[float, list[int]] = {}
        for message, when in zip(messages, visible_at, strict=True):
            if state[message] != IN_FLIGHT:
                continue
            state[message] = WAITING
            earlier[message] += counts[message]
            counts[message] = 0
            self.enqueued_at[message] = now
            groups.setdefault(when, []).append(message)
            sent.append(message)
        for when, group in groups.items():
            self._hide_group(group, when)
        self.in_flight -= len(sent)
        self.copies += len(sent)
        self.requests += calls_for(len(sent), len(sent) * self.message_bytes)
        self.requests += calls_for(len(sent))

    def empty_receives(self, count: int) -> None:
        """Bill empty long polls."""
        self.requests += count

    def oldest_age(self, now: float) -> float:
        """Age of the oldest message not yet finished (0 when none)."""
        state, pointer = self.state, self.oldest_unfinished
        end = len(state)
        while pointer < end and state[pointer] in FINAL:
            pointer += 1
        self.oldest_unfinished = pointer
        return now - self.sent_at[pointer] if pointer < end else 0.0

    @property
    def unfinished(self) -> int:
        """Messages sent and not finished (waiting or in flight)."""
        return len(self.state) - self.finished

    # ---- internals -----------------------------------------------------------------------
    def _hide_group(self, messages: Sequence[int], until: float) -> None:
        heapq.heappush(self.hidden, (until, next(self._order), messages))
        if until < self._next_wake:
            self._next_wake = until
            if until not in self._wakes:
                self._wakes.add(until)
                self._schedule(until, self._wake, until)

    def _wake(self, now: float, due: float) -> None:
        """A wake-up scheduled for `due` runs at `now` (later than `due` when `due` had
        already passed when it was scheduled: the loop runs past instants at once)."""
        self._wakes.discard(due)
        self._next_wake = min(self._wakes, default=math.inf)
        released = self._release(now)
        if self.hidden and self.hidden[0][0] < self._next_wake:
            until = self.hidden[0][0]
            self._next_wake = until
            if until not in self._wakes:
                self._wakes.add(until)
                self._schedule(until, self._wake, until)
        if released:
            self._on_visible(now)

    def _release(self, now: float) -> int:
        hidden, visible = self.hidden, self.visible
        released = 0
        while hidden and hidden[0][0] <= now:
            _, _, messages = heapq.heappop(hidden)
            if isinstance(messages, range):
                visible.add_run(messages.start, messages.stop)
            else:
                for message in messages:
                    visible.add(message)
            released += len(messages)
        return released
