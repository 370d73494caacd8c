"""Run the local cloud: LocalStack on 127.0.0.1 with the host Lambda executor, and the entity API.

    python -m localcloud start [--port 4566] [--esm project|localstack] [--set KEY=VALUE ...]
    python -m localcloud stop | status | logs [-f] | env
    python -m localcloud api-start [--port 8080] [--token-file F] [--rate N [--burst B]] [--strict]
    python -m localcloud api-stop

`start` is idempotent. With `--esm project` (the default) the SQS event source mappings are
polled by the project's poller (`localcloud.poller`, the service `esm-poller`), which runs up
to each mapping's MaximumConcurrency invocations at once as Lambda does; `--esm localstack`
keeps LocalStack's own mapping (one invocation at a time).

State lives in `.localcloud/` (gitignored): the virtual environments (created once) and one
folder per instance (`--instance`, default `default`; `make integration` uses its own).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lambda_package.targets import PYTHON_VERSIONS
from localcloud.localstack_host_executor.esm_handover import VARIABLE as ESM_VARIABLE
from localcloud.services import (
    Service,
    ServiceError,
    entity_api_args,
    free_port,
    http_ok,
    instance_dir,
    leftover_processes,
    localstack_env,
    localstack_health,
    new_run_id,
    poller_args,
    read_service,
    recorded_run_ids,
    start_service,
    stop_service,
    tool_env,
)
from localcloud.venvs import SetupError, ensure_localstack_venv, ensure_runtime_venv
from sbc_tools import cli
from sbc_tools.cli import console, key_value, parser_for
from sbc_tools.paths import STATE

LOCALSTACK = "localstack"
ENTITY_API = "entity-api"
POLLER = "esm-poller"
DEFAULT_LOCALSTACK_PORT = 4566
DEFAULT_API_PORT = 8080
READY_DEADLINE_SECONDS = 90.0


def _port(requested: int | None, default: int, instance: str) -> int:
    if requested == 0 or (requested is None and instance != "default"):
        return free_port()
    return requested if requested is not None else default


def cmd_start(args: argparse.Namespace) -> int:
    extra = dict(item.split("=", 1) for item in args.set)
    runtimes = {f"python{v}": ensure_runtime_venv(v) for v in args.runtime}
    python = ensure_localstack_venv()
    running = read_service(args.instance, LOCALSTACK)
    wanted = {"runtimes": ",".join(sorted(runtimes)), "esm": args.esm, **extra}
    if running is not None:
        if running.settings == wanted and (args.port in (None, 0, running.port)):
            console.print(f"LocalStack already running at {running.url.split('/_')[0]}")
            _ensure_poller(args.instance, running)
            return 0
        if not args.restart:
            raise ServiceError(
                f"LocalStack ({args.instance}) is already running with other settings "
                f"{running.settings} on port {running.port}; stop it first "
                "(python -m localcloud stop) or pass --restart"
            )
        stop_service(args.instance, POLLER)
        stop_service(args.instance, LOCALSTACK)
    port = _port(args.port, DEFAULT_LOCALSTACK_PORT, args.instance)
    env = localstack_env(
        args.instance, port, runtimes, {ESM_VARIABLE: args.esm, **extra}, new_run_id()
    )
    started = time.monotonic()
    with console.status(f"starting LocalStack on 127.0.0.1:{port} ..."):
        service = start_service(
            args.instance,
            LOCALSTACK,
            args=[str(python), "-m", "localstack.runtime.main"],
            port=port,
            health_url=f"http://127.0.0.1:{port}/_localstack/health",
            env=env,
            settings=wanted,
            deadline_seconds=READY_DEADLINE_SECONDS,
        )
    health = localstack_health(port) or {}
    console.print(
        f"LocalStack {health.get('version', '?')} ready at http://127.0.0.1:{port} "
        f"in {time.monotonic() - started:.1f} s (pid {service.pid}, log {_rel(service.log)})"
    )
    _ensure_poller(args.instance, service)
    return 0


def _ensure_poller(instance: str, localstack: Service) -> None:
    """Run the project's mapping poller beside LocalStack when it owns the SQS mappings."""
    if localstack.settings.get("esm") != "project" or read_service(instance, POLLER):
        return
    port = free_port()
    service = start_service(
        instance,
        POLLER,
        args=poller_args(localstack.port, port, localstack.pid),
        port=port,
        health_url=f"http://127.0.0.1:{port}/health",
        env=tool_env(localstack.run_id),
        settings={"localstack_port": str(localstack.port)},
        deadline_seconds=30.0,
    )
    console.print(
        f"SQS mappings polled by the project's poller (pid {service.pid}, status "
        f"http://127.0.0.1:{port}/status): up to MaximumConcurrency invocations at once"
    )


