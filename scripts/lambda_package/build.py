"""Put the pieces together: check inputs, skip when unchanged, stage, compile, verify, zip."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lambda_package import bytecode, sources
from lambda_package.archive import sha256_of, write_zip
from lambda_package.dependencies import install_dependencies, requirements_hash_checked
from lambda_package.elf import elf_machine, machine_name
from lambda_package.errors import BuildError
from lambda_package.record import BuildRecord, input_digest, up_to_date, write_record
from lambda_package.targets import Target


@dataclass(frozen=True)
class BuildOptions:
    """Everything a build needs to know."""

    target: Target
    output: Path
    function_dir: Path
    requirements: Path
    cache_dir: Path
    bytecode: bool = True


@dataclass(frozen=True)
class BuildResult:
    """What the build produced, for the summary."""

    output: Path
    record: BuildRecord
    size: int
    skipped: bool


def _check_native_code(stage: Path, target: Target) -> None:
    """Fail when a binary is for another machine or a native extension for another Python."""
    for path in sorted(stage.rglob("*")):
        if not path.is_file():
            continue
        with path.open("rb") as stream:
            machine = elf_machine(stream.read(20))
        relative = path.relative_to(stage).as_posix()
        if machine is not None and machine != target.elf_machine:
            raise BuildError(
                f"{relative} is a {machine_name(machine)} binary, but the target is "
                f"{target.arch} ({target.machine}): a wheel for the wrong platform was installed"
            )
        suffixes = (target.extension_suffix, ".abi3.so")
        if path.name.endswith(".so") and not path.name.endswith(suffixes):
            raise BuildError(
                f"{relative} is not a native extension for {target.runtime} on {target.machine} "
                f"(expected a name ending in {target.extension_suffix})"
            )


def _stage(site: Path, function_files: dict[str, Path], stage: Path) -> None:
    """Copy the dependencies, then the handler package and schema, into the staging folder."""
    shutil.copytree(site, stage, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete"))
    for name, source in function_files.items():
        destination = stage / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


def build(options: BuildOptions) -> BuildResult:
    """Build the zip, or keep the existing one when none of its inputs changed."""
    target = options.target
    if not options.requirements.is_file():
        raise BuildError(
            f"requirements file {sources.display(options.requirements)} not found: it pins the "
            "handler's runtime dependencies (pass --requirements to use another file)"
        )
    function_files = sources.collect_function_files(options.function_dir)
    sources.check_schemas(options.function_dir)
    interpreter = bytecode.find_interpreter(target.python_version) if options.bytecode else None
    settings = {
        "arch": target.arch,
        "python": target.python_version,
        "bytecode": interpreter.version if interpreter else "",
    }
    digest = input_digest(settings, {**function_files, "requirements": options.requirements})
    previous = up_to_date(options.output, digest)
    if previous is not None:
        return BuildResult(options.output, previous, options.output.stat().st_size, skipped=True)

    site = install_dependencies(options.requirements, target, options.cache_dir)
    stage_parent = options.cache_dir / "stage"
    stage_parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f"{target.arch}-{target.cpython_tag}-", dir=stage_parent))
    try:
        _stage(site, function_files, stage)
        if interpreter is not None:
            bytecode.compile_tree(interpreter, stage)
        _check_native_code(stage, target)
        files = {p.relative_to(stage).as_posix(): p for p in stage.rglob("*") if p.is_file()}
        write_zip(files, options.output)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    record = BuildRecord(
        inputs_sha256=digest,
        zip_sha256=sha256_of(options.output),
        file_count=len(files),
        bytecode=interpreter.version if interpreter else "",
        hash_checked=requirements_hash_checked(options.requirements),
    )
    write_record(options.output, record)
    return BuildResult(options.output, record, options.output.stat().st_size, skipped=False)
