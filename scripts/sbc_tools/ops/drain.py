"""Wait until the consumer has drained its queue, with a progress bar.

    python -m sbc_tools.ops.drain [--instance default] [--expect 2000] [--timeout 300]

Done when the source queue has no visible and no in-flight messages twice in a row.
Exit 1 on timeout, saying how many messages are left.
"""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import cli
from ..cli import console, parser_for
from . import observations as observe
from . import stack as stack_lookup


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, __spec__)
    stack_lookup.add_arguments(parser)
    parser.add_argument(
        "--expect", type=cli.integer(0), help="messages published (for the progress bar)"
    )
    parser.add_argument(
        "--timeout",
        type=cli.number(0, above_minimum=True),
        default=300.0,
        help="seconds to wait at most",
    )
    args = parser.parse_args(argv)
    stack = stack_lookup.resolve_arguments(args)
    sqs = stack.client("sqs")
    visible, in_flight = observe.queue_depth(sqs, stack.queue_url)
    total = max(args.expect or 0, visible + in_flight)
    started = time.monotonic()
    empty_polls = 0
    with Progress(
        TextColumn("[bold]consume"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("consume", total=total, detail="")
        while empty_polls < 2:
            if time.monotonic() - started > args.timeout:
                console.print(
                    f"[red]error:[/red] {visible + in_flight:,} messages still in the queue after "
                    f"{args.timeout:.0f} s; see `python -m localcloud logs` "
                    "and `make report`"
                )
                return 1
            time.sleep(0.5)
            visible, in_flight = observe.queue_depth(sqs, stack.queue_url)
            left = visible + in_flight
            empty_polls = empty_polls + 1 if left == 0 else 0
            total = max(total, left)
            progress.update(
                task,
                total=total,
                completed=total - left,
                detail=f"{visible:,} waiting, {in_flight:,} in flight",
            )
    seconds = time.monotonic() - started
    rate = f" ({total / seconds:,.0f} msg/s)" if total else ""
    console.print(f"queue drained in {seconds:.1f} s{rate}")
    return 0


def run() -> int:
    """The installed command `sbc-drain` (`python -m sbc_tools.ops.drain`): one line on errors."""
    return stack_lookup.run_cli(main)


if __name__ == "__main__":
    sys.exit(run())
