"""The tools' version: the one in pyproject.toml (read from a checkout, or from the installed
distribution's metadata, which the build wrote from it)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from .paths import CHECKOUT

DISTRIBUTION = "sqs-batch-consumer"


def version(checkout: Path | None = CHECKOUT) -> str:
    """`0.2.0`: the checkout's pyproject.toml, else the installed metadata, else `unknown`."""
    if checkout is not None:
        with (checkout / "pyproject.toml").open("rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
