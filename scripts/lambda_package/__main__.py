"""Build the Lambda deployment zip for a target architecture and Python runtime.

Usage: python -m lambda_package --arch arm64|x86_64|host --python-version 3.12|3.13 \
           --output dist/function.zip
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lambda_package.build import BuildOptions, BuildResult, build
from lambda_package.errors import BuildError
from lambda_package.sources import display
from lambda_package.targets import ARCHITECTURES, PYTHON_VERSIONS, Target, host_architecture
from sbc_tools.cli import parser_for
from sbc_tools.paths import REPO


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line; architecture and version are checked by Target for clearer errors."""
    parser = parser_for(__doc__, __spec__)
    parser.add_argument(
        "--arch",
        required=True,
        help=f"Lambda architecture: {' | '.join(ARCHITECTURES)} | host (this machine's)",
    )
    parser.add_argument(
        "--python-version",
        required=True,
        help=f"Lambda Python runtime: {' | '.join(PYTHON_VERSIONS)}",
    )
    parser.add_argument(
        "--output", required=True, type=Path, help="zip to write, e.g. dist/function.zip"
    )
    parser.add_argument(
        "--function-dir", type=Path, default=REPO / "function",
        help="folder holding consumer/ and schema/ (default: function/)",
    )  # fmt: skip
    parser.add_argument(
        "--requirements", type=Path, default=None,
        help="pinned runtime requirements (default: <function-dir>/requirements.txt)",
    )  # fmt: skip
    parser.add_argument(
        "--cache-dir", type=Path, default=REPO / ".cache" / "package",
        help="where installed dependencies and the pip cache are kept (default: .cache/package)",
    )  # fmt: skip
    parser.add_argument(
        "--no-bytecode", action="store_true", help="ship no .pyc files (for comparisons)"
    )
    return parser.parse_args(argv)


def _bytecode_line(result: BuildResult, target: Target, disabled: bool) -> str:
    """Say whether .pyc files are in the zip, and why not when they are not."""
    if result.record.bytecode:
        return f"yes, compiled by Python {result.record.bytecode} (unchecked-hash)"
    if disabled:
        return "no (--no-bytecode)"
    return (
        f"no: no Python {target.python_version} interpreter on this machine "
        "(scripts/find_python.sh); the runtime will compile modules at every cold start"
    )


def summary(result: BuildResult, target: Target, bytecode_disabled: bool) -> str:
    """A readable report of the build."""
    record = result.record
    status = "skipped: inputs unchanged, kept the existing zip" if result.skipped else "built"
    rows = [
        ("zip", display(result.output)),
        ("runtime", f"{target.runtime} ({target.cpython_tag})"),
        ("architecture", f"{target.arch} ({target.platform_tag})"),
        ("size", f"{result.size:,} bytes ({result.size / 1024 / 1024:.2f} MiB)"),
        ("files", f"{record.file_count:,}"),
        ("sha256", record.zip_sha256),
        (".pyc", _bytecode_line(result, target, bytecode_disabled)),
        ("hash-checked", "yes" if record.hash_checked else "no (requirements have no --hash)"),
        ("build", status),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


def main(argv: list[str] | None = None) -> int:
    """Run the build; print a summary, or one clear error line and exit non-zero."""
    arguments = parse_arguments(argv)
    try:
        arch = host_architecture() if arguments.arch == "host" else arguments.arch
        target = Target.parse(arch, arguments.python_version)
        function_dir: Path = arguments.function_dir
        options = BuildOptions(
            target=target,
            output=arguments.output,
            function_dir=function_dir,
            requirements=arguments.requirements or function_dir / "requirements.txt",
            cache_dir=arguments.cache_dir,
            bytecode=not arguments.no_bytecode,
        )
        result = build(options)
    except BuildError as error:
        print(f"build_package: error: {error}", file=sys.stderr)
        return 1
    print(f"==> Lambda package for {target.runtime} on {target.arch}")
    print(summary(result, target, arguments.no_bytecode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
