"""Delivery of a plan in waves: per entity, an operation is sent only after the one before it
was applied; a failure stops the entity's later operations (they fail with it).
"""

from __future__ import annotations

from consumer.aggregation import Operation, Plan, fits_alone, pack_requests
from consumer.entity_api import (
    APPLIED,
    REJECTED,
    TRANSIENT,
    CallStats,
    EntityApiClient,
    Outcome,
)
from consumer.records import SCHEMA_VIOLATION
from consumer.time_budget import Deadline


def deliver_plan(
    plan: Plan,
    client: EntityApiClient,
    deadline: Deadline,
    *,
    max_operations: int,
    max_bytes: int,
    stats: CallStats,
) -> dict[Operation, Outcome]:
    """Send every operation of `plan`; return one outcome per operation.

    Wave k carries the k-th operation of every entity whose earlier operations were all
    applied, so one request never holds two operations on the same entity and no operation
    overtakes an earlier one on its entity.
    """
    outcomes: dict[Operation, Outcome] = {
        operation: Outcome(REJECTED, reason, SCHEMA_VIOLATION)
        for operation, reason in plan.unencodable
    }
    active = [chain for chain in plan.chains if chain]
    depth = 0
    while active:
        wave = [chain[depth] for chain in active]
        sendable: list[Operation] = []
        for operation in wave:
            if operation in outcomes:
                continue
            if fits_alone(operation, max_bytes):
                sendable.append(operation)
            else:
                outcomes[operation] = Outcome(
                    REJECTED,
                    f"operation is {len(operation.encoded)} bytes: no request of at most "
                    f"{max_bytes} bytes (MAX_REQUEST_BYTES) can carry it",
                    SCHEMA_VIOLATION,
                )
        for request in pack_requests(sendable, max_operations, max_bytes):
            outcomes.update(client.send(request, deadline, stats))
        depth += 1
        still_active = []
        for chain in active:
            outcome = outcomes[chain[depth - 1]]
            if outcome.kind == APPLIED:
                if depth < len(chain):
                    still_active.append(chain)
            else:
                _fail_rest(chain, depth, outcome, outcomes)
        active = still_active
    return outcomes


def _fail_rest(
    chain: list[Operation], start: int, cause: Outcome, outcomes: dict[Operation, Outcome]
) -> None:
    """Later operations of an entity share the failure of the one that failed first."""
    blocker = chain[start - 1]
    for operation in chain[start:]:
        detail = f"not sent: earlier operation {blocker.op_id} on this entity failed ({cause.kind})"
        kind = REJECTED if cause.kind == REJECTED else TRANSIENT
        outcomes[operation] = Outcome(kind, detail)
