"""Run a tool of scripts/ the way a user does: `python -m <module>` from the repository root."""

from __future__ import annotations

import subprocess
import sys

from sbc_tools.paths import REPO


def run_tool(module: str, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python -m module argv...` with exactly `env`; its exit status and output."""
    return subprocess.run(  # noqa: S603 (our own tool)
        [sys.executable, "-m", module, *argv],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
