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
import re
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

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
    calls = -(-count // RECEIVE_ENTRIES)  # ceil, in integers
    chunks = -(-total_bytes // CHUNK_BYTES)
    return calls if calls >= chunks else chunks


class Runs:
    """A FIFO of message numbers kept as chunks: runs of consecutive numbers (a burst is one)
    and groups released together (a list each), with how much of each was taken."""

    __slots__ = ("_chunks", "_count")

    def __init__(self) -> None:
        self._chunks: deque[list[Any]] = deque()
        """[taken so far, range or list of messages]"""
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def add_run(self, first: int, end: int) -> None:
        """Append first, first + 1, ..., end - 1."""
        if end <= first:
            return
        chunks = self._chunks
        self._count += end - first
        if chunks:
            last = chunks[-1]
            messages = last[1]
            if type(messages) is range and messages.stop == first:
                last[1] = range(messages.start, end)
                return
        chunks.append([0, range(first, end)])

    def add(self, message: int) -> None:
        """Append one message."""
        self.add_run(message, message + 1)

    def add_group(self, messages: Sequence[int]) -> None:
        """Append messages in their order (a list is kept, not copied: do not change it)."""
        if type(messages) is range:
            self.add_run(messages.start, messages.stop)
        elif messages:
            self._chunks.append([0, messages])
            self._count += len(messages)

    def take(self, most: int) -> Sequence[int]:
        """Take up to `most` (>= 1) messages from the front: those of the first chunk (a
        range for a run)."""
        chunk = self._chunks[0]
        start: int = chunk[0]
        messages: Sequence[int] = chunk[1]
        end = min(len(messages), start + most)
        if end == len(messages):
            self._chunks.popleft()
        else:
            chunk[0] = end
        self._count -= end - start
        return messages[start:end] if start or end < len(messages) else messages


class Views(NamedTuple):
    """numpy arrays over the queue's per-message arrays (no copy): one operation on a whole
    group of messages, by a slice or an index array, instead of one Python step each."""

    state: npt.NDArray[np.uint8]
    deletes: npt.NDArray[np.uint8]
    receive_count: npt.NDArray[np.intc]
    earlier_attempts: npt.NDArray[np.intc]
    enqueued_at: npt.NDArray[np.float64]
    sent_at: npt.NDArray[np.float64]
    entity: npt.NDArray[np.int64]


Index = slice | npt.NDArray[np.intp]
"""Messages as a numpy index: a slice for a run, an array of their numbers else."""


def index_of(messages: Sequence[int], run: range | None) -> Index:
    """`messages` (`run`: as a range, if they are one) as a numpy index."""
    if run is not None:
        return slice(run.start, run.stop)
    return np.fromiter(messages, np.intp, len(messages))


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
        self.invalid_sent = 0
        """Messages sent with `valid` 0 (none: a batch needs no look at `valid`)."""
        self.state = bytearray()
        self.deletes = bytearray()
        self._views: Views | None = None
        """`views()`, until the arrays grow (a numpy view holds their buffer: they could not)."""
        # where they wait
        self.visible = Runs()
        self.hidden: list[tuple[float, int, Sequence[int]]] = []
        """(visible again at, order, messages): a heap of groups due at one instant."""
        self._order = itertools.count()
        self._wakes: set[float] = set()
        self._next_wake = math.inf
        self._least_enqueued = math.inf
        """No message's `enqueued_at` is below it (a receive before retention can have run
        out for it looks at no message's age)."""
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
        self._views = None  # let go of the buffers: the arrays grow
        times = array("d", [now]) * count
        self.sent_at.extend(times)
        self.enqueued_at.extend(times)
        zeros = array("i", bytes(4 * count))
        self.receive_count.extend(zeros)
        self.earlier_attempts.extend(zeros)
        self.entity.extend(entities)
        self.valid.extend(valid)
        self.invalid_sent += bytes(valid).count(0)
        self._least_enqueued = min(self._least_enqueued, now)
        self.state.extend(bytes(count))
        self.deletes.extend(bytes(count))
        if delay > 0:
            self._hide_group(range(first, first + count), now + delay)
        else:
            self.visible.add_run(first, first + count)
            self._on_visible(now)

    def views(self) -> Views:
        """numpy views of the per-message arrays (valid until the next `send`)."""
        views = self._views
        if views is None:
            views = self._views = Views(
                np.frombuffer(self.state, np.uint8),
                np.frombuffer(self.deletes, np.uint8),
                np.frombuffer(self.receive_count, np.intc),
                np.frombuffer(self.earlier_attempts, np.intc),
                np.frombuffer(self.enqueued_at, np.float64),
                np.frombuffer(self.sent_at, np.float64),
                np.frombuffer(self.entity, np.int64),
            )
        return views

    # ---- the consumer side ---------------------------------------------------------------
    def visible_count(self, now: float) -> int:
        """Messages a receive at `now` can get (before redrive and retention checks)."""
        self._release(now)
        return len(self.visible)

    def receive(self, now: float, max_messages: int, max_bytes: int) -> Sequence[int]:
        """Up to `max_messages` visible messages (within `max_bytes`), now in flight: a range
        when they are one run of consecutive numbers (the function's bulk paths then need not
        find the run again), a list else.

        A message past retention is dropped; one already received max_receive_count times
        moves to the DLQ instead of being returned (SQS's redrive).
        """
        self._release(now)
        limit = min(max_messages, max(1, max_bytes // max(self.message_bytes, 1)))
        taken: list[int] = []
        visible, state, counts = self.visible, self.state, self.receive_count
        enqueued, most = self.enqueued_at, self.max_receive_count
        oldest_kept = now - self.retention_seconds
        all_kept = self._none_enqueued_before(oldest_kept)
        views = self.views()
        while visible and len(taken) < limit:
            run = visible.take(limit - len(taken))
            if type(run) is range:
                first, end = run.start, run.stop
                received = views.receive_count[first:end]
                if (
                    all_kept or views.enqueued_at[first:end].min() >= oldest_kept
                ) and received.max() < most:
                    # the common case, a run in bulk: none expired, none at the redrive limit
                    received += 1
                    state[first:end] = bytes([IN_FLIGHT]) * (end - first)
                    if not taken and (end - first == limit or not visible):
                        self.in_flight += end - first  # the whole batch, one run
                        self.requests += calls_for(end - first, (end - first) * self.message_bytes)
                        return run
                    taken.extend(run)
                    continue
            else:
                group = np.fromiter(run, np.intp, len(run))
                received = views.receive_count[group]
                if (
                    all_kept or views.enqueued_at[group].min() >= oldest_kept
                ) and received.max() < most:  # a released group in bulk
                    views.receive_count[group] = received + 1
                    views.state[group] = IN_FLIGHT
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

    def delete(self, now: float, messages: Sequence[int], final_state: int) -> None:
        """Delete in-flight messages (DeleteMessageBatch) and record why they are done."""
        state, deletes = self.state, self.deletes
        before = self.double_deletes
        count = len(messages)
        run = as_run(messages)
        index = index_of(messages, run)
        if _all_in_state(self, messages, IN_FLIGHT, run, index):  # the common case, in bulk
            views = self.views()
            views.state[index] = final_state
            views.deletes[index] += 1
        else:
            for message in messages:
                if state[message] != IN_FLIGHT:
                    self.double_deletes += 1
                    continue
                state[message] = final_state
                deletes[message] += 1
        self.in_flight -= count - self.double_deletes + before
        self.finished += count - self.double_deletes + before
        self.requests += calls_for(len(messages))
        self.last_finished_at = now

    def release_after(self, messages: Sequence[int], visible_at: list[float], calls: int) -> None:
        """In-flight messages become visible again at the given instants (ChangeMessageVisibility
        with `calls` billed calls, or their visibility timeout running out with 0)."""
        state = self.state
        if len(messages) != len(visible_at):
            raise ValueError("one instant per message")
        run = as_run(messages)
        index = index_of(messages, run)
        if messages and _all_in_state(self, messages, IN_FLIGHT, run, index) and _same(visible_at):
            # the common case: every one in flight, all due at one instant
            self.views().state[index] = WAITING
            self.in_flight -= len(messages)
            self._hide_group(run or list(messages), visible_at[0])
            self.requests += calls
            return
        groups: dict[float, list[int]] = {}
        for message, when in zip(messages, visible_at, strict=True):
            if state[message] != IN_FLIGHT:
                continue
            state[message] = WAITING
            self.in_flight -= 1
            groups.setdefault(when, []).append(message)
        for when, group in groups.items():
            self._hide_group(group, when)
        self.requests += calls

    def all_valid(self, messages: Sequence[int], run: range | None) -> bool:
        """Whether every one of the messages (`run`: as a range, if they are one) is valid
        (at once when none sent was invalid)."""
        if self.invalid_sent == 0:
            return True
        if run is not None:
            return self.valid.count(0, run.start, run.stop) == 0
        return all(map(self.valid.__getitem__, messages))

    def retry_fields(
        self, messages: Sequence[int], run: range | None
    ) -> tuple[Sequence[int], Sequence[int], Sequence[float]]:
        """(receive counts, earlier attempts, first sends) of the messages (`run`: as a range,
        if they are one), in their order."""
        if run is not None:
            first, end = run.start, run.stop
            return (
                self.receive_count[first:end],
                self.earlier_attempts[first:end],
                self.sent_at[first:end],
            )
        views, index = self.views(), index_of(messages, None)
        return (
            views.receive_count[index].tolist(),
            views.earlier_attempts[index].tolist(),
            views.sent_at[index].tolist(),
        )

    def entities(self, messages: Sequence[int], run: range | None) -> Sequence[int]:
        """The messages' entities (`run`: as a range, if they are one), in their order."""
        if run is not None:
            return self.entity[run.start : run.stop]
        result: list[int] = self.views().entity[index_of(messages, None)].tolist()
        return result

    def attempts(self, message: int) -> int:
        """Receives of the change so far, its copies' included (the handler's attempts)."""
        return self.earlier_attempts[message] + self.receive_count[message]

    def requeue(self, now: float, messages: Sequence[int], visible_at: list[float]) -> None:
        """The handler re-sends in-flight messages as delayed copies at `now` (SendMessageBatch,
        visible at the given instants) and the originals are acknowledged (DeleteMessageBatch).
        Each stays one change: receive count back to 0, attempts and first send carried."""
        state, counts, earlier = self.state, self.receive_count, self.earlier_attempts
        sent: list[int] = []
        groups: dict[float, list[int]] = {}
        if len(messages) != len(visible_at):
            raise ValueError("one instant per message")
        run = as_run(messages)
        index = index_of(messages, run)
        if messages and _all_in_state(self, messages, IN_FLIGHT, run, index) and _same(visible_at):
            # the common case: every one in flight, all due at one instant
            sent = list(messages)
            views = self.views()
            views.state[index] = WAITING
            views.earlier_attempts[index] += views.receive_count[index]
            views.receive_count[index] = 0
            views.enqueued_at[index] = now
            self._hide_group(run or sent, visible_at[0])
        else:
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
        if sent:
            self._least_enqueued = min(self._least_enqueued, now)
        self.in_flight -= len(sent)
        self.copies += len(sent)
        self.requests += calls_for(len(sent), len(sent) * self.message_bytes)
        self.requests += calls_for(len(sent))

    def empty_receives(self, count: int) -> None:
        """Bill empty long polls."""
        self.requests += count

    def oldest_age(self, now: float) -> float:
        """Age of the oldest message not yet finished (0 when none)."""
        state = self.state
        end = len(state)
        unfinished = _UNFINISHED.search(state, self.oldest_unfinished)
        pointer = end if unfinished is None else unfinished.start()
        self.oldest_unfinished = pointer
        return now - self.sent_at[pointer] if pointer < end else 0.0

    @property
    def unfinished(self) -> int:
        """Messages sent and not finished (waiting or in flight)."""
        return len(self.state) - self.finished

    # ---- internals -----------------------------------------------------------------------
    def _none_enqueued_before(self, oldest_kept: float) -> bool:
        """Whether no message was enqueued before `oldest_kept` (a receive then finds none
        past retention without looking at each one's age)."""
        return oldest_kept <= self._least_enqueued

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
            visible.add_group(messages)
            released += len(messages)
        return released


_UNFINISHED = re.compile(bytes([ord("["), WAITING, IN_FLIGHT, ord("]")]))
"""A message's state byte that is not final."""


def _all_in_state(
    queue: Queue, messages: Sequence[int], wanted: int, run: range | None, index: Index
) -> bool:
    """Whether the messages (`run`: as a range, if they are one; `index`: as a numpy index)
    are distinct and every one is in state `wanted`."""
    count = len(messages)
    if run is not None:
        return queue.state.count(wanted, run.start, run.stop) == count
    return (
        int(np.count_nonzero(queue.views().state[index] == wanted)) == count
        and len(set(messages)) == count
    )


def _same(values: Sequence[float]) -> bool:
    """Whether all values are equal (True for none)."""
    return not values or values.count(values[0]) == len(values)


def as_run(messages: Sequence[int]) -> range | None:
    """`messages` as a range when they are consecutive numbers in order, else None."""
    if type(messages) is range:
        return messages
    if not messages:
        return None
    first = messages[0]
    if messages[-1] - first != len(messages) - 1:
        return None
    run = range(first, first + len(messages))
    return run if list(run) == messages else None
