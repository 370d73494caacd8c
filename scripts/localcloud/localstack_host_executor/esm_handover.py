"""Hand SQS event source mappings over to the project's poller (`localcloud.poller`).

LocalStack's own mapping invokes one batch at a time. With LOCALCLOUD_ESM_POLLER=project in
LocalStack's environment, its SQS poller receives nothing (each poll counts as an empty one, so
its worker idles in its empty-queue backoff), while the mappings keep their state, settings and
API as they are: the project's poller reads them and does the receiving, with up to
`MaximumConcurrency` invocations at once, as Lambda does.
"""

from __future__ import annotations

import logging
import os
from typing import Any

LOG = logging.getLogger(__name__)
VARIABLE = "LOCALCLOUD_ESM_POLLER"


def apply() -> bool:
    """Make LocalStack's SQS poller idle when the project's poller owns the mappings."""
    if os.environ.get(VARIABLE, "localstack") != "project":
        return False
    from localstack.services.lambda_.event_source_mapping.esm_worker import (  # noqa: PLC0415
        EsmState,
        EsmWorker,
    )
    from localstack.services.lambda_.event_source_mapping.pollers.poller import (  # noqa: PLC0415
        EmptyPollResultsException,
    )
    from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import (  # noqa: PLC0415
        SqsPoller,
    )

    def poll_events(self: Any) -> None:
        raise EmptyPollResultsException(service="sqs", source_arn=self.source_arn)

    store_state = EsmWorker.update_esm_state_in_store

    def update_esm_state_in_store(self: Any, new_state: Any) -> None:
        # An update replaces a mapping's worker; the old one, ending after its successor has
        # started, would write "Disabled" over "Enabled" (LocalStack's own poller ignores the
        # state, the project's reads it). A real disable is written by the new worker itself.
        if new_state == EsmState.DISABLED and self._shutdown_event.is_set():
            return
        store_state(self, new_state)

    SqsPoller.poll_events = poll_events
    EsmWorker.update_esm_state_in_store = update_esm_state_in_store
    LOG.info("SQS event source mappings are polled by the project's poller (localcloud.poller)")
    return True
