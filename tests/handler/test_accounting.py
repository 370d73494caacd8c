"""The tools' "nothing lost" accounting against what the handler really sends."""

from __future__ import annotations

from typing import Any

from sbc_tools.ops import messages


def test_changes_merged_under_a_digest_op_id_are_counted_as_applied(h: Any) -> None:
    batch = messages.generate(40, entities=3, seed=1)
    run = h.handle(h.event([message.body for message in batch]))

    applied = h.api.applied()
    assert run.response == {"batchItemFailures": []}
    assert any(op["op_id"].startswith("merged:") for op in applied), "the batch must coalesce"
    valid = {message.event_id for message in batch if message.kind == "valid"}
    assert valid <= messages.covered_event_ids(applied)
