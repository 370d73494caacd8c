#!/usr/bin/env python3
"""Package benchmark: zip size and cold import time of the handler against its dependencies.

Builds the zip for this machine's architecture (so its native code can load) with and without
.pyc, unzips each, then times imports in fresh isolated interpreters of the target version
(`-I -S -B`: no site-packages, no bytecode written, like Lambda's read-only /var/task):
`import consumer.handler` against `import jsonschema, urllib3` alone from the same folder.
Prints medians and ratios against the budgets; asserts nothing.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lambda_package.build import BuildOptions, build
from lambda_package.bytecode import Interpreter, find_interpreter
from lambda_package.errors import BuildError
from lambda_package.targets import Target, host_architecture
from sbc_tools.cli import parser_for
from sbc_tools.paths import REPO

WORK_DIR = REPO / "build" / "bench-package"
SIZE_BUDGET_BYTES = 1_500_000
RATIO_BUDGET = 1.15
BASELINE = "jsonschema + urllib3"
HANDLER = "consumer.handler"
IMPORTS = {BASELINE: "import jsonschema, urllib3", HANDLER: "import consumer.handler"}
# Settings the handler may read at import; nothing is called.
HANDLER_ENVIRONMENT = {
    "ENTITY_API_URL": "http://127.0.0.1:9/v1/operations:batch",
    "DLQ_URL": "http://127.0.0.1:9/000000000000/bench-dlq",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_TIMER = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); start = time.perf_counter_ns(); "
    "{statement}; sys.stdout.write(str(time.perf_counter_ns() - start))"
)


@dataclass(frozen=True)
class Variant:
    """One unzipped package: with or without .pyc."""

    label: str
    zip_path: Path
    code_dir: Path


@dataclass(frozen=True)
class Timing:
    """Median import time inside the process and wall time of the whole process, in ms."""

    import_ms: float
    process_ms: float


def build_variant(target: Target, with_pyc: bool) -> Variant:
    """Build (or reuse) the zip and unzip it into a fresh folder."""
    label = "with .pyc" if with_pyc else "without .pyc"
    suffix = "pyc" if with_pyc else "nopyc"
    zip_path = WORK_DIR / f"function-{target.arch}-{target.python_version}-{suffix}.zip"
    build(
        BuildOptions(
            target=target,
            output=zip_path,
            function_dir=REPO / "function",
            requirements=REPO / "function" / "requirements.txt",
            cache_dir=REPO / ".cache" / "package",
            bytecode=with_pyc,
        )
    )
    code_dir = WORK_DIR / f"task-{suffix}"
    shutil.rmtree(code_dir, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(code_dir)
    return Variant(label, zip_path, code_dir)


def time_import(interpreter: Interpreter, code_dir: Path, statement: str) -> tuple[float, float]:
    """One fresh process: (import ms measured inside it, whole-process wall ms)."""
    environment = {"PATH": os.environ.get("PATH", ""), **HANDLER_ENVIRONMENT}
    command = [str(interpreter.path), "-I", "-S", "-B", "-c", _TIMER.format(statement=statement)]
    started = time.perf_counter()
    result = subprocess.run(
        [*command, str(code_dir)], capture_output=True, text=True, env=environment, check=False
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise BuildError(f"`{statement}` failed from {code_dir}:\n{result.stderr.strip()}")
    return int(result.stdout) / 1e6, wall_ms


def measure(
    interpreter: Interpreter, variants: list[Variant], runs: int
) -> dict[tuple[str, str], Timing]:
    """Median timings per (variant, import), interleaving runs so drift hits all alike."""
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(runs):
        for variant in variants:
            for name, statement in IMPORTS.items():
                sample = time_import(interpreter, variant.code_dir, statement)
                samples.setdefault((variant.label, name), []).append(sample)
    return {
        key: Timing(
            import_ms=statistics.median(s[0] for s in values),
            process_ms=statistics.median(s[1] for s in values),
        )
        for key, values in samples.items()
    }


def verdict(ok: bool) -> str:
    """A word for a budget check."""
    return "within budget" if ok else "OVER BUDGET"


def report(
    target: Target,
    interpreter: Interpreter,
    variants: list[Variant],
    timings: dict[tuple[str, str], Timing],
    runs: int,
) -> str:
    """The readable table."""
    lines = [
        f"==> Package benchmark: {target.runtime} on {target.arch}, Python {interpreter.version}",
        "",
        f"  {'zip':<14}{'bytes':>12}{'MiB':>8}   budget <= {SIZE_BUDGET_BYTES:,} bytes with .pyc",
    ]
    for variant in variants:
        size = variant.zip_path.stat().st_size
        check = verdict(size <= SIZE_BUDGET_BYTES) if variant is variants[0] else ""
        lines.append(f"  {variant.label:<14}{size:>12,}{size / 1048576:>8.2f}   {check}")
    lines += [
        "",
        f"  cold import, a fresh `python -I -S -B` per run, median of {runs} runs, ms",
        f"  {'':<24}" + "".join(f"{v.label:>26}" for v in variants),
        f"  {'import':<24}" + "".join(f"{'in-process':>14}{'process':>12}" for _ in variants),
    ]
    for name in IMPORTS:
        cells = (timings[v.label, name] for v in variants)
        lines.append(
            f"  {name:<24}" + "".join(f"{t.import_ms:>14.1f}{t.process_ms:>12.1f}" for t in cells)
        )
    ratios = [
        timings[v.label, HANDLER].import_ms / timings[v.label, BASELINE].import_ms for v in variants
    ]
    lines.append(f"  {'ratio handler / deps':<24}" + "".join(f"{r:>14.2f}{'':>12}" for r in ratios))
    lines += [
        "",
        f"  handler / deps with .pyc: {ratios[0]:.2f} (budget <= {RATIO_BUDGET}): "
        + verdict(ratios[0] <= RATIO_BUDGET),
    ]
    with_pyc, without_pyc = (timings[v.label, HANDLER].import_ms for v in variants)
    lines.append(f"  .pyc speed-up of the handler import: {without_pyc / with_pyc:.2f}x")
    return "\n".join(line.rstrip() for line in lines)


def main() -> int:
    """Build, unzip, time and print."""
    parser = parser_for(__doc__, __spec__)
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per measurement")
    parser.add_argument("--python-version", default="3.12", help="target runtime (3.12 or 3.13)")
    arguments = parser.parse_args()
    try:
        target = Target.parse(host_architecture(), arguments.python_version)
        interpreter = find_interpreter(target.python_version)
        if interpreter is None:
            raise BuildError(
                f"no Python {target.python_version} on this machine to time imports with"
            )
        variants = [build_variant(target, with_pyc=True), build_variant(target, with_pyc=False)]
        timings = measure(interpreter, variants, arguments.runs)
    except BuildError as error:
        print(f"bench_package: error: {error}", file=sys.stderr)
        return 1
    print(report(target, interpreter, variants, timings, arguments.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
