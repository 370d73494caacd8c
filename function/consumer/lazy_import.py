"""Functions of modules most batches never need, imported at their first call, not at cold
start (the retry path, the DLQ path)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def on_first_call(module: str, name: str) -> Callable[..., Any]:
    """A stand-in for `module.name` (a function or class) that imports `module` when first
    called; the import is Python's own (sys.modules) from then on."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported at the first call."
    return call
