"""The x86_64 zip runs on its own: unzipped, imported by a bare 3.12 and handling a real event."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

from localcloud.entity_api_server import EntityApiServer

HERE = Path(__file__).resolve().parent


def test_unzipped_package_handles_an_event_without_site_packages(
    zips: Callable[[str, str], Path], python_312: Path, tmp_path: Path
) -> None:
    code_dir = tmp_path / "task"
    code_dir.mkdir()
    with zipfile.ZipFile(zips("x86_64", "3.12")) as archive:
        archive.extractall(code_dir)
    result_file = tmp_path / "result.json"
    with EntityApiServer() as api:
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "ENTITY_API_URL": api.endpoint_url,
            "DLQ_URL": "http://127.0.0.1:9/000000000000/entity-changes-dlq",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        run = subprocess.run(  # noqa: S603  (the target interpreter, our runner)
            [str(python_312), "-I", "-S", "-B", str(HERE / "invoke_isolated.py"),
             str(code_dir), str(HERE / "sqs_event.json"), str(result_file)],
            capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=60, check=False,
        )  # fmt: skip
        assert run.returncode == 0, f"handler failed in isolation:\n{run.stdout}\n{run.stderr}"
        entities = api.entities()
        stats = api.stats()

    report = json.loads(result_file.read_text())
    assert report["result"] == {"batchItemFailures": []}
    assert report["site"] is False
    for module, location in report["loaded_from"].items():
        assert location is not None, f"{module} was not imported"
        assert Path(location).is_relative_to(code_dir), f"{module} came from {location}"
    assert entities == {"order:1": {"status": "paid", "total": 10}, "customer:c-7": {"name": "Ada"}}
    assert stats["applied"] >= 2
