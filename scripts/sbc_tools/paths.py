"""Where things are: the repository checkout (when the tools run from one) and the local
cloud's state folder.

In a checkout the state folder is `<repo>/.localcloud` (gitignored); installed from the wheel
it is `.localcloud` in the current directory, never inside site-packages. $LOCALCLOUD_STATE_DIR
overrides both.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_ENVIRONMENT = "LOCALCLOUD_STATE_DIR"


def _checkout(root: Path) -> Path | None:
    """`root` when it is this project's checkout (its pyproject.toml beside the handler)."""
    is_checkout = (root / "pyproject.toml").is_file() and (root / "function" / "consumer").is_dir()
    return root if is_checkout else None


CHECKOUT = _checkout(Path(__file__).resolve().parents[2])
"""The repository these tools run from; None when they are installed from the wheel."""
REPO = CHECKOUT or Path.cwd()
"""The checkout, for the tools that only run from one (local cloud, benchmarks, packaging)."""
STATE = Path(os.environ.get(STATE_ENVIRONMENT) or REPO / ".localcloud").absolute()
