"""What every command-line tool of scripts/ shares: the rich consoles and argument types.

A wrong argument is one line naming it and exit status 2 (argparse's usage error); the types
here make argparse refuse values that would otherwise fail later with a traceback.
"""

from __future__ import annotations

import argparse

from rich.console import Console

# Progress, status and error lines go to stderr; reports (tables) to stdout.
console = Console(stderr=True, highlight=False, soft_wrap=True)
stdout_console = Console(highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """One `error: ...` line on stderr."""
    console.print(f"[red]error:[/red] {message}", markup=True)


def key_value(text: str) -> str:
    """argparse type for a KEY=VALUE option (`--set`, `--var`): a usage error otherwise."""
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return text
