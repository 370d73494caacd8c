"""Retry decisions per record: attempts and first send from the event, backoff bounds,
Retry-After precedence, the horizon (pure: no calls are made here)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from consumer.outcomes import Outcome, OutcomeKind
from consumer.records import load_validator, parse_record, validate_record
from consumer.retries import fifo_backoffs, plan_retries, retry_facts
from consumer.settings import Settings
from consumer.time_budget import Deadline
from consumer.visibility import MAX_WAIT_SECONDS

NOW_MS = 1_800_000_000_000
SETTINGS = Settings(
    entity_api_url="http://127.0.0.1:1/v1/operations:batch",
    dlq_url="http://127.0.0.1:4566/000000000000/dlq",
    retry_horizon_seconds=3600,
    retry_backoff_base_seconds=2.0,
    retry_backoff_max_seconds=900,
)
FAILED = Outcome(OutcomeKind.TRANSIENT, "entity API answered 503")


CHANGE = {
    "event_id": "e1",
    "entity_type": "order",
    "entity_id": "1",
    "op": "update",
    "occurred_at": "2026-01-01T00:00:00Z",
    "attributes": {"a": 1},
}


def raw(receive_count: int, sent_ms: int, **attributes: str) -> dict[str, Any]:
    """An SQS event record of CHANGE, received `receive_count` times."""
    return {
        "messageId": "m0",
        "receiptHandle": "handle-0",
        "body": json.dumps(CHANGE),
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent_ms),
        },
        "messageAttributes": {
            name: {"dataType": "Number", "stringValue": value} for name, value in attributes.items()
        },
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:entity-changes",
    }


def decide(raws: list[dict[str, Any]], cause: Outcome | None = FAILED, draw: float = 0.999) -> Any:
    records = [parse_record(r, n, 1 << 20) for n, r in enumerate(raws)]
    for record in records:
        validate_record(record, load_validator())
    causes = dict.fromkeys(range(len(records)), cause)
    return plan_retries(records, raws, causes, SETTINGS, now_ms=NOW_MS, draw=lambda: draw)


def test_the_backoff_grows_with_the_receive_count_up_to_the_cap() -> None:
    delays = [
        decide([raw(n, NOW_MS - 2_000_000)]).backoffs[0].plan.visibility_seconds
        for n in range(1, 14)
    ]
    assert delays[:4] == [2, 4, 8, 16]  # base 2 x 2 ** (n - 1), the draw at its top
    assert max(delays) == 500  # the cap, 900, limited to a quarter of the record's age


def test_full_jitter_can_bring_a_record_back_at_once() -> None:
    [backoff] = decide([raw(5, NOW_MS - 1000)], draw=0.0).backoffs
    assert backoff.plan.visibility_seconds == 0


def test_retry_after_takes_precedence() -> None:
    throttled = Outcome(OutcomeKind.TRANSIENT, "429", retry_after=7.2)
    [backoff] = decide([raw(9, NOW_MS - 1000)], cause=throttled).backoffs
    assert backoff.plan.visibility_seconds == 8


def test_a_copy_counts_its_earlier_attempts_and_its_first_send() -> None:
    copy = raw(2, NOW_MS - 1000, retry_attempts="3", retry_first_sent_timestamp="1234")
    facts = retry_facts(copy, parse_record(copy, 0, 1 << 20), SETTINGS.dlq_url)
    assert facts is not None
    assert (facts.attempts, facts.receive_count, facts.first_sent_ms) == (5, 2, 1234)
    assert facts.queue_url == "http://127.0.0.1:4566/123456789012/entity-changes"


def test_a_first_send_carried_later_than_the_message_itself_is_not_believed() -> None:
    copy = raw(1, NOW_MS - 7_200_000, retry_first_sent_timestamp=str(NOW_MS + 10**9))
    [entry] = decide([copy]).expired
    assert entry.error_code == "expired"


def test_without_a_sent_timestamp_the_horizon_counts_from_now() -> None:
    unknown = raw(1, 0)
    del unknown["attributes"]["SentTimestamp"]
    decisions = decide([unknown])
    assert decisions.expired == []
    assert len(decisions.backoffs) == 1


def test_the_delay_never_reaches_past_the_horizon() -> None:
    [backoff] = decide([raw(20, NOW_MS - 3_590_000)]).backoffs
    assert backoff.plan.visibility_seconds == 10
    assert backoff.plan.clipped


def test_past_the_horizon_a_valid_change_expires_with_its_last_cause() -> None:
    decisions = decide([raw(1, NOW_MS - 3_600_000)])
    assert decisions.backoffs == []
    [entry] = decisions.expired
    assert entry.error_code == "expired"
    assert "last cause: entity API answered 503" in entry.error_detail


def test_a_record_of_unknown_validity_never_expires() -> None:
    stale = raw(1, NOW_MS - 7_200_000)
    records = [parse_record(stale, 0, 1 << 20)]  # never validated (not reached in time)
    decisions = plan_retries(records, [stale], {0: None}, SETTINGS, now_ms=NOW_MS)
    assert decisions.expired == []


def test_a_record_without_receipt_handle_or_queue_is_left_alone() -> None:
    no_handle = raw(1, NOW_MS)
    del no_handle["receiptHandle"]
    no_queue = raw(1, NOW_MS)
    no_queue["eventSourceARN"] = "arn:aws:sns:us-east-1:123456789012:topic"
    decisions = decide([no_handle, no_queue])
    assert (decisions.backoffs, decisions.expired) == ([], [])


# ---- FIFO waits (issue 15 item 6) -----------------------------------------------------------


def fifo_wait(settings: Settings, receive_count: int, sent_ms: int) -> int:
    """The wait fifo_backoffs gives a one-record group (the queue itself is never read here:
    its URL leads nowhere, so a read would find the limit unknown)."""
    [backoff] = plan_retries(
        [parse_record(raw(receive_count, sent_ms), 0, 1 << 20)],
        [raw(receive_count, sent_ms)],
        {0: FAILED},
        settings,
        now_ms=NOW_MS,
        draw=lambda: 0.0,
    ).backoffs
    [aligned] = fifo_backoffs([backoff], ["order:1"], settings, Deadline(0), now_ms=NOW_MS)
    return aligned.plan.visibility_seconds


def test_a_fifo_group_spreads_its_receives_over_the_horizon_with_the_limit_terraform_gave() -> None:
    settings = replace(SETTINGS, source_max_receive_count=5)
    # receive 1 of 5, first sent now: 3600 s left over 4 receives
    assert fifo_wait(settings, 1, NOW_MS) == 900


def test_a_fifo_wait_is_capped_below_sqs_12_hours_from_the_receive() -> None:
    # a 7-day horizon spread over 4 receives asks 151,200 s; SQS takes at most 43,200 s
    # counted from the receive
    settings = replace(SETTINGS, retry_horizon_seconds=604_800, source_max_receive_count=5)
    wait = fifo_wait(settings, 1, NOW_MS)
    assert wait == MAX_WAIT_SECONDS < 43_200


def test_with_the_limit_unknown_a_fifo_group_waits_as_on_its_last_receive_but_one() -> None:
    # issue 15 item 6a: the limit unreadable (no time left for the call here) gave a 1 s
    # jittered backoff: the group's receives ran out in seconds
    wait = fifo_wait(SETTINGS, 1, NOW_MS - 600_000)
    assert wait == 3000  # all that is left of the horizon


def test_a_copy_carrying_a_first_send_older_than_a_horizon_before_it_is_bounded() -> None:
    # a copy is made while the horizon is open: it cannot have been first sent earlier than
    # a horizon before its own send
    copy = raw(1, NOW_MS - 1000, retry_attempts="2", retry_first_sent_timestamp="1")
    facts = retry_facts(copy, parse_record(copy, 0, 1 << 20), SETTINGS.dlq_url, None, 3600)
    assert facts is not None
    assert facts.first_sent_ms == NOW_MS - 1000 - 3_600_000 + 1000
    assert facts.attempts == 3
