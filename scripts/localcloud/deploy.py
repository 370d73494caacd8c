"""Apply, plan and destroy the Terraform root (`terraform/`) in a local LocalStack instance.

    python -m localcloud.deploy apply --instance default --name demo --var batch_size=20 ...
    python -m localcloud.deploy plan --instance integration     # exit 0: no changes
    python -m localcloud.deploy destroy --instance integration
    python -m localcloud.deploy apply --instance integration --stack short --name other ...

The instance's LocalStack must be running (`python -m localcloud`), and its entity API server
too unless `--var entity_api_url=...` names another API. The token (`--token-file`, or
$ENTITY_API_TOKEN) is stored as an SSM SecureString, never on a command line.
Terraform state, its data folder and the variables live in `.localcloud/<instance>/terraform/`;
the outputs are recorded in `.localcloud/<instance>/stack.json` for the other tools. `--stack
NAME` applies a further stack into the same LocalStack (and entity API server), with its state
and outputs in `.localcloud/<instance>/stacks/NAME/`; `--api-instance OTHER` points it at the
entity API server started for OTHER instead (`python -m localcloud --instance OTHER api-start`),
so that tests of two stacks can reset and fault their own servers side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from lambda_package.targets import PYTHON_VERSIONS, host_architecture
from localcloud.services import read_service, tail
from sbc_tools import cli
from sbc_tools.cli import console, key_value, parser_for
from sbc_tools.ops import stack as stack_lookup
from sbc_tools.paths import REPO

TF = str(REPO / "scripts" / "tf" / "tf.sh")
ROOT = REPO / "terraform"


class DeployError(RuntimeError):
    """A Terraform step failed; the message says where to look."""


def _folder(instance: str, stack: str | None = None) -> Path:
    folder = stack_lookup.stack_dir(instance, stack) / "terraform"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _environment(instance: str, stack: str | None = None) -> dict[str, str]:
    localstack = read_service(instance, "localstack")
    if localstack is None:
        raise DeployError(f"LocalStack ({instance}) is not running: start it first")
    env = dict(os.environ)
    env.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{localstack.port}",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TF_DATA_DIR": str(_folder(instance, stack) / "data"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
    )
    env.pop("AWS_PROFILE", None)
    return env


def _terraform(
    instance: str,
    args: list[str],
    what: str,
    log_name: str,
    *,
    deadline: float = 600.0,
    stack: str | None = None,
) -> int:
    """Run terraform with a one-line progress display; the full output goes to a log.

    A run that outlives `deadline` seconds is interrupted (it fails with a message).
    """
    log = _folder(instance, stack) / f"{log_name}.log"
    env = _environment(instance, stack)
    started = time.monotonic()
    done = 0
    with log.open("w") as out, console.status(f"{what} ...") as status:
        process = subprocess.Popen(
            [TF, f"-chdir={ROOT}", *args, "-no-color"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        watchdog = threading.Timer(deadline, process.kill)
        watchdog.start()
        assert process.stdout is not None  # noqa: S101 (stdout=PIPE)
        for line in process.stdout:
            out.write(line)
            if "complete after" in line:
                done += 1
            status.update(f"{what} ... {done} resources, {time.monotonic() - started:.0f} s")
        code = process.wait()
        watchdog.cancel()
    seconds = time.monotonic() - started
    if seconds >= deadline:
        raise DeployError(f"{what} did not finish in {deadline:.0f} s; log: {log}\n{tail(log)}")
    if code not in (0, 2) or (code == 2 and "-detailed-exitcode" not in args):
        raise DeployError(
            f"{what} failed (exit {code}) after {seconds:.0f} s; log: {log}\n{tail(log)}"
        )
    console.print(f"    {what}: done in {seconds:.0f} s")
    return code


def _state_args(instance: str, stack: str | None = None) -> list[str]:
    folder = _folder(instance, stack)
    return [f"-state={folder / 'terraform.tfstate'}", f"-var-file={folder / 'stack.tfvars.json'}"]


def init(instance: str, stack: str | None = None) -> None:
    args = ["init", "-input=false", "-lockfile=readonly"]
    _terraform(instance, args, "terraform init", "init", stack=stack)


def write_variables(instance: str, variables: dict[str, Any], stack: str | None = None) -> None:
    text = json.dumps(variables, indent=2) + "\n"
    (_folder(instance, stack) / "stack.tfvars.json").write_text(text)


def apply(instance: str, api_base: str | None = None, stack: str | None = None) -> dict[str, Any]:
    """Apply the root configuration and record its outputs (with `api_base`, the local entity
    API server the stack talks to, if it does); returns the outputs."""
    init(instance, stack)
    _terraform(
        instance,
        ["apply", "-auto-approve", "-input=false", *_state_args(instance, stack)],
        "terraform apply",
        "apply",
        stack=stack,
    )
    state = _folder(instance, stack) / "terraform.tfstate"
    result = subprocess.run(
        [TF, f"-chdir={ROOT}", "output", "-json", f"-state={state}"],
        capture_output=True,
        text=True,
        env=_environment(instance, stack),
        check=False,
    )
    if result.returncode != 0:
        raise DeployError(f"terraform output failed: {result.stderr.strip()}")
    outputs: dict[str, Any] = json.loads(result.stdout)
    env = _environment(instance, stack)
    stack_lookup.save(instance, outputs, env["AWS_ENDPOINT_URL"], api_base, stack)
    return outputs


def plan_has_changes(instance: str, stack: str | None = None) -> bool:
    """`terraform plan -detailed-exitcode`: True when the plan is not empty."""
    args = ["plan", "-input=false", "-detailed-exitcode", "-lock=false"]
    args += _state_args(instance, stack)
    return _terraform(instance, args, "terraform plan", "plan", stack=stack) == 2


def _forget_redrive_allow_policies(instance: str, stack: str | None = None) -> None:
    """Drop `aws_sqs_queue_redrive_allow_policy` resources from the state before a destroy.

    LocalStack answers an emptied RedriveAllowPolicy as "" instead of leaving it out, and the
    AWS provider waits for it to disappear for 20 minutes. Deleting the DLQ (which the destroy
    does next) removes the policy with it, so nothing is left behind.
    """
    state = f"-state={_folder(instance, stack) / 'terraform.tfstate'}"
    env = _environment(instance, stack)
    listed = subprocess.run(
        [TF, f"-chdir={ROOT}", "state", "list", state],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    for address in listed.stdout.split():
        if ".aws_sqs_queue_redrive_allow_policy." in f".{address}":
            subprocess.run(
                [TF, f"-chdir={ROOT}", "state", "rm", state, address],
                capture_output=True,
                env=env,
                check=False,
            )


def destroy(instance: str, stack: str | None = None) -> None:
    if not (_folder(instance, stack) / "terraform.tfstate").exists():
        return
    _forget_redrive_allow_policies(instance, stack)
    _terraform(
        instance,
        ["destroy", "-auto-approve", "-input=false", *_state_args(instance, stack)],
        "terraform destroy",
        "destroy",
        deadline=180.0,
        stack=stack,
    )
    Path(stack_lookup.stack_file(instance, stack)).unlink(missing_ok=True)


def put_token_parameter(instance: str, name: str, token: str) -> None:
    """Store the entity API token as an SSM SecureString in the instance's LocalStack."""
    env = _environment(instance)
    stack = stack_lookup.Stack(queue_url="", endpoint_url=env["AWS_ENDPOINT_URL"])
    stack.client("ssm").put_parameter(Name=name, Value=token, Type="SecureString", Overwrite=True)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def local_api_base(instance: str) -> str | None:
    """The base URL of the instance's local entity API server, when it runs."""
    api = read_service(instance, "entity-api")
    return f"http://127.0.0.1:{api.port}" if api else None