def cmd_stop(args: argparse.Namespace) -> int:
    run_ids = recorded_run_ids(args.instance)  # before the records are forgotten
    for name in (POLLER, ENTITY_API, LOCALSTACK) if args.all else (POLLER, LOCALSTACK):
        started = time.monotonic()
        if stop_service(args.instance, name):
            console.print(f"stopped {name} ({args.instance}) in {time.monotonic() - started:.1f} s")
    # The runtimes get their parent-death signal at once, but on a loaded machine they may
    # take a moment to be scheduled and die: only what is still there after a few seconds
    # counts as a leftover.
    give_up = time.monotonic() + 3.0
    while (leftovers := leftover_processes(args.instance, run_ids)) and time.monotonic() < give_up:
        time.sleep(0.1)
    if leftovers:
        for pid in leftovers:
            _kill(pid)
        console.print(
            f"[red]error:[/red] {len(leftovers)} process(es) outlived LocalStack "
            f"({args.instance}) and were killed: {leftovers}"
        )
        return 3
    return 0


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def cmd_status(args: argparse.Namespace) -> int:
    instances = sorted(p.name for p in STATE.glob("*") if (p / "localstack.log").exists())
    instances += sorted(p.name for p in STATE.glob("*") if (p / "entity-api.log").exists())
    shown = 0
    for instance in dict.fromkeys(instances or ["default"]):
        for name in (LOCALSTACK, POLLER, ENTITY_API):
            service = read_service(instance, name)
            if service is None:
                continue
            shown += 1
            healthy = http_ok(service.url)
            state = "[green]up[/green]" if healthy else "[yellow]not answering[/yellow]"
            console.print(
                f"{instance:<12} {name:<11} {state}  http://127.0.0.1:{service.port}  "
                f"pid {service.pid}  log {_rel(service.log)}"
            )
    if not shown:
        console.print("nothing running (start with `make up` or `make demo`)")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    log = instance_dir(args.instance) / f"{args.service}.log"
    if not log.exists():
        raise ServiceError(f"no log yet at {_rel(str(log))}")
    command = ["tail", "-n", str(args.lines)] + (["-f"] if args.follow else []) + [str(log)]
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0


def cmd_env(args: argparse.Namespace) -> int:
    service = read_service(args.instance, LOCALSTACK)
    if service is None:
        raise ServiceError(f"LocalStack ({args.instance}) is not running: `make up` starts it")
    print(f"export AWS_ENDPOINT_URL=http://127.0.0.1:{service.port}")
    print("export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1")
    print("export AWS_DEFAULT_REGION=us-east-1")
    return 0


def cmd_api_start(args: argparse.Namespace) -> int:
    if args.burst and not args.rate:
        raise ServiceError("--burst needs --rate (the token bucket's requests per second)")
    token = cli.read_token(args.token_file)
    # The token is never recorded: only whether there is one.
    wanted = {
        "token": "required" if token else "",
        "rate": str(args.rate or ""),
        "burst": str(args.burst or ""),
        "strict": "yes" if args.strict else "",
    }
    running = read_service(args.instance, ENTITY_API)
    if running is not None:
        # With a token the running server may hold another one: it is restarted.
        if running.settings == wanted and not token and args.port in (None, 0, running.port):
            console.print(f"entity API already running at http://127.0.0.1:{running.port}")
            return 0
        stop_service(args.instance, ENTITY_API, grace=3)
    port = _port(args.port, DEFAULT_API_PORT, args.instance)
    service = start_service(
        args.instance,
        ENTITY_API,
        args=entity_api_args(port, rate=args.rate, burst=args.burst, strict=args.strict),
        port=port,
        health_url=f"http://127.0.0.1:{port}/_admin/stats",
        # The caller's PYTHONPATH, so the child imports `localcloud` as the caller did; the
        # token in the environment, not on the command line.
        env={**tool_env(), **({cli.TOKEN_ENVIRONMENT: token} if token else {})},
        settings=wanted,
        deadline_seconds=20.0,
    )
    console.print(f"entity API ready at http://127.0.0.1:{port} (pid {service.pid})")
    return 0


