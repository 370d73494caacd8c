"""The client of the mapping poller's status endpoints (`localcloud.poller`), for the demo, the
fan-out benchmark and the integration tests."""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

from localcloud.overlap import Overlap, measure
from localcloud.services import ServiceError, read_service
from sbc_tools import cli
from sbc_tools.cli import console, parser_for

POLLER = "esm-poller"
TIMEOUT_SECONDS = 10


class PollerAdmin:
    """Read and steer the poller at `base_url`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    @classmethod
    def of_instance(cls, instance: str) -> PollerAdmin:
        """The poller running beside the instance's LocalStack."""
        service = read_service(instance, POLLER)
        if service is None:
            raise ServiceError(
                f"the mapping poller ({instance}) is not running: start the local cloud with "
                f"`python -m localcloud --instance {instance} start` (--esm project, the default)"
            )
        return cls(f"http://127.0.0.1:{service.port}")

    def _call(self, path: str, document: Any = None) -> Any:
        data = None if document is None else json.dumps(document).encode()
        request = urllib.request.Request(  # noqa: S310 (our own server on 127.0.0.1)
            self.base_url + path, data=data, method="GET" if data is None else "POST"
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.loads(response.read())

    def status(self) -> list[dict[str, Any]]:
        """Per mapping: concurrency, busy, invocations, records, deleted, errors, overlap."""
        status: list[dict[str, Any]] = self._call("/status")
        return status

    def mapping(self, uuid: str) -> dict[str, Any] | None:
        """The status of one mapping (None until the poller has read it)."""
        return next((m for m in self.status() if m["uuid"] == uuid), None)

    def invocations(self) -> list[dict[str, Any]]:
        """Every invocation since the last reset: mapping, start, end, records, failed, error."""
        invocations: list[dict[str, Any]] = self._call("/invocations")
        return invocations

    def overlap(self, uuid: str | None = None) -> Overlap:
        """How many invocations (of one mapping, or all) really ran at once."""
        return measure(
            [
                (i["start"], i["end"])
                for i in self.invocations()
                if uuid is None or i["mapping"] == uuid
            ]
        )

    def reset(self) -> None:
        """Forget the invocations recorded so far."""
        self._call("/reset", {})

    def cap(self, concurrency: int | None) -> None:
        """At most `concurrency` invocations per mapping (0 pauses; None: the mappings' own)."""
        self._call("/cap", {"concurrency": concurrency})


def main(argv: list[str] | None = None) -> int:
    """`python -m localcloud.poller_admin --instance X [--reset | --cap N | --no-cap]`: steer
    the poller, or print how many invocations overlapped since the last reset."""
    parser = parser_for(main.__doc__, __spec__)
    parser.add_argument("--instance", default="default", type=cli.instance_name)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--reset", action="store_true", help="forget the invocations so far")
    action.add_argument("--cap", type=cli.integer(0), help="at most N invocations per mapping")
    action.add_argument("--no-cap", action="store_true", help="the mappings' own concurrency")
    args = parser.parse_args(argv)
    try:
        poller = PollerAdmin.of_instance(args.instance)
        if args.reset:
            poller.reset()
        elif args.cap is not None or args.no_cap:
            poller.cap(None if args.no_cap else args.cap)
        else:
            for mapping in poller.status():
                overlap = poller.overlap(mapping["uuid"])
                durations = sorted(
                    i["end"] - i["start"]
                    for i in poller.invocations()
                    if i["mapping"] == mapping["uuid"]
                )
                longest = f", longest {durations[-1]:.2f} s" if durations else ""
                console.print(
                    f"{mapping['function']}: {overlap.invocations} invocations, up to "
                    f"{mapping['concurrency']} at once (MaximumConcurrency); overlapped: at most "
                    f"{overlap.maximum}, {overlap.mean:.2f} on average while busy (measured from "
                    f"their start and end times{longest})"
                )
    except (ServiceError, OSError) as error:
        cli.print_error(str(error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
