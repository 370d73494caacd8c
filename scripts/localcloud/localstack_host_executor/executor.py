"""LocalStack `RuntimeExecutor` that runs a Lambda function as a host process.

Each execution environment is one `python -m awslambdaric <handler>` process, started with
the interpreter configured for the function's runtime (LAMBDA_HOST_EXECUTOR_PYTHON3_12=...,
a virtual environment that has awslambdaric), in the unzipped code folder, talking to its own
Runtime API server on 127.0.0.1. As on AWS: the function's output goes to its CloudWatch log
stream with START/END/REPORT lines, a function that outlives its timeout is killed and
answers `Sandbox.Timedout` (the next invocation starts a fresh process), and an init error
fails the invocation with the runtime's error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from localstack import config
from localstack.aws.connect import connect_to
from localstack.services.lambda_.invocation.executor_endpoint import StatusErrorException
from localstack.services.lambda_.invocation.lambda_models import InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from .runtime_api import PendingInvocation, RuntimeApiServer
from .runtime_process import RuntimeProcess

LOG = logging.getLogger(__name__)

INIT_TIMEOUT_SECONDS = 30.0
"""AWS gives the init phase 10 s on a vCPU of its own; here a runtime process starts on 2 cores
shared with LocalStack, the other execution environments and the test suites (`make test` runs
them side by side), where a cold start was seen to take over 10 s: an init timeout then failed a
whole batch for a reason AWS would not have."""
# This machine's architecture in Lambda's words, as `python -m localcloud` computed it.
_HOST_ARCHITECTURE = os.environ.get("LAMBDA_HOST_EXECUTOR_ARCHITECTURE", "")


def interpreter_for(runtime: str) -> str:
    """The host interpreter configured for a Lambda runtime such as `python3.12`."""
    variable = "LAMBDA_HOST_EXECUTOR_" + runtime.upper().replace(".", "_")
    interpreter = os.environ.get(variable, "")
    if not interpreter or not os.access(interpreter, os.X_OK):
        raise LambdaRuntimeException(
            f"The host executor has no interpreter for runtime {runtime!r}: set {variable} to "
            "the python of a virtual environment with awslambdaric (python -m localcloud "
            "does this for the runtimes it prepares)."
        )
    return interpreter


class HostRuntimeExecutor(RuntimeExecutor):  # type: ignore[misc]
    """One execution environment = one awslambdaric host process (restarted after a timeout)."""

    def __init__(self, id: str, function_version: Any) -> None:
        super().__init__(id=id, function_version=function_version)
        self._env: dict[str, str] = {}
        self._server: RuntimeApiServer | None = None
        self._process: RuntimeProcess | None = None
        self._pending_init_duration_ms: float | None = None
        self._interpreter = ""
        self._code_dir = Path()
        self._tmp_dir = Path(tempfile.mkdtemp(prefix=f"lambda-{id[:8]}-"))

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        cfg = self.function_version.config
        code_dir = Path(cfg.code.get_unzipped_code_location())
        interpreter = interpreter_for(str(cfg.runtime))
        env = {key: str(value) for key, value in env_vars.items()}
        env.update(
            {
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LAMBDA_RUNTIME_DIR": str(Path(interpreter).parent.parent),
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{cfg.runtime}",
                "PYTHONPATH": str(code_dir),
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only on AWS
                "PATH": f"{Path(interpreter).parent}:/usr/local/bin:/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "HOME": str(self._tmp_dir),
                "TMPDIR": str(self._tmp_dir),
                # The local cloud's mark: `python -m localcloud stop` finds leftovers by it.
                "LOCALCLOUD_RUN_ID": os.environ.get("LOCALCLOUD_RUN_ID", ""),
            }
        )
        self._env = env
        self._interpreter = interpreter
        self._code_dir = code_dir
        init_error = self._start_process()
        if init_error is not None:
            payload, logs = init_error
            self._put_logs(logs)
            raise StatusErrorException("Environment startup failed", payload=payload)

    def _start_process(self) -> tuple[bytes, str] | None:
        """Start a fresh process; wait until it asks for work. Returns (error, logs) on failure."""
        self._stop_process()
        server = RuntimeApiServer()
        server.start()
        env = dict(self._env, AWS_LAMBDA_RUNTIME_API=server.address)
        process = RuntimeProcess(
            self._interpreter, str(self.function_version.config.handler), self._code_dir, env
        )
        process.start()
        self._server, self._process = server, process
        give_up = time.monotonic() + INIT_TIMEOUT_SECONDS
        while not server.ready.wait(0.01):
            if server.init_failed.is_set() or process.exit_code() is not None:
                return self._init_failure(server, process)
            if time.monotonic() > give_up:
                process.kill()
                error = {
                    "errorType": "Runtime.InitTimeout",
                    "errorMessage": f"Init phase did not finish in {INIT_TIMEOUT_SECONDS:.0f} s",
                }
                return json.dumps(error).encode(), process.take_output()
        self._pending_init_duration_ms = (time.monotonic() - process.started_at) * 1000
        return None

    def _init_failure(self, server: RuntimeApiServer, process: RuntimeProcess) -> tuple[bytes, str]:
        server.init_failed.wait(0.5)  # the runtime posts its error, then exits
        process.kill()
        payload = (
            server.init_error
            or json.dumps(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"Runtime exited with error: exit status {process.exit_code()}",
                }
            ).encode()
        )
        duration = (time.monotonic() - process.started_at) * 1000
        logs = process.take_output() + f"INIT_REPORT Init Duration: {duration:.2f} ms\tPhase: init"
        return payload, logs + "\tStatus: error\n"

    def _stop_process(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def stop(self) -> None:
        self._stop_process()
        shutil.rmtree(self._tmp_dir, ignore_errors=True)

    # ---- invocations -------------------------------------------------------------------
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        if self._process is None or self._process.exit_code() is not None:
            failure = self._start_process()  # after a timeout or a crash: a fresh init
            if failure is not None:
                init_error, init_logs = failure
                return InvocationResult(request_id, init_error, is_error=True, logs=init_logs)
        server, process = self._server, self._process
        if server is None or process is None:
            raise LambdaRuntimeException(f"Execution environment {self.id} is not running")
        timeout = float(self.function_version.config.timeout)
        invocation = PendingInvocation(
            request_id=request_id,
            payload=payload["payload"].encode(),
            function_arn=payload["invoked-function-arn"],
            trace_id=payload["trace-id"],
            timeout_seconds=timeout,
        )
        init_output = process.take_output(settle_seconds=0.0)
        server.submit(invocation)
        outcome = self._wait(invocation, process, timeout)
        server.forget(invocation)
        duration_ms = (time.monotonic() - invocation.started_at) * 1000
        output = init_output + process.take_output()
        memory = process.max_memory_mb()
        if outcome == "timeout":
            process.kill()
            output += f"{_now()} {request_id} Task timed out after {timeout:.2f} seconds\n"
            timed_out = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                f"{timeout:.2f} seconds",
            }
            invocation.result, invocation.is_error = json.dumps(timed_out).encode(), True
        elif outcome == "exited":
            status = process.exit_code()
            exited = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                f"exit status {status}",
            }
            invocation.result, invocation.is_error = json.dumps(exited).encode(), True
        logs = self._frame_logs(request_id, output, duration_ms, memory, outcome)
        return InvocationResult(request_id, invocation.result, invocation.is_error, logs=logs)

    def _wait(self, invocation: PendingInvocation, process: RuntimeProcess, timeout: float) -> str:
        """Wait for the outcome: `done`, `timeout` (deadline passed) or `exited` (crash)."""
        give_up_handout = time.monotonic() + INIT_TIMEOUT_SECONDS
        while not invocation.handed_out.wait(0.01):
            if process.exit_code() is not None:
                invocation.started_at = time.monotonic()
                return "exited"
            if time.monotonic() > give_up_handout:
                invocation.started_at = time.monotonic()
                return "timeout"
        deadline = invocation.started_at + timeout
        while not invocation.done.wait(0.01):
            if process.exit_code() is not None:
                return "done" if invocation.done.is_set() else "exited"
            if time.monotonic() > deadline:
                return "timeout"
        return "done"

    def _frame_logs(
        self, request_id: str, output: str, duration_ms: float, memory_mb: int, outcome: str
    ) -> str:
        """The invocation's log text as the Lambda service writes it to CloudWatch Logs."""
        cfg = self.function_version.config
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {int(duration_ms) + 1} ms\tMemory Size: {cfg.memory_size} MB\t"
            f"Max Memory Used: {memory_mb} MB"
        )
        if self._pending_init_duration_ms is not None:
            report += f"\tInit Duration: {self._pending_init_duration_ms:.2f} ms"
            self._pending_init_duration_ms = None
        if outcome == "timeout":
            report += "\tStatus: timeout"
        elif outcome == "exited":
            report += "\tStatus: error\tError Type: Runtime.ExitError"
        if output and not output.endswith("\n"):
            output += "\n"
        return (
            f"START RequestId: {request_id} Version: {self.function_version.id.qualifier}\n"
            f"{output}END RequestId: {request_id}\n{report}\n"
        )

    def _put_logs(self, text: str) -> None:
        """Write init-failure output to the function's log stream (invocations go through
        LocalStack's own log handler)."""
        group = f"/aws/lambda/{self.function_version.id.function_name}"
        stream = f"{date.today():%Y/%m/%d}/[{self.function_version.id.qualifier}]{self.id}"
        lines = [line for line in text.splitlines() if line]
        if not lines:
            return
        try:
            logs = connect_to(region_name=self.function_version.id.region).logs
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=group)
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            now = int(time.time() * 1000)
            events = [{"timestamp": now, "message": line} for line in lines]
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        except Exception as error:  # noqa: BLE001 (logging must never break the invoke)
            LOG.warning("Could not write init logs of %s: %s", group, error)

    # ---- addresses and preparation -----------------------------------------------------
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://127.0.0.1:{port}/_localstack_lambda/{self.id}"

    def get_logs(self) -> str:
        return self._process.take_output(settle_seconds=0.0) if self._process else ""

    @classmethod
    def prepare_version(cls, function_version: Any) -> None:
        cfg = function_version.config
        if not cfg.runtime or not cfg.code:
            raise LambdaRuntimeException("The host executor runs zip packages only.")
        interpreter_for(str(cfg.runtime))
        architecture = str(cfg.architectures[0]) if cfg.architectures else "x86_64"
        if _HOST_ARCHITECTURE and architecture != _HOST_ARCHITECTURE:
            LOG.warning(
                "Function %s is %s but this host is %s: native extensions in its zip will not "
                "load (build it with `make package-local`).",
                function_version.id.function_name,
                architecture,
                _HOST_ARCHITECTURE,
            )
        cfg.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: Any) -> None:
        """Nothing to undo: LocalStack removes the unzipped code itself."""

    @classmethod
    def validate_environment(cls) -> bool:
        return True


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
