"""Ordering, de-duplication, coalescing and packing (pure logic)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.aggregation import (
    ENVELOPE_BYTES,
    Operation,
    encode_operation,
    instant,
    pack_requests,
    plan_operations,
    request_body,
)
from consumer.records import Record, load_validator, validate_record


def make_record(
    index: int,
    event_id: str,
    entity: str = "1",
    op: str = "update",
    attributes: dict[str, Any] | None = None,
    at: str = "2026-01-01T00:00:00Z",
    sent: int = 0,
) -> Record:
    message: dict[str, Any] = {
        "event_id": event_id,
        "entity_type": "order",
        "entity_id": entity,
        "op": op,
        "occurred_at": at,
    }
    if op != "delete":
        message["attributes"] = {"v": event_id} if attributes is None else attributes
    record = Record(index, f"m{index}", json.dumps(message), sent)
    record.message = message
    return record


def validate(record: Record) -> bool:
    return validate_record(record, load_validator())


def chains(records: list[Record]) -> list[list[tuple[str, str, list[int]]]]:
    plan = plan_operations(records, validate)
    return [
        [(op.op_id, op.message["op"], op.records) for op in chain]
        for chain in plan.chains()
        if chain
    ]


def test_instant_compares_across_offsets_and_precisions() -> None:
    assert instant("2026-01-01T11:00:00+01:00") == instant("2026-01-01T10:00:00Z")
    assert instant("2026-01-01T10:00:00.5Z") > instant("2026-01-01T10:00:00Z")
    assert instant("2026-01-01t10:00:00z") == instant("2026-01-01T10:00:00Z")
    assert instant("2016-12-31T23:59:60Z") > instant("2016-12-31T23:59:59.9Z")
    assert instant("garbage") == 0.0


def test_order_is_occurred_at_then_sent_timestamp_then_position() -> None:
    records = [
        make_record(0, "late", "1", "create", at="2026-01-01T00:00:02Z"),
        make_record(1, "tie-b", "2", "create", at="2026-01-01T00:00:01Z", sent=9),
        make_record(2, "tie-a", "3", "create", at="2026-01-01T00:00:01Z", sent=5),
        make_record(3, "early", "4", "create", at="2026-01-01T01:00:00+02:00"),
    ]

    assert [c[0][0] for c in chains(records)] == ["early", "tie-a", "tie-b", "late"]


def test_duplicates_keep_the_first_and_share_its_operation() -> None:
    records = [make_record(0, "a"), make_record(1, "a"), make_record(2, "b", "2")]
    plan = plan_operations(records, validate)
    plan.complete()
    owner = plan.operation_of()

    assert plan.duplicates == 1
    assert owner[1] is owner[0]
    assert owner[2] is not owner[0]


def test_an_invalid_first_copy_does_not_hide_a_valid_duplicate() -> None:
    bad = make_record(0, "a", at="2026-01-01T00:00:00Z")
    bad.message["attributes"] = None  # type: ignore[index]
    good = make_record(1, "a", at="2026-01-01T00:00:01Z")
    plan = plan_operations([bad, good], validate)
    plan.complete()

    assert plan.duplicates == 0
    assert bad.error_code == "schema_violation"
    assert [op.records for chain in plan.built for op in chain] == [[1]]


def test_consecutive_updates_coalesce_with_later_attributes_winning() -> None:
    records = [
        make_record(0, "u1", attributes={"a": 1, "b": 1}, at="2026-01-01T00:00:01Z"),
        make_record(1, "u2", attributes={"b": 2}, at="2026-01-01T00:00:01Z", sent=1),
        make_record(2, "u3", attributes={"a": 3, "b": 3, "c": 3}, at="2026-01-01T00:00:03Z"),
        make_record(3, "u4", attributes={"c": 4}, at="2026-01-01T00:00:03Z"),
    ]
    plan = plan_operations(records, validate)
    [[operation]] = list(plan.chains())

    # the op_id names exactly the four changes: not any one event_id (contract section 2)
    assert operation.op_id == "merged:" + hashlib.sha256(b"u1\nu2\nu3\nu4").hexdigest()
    assert operation.message["occurred_at"] == "2026-01-01T00:00:03Z"  # the newest
    assert operation.message["attributes"] == {"a": 3, "b": 3, "c": 4}
    assert operation.records == [0, 1, 2, 3]
    assert plan.coalesced == 3


def test_an_older_value_is_never_sent_under_a_newer_occurred_at() -> None:
    # issue 15 item 8: `status: pending` (10:03) must not ride a 10:04 change of another
    # attribute, or it overwrites `shipped` that the API applied at 10:03:30
    records = [
        make_record(0, "pending", attributes={"status": "pending"}, at="2026-01-01T10:03:00Z"),
        make_record(1, "note", attributes={"note": "gift"}, at="2026-01-01T10:04:00Z"),
    ]
    plan = plan_operations(records, validate)
    [chain] = list(plan.chains())

    assert [(op.op_id, op.message["occurred_at"]) for op in chain] == [
        ("pending", "2026-01-01T10:03:00Z"),
        ("note", "2026-01-01T10:04:00Z"),
    ]
    store = {"status": ("shipped", instant("2026-01-01T10:03:30Z"))}
    assert stale_refusing_store(store, chain) == {"status": "shipped", "note": "gift"}
    assert plan.coalesced == 0


def test_from_a_fifo_queue_an_older_change_after_a_newer_one_is_not_lifted() -> None:
    records = [
        make_record(0, "new", attributes={"a": 2}, at="2026-01-01T10:04:00Z"),
        make_record(1, "old", attributes={"a": 1, "b": 1}, at="2026-01-01T10:03:00Z"),
    ]
    plan = plan_operations(records, validate, message_groups=["g", "g"])
    [chain] = list(plan.chains())

    assert [op.op_id for op in chain] == ["new", "old"]


def stale_refusing_store(
    store: dict[str, tuple[Any, float]], operations: list[Operation]
) -> dict[str, Any]:
    """An entity API that refuses a write older than what it holds (compared, as an API
    can, only by the operation's occurred_at) applied to one entity: the values it ends with."""
    newest = max((at for _, at in store.values()), default=float("-inf"))
    for operation in operations:
        at = instant(operation.message["occurred_at"])
        if at < newest:
            continue  # refused as stale (answered 409)
        newest = at
        store = {**store, **{k: (v, at) for k, v in operation.message["attributes"].items()}}
    return {key: value for key, (value, _) in store.items()}


updates = st.lists(
    st.tuples(
        st.integers(0, 4),  # occurred_at second
        st.dictionaries(st.sampled_from("abc"), st.integers(0, 9), min_size=1),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(updates, st.integers(-1, 5), st.dictionaries(st.sampled_from("abc"), st.integers(10, 19)))
def test_coalescing_ends_where_sending_each_change_alone_ends(
    spec: list[tuple[int, dict[str, int]]], written_at: int, written: dict[str, int]
) -> None:
    # whatever the API applied before (`written` at second `written_at`), an API that refuses
    # stale writes ends with the same values from the coalesced operations as from the changes
    at = "2026-01-01T00:00:0{}Z"
    records = [
        make_record(i, f"u{i}", attributes=attrs, at=at.format(second), sent=i)
        for i, (second, attrs) in enumerate(spec)
    ]
    plan = plan_operations(records, validate)
    [chain] = list(plan.chains())
    alone = [
        Operation(r.message["event_id"], ("order", "1"), r.message, [r.index])  # type: ignore[index]
        for r in sorted(records, key=lambda r: (instant(r.message["occurred_at"]), r.index))  # type: ignore[index]
    ]
    before = {key: (value, float(written_at)) for key, value in written.items()}
    before = {k: (v, instant(at.format(0)) + written_at) for k, (v, _) in before.items()}

    assert stale_refusing_store(before, chain) == stale_refusing_store(before, alone)
    assert all(  # every value the API is sent carries its own change's occurred_at
        any(
            r.message["attributes"].get(k) == v  # type: ignore[index]
            and r.message["occurred_at"] == op.message["occurred_at"]  # type: ignore[index]
            for r in records
            if r.index in op.records
        )
        for op in chain
        for k, v in op.message["attributes"].items()
    )


def test_updates_separated_by_another_op_do_not_coalesce() -> None:
    records = [
        make_record(0, "c", op="create", at="2026-01-01T00:00:01Z"),
        make_record(1, "u1", at="2026-01-01T00:00:02Z"),
        make_record(2, "d", op="delete", at="2026-01-01T00:00:03Z"),
        make_record(3, "u2", at="2026-01-01T00:00:04Z"),
        make_record(4, "u3", at="2026-01-01T00:00:05Z"),
        make_record(5, "other", "2", at="2026-01-01T00:00:04.5Z"),
    ]

    assert chains(records) == [
        [
            ("c", "create", [0]),
            ("u1", "update", [1]),
            ("d", "delete", [2]),
            ("merged:" + hashlib.sha256(b"u2\nu3").hexdigest(), "update", [3, 4]),
        ],
        [("other", "update", [5])],
    ]


def test_an_event_id_on_two_entities_goes_to_the_earliest_valid_one() -> None:
    records = [
        make_record(0, "shared", "2", at="2026-01-01T00:00:05Z"),
        make_record(1, "x", "1", at="2026-01-01T00:00:00Z"),
        make_record(2, "shared", "1", at="2026-01-01T00:00:01Z"),
    ]
    plan = plan_operations(records, validate)
    plan.complete()

    assert plan.duplicate_of == {0: 2}
    assert [[op.records for op in chain] for chain in plan.built] == [[[1, 2]], []]


def encoded_op(n: int, size: int) -> Operation:
    operation = Operation(f"e{n}", ("order", str(n)), {}, [n])
    operation.encoded = b"x" * size
    return operation


def test_packing_respects_the_operation_count() -> None:
    requests = list(pack_requests([encoded_op(n, 10) for n in range(250)], 100, 1_000_000))

    assert [len(r) for r in requests] == [100, 100, 50]


def test_packing_respects_the_encoded_byte_size_exactly() -> None:
    ops = [encoded_op(n, 100) for n in range(10)]
    limit = ENVELOPE_BYTES + 3 * 100 + 2  # exactly three operations and two commas
    requests = list(pack_requests(ops, 100, limit))

    assert [len(r) for r in requests] == [3, 3, 3, 1]
    assert [len(request_body(r)) for r in requests] == [limit, limit, limit, limit - 2 * 100 - 2]
    assert [len(r) for r in pack_requests(ops, 100, limit - 1)] == [2, 2, 2, 2, 2]


def test_an_operation_too_big_for_any_request_is_packed_alone() -> None:
    ops = [encoded_op(0, 10), encoded_op(1, 500), encoded_op(2, 10)]

    assert [len(r) for r in pack_requests(ops, 100, 100)] == [1, 1, 1]


def test_request_body_joins_the_encoded_bytes_without_re_encoding() -> None:
    first, second = encoded_op(0, 0), encoded_op(1, 0)
    first.encoded, second.encoded = b'{"op_id":"a"}', b'{"op_id":"b"}'

    assert request_body([first, second]) == b'{"operations":[{"op_id":"a"},{"op_id":"b"}]}'
    assert json.loads(request_body([first, second])) == {
        "operations": [{"op_id": "a"}, {"op_id": "b"}]
    }


def test_encode_operation_once_and_report_what_cannot_be_encoded() -> None:
    operation = Operation("e1", ("order", "1"), make_record(0, "e1").message or {}, [0])
    assert encode_operation(operation) is None
    first = operation.encoded
    assert encode_operation(operation) is None
    assert operation.encoded is first
    assert json.loads(first) == {
        "op_id": "e1",
        "op": "update",
        "entity_type": "order",
        "entity_id": "1",
        "occurred_at": "2026-01-01T00:00:00Z",
        "attributes": {"v": "e1"},
    }
    broken = Operation(
        "e2", ("order", "1"), {**(operation.message), "attributes": {"n": float("nan")}}, [1]
    )
    assert "cannot encode" in (encode_operation(broken) or "")


ATTRIBUTES_KEY = b'"attributes":'


def encoded_attributes(attributes: dict[str, Any]) -> bytes:
    """The bytes `encode_operation` writes for an update's `attributes` (its last member);
    ValueError with its reason when it cannot encode them."""
    message = make_record(0, "e1").message or {}
    operation = Operation("e1", ("order", "1"), {**message, "attributes": attributes}, [0])
    reason = encode_operation(operation)
    if reason is not None:
        raise ValueError(reason)
    start = operation.encoded.index(ATTRIBUTES_KEY) + len(ATTRIBUTES_KEY)
    assert operation.encoded.endswith(b"}")
    return operation.encoded[start:-1]


def test_operations_are_encoded_as_utf8_not_ascii_escapes() -> None:
    # ensure_ascii made CJK text 2x its UTF-8 size (\uXXXX, 6 bytes for 3), and so valid
    # bodies under MAX_REQUEST_BYTES too large to send
    assert encoded_attributes({"a": "é漢字"}) == '{"a":"é漢字"}'.encode()
    assert encoded_attributes({"a": "漢" * 1000}) == b'{"a":"' + "漢".encode() * 1000 + b'"}'
    # a lone surrogate (valid JSON escape, no UTF-8 form) is sent escaped, not refused
    assert encoded_attributes({"a": "x\ud800"}) == b'{"a":"x\\ud800"}'


def test_the_encoder_gives_standard_json_bytes() -> None:
    samples: list[dict[str, Any]] = [
        {"é": '\u2028\x00"\\', "n": [1, -2.5, 1e300, True, None]},
        {"nested": {"a": [{"b": {}}], "": []}, "big": 2**70},
    ]
    for sample in samples:
        expected = json.dumps(sample, separators=(",", ":"), ensure_ascii=False).encode()
        assert encoded_attributes(sample) == expected
    for bad in (float("nan"), float("inf"), {1, 2}):
        with pytest.raises(ValueError, match="cannot encode the operation"):
            encoded_attributes({"x": bad})


# --- the lazy plan gives what validating everything first would give --------------------


def eager_reference(records: list[Record]) -> list[tuple[str, str, tuple[int, ...]]]:
    """A straightforward implementation of the contract's rules, for comparison."""
    valid = [r for r in records if r.message is not None and validate(r)]
    valid.sort(key=lambda r: (instant(r.message["occurred_at"]), r.sent_timestamp, r.index))  # type: ignore[index]
    seen: set[str] = set()
    result: dict[tuple[str, str], list[list[Any]]] = {}
    for r in valid:
        m = r.message or {}
        if m["event_id"] in seen:
            continue
        seen.add(m["event_id"])
        chain = result.setdefault((m["entity_type"], m["entity_id"]), [])
        if chain and m["op"] == "update" and chain[-1][1] == "update":
            chain[-1][0].append(m["event_id"])
            chain[-1][2].append(r.index)
        else:
            chain.append([[m["event_id"]], m["op"], [r.index]])
    return sorted((op_id(op[0]), op[1], tuple(op[2])) for chain in result.values() for op in chain)


def op_id(event_ids: list[str]) -> str:
    """The contract's op_id: the event_id of a single change, else a digest of all."""
    if len(event_ids) == 1:
        return event_ids[0]
    return "merged:" + hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()


events = st.lists(
    st.tuples(
        st.sampled_from(["e1", "e2", "e3", "e4", "e5", "e6"]),
        st.sampled_from(["1", "2", "3"]),
        st.sampled_from(["create", "update", "update", "delete"]),
        st.integers(0, 5),
        st.integers(0, 3),
        st.booleans(),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(events)
def test_lazy_plan_equals_validating_everything_first(spec: list[Any]) -> None:
    def build() -> list[Record]:
        out = []
        for index, (event_id, entity, op, second, sent, broken) in enumerate(spec):
            r = make_record(
                index, event_id, entity, op, at=f"2026-01-01T00:00:0{second}Z", sent=sent
            )
            if broken and r.message is not None:
                r.message["surprise"] = True
            out.append(r)
        return out

    plan = plan_operations(build(), validate)
    plan.complete()
    lazy = sorted((op.op_id, op.message["op"], tuple(op.records)) for c in plan.built for op in c)

    assert lazy == eager_reference(build())
