"""Background services of the local cloud: LocalStack and the local entity API server.

Each runs detached with its PID, log and settings under `.localcloud/<instance>/`
(`default` for `make up`/`make demo`, `integration` for `make integration`), listens on
127.0.0.1 only, is ready when its health URL answers, and stops with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lambda_package.targets import host_architecture
from sbc_tools.paths import REPO, STATE

STOP_GRACE_SECONDS = 10.0


class ServiceError(RuntimeError):
    """A service could not be started or reached; the message says what to do."""


@dataclass
class Service:
    """What is recorded about one running service (`<name>.json` beside its PID file)."""

    name: str
    pid: int
    port: int
    url: str
    log: str
    settings: dict[str, str] = field(default_factory=dict)
    started: str = ""  # the process's start time (/proc): a reused PID is not this service
    # A random id in the environment of the service and of every process it starts (the
    # host executor passes it on to function runtimes): what `leftover_processes` looks for.
    run_id: str = ""


RUN_ID_VARIABLE = "LOCALCLOUD_RUN_ID"


def new_run_id() -> str:
    """A fresh id to mark the processes of one service run."""
    return uuid.uuid4().hex


def instance_dir(instance: str) -> Path:
    return STATE / instance


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (ended, not yet reaped) is not alive.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def start_time(pid: int) -> str:
    """The start time of a process in clock ticks since boot ("" when unknown)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _is_running(service: Service) -> bool:
    """The recorded process is alive and is still the one that was started (after a reboot
    or a long time its PID may belong to another program, which must not be signalled)."""
    if not pid_alive(service.pid):
        return False
    return not service.started or start_time(service.pid) in ("", service.started)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def read_service(instance: str, name: str) -> Service | None:
    """The recorded service, or None when it was never started or has died."""
    record = instance_dir(instance) / f"{name}.json"
    if not record.exists():
        return None
    service = Service(**json.loads(record.read_text()))
    if not _is_running(service):
        _forget(instance_dir(instance), name)
        return None
    return service


def start_service(
    instance: str,
    name: str,
    *,
    args: list[str],
    port: int,
    health_url: str,
    env: dict[str, str],
    settings: dict[str, str],
    deadline_seconds: float,
) -> Service:
    """Start `args` detached, wait until `health_url` answers, and record it."""
    folder = instance_dir(instance)
    folder.mkdir(parents=True, exist_ok=True)
    if port_in_use(port):
        raise ServiceError(
            f"port {port} on 127.0.0.1 is already in use by another program; stop it or "
            f"choose another port (--port)"
        )
    log = folder / f"{name}.log"
    if log.exists():
        log.replace(folder / f"{name}.previous.log")
    with log.open("w") as out:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            start_new_session=True,  # Ctrl-C in the caller's terminal does not reach it
        )
    service = Service(
        name,
        process.pid,
        port,
        health_url,
        str(log),
        settings,
        start_time(process.pid),
        env.get(RUN_ID_VARIABLE, ""),
    )
    (folder / f"{name}.json").write_text(json.dumps(asdict(service), indent=2))
    (folder / f"{name}.pid").write_text(f"{process.pid}\n")
    give_up = time.monotonic() + deadline_seconds
    while not http_ok(health_url, timeout=1.0):
        if process.poll() is not None:
            _forget(folder, name)
            raise ServiceError(f"{name} exited with status {process.returncode}:\n{tail(log)}")
        if time.monotonic() > give_up:
            stop_service(instance, name)
            raise ServiceError(
                f"{name} did not answer {health_url} within {deadline_seconds:.0f} s:\n{tail(log)}"
            )
        time.sleep(0.2)
    return service


def stop_service(instance: str, name: str, grace: float = STOP_GRACE_SECONDS) -> bool:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL. True if something was stopped."""
    folder = instance_dir(instance)
    record = folder / f"{name}.json"
    if not record.exists():
        return False
    service = Service(**json.loads(record.read_text()))
    pid = service.pid
    stopped = False
    if _is_running(service):
        stopped = True
        _signal(pid, signal.SIGTERM)
        give_up = time.monotonic() + grace
        while pid_alive(pid) and time.monotonic() < give_up:
            time.sleep(0.1)
        if pid_alive(pid):
            _signal(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.05)
    _forget(folder, name)
    return stopped


def recorded_run_ids(instance: str) -> set[str]:
    """The run ids of the instance's recorded services, alive or not."""
    run_ids = set()
    for record in instance_dir(instance).glob("*.json"):
        try:
            run_id = json.loads(record.read_text()).get("run_id")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(run_id, str) and run_id:
            run_ids.add(run_id)
    return run_ids


