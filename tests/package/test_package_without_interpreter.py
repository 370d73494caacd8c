"""With no interpreter of the target version on the machine, the zip is built without .pyc."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from package_builds import run_build
from zip_inspection import names


def test_builds_without_bytecode_and_says_so(tmp_path: Path) -> None:
    # A PATH where python3.13 exists but does not run, and pyenv is not to be found.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / "python3.13"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    environment = {**os.environ, "PATH": f"{fake_bin}:/usr/bin:/bin"}

    run = run_build(tmp_path / "f.zip", "arm64", "3.13", env=environment)

    assert run.returncode == 0, run.stderr
    assert ".pyc          no: no Python 3.13 interpreter on this machine" in run.stdout
    entries = names(run.output)
    assert "consumer/handler.py" in entries
    assert "rpds/rpds.cpython-313-aarch64-linux-gnu.so" in entries
    assert not [name for name in entries if name.endswith(".pyc") or "__pycache__" in name]
