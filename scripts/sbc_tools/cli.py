"""What every command-line tool of scripts/ shares: the rich consoles and argument checking.

A wrong argument is one line naming it and exit status 2 (`ArgumentParser`); the types here
make argparse refuse values that would otherwise fail later with a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from .version import version

# Progress, status and error lines go to stderr; reports (tables) to stdout.
console = Console(stderr=True, highlight=False, soft_wrap=True)
stdout_console = Console(highlight=False, soft_wrap=True)

USAGE_ERROR = 2
# A local cloud instance names a folder under .localcloud/: never a path.
INSTANCE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


def print_error(message: str) -> None:
    """One `error: ...` line on stderr."""
    console.print(f"[red]error:[/red] {message}")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`prog: error: argument --x: ...`), exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # `--token` must not pass for `--token-file`
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print one line naming the argument and exit 2 (`--help` shows the usage)."""
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(USAGE_ERROR)


class VersionAction(argparse.Action):
    """`--version`: print `<prog> <version>` and exit 0 (the version read only when asked)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **_: Any) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version"
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        """Print the version line on stdout and exit."""
        print(f"{parser.prog} {version()}")
        parser.exit()


def add_version(parser: argparse.ArgumentParser) -> None:
    """`--version` on `parser`, as every tool of the project has it."""
    parser.add_argument("--version", action=VersionAction)


def parser_for(doc: str | None, spec: ModuleSpec | None) -> ArgumentParser:
    """The parser of a tool run as `python -m <module>`: its prog, the docstring's first line
    and `--version`."""
    name = spec.name.removesuffix(".__main__") if spec else None
    command = Path(sys.argv[0]).name
    # An installed command (`sbc-publish`) is called by its name; a module by `python -m`.
    prog = command if command and not command.endswith(".py") else f"python -m {name}"
    parser = ArgumentParser(
        prog=prog if name else None,
        description=(doc or "").strip().splitlines()[0] if doc else None,
    )
    add_version(parser)
    return parser


def key_value(text: str) -> str:
    """argparse type for a KEY=VALUE option (`--set`, `--var`): a usage error otherwise."""
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return text


def instance_name(text: str) -> str:
    """argparse type for `--instance`: 1-32 of a-z, 0-9 and '-', not starting with '-'."""
    if not INSTANCE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an instance name: 1-32 characters of a-z, 0-9 and '-', "
            "starting with a letter or digit"
        )
    return text


def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer in [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f"-{maximum:,}" if maximum is not None else " or more"
            raise argparse.ArgumentTypeError(f"expected an integer {minimum}{upper}, got {text}")
        return value

    return parse


def number(
    minimum: float, maximum: float | None = None, *, above_minimum: bool = False
) -> Callable[[str], float]:
    """argparse type: a finite number >= minimum (> with `above_minimum`), <= maximum."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= minimum if above_minimum else value < minimum
        if not math.isfinite(value) or too_low or (maximum is not None and value > maximum):
            low = f"> {minimum:g}" if above_minimum else f">= {minimum:g}"
            high = f" and <= {maximum:g}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(f"expected a finite number {low}{high}, got {text}")
        return value

    return parse


port = integer(0, 65535)


TOKEN_ENVIRONMENT = "ENTITY_API_TOKEN"  # noqa: S105 (the name of a variable, not a secret)


class SecretError(ValueError):
    """A secret could not be read; the message says from where."""


def add_token_file(parser: argparse.ArgumentParser, what: str) -> None:
    """`--token-file PATH`: the entity API token is read from a file or the environment, never
    taken on the command line (other users see command lines)."""
    parser.add_argument(
        "--token-file",
        type=Path,
        help=f"{what}, read from this file (default: ${TOKEN_ENVIRONMENT} when set)",
    )


def read_token(token_file: Path | None) -> str | None:
    """The token from `token_file` (one line), else from $ENTITY_API_TOKEN, else None."""
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as error:
            raise SecretError(f"--token-file: cannot read {token_file}: {error.strerror}") from None
        if not token:
            raise SecretError(f"--token-file: {token_file} is empty")
        return token
    return os.environ.get(TOKEN_ENVIRONMENT) or None
