"""Empty a local stack's queues and reset the local entity API's counters (a fresh demo run).

scripts/localcloud_reset.py [--instance default]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import localcloud_stack
import stack_observations as observe
from rich.console import Console

console = Console(stderr=True, highlight=False, soft_wrap=True)


def empty_queue(sqs: Any, queue_url: str) -> int:
    """Delete every message of a queue (receive and delete: purging is rate-limited)."""
    deleted = 0
    for message in observe.receive_all(sqs, queue_url, hold_seconds=60):
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        deleted += 1
    return deleted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    localcloud_stack.add_arguments(parser)
    args = parser.parse_args(argv)
    stack = localcloud_stack.resolve(args)
    sqs = stack.client("sqs")
    left = empty_queue(sqs, stack.queue_url)
    left_dlq = empty_queue(sqs, stack.dlq_url) if stack.dlq_url else 0
    if stack.entity_api_base_url:
        observe.entity_api_send(stack.entity_api_base_url, "POST", "/_admin/reset")
    if left or left_dlq:
        console.print(f"removed {left:,} messages from the queue and {left_dlq:,} from the DLQ")
    return 0


if __name__ == "__main__":
    sys.exit(localcloud_stack.run_cli(main))
