"""Request mapping: a validated message -> one entity API operation.

This is the part a service team edits when its API names things differently. It receives a
message that passed the schema (with `attributes` already merged when updates coalesced) and
the `op_id` to send, and returns the JSON object for the `operations` list.
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
    }
    if message["op"] != "delete":
        operation["attributes"] = message["attributes"]
    return operation