def leftover_processes(instance: str, run_ids: set[str]) -> list[int]:
    """Processes the tool started for the instance that still run (e.g. function runtimes):
    working in the instance's folder and carrying one of `run_ids` in their environment.
    No other process qualifies, whatever its working directory."""
    folder = str(instance_dir(instance).resolve())
    marks = {f"{RUN_ID_VARIABLE}={run_id}".encode() for run_id in run_ids}
    found = []
    for proc in Path("/proc").iterdir():
        if not marks or not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            if not (cwd == folder or cwd.startswith(folder + os.sep)):
                continue
            environment = set((proc / "environ").read_bytes().split(b"\0"))
        except OSError:  # gone, or another user's: not ours
            continue
        if environment & marks:
            found.append(int(proc.name))
    return found


def _signal(pid: int, signum: int) -> None:
    """Signal the service's process group (it was started in a session of its own)."""
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return


def _forget(folder: Path, name: str) -> None:
    for suffix in (".json", ".pid"):
        (folder / f"{name}{suffix}").unlink(missing_ok=True)


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def localstack_env(
    instance: str, port: int, runtimes: dict[str, Path], extra: dict[str, str], run_id: str
) -> dict[str, str]:
    """The environment LocalStack runs with on this host (see docs/local-cloud.md)."""
    folder = instance_dir(instance)
    for sub in ("localstack", "tmp", "cache"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER"}
    }
    env.update(
        {
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "GATEWAY_SERVER": "hypercorn",  # the default server ignores the host and binds 0.0.0.0
            "LOCALSTACK_HOST": f"127.0.0.1:{port}",
            "SQS_ENDPOINT_STRATEGY": "off",  # queue URLs on 127.0.0.1, no unresolvable host
            "DNS_ADDRESS": "0",
            "DISABLE_EVENTS": "1",  # no analytics: shutdown would hang trying to reach it
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "FILESYSTEM_ROOT": str(folder / "localstack"),
            "TMPDIR": str(folder / "tmp"),  # unzipped functions stay in this instance
            "XDG_CACHE_HOME": str(folder / "cache"),
            "LAMBDA_RUNTIME_EXECUTOR": "host",
            # The executor warns when a function's architecture is not this machine's.
            "LAMBDA_HOST_EXECUTOR_ARCHITECTURE": host_architecture(),
            RUN_ID_VARIABLE: run_id,  # passed on to the function runtimes
            # AWS long-polls without pause; LocalStack's poller sleeps between receives and
            # backs off when the queue looks empty: keep both short (see docs/local-cloud.md).
            "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0.1",
            "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "1",
            "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_ERROR_SEC": "5",
        }
    )
    for runtime, python in runtimes.items():
        env["LAMBDA_HOST_EXECUTOR_" + runtime.upper().replace(".", "_")] = str(python)
    env.update(extra)
    return env


def localstack_health(port: int) -> dict[str, Any] | None:
    try:
        url = f"http://127.0.0.1:{port}/_localstack/health"
        with urllib.request.urlopen(url, timeout=2) as response:
            health: dict[str, Any] = json.loads(response.read())
            return health
    except (urllib.error.URLError, OSError, ValueError):
        return None


def tool_env(run_id: str = "") -> dict[str, str]:
    """The environment of a tool process started in the background: the caller's PYTHONPATH,
    so the child imports `localcloud` as the caller did (and the run id, if given)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    if run_id:
        env[RUN_ID_VARIABLE] = run_id
    return env


def poller_args(localstack_port: int, port: int, localstack_pid: int) -> list[str]:
    """The command line of the mapping poller that runs beside LocalStack (and ends with it)."""
    return [
        sys.executable,
        "-m",
        "localcloud.poller",
        "--endpoint",
        f"http://127.0.0.1:{localstack_port}",
        "--port",
        str(port),
        "--parent-pid",
        str(localstack_pid),
    ]


def entity_api_args(
    port: int, *, rate: float | None, strict: bool, burst: float | None = None
) -> list[str]:
    """The command line of the entity API server (a token goes in its environment)."""
    args = [sys.executable, "-m", "localcloud.entity_api_server", "--port", str(port)]
    args.append("--quiet")
    if rate:
        args += ["--rate", str(rate)]
        if burst:
            args += ["--burst", str(burst)]
    if strict:
        args.append("--strict")
    return args
