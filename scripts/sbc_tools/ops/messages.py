"""Generated SQS message bodies following contract section 1, with poison and duplicates.

Every valid change carries an attribute key `k<n>` unique to it, so an applied operation
shows which changes it covers even after the handler coalesced several updates into one:
the basis of the "nothing lost" accounting (`covered_event_ids`). For a FIFO queue every
message has a group (its entity's, also for poison and duplicates) and a deduplication id
(`fifo_keys`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from consumer.message_groups import (
    GROUP_ID_CHARACTERS,
    GROUP_ID_MAX_CHARACTERS,
    entity_group_id,
)

POISON_KINDS = ("invalid_json", "schema_violation")
SAME_INSTANT = 5
"""Consecutive messages that share one `occurred_at`, as a producer committing several
changes at once stamps them: updates of one entity coalesce only then, since each carries
its own `k<n>` attribute (contract section 3)."""


@dataclass(frozen=True)
class Message:
    """One message to publish: its body and what the consumer should make of it."""

    body: str
    kind: str  # "valid", "duplicate" (the same body again) or an error_code of POISON_KINDS
    event_id: str | None = None
    group: str | None = None  # the MessageGroupId on a FIFO queue (None: from the body)
    attributes: dict[str, Any] | None = None  # SQS MessageAttributes the producer sets


def _change(
    rng: random.Random, run: str, n: int, *, entity_type: str, entity_id: str, when: datetime
) -> dict[str, Any]:
    """A valid change; mostly updates, some creates and deletes."""
    op = "update" if n % 10 < 8 else ("create" if n % 10 == 8 else "delete")
    change: dict[str, Any] = {
        "event_id": f"{run}-{n:06d}",
        "entity_type": entity_type,
        "entity_id": entity_id,
        "op": op,
        "occurred_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if op != "delete":
        change["attributes"] = {f"k{n}": n, "status": rng.choice(["new", "paid", "sent"])}
    return change


def _poison(run: str, n: int, kind: str) -> str:
    if kind == "invalid_json":
        return f'{{"event_id": "{run}-{n:06d}", "entity_type": "order", '  # cut short
    # Valid JSON that breaks the schema: an unknown op and an extra field.
    bad = {"event_id": f"{run}-{n:06d}", "entity_type": "order", "entity_id": str(n)}
    return json.dumps({**bad, "op": "upsert", "occurred_at": "yesterday", "extra": True})


def generate(
    count: int,
    *,
    poison_percent: float = 0.0,
    duplicate_percent: float = 0.0,
    entities: int | None = None,
    entity_type: str = "order",
    run: str | None = None,
    seed: int | None = None,
) -> list[Message]:
    """`count` messages in publishing order: valid changes, poison and duplicates mixed."""
    rng = random.Random(seed)
    run = run or f"run{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC) - timedelta(seconds=count)
    poison = round(count * poison_percent / 100)
    duplicates = round(count * duplicate_percent / 100)
    if count < 0:
        raise ValueError(f"the count of messages must be >= 0, got {count}")
    if poison < 0 or duplicates < 0 or poison + duplicates > count:
        raise ValueError(
            f"cannot make {count} messages with {poison_percent}% poison and "
            f"{duplicate_percent}% duplicates: the percentages must be >= 0 and add up to <= 100"
        )
    if duplicates and poison + duplicates == count:
        raise ValueError("duplicates need at least one valid message to repeat")
    kinds = ["poison"] * poison + ["duplicate"] * duplicates
    kinds += ["valid"] * (count - len(kinds))
    rng.shuffle(kinds)
    if kinds and kinds[0] == "duplicate":  # a duplicate needs something before it
        first_valid = kinds.index("valid")
        kinds[0], kinds[first_valid] = kinds[first_valid], kinds[0]
    messages: list[Message] = []
    valid: list[Message] = []
    poisoned = 0
    for n, kind in enumerate(kinds):
        if kind != "duplicate":
            entity = f"{run}-e{rng.randrange(entities) if entities else n:06d}"
            group = entity_group_id(entity_type, entity)
        if kind == "valid":
            when = start + timedelta(milliseconds=n - n % SAME_INSTANT)
            change = _change(rng, run, n, entity_type=entity_type, entity_id=entity, when=when)
            message = Message(json.dumps(change), "valid", change["event_id"], group)
            valid.append(message)
        elif kind == "duplicate":
            original = rng.choice(valid)
            message = Message(original.body, "duplicate", original.event_id, original.group)
        else:
            error_code = POISON_KINDS[poisoned % 2]
            poisoned += 1
            message = Message(_poison(run, n, error_code), error_code, None, group)
        messages.append(message)
    return messages


@dataclass(frozen=True)
class ProducerMix:
    """What real producers add to some messages (issue 15): shares of the messages, each at
    least one message when there are any (so a small run still shows every case)."""

    binary_percent: float = 3.0  # a Binary attribute (a trace context)
    nine_percent: float = (
        2.0  # 9 attributes: with the handler's 2 retry facts, SQS's 10 would overflow
    )
    ten_percent: float = 2.0  # 10 attributes, SQS's maximum
    large_percent: float = 1.0  # a ~120 KB body (valid creates and updates only)


LARGE_BODY_BYTES = 120_000
PRODUCER_MIX = ProducerMix()


def producer_attributes(count: int, index: int, *, binary: bool = False) -> dict[str, Any]:
    """`count` SQS message attributes as a producer sets them (String, Number, a Binary)."""
    attributes: dict[str, Any] = {}
    if binary:
        value = hashlib.sha256(str(index).encode()).digest()
        attributes["traceparent"] = {"DataType": "Binary", "BinaryValue": value}
    for n in range(count - len(attributes)):
        if n % 3 == 2:
            attributes[f"n{n}"] = {"DataType": "Number", "StringValue": str(index + n)}
        else:
            attributes[f"tag{n}"] = {"DataType": "String", "StringValue": f"tenant-{index % 7}-{n}"}
    return attributes


def with_producer_mix(
    messages: list[Message], mix: ProducerMix = PRODUCER_MIX, seed: int | None = None
) -> list[Message]:
    """`messages` with `mix` applied: some carry producer attributes, some valid changes a
    ~120 KB body (an extra `note` attribute: the accounting by `k<n>` keys is unchanged).
    A duplicate is sent exactly as its original (same body and attributes)."""
    rng = random.Random(seed)
    originals = [i for i, m in enumerate(messages) if m.kind != "duplicate"]
    valid = [  # creates and updates: a delete carries no attributes to make large
        i
        for i in originals
        if messages[i].kind == "valid" and json.loads(messages[i].body)["op"] != "delete"
    ]

    def pick(pool: list[int], percent: float, taken: set[int]) -> set[int]:
        free = [i for i in pool if i not in taken]
        want = max(1, round(len(messages) * percent / 100)) if percent > 0 else 0
        return set(rng.sample(free, min(want, len(free))))

    large = pick(valid, mix.large_percent, set())
    binary = pick(originals, mix.binary_percent, set())
    nine = pick(originals, mix.nine_percent, binary)
    ten = pick(originals, mix.ten_percent, binary | nine)
    changed: dict[str, Message] = {}  # body as sent -> its message with the mix applied
    mixed: list[Message] = []
    for i, message in enumerate(messages):
        if message.kind == "duplicate":
            original = changed.get(message.body, message)
            mixed.append(Message(original.body, "duplicate", *astuple(original)[2:]))
            continue
        body, attributes = message.body, message.attributes
        if i in large:
            change = json.loads(body)
            change["attributes"]["note"] = "x" * LARGE_BODY_BYTES
            body = json.dumps(change)
        count = 9 if i in nine else 10 if i in ten else 1 if i in binary else 0
        if count:
            attributes = producer_attributes(count, i, binary=i in binary or i % 2 == 0)
        new = Message(body, message.kind, message.event_id, message.group, attributes)
        changed[message.body] = new
        mixed.append(new)
    return mixed


def read_jsonl(path: Path) -> Iterator[Message]:
    """Messages from a JSONL file, one body per line, published as they are."""
    with path.open() as lines:
        for line in lines:
            if line.strip():
                yield Message(line.rstrip("\n"), "file")


def fifo_keys(message: Message) -> tuple[str, str]:
    """(MessageGroupId, MessageDeduplicationId) of a message on a FIFO queue.

    The group is the entity (`entity_type:entity_id`, see `entity_group_id`), so each
    entity's changes are delivered in the order they were sent; the deduplication id is the
    event_id. A body without them (poison read from a file) gets the group `unkeyed` and a
    digest of the body.
    """
    fields: Any = None
    with contextlib.suppress(ValueError):
        fields = json.loads(message.body)
    fields = fields if isinstance(fields, dict) else {}
    entity_type, entity_id = fields.get("entity_type"), fields.get("entity_id")
    group = message.group
    if group is None and isinstance(entity_type, str) and isinstance(entity_id, str):
        group = entity_group_id(entity_type, entity_id)
    event_id = message.event_id or fields.get("event_id")
    if not (
        isinstance(event_id, str)
        and 0 < len(event_id) <= GROUP_ID_MAX_CHARACTERS
        and GROUP_ID_CHARACTERS.issuperset(event_id)
    ):
        event_id = hashlib.sha256(message.body.encode("utf-8", "surrogatepass")).hexdigest()
    return group or "unkeyed", event_id


def covered_event_ids(applied: Iterable[dict[str, Any]]) -> set[str]:
    """Event ids covered by applied operations: each op_id, plus every change whose `k<n>`
    attribute was merged into the operation. The run prefix comes from the entity
    (`<type>:<run>-e<n>`), since a merged operation's op_id is a digest (`merged:<sha256>`)."""
    covered: set[str] = set()
    for operation in applied:
        covered.add(str(operation.get("op_id", "")))
        entity_id = str(operation.get("entity", "")).split(":", 1)[-1]
        run = entity_id.rsplit("-e", 1)[0]
        for key in operation.get("attributes") or {}:
            if key.startswith("k") and key[1:].isdigit():
                covered.add(f"{run}-{int(key[1:]):06d}")
    return covered


def applied_sequences(
    sequences: dict[str, list[str]], applied: Iterable[dict[str, Any]], run: str
) -> dict[str, list[str]]:
    """Each entity's changes of `run` in the order the API applied them.

    `sequences` is the API's entity -> applied op_ids; an op_id is one change's event_id, or,
    for a coalesced operation (`merged:...`), stands for the changes its `k<n>` attributes
    name (in publishing order, which is the order they were merged in).
    """
    merged = {
        str(op["op_id"]): [
            f"{run}-{n:06d}"
            for n in sorted(int(k[1:]) for k in op.get("attributes") or {} if _change_key(k))
        ]
        for op in applied
        if str(op.get("op_id", "")).startswith("merged:")
    }
    return {
        entity: [event_id for op_id in op_ids for event_id in merged.get(op_id, [op_id])]
        for entity, op_ids in sequences.items()
    }


def _change_key(key: str) -> bool:
    return key.startswith("k") and key[1:].isdigit()
