"""FIFO queues: whether a batch came from one, each record's message group, and which records
a failure holds back.

On a FIFO queue the message group is the unit of order: SQS hands out a group's messages
in the order they were sent, and none of them while an earlier one is in flight. The handler
keeps that order by treating each group of the batch as one chain (see
`aggregation.plan_operations`): once a record fails, the group's later records are not sent
and are reported failed with it, so they come back after it and nothing is applied out of
order. Records of other groups go on. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterable, Sequence
from typing import Any

FIFO_SUFFIX = ".fifo"
GROUP_ATTRIBUTE = "MessageGroupId"
DEDUPLICATION_ATTRIBUTE = "MessageDeduplicationId"
GROUP_ID_MAX_CHARACTERS = 128
GROUP_ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)
"""What SQS accepts in a MessageGroupId (and a MessageDeduplicationId): 1-128 characters,
ASCII letters, digits and punctuation."""


def entity_group_id(entity_type: str, entity_id: str) -> str:
    """The MessageGroupId of an entity's changes: `<entity_type>:<entity_id>`; when that is
    too long or holds a character SQS refuses there, `<entity_type>:~<digest of entity_id>`
    (the same entity always gets the same group)."""
    plain = f"{entity_type}:{entity_id}"
    if len(plain) <= GROUP_ID_MAX_CHARACTERS and GROUP_ID_CHARACTERS.issuperset(plain):
        return plain
    digest = hashlib.sha256(entity_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{entity_type[:64]}:~{digest[:60]}"


def message_group(raw: Any) -> str | None:
    """The record's `MessageGroupId` attribute (None: not a FIFO record, or not readable)."""
    attributes = raw.get("attributes") if isinstance(raw, dict) else None
    group = attributes.get(GROUP_ATTRIBUTE) if isinstance(attributes, dict) else None
    return group if isinstance(group, str) and group else None


def fifo_keys(raw: Any) -> tuple[str | None, str | None]:
    """The record's (MessageGroupId, MessageDeduplicationId) attributes (None: absent)."""
    attributes = raw.get("attributes") if isinstance(raw, dict) else None
    deduplication_id = (
        attributes.get(DEDUPLICATION_ATTRIBUTE) if isinstance(attributes, dict) else None
    )
    valid = isinstance(deduplication_id, str) and bool(deduplication_id)
    return message_group(raw), deduplication_id if valid else None


def from_fifo_queue(raw: Any) -> bool:
    """Whether one record came from a FIFO queue: a message group, or a `.fifo` source ARN."""
    if message_group(raw) is not None:
        return True
    source = raw.get("eventSourceARN") if isinstance(raw, dict) else None
    return isinstance(source, str) and source.endswith(FIFO_SUFFIX)


def is_fifo_batch(raw_records: Iterable[Any]) -> bool:
    """Whether the batch came from a FIFO queue (any of its records says so).

    A mapping reads one queue, so one FIFO record settles it; a record without a readable
    group in such a batch still keeps its place (see `group_key`).
    """
    return any(from_fifo_queue(raw) for raw in raw_records)


def group_key(group: str | None) -> tuple[str, str]:
    """The chain key of a FIFO record: its group; the records whose group could not be read
    share one chain, so they keep their batch order among themselves."""
    return ("message-group", group or "")


def held_back(groups: Sequence[str | None], failed: Iterable[int]) -> set[int]:
    """Indices of the records that come after a failed record of their message group.

    `groups[i]` is record i's group (batch order is the group's order); `failed` are the
    indices of records that will come back to be applied later. Every record of the same
    group after the first of them must come back too, or it would be applied before it.
    """
    first_failed: dict[str, int] = {}
    for index in sorted(failed):
        first_failed.setdefault(groups[index] or "", index)
    return {
        index
        for index, group in enumerate(groups)
        if index > first_failed.get(group or "", len(groups))
    }
