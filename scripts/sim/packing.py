"""Operations per request, decided by the handler's own `pack_requests` (a thin adapter).

The simulated operations all have the scenario's encoded size, so the split of n operations
depends only on n: it is computed once per n by packing stand-in `Operation`s of that size
with `consumer.aggregation.pack_requests`, and remembered.
"""

from __future__ import annotations

from functools import lru_cache

from consumer.aggregation import Operation, pack_requests


@lru_cache(maxsize=4096)
def request_sizes(
    operations: int, operation_bytes: int, max_operations: int, max_bytes: int
) -> tuple[int, ...]:
    """How many operations each request carries when the handler packs `operations`."""
    encoded = b"x" * operation_bytes
    stand_ins = []
    for index in range(operations):
        operation = Operation(str(index), ("entity", str(index)), {}, [index])
        operation.encoded = encoded
        stand_ins.append(operation)
    return tuple(len(request) for request in pack_requests(stand_ins, max_operations, max_bytes))
