"""Property-based tests: arbitrary bodies, API behaviours and DLQ failures, over real HTTP and
moto SQS, checked against an independent oracle of the contract.

For every generated batch, time budget and DLQ (working or unreachable): the handler returns
(never raises), names only records of the batch and none twice, and accounts for every
record: applied, in the DLQ, or to retry. The oracle (below, written from the contract, not
from the handler's code) says which operation carries each record and with what content;
per entity, what the API applied is a prefix of the oracle's operations, in order, each with
the oracle's content.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from consumer.batch import WarmState
from consumer.entity_api import EntityApiClient
from consumer.records import SCHEMA_PATH, load_validator
from consumer.settings import Settings

EVENT_IDS = [f"evt-{n}" for n in range(10)]
ENTITIES = ["1", "2"]  # few entities, so updates coalesce often
ENTITY_TYPES = ["order", "customer"]
UNREACHABLE_DLQ = "http://127.0.0.1:9/000000000000/unreachable-dlq"
SCHEMA = Draft202012Validator(
    json.loads(SCHEMA_PATH.read_text(encoding="utf-8")),
    format_checker=Draft202012Validator.FORMAT_CHECKER,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(["create", "update", "update", "update", "delete"]))
    message: dict[str, Any] = {
        "event_id": draw(st.sampled_from(EVENT_IDS)),
        "entity_type": draw(st.sampled_from(ENTITY_TYPES)),
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
    messages().map(json.dumps),
    messages().map(json.dumps),
    st.text(max_size=20),
    json_values.map(json.dumps),
)

records = st.lists(
    st.tuples(
        bodies, st.sampled_from(["id", "id", "id", "id", "missing", "empty"]), st.integers(0, 3)
    ),
    min_size=4,
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
        "reject_entities": st.lists(
            st.sampled_from([f"{t}:{e}" for t in ENTITY_TYPES for e in ENTITIES]), max_size=1
        ),
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


# --- the oracle: the contract's rules, written independently of the handler ---------------


@dataclass
class ExpectedOperation:
    """One operation the contract says the batch becomes."""

    event_ids: list[str]
    op: str
    entity: str
    attributes: dict[str, Any]
    occurred_at: str = ""
    records: list[int] = field(default_factory=list)

    @property
    def op_id(self) -> str:
        """Contract section 2: a single change's event_id, else a digest of all of them."""
        if len(self.event_ids) == 1:
            return self.event_ids[0]
        digest = hashlib.sha256("\n".join(sorted(self.event_ids)).encode()).hexdigest()
        return "merged:" + digest


@dataclass
class Expected:
    """The oracle's answer for one event."""

    valid: set[int]
    chains: dict[str, list[ExpectedOperation]]
    owner: dict[int, ExpectedOperation]


def _not_json(name: str) -> Any:
    raise ValueError(name)


def expected_plan(event: dict[str, Any]) -> Expected:
    """Valid records (schema), sorted by occurred_at, SentTimestamp, position; the first of
    an event_id wins; consecutive updates of one entity (type and id) coalesce when they
    share occurred_at or the later sets every attribute the operation carries."""
    candidates = []
    for n, raw in enumerate(event["Records"]):
        try:
            message = json.loads(raw["body"], parse_constant=_not_json)
        except ValueError:
            continue
        if isinstance(message, dict) and SCHEMA.is_valid(message):
            sent = int(raw["attributes"]["SentTimestamp"])
            # generated occurred_at values all have one format: text order is time order
            candidates.append((message["occurred_at"], sent, n, message))
    candidates.sort(key=lambda c: c[:3])
    winner: dict[str, ExpectedOperation] = {}
    chains: dict[str, list[ExpectedOperation]] = defaultdict(list)
    owner: dict[int, ExpectedOperation] = {}
    for _, _, n, m in candidates:
        if m["event_id"] in winner:
            owner[n] = winner[m["event_id"]]
            continue
        entity = f"{m['entity_type']}:{m['entity_id']}"
        chain = chains[entity]
        if (
            chain
            and m["op"] == "update"
            and chain[-1].op == "update"
            and (
                chain[-1].occurred_at == m["occurred_at"]
                or m["attributes"].keys() >= chain[-1].attributes.keys()
            )
        ):
            operation = chain[-1]
            operation.event_ids.append(m["event_id"])
            operation.attributes = {**operation.attributes, **m["attributes"]}
            operation.occurred_at = m["occurred_at"]
        else:
            operation = ExpectedOperation(
                [m["event_id"]], m["op"], entity, m.get("attributes", {}), m["occurred_at"]
            )
            chain.append(operation)
        operation.records.append(n)
        winner[m["event_id"]] = operation
        owner[n] = operation
    return Expected({c[2] for c in candidates}, dict(chains), owner)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    spec=records,
    api_faults=st.one_of(st.just({}), faults),  # a healthy API half the time
    seconds=st.sampled_from([5.0, 5.0, 5.0, 2.2, 0.3]),
    dlq_works=st.sampled_from([True, True, False]),
)
def test_every_record_is_accounted_for(
    spec: list[tuple[str, str, int]],
    api_faults: dict[str, Any],
    seconds: float,
    dlq_works: bool,
    entity_api: Any,
    sqs: Any,
    dlq_messages: Any,
    handle: Any,
) -> None:
    entity_api.reset()
    entity_api.set_faults(api_faults)
    dlq = sqs.create_queue(QueueName=f"prop-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    settings_ = Settings(
        entity_api_url=entity_api.endpoint_url,
        dlq_url=dlq if dlq_works else UNREACHABLE_DLQ,
        max_operations_per_request=4,
        entity_api_timeout_seconds=1.0,
    )
    warm = WarmState(settings_, load_validator(), EntityApiClient(settings_, sleep=lambda _: None))
    event = event_of(spec)

    run = handle(event, warm, seconds)

    batch_ids = [r["messageId"] for r in event["Records"] if r.get("messageId")]
    assert set(run.failed) <= set(batch_ids)
    assert len(run.failed) == len(set(run.failed))
    dead_letters = dlq_messages(dlq)
    dead = {m["source_message_id"]: m for m in dead_letters}
    assert set(dead) <= {*batch_ids, "unknown"}
    if not dlq_works:
        assert dead == {}

    expected = expected_plan(event)
    applied = entity_api.applied()
    applied_ids = {a["op_id"] for a in applied}
    for n, record in enumerate(event["Records"]):
        message_id = record.get("messageId")
        if not message_id:
            continue
        operation = expected.owner.get(n)
        is_applied = operation is not None and operation.op_id in applied_ids
        places = [message_id in run.failed, message_id in dead, is_applied]
        assert places.count(True) == 1, f"record {n} is in {places} (failed, dlq, applied)"
        if message_id in dead:
            code = dead[message_id]["error_code"]
            if n in expected.valid:
                assert code == "rejected_by_api", (n, dead[message_id])
            else:
                assert code in {"invalid_json", "schema_violation"}, (n, dead[message_id])

    # per entity: applied operations are a prefix of its chain, in order, with its content
    applied_by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in applied:
        applied_by_entity[a["entity"]].append(a)
    assert set(applied_by_entity) <= set(expected.chains)
    for entity, chain in expected.chains.items():
        done = applied_by_entity.get(entity, [])
        assert [a["op_id"] for a in done] == [op.op_id for op in chain[: len(done)]]
        for a, op in zip(done, chain, strict=False):
            assert (a["op"], a["attributes"]) == (op.op, op.attributes if op.op != "delete" else {})

    assert run.summary["received"] == len(spec)
    assert run.summary["dlq"] == len(dead_letters)
