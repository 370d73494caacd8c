"""Wrong input fails the build with one readable line naming the problem, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from package_builds import REPO_ROOT, BuildRun, run_build


def copy_function_dir(tmp_path: Path) -> Path:
    """A private copy of function/ to break."""
    destination = tmp_path / "function"
    shutil.copytree(REPO_ROOT / "function", destination)
    return destination


def assert_fails_clearly(run: BuildRun, *fragments: str) -> None:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert run.stderr.startswith("build_package: error: "), run.stderr
    for fragment in fragments:
        assert fragment in run.stderr, run.stderr
    assert not run.output.exists()


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        ("amd64", "unknown architecture 'amd64' (Lambda calls it 'x86_64'): use arm64 or x86_64"),
        ("sparc", "unknown architecture 'sparc': use arm64 or x86_64"),
    ],
)
def test_unknown_architecture(tmp_path: Path, arch: str, expected: str) -> None:
    assert_fails_clearly(run_build(tmp_path / "f.zip", arch, "3.12"), expected)


def test_unknown_python_version(tmp_path: Path) -> None:
    run = run_build(tmp_path / "f.zip", "arm64", "3.11")
    assert_fails_clearly(run, "unknown Python version '3.11'", "3.12 or 3.13")


def test_missing_requirements_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "requirements.txt"
    run = run_build(tmp_path / "f.zip", "arm64", "3.12", "--requirements", str(missing))
    assert_fails_clearly(run, f"requirements file {missing} not found")


def test_unresolvable_requirement(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jsonschema==0.0.0.404\n")
    run = run_build(tmp_path / "f.zip", "arm64", "3.12", "--requirements", str(requirements))
    assert_fails_clearly(run, "pip could not install", "python3.12 arm64", "jsonschema==0.0.0.404")


def test_boto3_is_refused(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("botocore==1.44.8\n")
    run = run_build(tmp_path / "f.zip", "x86_64", "3.12", "--requirements", str(requirements))
    assert_fails_clearly(run, "pulls in botocore", "the Lambda Python runtime provides boto3")


def test_schema_that_breaks_its_meta_schema(tmp_path: Path) -> None:
    function_dir = copy_function_dir(tmp_path)
    schema_file = function_dir / "schema" / "entity_change.schema.json"
    schema = json.loads(schema_file.read_text())
    schema["properties"]["op"] = {"enum": "create"}  # enum must be an array
    schema_file.write_text(json.dumps(schema))
    run = run_build(tmp_path / "f.zip", "arm64", "3.12", "--function-dir", str(function_dir))
    assert_fails_clearly(
        run,
        f"{schema_file}: not a valid JSON Schema",
        "draft/2020-12",
        "'create' is not of type 'array'",
        "$.properties.op.enum",
    )


def test_schema_that_is_not_json(tmp_path: Path) -> None:
    function_dir = copy_function_dir(tmp_path)
    schema_file = function_dir / "schema" / "entity_change.schema.json"
    schema_file.write_text('{\n  "type": "object",\n}\n')
    run = run_build(tmp_path / "f.zip", "arm64", "3.12", "--function-dir", str(function_dir))
    assert_fails_clearly(run, f"{schema_file}: not valid JSON", "line 3 column 1")


def test_missing_handler(tmp_path: Path) -> None:
    function_dir = copy_function_dir(tmp_path)
    (function_dir / "consumer" / "handler.py").unlink()
    run = run_build(tmp_path / "f.zip", "arm64", "3.12", "--function-dir", str(function_dir))
    assert_fails_clearly(run, "consumer/handler.py not found", "consumer.handler.lambda_handler")


def test_wrong_hash_is_refused(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.17.0 --hash=sha256:" + "0" * 64 + "\n")
    run = run_build(tmp_path / "f.zip", "arm64", "3.12", "--requirements", str(requirements))
    assert_fails_clearly(run, "pip could not install", "DO NOT MATCH THE HASHES")
