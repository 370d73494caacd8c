"""The plux plugin that makes the host executor selectable with LAMBDA_RUNTIME_EXECUTOR=host."""

from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostRuntimeExecutorPlugin(RuntimeExecutorPlugin):  # type: ignore[misc]
    """Loads `HostRuntimeExecutor` lazily, as LocalStack's own docker plugin does."""

    name = "host"

    def load(self, *args: Any, **kwargs: Any) -> Any:
        from . import esm_handover  # noqa: PLC0415
        from .executor import HostRuntimeExecutor  # noqa: PLC0415

        # Loaded when the Lambda service starts, before any mapping can poll.
        esm_handover.apply()
        return HostRuntimeExecutor
