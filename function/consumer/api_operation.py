"""A validated message -> one entity API operation (the request body's `operations` entry).

This is the part a service team edits when its API names things differently. It receives a
message that passed the schema (with `attributes` already merged and `occurred_at` the newest
when updates coalesced) and the `op_id` to send, and returns the JSON object for the
`operations` list. Coalescing bounds an operation's size by its bodies' sizes plus 256 bytes:
a `to_operation` that adds more is still correct, but a merged operation too large for a
request is then rejected as a whole.
"""

from __future__ import annotations

from typing import Any


def to_operation(message: dict[str, Any], op_id: str) -> dict[str, Any]:
    """Map one message to the entity API's operation object (contract section 2)."""
    operation: dict[str, Any] = {
        "op_id": op_id,
        "op": message["op"],
        "entity_type": message["entity_type"],
        "entity_id": message["entity_id"],
        "occurred_at": message["occurred_at"],
    }
    if message["op"] != "delete":
        operation["attributes"] = message["attributes"]
    return operation
