"""scripts/tf/tf.sh beside itself: `make test` runs many terraform commands at once, and each
must read the whole provider-mirror configuration (a half-written one sends terraform to the
registry, which fails offline)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sbc_tools.paths import REPO

FAKE_TERRAFORM = """#!/usr/bin/env bash
# Stands in for terraform: prints the CLI configuration it was given.
cat "$TF_CLI_CONFIG_FILE"
"""


def test_runs_side_by_side_each_read_the_whole_mirror_configuration(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts" / "tf").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "tf" / "tf.sh", repo / "scripts" / "tf" / "tf.sh")
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "terraform").write_text(FAKE_TERRAFORM)
    (bin_dir / "terraform").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "TF_PLUGIN_DIR": str(mirror)}

    runs = [
        subprocess.Popen(  # noqa: S603 (our own script)
            [str(repo / "scripts" / "tf" / "tf.sh"), "version"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(24)
    ]
    outputs = [run.communicate()[0] for run in runs]

    assert [run.returncode for run in runs] == [0] * len(runs)
    complete = [o for o in outputs if f'path    = "{mirror}"' in o and o.rstrip().endswith("}")]
    assert len(complete) == len(runs)
