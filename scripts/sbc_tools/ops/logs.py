"""Show the consumer function's CloudWatch Logs (START/END/REPORT, its JSON lines).

python -m sbc_tools.ops.logs [--instance default] [-n 40] [-f]
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .. import cli
from ..cli import parser_for
from . import stack as stack_lookup


def _events(logs: Any, group: str, since_ms: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    paginator = logs.get_paginator("filter_log_events")
    for page in paginator.paginate(logGroupName=group, startTime=since_ms):
        events += page.get("events", [])
    events.sort(key=lambda e: (e.get("timestamp", 0), e.get("eventId", "")))
    return events


def _show(event: dict[str, Any]) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(event.get("timestamp", 0) / 1000))
    print(f"{stamp} {event.get('message', '').rstrip()}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, __spec__)
    stack_lookup.add_arguments(parser)
    parser.add_argument("-n", "--lines", type=cli.integer(0), default=40, help="last N lines")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    args = parser.parse_args(argv)
    stack = stack_lookup.resolve_arguments(args)
    if not stack.log_group:
        print("error: no function recorded for this stack", file=sys.stderr)
        return 1
    logs = stack.client("logs")
    try:
        events = _events(logs, stack.log_group, 0)
    except logs.exceptions.ResourceNotFoundException:
        events = []
    for event in events[-args.lines :]:
        _show(event)
    seen = {e.get("eventId") for e in events}
    since = max((e.get("timestamp", 0) for e in events), default=int(time.time() * 1000))
    while args.follow:
        time.sleep(1)
        for event in _events(logs, stack.log_group, since):
            if event.get("eventId") not in seen:
                seen.add(event.get("eventId"))
                since = max(since, event.get("timestamp", 0))
                _show(event)
    return 0


if __name__ == "__main__":
    sys.exit(stack_lookup.run_cli(main))