def cmd_api_stop(args: argparse.Namespace) -> int:
    if stop_service(args.instance, ENTITY_API, grace=3):
        console.print(f"stopped entity-api ({args.instance})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Print the running services as JSON (for scripts)."""
    services: dict[str, Service | None] = {
        name: read_service(args.instance, name) for name in (LOCALSTACK, POLLER, ENTITY_API)
    }
    print(json.dumps({n: (s.__dict__ if s else None) for n, s in services.items()}, indent=2))
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    for version in args.runtime:
        ensure_runtime_venv(version)
    ensure_localstack_venv()
    console.print("local cloud environments are ready")
    return 0


def _rel(path: str) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def parser() -> argparse.ArgumentParser:
    top = parser_for(__doc__, __spec__)
    top.add_argument(
        "--instance",
        default="default",
        type=cli.instance_name,
        help="state folder under .localcloud/",
    )
    sub = top.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start LocalStack (creates the environments once)")
    start.add_argument("--port", type=cli.port, help="default 4566 (0: any free port)")
    start.add_argument("--runtime", action="append", choices=PYTHON_VERSIONS, help="Lambda Python")
    start.add_argument(
        "--set", action="append", default=[], type=key_value, help="LocalStack KEY=VALUE"
    )
    start.add_argument("--restart", action="store_true", help="restart if settings differ")
    start.add_argument(
        "--esm",
        choices=["project", "localstack"],
        default="project",
        help="who polls SQS mappings: the project's poller (MaximumConcurrency invocations at "
        "once, the default) or LocalStack's own (one at a time)",
    )
    start.set_defaults(func=cmd_start)
    stop = sub.add_parser("stop", help="stop LocalStack (and with --all the entity API)")
    stop.add_argument("--all", action="store_true")
    stop.set_defaults(func=cmd_stop)
    sub.add_parser("status", help="what is running").set_defaults(func=cmd_status)
    logs = sub.add_parser("logs", help="show a service log")
    logs.add_argument(
        "service", nargs="?", default=LOCALSTACK, choices=[LOCALSTACK, POLLER, ENTITY_API]
    )
    logs.add_argument("-n", "--lines", type=cli.integer(0), default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(func=cmd_logs)
    sub.add_parser("env", help="print AWS_* exports for this instance").set_defaults(func=cmd_env)
    sub.add_parser("info", help="running services as JSON").set_defaults(func=cmd_info)
    api = sub.add_parser("api-start", help="start the local entity API server")
    api.add_argument("--port", type=cli.port, help="default 8080 (0: any free port)")
    cli.add_token_file(api, "require this bearer token")
    api.add_argument(
        "--strict", action="store_true", help="record op_ids repeated with other content"
    )
    api.add_argument(
        "--rate",
        type=cli.number(0, above_minimum=True),
        help="token bucket: requests per second (429 + Retry-After beyond it)",
    )
    api.add_argument(
        "--burst", type=cli.number(1), help="token bucket size (default: --rate); needs --rate"
    )
    api.set_defaults(func=cmd_api_start)
    sub.add_parser("api-stop", help="stop the entity API server").set_defaults(func=cmd_api_stop)
    setup = sub.add_parser("setup", help="create the environments only")
    setup.add_argument("--runtime", action="append", choices=PYTHON_VERSIONS, help="Lambda Python")
    setup.set_defaults(func=cmd_setup)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "runtime", "absent") is None:
        args.runtime = ["3.12"]
    try:
        code: int = args.func(args)
    except (ServiceError, SetupError) as error:
        cli.print_error(str(error))
        return 1
    except cli.SecretError as error:
        cli.print_error(str(error))
        return cli.USAGE_ERROR
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