def stack_variables(
    api_instance: str, *, name: str, package: str, runtime: str, assignments: list[str]
) -> dict[str, Any]:
    """The root's variables: this machine's zip and architecture, the entity API server of
    `api_instance` (required only when no `entity_api_url` is given), then the `--var`
    assignments."""
    given = dict(item.split("=", 1) for item in assignments)
    variables: dict[str, Any] = {
        "name": name,
        "package_path": str(Path(package).resolve()),
        "architecture": host_architecture(),
        "runtime": runtime,
    }
    if "entity_api_url" not in given:
        base = local_api_base(api_instance)
        if base is None:
            raise DeployError(
                f"the entity API server ({api_instance}) is not running: start it "
                "(python -m localcloud api-start) or pass --var entity_api_url=..."
            )
        variables["entity_api_url"] = f"{base}/v1/operations:batch"
    for key, value in given.items():
        variables[key] = _parse_value(value)
    return variables


def _parser() -> cli.ArgumentParser:
    parser = parser_for(__doc__, __spec__)
    parser.add_argument("command", choices=["apply", "plan", "destroy"])
    parser.add_argument("--instance", default="default", type=cli.instance_name)
    parser.add_argument(
        "--stack",
        type=cli.instance_name,
        help="a further stack in the same instance, with its own state "
        "(.localcloud/INSTANCE/stacks/STACK/); default: the instance's main stack",
    )
    parser.add_argument("--name", default="demo", help="the stack's `name` variable")
    parser.add_argument(
        "--api-instance",
        type=cli.instance_name,
        help="use the entity API server started for this instance (default: --instance's)",
    )
    parser.add_argument("--package", default=str(REPO / "dist" / "function-local.zip"))
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        type=key_value,
        help="KEY=VALUE (JSON values)",
    )
    cli.add_token_file(parser, "entity API token, stored as an SSM SecureString")
    parser.add_argument(
        "--runtime",
        default="python3.12",
        choices=[f"python{v}" for v in PYTHON_VERSIONS],
        help="Lambda runtime of the zip",
    )
    return parser


def _apply(args: argparse.Namespace) -> None:
    """`apply`: the variables (and the token's SSM parameter), then terraform apply."""
    token = cli.read_token(args.token_file)
    api_instance = args.api_instance or args.instance
    variables = stack_variables(
        api_instance,
        name=args.name,
        package=args.package,
        runtime=args.runtime,
        assignments=args.var,
    )
    if token:
        parameter = f"/{args.name}/entity-api-token"
        put_token_parameter(args.instance, parameter, token)
        variables["entity_api_token_parameter_name"] = parameter
    write_variables(args.instance, variables, args.stack)
    local_api = local_api_for(str(variables["entity_api_url"]), local_api_base(api_instance))
    apply(args.instance, local_api, args.stack)


def local_api_for(entity_api_url: str, base: str | None) -> str | None:
    """`base`, the local entity API's, when the stack's URL is one of its paths; else None
    (the stack talks to another API, and the deploy does not need the local one running)."""
    return base if base is not None and entity_api_url.startswith(base + "/") else None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "apply":
            _apply(args)
        elif args.command == "plan":
            changes = plan_has_changes(args.instance, args.stack)
            console.print("plan: changes pending" if changes else "plan: no changes")
            return 2 if changes else 0
        else:
            destroy(args.instance, args.stack)
    except DeployError as error:
        cli.print_error(str(error))
        return 1
    except cli.SecretError as error:
        cli.print_error(str(error))
        return cli.USAGE_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
