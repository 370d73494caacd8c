"""The SQS model against what AWS documents: visibility, receive counts, redrive, retention,
delay, ChangeMessageVisibility, deletes."""

from __future__ import annotations

import pytest

from sim import sqs
from sim.loop import Loop
from sim.sqs import Queue


def make_queue(loop: Loop, **overrides: float) -> tuple[Queue, list[float]]:
    woken: list[float] = []
    settings: dict[str, float] = {
        "visibility_timeout": 30.0,
        "max_receive_count": 3,
        "retention_seconds": 3600.0,
        "message_bytes": 1000,
    }
    settings.update(overrides)
    queue = Queue(
        visibility_timeout=settings["visibility_timeout"],
        max_receive_count=int(settings["max_receive_count"]),
        retention_seconds=settings["retention_seconds"],
        message_bytes=int(settings["message_bytes"]),
        on_visible=woken.append,
        schedule=loop.at,
    )
    return queue, woken


def test_received_messages_are_invisible_until_released() -> None:
    loop = Loop()
    queue, woken = make_queue(loop)
    queue.send(0.0, [1, 2, 3], [True, True, True], 0)
    assert woken == [0.0]
    taken = queue.receive(0.0, 10, 10**9)
    assert list(taken) == [0, 1, 2]
    assert queue.visible_count(1.0) == 0
    assert queue.in_flight == 3
    assert [queue.receive_count[m] for m in taken] == [1, 1, 1]
    queue.release_after([0, 1], [30.0, 12.0], 0)
    assert queue.visible_count(11.9) == 0
    assert queue.visible_count(12.0) == 1
    assert queue.visible_count(30.0) == 2
    assert queue.in_flight == 1


def test_release_wakes_the_consumer_when_the_message_becomes_visible() -> None:
    loop = Loop()
    queue, woken = make_queue(loop)
    queue.send(0.0, [1], [True], 0)
    queue.receive(0.0, 10, 10**9)
    queue.release_after([0], [42.0], 1)
    loop.run(100.0)
    assert woken == [0.0, 42.0]
    assert queue.requests == 2  # one receive, one visibility change


def test_redrive_after_max_receive_count_receives() -> None:
    loop = Loop()
    queue, _ = make_queue(loop, max_receive_count=3)
    queue.send(0.0, [7], [True], 0)
    for attempt in range(3):
        assert list(queue.receive(attempt * 10.0, 10, 10**9)) == [0]
        queue.release_after([0], [attempt * 10.0 + 5], 0)
    assert list(queue.receive(100.0, 10, 10**9)) == []  # the 4th receive moves it
    assert queue.state[0] == sqs.DLQ_BY_REDRIVE
    assert queue.redriven_valid == 1
    assert queue.unfinished == 0


def test_invalid_messages_redriven_are_counted_apart() -> None:
    loop = Loop()
    queue, _ = make_queue(loop, max_receive_count=1)
    queue.send(0.0, [7], [False], 0)
    queue.receive(0.0, 10, 10**9)
    queue.release_after([0], [1.0], 0)
    queue.receive(2.0, 10, 10**9)
    assert (queue.redriven_valid, queue.redriven_invalid) == (0, 1)


def test_retention_drops_old_messages_at_receive() -> None:
    loop = Loop()
    queue, _ = make_queue(loop, retention_seconds=60.0)
    queue.send(0.0, [1], [True], 0)
    queue.send(50.0, [2], [True], 0)
    assert list(queue.receive(70.0, 10, 10**9)) == [1]
    assert queue.state[0] == sqs.EXPIRED_BY_RETENTION
    assert queue.lost_to_retention == 1


def test_delayed_messages_appear_after_their_delay() -> None:
    loop = Loop()
    queue, woken = make_queue(loop)
    queue.send(0.0, [1, 2], [True, True], 15)
    assert woken == []
    assert queue.visible_count(14.9) == 0
    loop.run(20.0)
    assert woken == [15.0]
    assert list(queue.receive(15.0, 10, 10**9)) == [0, 1]


def test_receive_respects_count_and_bytes() -> None:
    loop = Loop()
    queue, _ = make_queue(loop, message_bytes=600_000)
    queue.send(0.0, list(range(30)), [True] * 30, 0)
    assert len(queue.receive(0.0, 100, 6 * 1_048_576)) == 10  # 6 MB / 600 KB
    assert len(queue.receive(0.0, 4, 6 * 1_048_576)) == 4


def test_delete_is_once_only_and_counted() -> None:
    loop = Loop()
    queue, _ = make_queue(loop)
    queue.send(0.0, [1, 2], [True, True], 0)
    queue.receive(0.0, 10, 10**9)
    queue.delete(1.0, [0, 1], sqs.APPLIED)
    queue.delete(2.0, [0], sqs.APPLIED)
    assert queue.double_deletes == 1
    assert list(queue.deletes) == [1, 1]
    assert queue.unfinished == 0
    assert queue.in_flight == 0


def test_oldest_age_follows_the_oldest_unfinished_message() -> None:
    loop = Loop()
    queue, _ = make_queue(loop)
    queue.send(0.0, [1], [True], 0)
    queue.send(10.0, [2], [True], 0)
    assert queue.oldest_age(30.0) == pytest.approx(30.0)
    queue.receive(30.0, 1, 10**9)
    queue.delete(31.0, [0], sqs.APPLIED)
    assert queue.oldest_age(40.0) == pytest.approx(30.0)


@pytest.mark.parametrize(
    ("count", "size", "calls"), [(0, 0, 0), (1, 100, 1), (10, 0, 1), (11, 0, 2), (10, 200_000, 4)]
)
def test_billed_requests(count: int, size: int, calls: int) -> None:
    assert sqs.calls_for(count, size) == calls


def test_a_wake_up_due_in_the_past_does_not_block_later_ones() -> None:
    """Regression (issue 16, item 4): the handler's delayed copy can be due before the instant
    it is sent (its delay counts from before the SQS calls' time); the loop runs it at "now",
    and the queue must still wake the consumer for a message hidden after that."""
    loop = Loop()
    queue, woken = make_queue(loop)
    queue.send(0.0, [1, 2], [True, True], 0)
    queue.receive(0.0, 10, 10**9)
    loop.at(10.0, lambda now, _: None)
    loop.run(10.0)
    queue.requeue(10.0, [0], [5.0])  # due 5 s before it is sent
    loop.run(10.0)
    assert woken[-1] == 10.0
    queue.release_after([1], [20.0], 1)
    loop.run(100.0)
    assert woken[-1] == 20.0
