"""Empty a local stack's queues and reset the local entity API's counters (a fresh demo run).

python -m localcloud.reset [--instance default]
"""

from __future__ import annotations

import sys
from typing import Any

from sbc_tools.cli import console, parser_for
from sbc_tools.entity_api_admin import EntityApiAdmin
from sbc_tools.ops import observations as observe
from sbc_tools.ops import stack as stack_lookup


def empty_queue(sqs: Any, queue_url: str) -> int:
    """Delete every message of a queue (receive and delete: purging is rate-limited)."""
    deleted = 0
    for message in observe.receive_all(sqs, queue_url, hold_seconds=60):
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        deleted += 1
    return deleted


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, __spec__)
    stack_lookup.add_arguments(parser)
    args = parser.parse_args(argv)
    stack = stack_lookup.resolve_arguments(args)
    sqs = stack.client("sqs")
    left = empty_queue(sqs, stack.queue_url)
    left_dlq = empty_queue(sqs, stack.dlq_url) if stack.dlq_url else 0
    if stack.entity_api_base_url:
        EntityApiAdmin(stack.entity_api_base_url).reset()
    if left or left_dlq:
        console.print(f"removed {left:,} messages from the queue and {left_dlq:,} from the DLQ")
    return 0


if __name__ == "__main__":
    sys.exit(stack_lookup.run_cli(main))
