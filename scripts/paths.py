"""Where things are: the repository root and the local cloud's state folder (gitignored)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / ".localcloud"
