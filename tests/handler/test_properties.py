"""Property-based tests: arbitrary bodies and API behaviours, over real HTTP and moto SQS.

For every generated batch and time budget: the handler returns (never raises), names only
records of the batch and none twice, and accounts for every record: applied, in the DLQ, or
to retry.
Per entity, what the API applied is a prefix of the entity's operations, in order.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.aggregation import plan_operations
from consumer.batch import Runtime
from consumer.entity_api import EntityApiClient
from consumer.records import load_validator, parse_record, validate_record
from consumer.settings import Settings

EVENT_IDS = [f"evt-{n}" for n in range(8)]
ENTITIES = ["1", "2", "3"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(["create", "update", "update", "delete"]))
    message: dict[str, Any] = {
        "event_id": draw(st.sampled_from(EVENT_IDS)),
        "entity_type": "order",
        "entity_id": draw(st.sampled_from(ENTITIES)),
        "op": op,
        "occurred_at": f"2026-01-01T00:00:0{draw(st.integers(0, 4))}Z",
    }
    if op != "delete":
        message["attributes"] = draw(
            st.dictionaries(st.sampled_from("abc"), st.integers(), max_size=3)
        )
    if draw(st.integers(0, 9)) == 0:  # now and then a schema violation
        message[draw(st.sampled_from(["occurred_at", "op", "extra"]))] = "bad value"
    return message


bodies = st.one_of(
    messages().map(json.dumps),
    messages().map(json.dumps),
    messages().map(json.dumps),
    st.text(max_size=20),
    json_values.map(json.dumps),
)

records = st.lists(
    st.tuples(
        bodies, st.sampled_from(["id", "id", "id", "id", "missing", "empty"]), st.integers(0, 3)
    ),
    min_size=1,
    max_size=25,
)

faults = st.fixed_dictionaries(
    {},
    optional={
        "status_sequence": st.lists(
            st.sampled_from([429, 500, 502, 503, 504, 400, 413, 422, 401, 403, 404]), max_size=3
        ),
        "retry_after": st.just("0"),
        "garbage_body": st.integers(0, 1),
        "omit_results": st.lists(st.sampled_from(EVENT_IDS), max_size=2),
        "reject_entities": st.lists(st.sampled_from([f"order:{e}" for e in ENTITIES]), max_size=1),
        "random_op_status": st.fixed_dictionaries(
            {
                "probability": st.floats(0, 0.6),
                "statuses": st.lists(
                    st.sampled_from([200, 201, 400, 404, 408, 422, 429, 500, 503]),
                    min_size=1,
                    max_size=3,
                ),
                "seed": st.integers(0, 1000),
            }
        ),
    },
)


def event_of(spec: list[tuple[str, str, int]]) -> dict[str, Any]:
    out = []
    for n, (body, id_kind, sent) in enumerate(spec):
        record: dict[str, Any] = {"body": body, "attributes": {"SentTimestamp": str(sent)}}
        if id_kind == "id":
            record["messageId"] = f"m{n}"
        elif id_kind == "empty":
            record["messageId"] = ""
        out.append(record)
    return {"Records": out}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=records, api_faults=faults, seconds=st.sampled_from([5.0, 5.0, 5.0, 2.2, 0.3]))
def test_every_record_is_accounted_for(
    spec: list[tuple[str, str, int]],
    api_faults: dict[str, Any],
    seconds: float,
    entity_api: Any,
    sqs: Any,
    dlq_messages: Any,
    handle: Any,
) -> None:
    entity_api.reset()
    entity_api.set_faults(api_faults)
    dlq = sqs.create_queue(QueueName=f"prop-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    settings_ = Settings(
        entity_api_url=entity_api.endpoint_url, dlq_url=dlq, max_operations_per_request=4
    )
    runtime = Runtime(settings_, load_validator(), EntityApiClient(settings_, sleep=lambda _: None))
    event = event_of(spec)

    run = handle(event, runtime, seconds)

    batch_ids = [r["messageId"] for r in event["Records"] if r.get("messageId")]
    assert set(run.failed) <= set(batch_ids)
    assert len(run.failed) == len(set(run.failed))
    dead = {m["source_message_id"]: m for m in dlq_messages(dlq)}
    assert set(dead) <= {*batch_ids, "unknown"}

    # which operation carries each record (the plan is checked against a reference elsewhere)
    parsed = [
        parse_record(r, n, settings_.max_request_bytes) for n, r in enumerate(event["Records"])
    ]
    plan = plan_operations(parsed, lambda r: validate_record(r, load_validator()))
    plan.complete()
    owner = plan.operation_of()
    applied_ids = {a["op_id"] for a in entity_api.applied()}
    for n, record in enumerate(event["Records"]):
        message_id = record.get("messageId")
        if not message_id:
            continue
        places = [message_id in run.failed, message_id in dead]
        if n in owner and owner[n].op_id in applied_ids:
            places.append(True)
        assert places.count(True) == 1, f"record {n} is in {places} (failed, dlq, applied)"
        if message_id in dead:
            assert dead[message_id]["error_code"] in {
                "invalid_json",
                "schema_violation",
                "rejected_by_api",
            }

    # per entity: applied operations are a prefix of its chain, in order
    applied_by_entity: dict[str, list[str]] = defaultdict(list)
    for a in entity_api.applied():
        applied_by_entity[a["entity"]].append(a["op_id"])
    for chain in plan.built:
        if chain:
            ids = [op.op_id for op in chain]
            done = applied_by_entity.get(f"{chain[0].entity[0]}:{chain[0].entity[1]}", [])
            assert done == ids[: len(done)]

    assert run.summary["received"] == len(spec)
