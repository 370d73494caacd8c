"""The admin client of the local entity API server (`/_admin/*`): the only one in the project.

Used by `localcloud.reset`, `sbc_tools.ops.report`, the end-to-end benchmark and the
integration tests.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 10


def chaos_faults(seed: int) -> dict[str, Any]:
    """Issue 9's chaos scenario as a fault configuration of the local entity API: 15% of
    requests answered 429 (Retry-After 1), 5% 500, and 3% of operations 503."""
    return {
        # 20% of requests fail whole, 3 in 4 of them 429: 15% 429 and 5% 500
        "random_request_status": {
            "probability": 0.2,
            "statuses": [429, 429, 429, 500],
            "seed": seed,
        },
        "retry_after": "1",
        "random_op_status": {"probability": 0.03, "statuses": [503], "seed": seed},
    }


class EntityApiAdmin:
    """Reset, inject faults and read counters of a local entity API server at `base_url`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def get(self, path: str) -> Any:
        """GET an admin endpoint; its JSON answer."""
        url = f"{self.base_url}{path}"
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.loads(response.read())

    def send(self, method: str, path: str, document: Any = None) -> Any:
        """PUT/POST to an admin endpoint; its JSON answer (None when it has no body)."""
        data = json.dumps(document).encode() if document is not None else b""
        request = urllib.request.Request(  # noqa: S310 (a URL of our own local server)
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read()
            return json.loads(body) if body else None

    def reset(self) -> None:
        """Clear faults, applied operations, stats and the request log."""
        self.send("POST", "/_admin/reset")

    def faults(self, config: dict[str, Any]) -> None:
        """Replace the fault configuration (`{}`: a healthy API)."""
        self.send("PUT", "/_admin/faults", config)

    def rate(self, rate: float | None, burst: float | None = None) -> dict[str, Any]:
        """Set the token bucket (requests/s, burst; None removes it); what is in force now."""
        answer: dict[str, Any] = self.send("PUT", "/_admin/rate", {"rate": rate, "burst": burst})
        return answer

    def rate_limit(self) -> dict[str, Any]:
        """The token bucket in force and the 429s it answered since the last reset."""
        answer: dict[str, Any] = self.get("/_admin/rate")
        return answer

    def stats(self) -> dict[str, Any]:
        """Requests, operations, ops-per-request histogram, status counts."""
        stats: dict[str, Any] = self.get("/_admin/stats")
        return stats

    def applied(self) -> list[dict[str, Any]]:
        """Applied operations, oldest first."""
        applied: list[dict[str, Any]] = self.get("/_admin/applied")
        return applied

    def conflicts(self) -> list[dict[str, Any]]:
        """Strict mode: applied op_ids that came again with other content."""
        conflicts: list[dict[str, Any]] = self.get("/_admin/conflicts")
        return conflicts

    def sequences(self) -> dict[str, list[str]]:
        """Each entity's applied op_ids, in the order they were applied."""
        sequences: dict[str, list[str]] = self.get("/_admin/sequences")
        return sequences
