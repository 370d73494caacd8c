"""The concurrency governor, an optional second function in the consumer's zip.

- `entry`: the Lambda entry point, `consumer.governor.lambda_handler` (Terraform's handler);
  it reads the settings at cold start.
- `run`: one scheduled run, its AWS calls (`govern`).
- `law`: the rule, pure (`decide`), shared with the simulator.

`lambda_handler` is loaded from `entry` when the name is first read (Lambda's runtime reads it
at cold start, so a bad setting still fails the cold start); importing `run` or `law` reads no
settings.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """`lambda_handler`: `consumer.governor.entry.lambda_handler`, imported on first use."""
    if name == "lambda_handler":
        from consumer.governor.entry import lambda_handler  # noqa: PLC0415 - reads settings

        return lambda_handler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
