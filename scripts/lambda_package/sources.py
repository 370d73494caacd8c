"""Collect the handler package and schema from function/, and check the schema is valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import Draft202012Validator, validator_for

from lambda_package.errors import BuildError

HANDLER_PACKAGE = "consumer"
SCHEMA_FOLDER = "schema"
HANDLER_MODULE = Path(HANDLER_PACKAGE, "handler.py")

# Never shipped from the function folder: host bytecode caches, tests, editor and OS droppings.
_EXCLUDED_DIRS = {"__pycache__", "tests", "test", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".swp", ".orig", ".rej"}


def display(path: Path) -> str:
    """A path as the user should read it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _is_shipped(relative: Path) -> bool:
    """Whether a file below function/ belongs in the zip."""
    if any(part in _EXCLUDED_DIRS or part.startswith(".") for part in relative.parts):
        return False
    name = relative.name
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return False
    return relative.suffix not in _EXCLUDED_SUFFIXES and not name.endswith("~")


def collect_function_files(function_dir: Path) -> dict[str, Path]:
    """Map archive name -> file for the handler package and the schema folder."""
    handler = function_dir / HANDLER_MODULE
    if not handler.is_file():
        raise BuildError(
            f"{display(handler)} not found: the zip needs the handler "
            f"'{HANDLER_PACKAGE}.handler.lambda_handler' (is --function-dir right?)"
        )
    files: dict[str, Path] = {}
    for folder in (HANDLER_PACKAGE, SCHEMA_FOLDER):
        root = function_dir / folder
        if not root.is_dir():
            raise BuildError(f"{display(root)} not found: the zip needs '{folder}/' at its root")
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(function_dir)
            if path.is_file() and _is_shipped(relative):
                files[relative.as_posix()] = path
    return files


def _load_json(path: Path) -> Any:
    """Parse a JSON file, failing with the file, line and column of the problem."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise BuildError(f"{display(path)}: not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise BuildError(
            f"{display(path)}: not valid JSON: {error.msg} at line {error.lineno} "
            f"column {error.colno}"
        ) from None


def check_schemas(function_dir: Path) -> list[Path]:
    """Check every JSON file in schema/ against its meta-schema; return the files checked."""
    schemas = sorted((function_dir / SCHEMA_FOLDER).glob("*.json"))
    if not schemas:
        raise BuildError(f"{display(function_dir / SCHEMA_FOLDER)} holds no *.json schema")
    for path in schemas:
        schema = _load_json(path)
        if not isinstance(schema, dict):
            raise BuildError(f"{display(path)}: the schema must be a JSON object")
        validator = validator_for(schema, default=Draft202012Validator)
        try:
            validator.check_schema(schema)
        except SchemaError as error:
            where = error.json_path if error.path else "$"
            raise BuildError(
                f"{display(path)}: not a valid JSON Schema "
                f"(checked against {validator.META_SCHEMA.get('$id', 'its meta-schema')}): "
                f"{error.message} (at {where})"
            ) from None
    return schemas
