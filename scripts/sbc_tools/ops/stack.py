"""Where the applied stack is: queue and DLQ URLs, function, endpoints, and AWS clients for it.

`make demo` and `make integration` record the Terraform outputs of their stack in
`.localcloud/<instance>/stack.json`; the publisher, redrive and report read it, so they need
no arguments locally. With `--queue-url`/`--endpoint-url` they work against any SQS.
`run_cli` turns a missing stack and AWS errors into one line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import cli
from ..paths import STATE

LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
# https://sqs.<region>.amazonaws.com/<account>/<name>: the client must be of that region.
AWS_QUEUE_URL = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")


class StackError(RuntimeError):
    """The stack is not there or not described; the message says what to run."""


@dataclass(frozen=True)
class Stack:
    """The parts of a deployed consumer stack the tools talk to."""

    queue_url: str
    dlq_url: str | None = None
    function_name: str | None = None
    endpoint_url: str | None = None  # None: the AWS default endpoints
    region: str = "us-east-1"
    entity_api_base_url: str | None = None  # the local entity API server, when there is one

    @property
    def log_group(self) -> str | None:
        return f"/aws/lambda/{self.function_name}" if self.function_name else None

    def client(self, service: str) -> Any:
        """A boto3 client for this stack (test credentials for a local endpoint)."""
        import boto3  # noqa: PLC0415 (slow import, only when needed)
        from botocore.config import Config  # noqa: PLC0415

        extra: dict[str, Any] = dict(LOCAL_CREDENTIALS) if self.endpoint_url else {}
        config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=config,
            **extra,
        )


def run_cli(main: Callable[[], int]) -> int:
    """Run a tool's main; a missing stack, AWS and connection errors become one line."""
    from botocore.exceptions import (  # noqa: PLC0415 (slow import)
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
    )

    try:
        return main()
    except StackError as error:
        cli.print_error(str(error))
        return 1
    except EndpointConnectionError as error:
        cli.print_error(f"{error}: is the stack up? (`make status`; `make demo` starts it)")
        return 1
    except NoCredentialsError:
        cli.print_error(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY (a local stack needs none: --instance)"
        )
        return 1
    except (BotoCoreError, ClientError) as error:
        cli.print_error(one_line(error))
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def one_line(error: BaseException) -> str:
    """An error's message on one line."""
    return " ".join(str(error).split())


def is_retryable(error: BaseException) -> bool:
    """Whether trying the same AWS call again may succeed: throttling, a 5xx, a timeout or a
    dropped connection. Wrong input, a missing queue or missing credentials never will."""
    from botocore.exceptions import (  # noqa: PLC0415 (slow import)
        ClientError,
        ConnectionClosedError,
        ReadTimeoutError,
    )

    if isinstance(error, ConnectionClosedError | ReadTimeoutError):
        return True
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return status >= 500 or "Throttl" in code or code in RETRYABLE_CODES
    return False


# SQS error codes worth a retry besides any 5xx (botocore already retried each a few times).
RETRYABLE_CODES = frozenset({"RequestThrottled", "ServiceUnavailable", "InternalError"})


def stack_dir(instance: str, stack: str | None = None) -> Path:
    """The folder of a stack's records: the instance's, or `stacks/<stack>/` in it."""
    return STATE / instance if stack is None else STATE / instance / "stacks" / stack


def stack_file(instance: str, stack: str | None = None) -> str:
    return str(stack_dir(instance, stack) / "stack.json")


def save(
    instance: str,
    outputs: dict[str, Any],
    endpoint_url: str,
    api_base: str | None,
    stack: str | None = None,
) -> None:
    """Record a stack from `terraform output -json` plus the endpoints it runs against."""
    values = {key: value.get("value") for key, value in outputs.items()}
    document = {
        "queue_url": values["queue_url"],
        "dlq_url": values.get("dlq_url"),
        "function_name": values.get("function_name"),
        "endpoint_url": endpoint_url,
        "region": os.environ.get("AWS_REGION", "us-east-1"),
        "entity_api_base_url": api_base,
    }
    path = Path(stack_file(instance, stack))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instance",
        default="default",
        type=cli.instance_name,
        help="local stack (.localcloud/NAME)",
    )
    parser.add_argument("--queue-url", help="source queue (default: the local stack's)")
    parser.add_argument("--dlq-url", help="dead-letter queue (default: the local stack's)")
    parser.add_argument("--endpoint-url", help="AWS endpoint (default: the local stack's)")


def resolve_arguments(args: argparse.Namespace) -> Stack:
    """The stack named by the options of `add_arguments`."""
    return resolve(
        instance=args.instance,
        queue_url=args.queue_url,
        dlq_url=args.dlq_url,
        endpoint_url=args.endpoint_url,
    )


def resolve(
    *,
    instance: str = "default",
    queue_url: str | None = None,
    dlq_url: str | None = None,
    endpoint_url: str | None = None,
    stack: str | None = None,
) -> Stack:
    """The stack named by the given URLs, else the recorded local stack of `instance` (its
    further stack `stack`, if given)."""
    recorded: dict[str, Any] = {}
    path = Path(stack_file(instance, stack))
    if path.exists():
        recorded = json.loads(path.read_text())
    explicit = bool(queue_url)
    queue_url = queue_url or recorded.get("queue_url")
    if not queue_url:
        raise StackError(
            f"no stack recorded in {path.relative_to(STATE.parent)}: run `make demo` first, "
            "or pass --queue-url (and --endpoint-url for a local endpoint)"
        )
    in_url = AWS_QUEUE_URL.match(queue_url)
    return Stack(
        queue_url=queue_url,
        dlq_url=dlq_url or (None if explicit else recorded.get("dlq_url")),
        function_name=None if explicit else recorded.get("function_name"),
        endpoint_url=endpoint_url
        or (os.environ.get("AWS_ENDPOINT_URL") if explicit else recorded.get("endpoint_url")),
        region=(in_url.group(1) if in_url else None)
        or os.environ.get("AWS_REGION")
        or (os.environ.get("AWS_DEFAULT_REGION") if explicit else None)
        or recorded.get("region")
        or "us-east-1",
        entity_api_base_url=None if explicit else recorded.get("entity_api_base_url"),
    )


def set_function_environment(
    lambda_client: Any, function: str, variables: dict[str, str], timeout_seconds: float = 60
) -> None:
    """Replace a function's environment and wait until the update has been applied."""
    lambda_client.update_function_configuration(
        FunctionName=function, Environment={"Variables": variables}
    )
    give_up = time.monotonic() + timeout_seconds
    while time.monotonic() < give_up:
        state = lambda_client.get_function_configuration(FunctionName=function)
        if state.get("LastUpdateStatus", "Successful") == "Successful":
            return
        time.sleep(0.5)
    raise StackError(f"{function} did not take its new configuration in {timeout_seconds:g} s")
