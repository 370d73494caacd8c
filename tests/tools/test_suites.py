"""scripts/testing/suites.sh: suites side by side, each suite's commands in a row (all of
them, also after a failure), a failed suite's log shown, the times listed, the exit status
non-zero when any suite failed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sbc_tools.paths import REPO


def _run(tmp_path: Path, *suites: str) -> subprocess.CompletedProcess[str]:
    # A copy of the script in a scratch repository layout: its logs land in tmp_path/.cache.
    script = tmp_path / "scripts" / "testing" / "suites.sh"
    script.parent.mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "testing" / "suites.sh", script)  # executable, as committed
    return subprocess.run(  # noqa: S603 (our own script)
        [str(script), *suites], capture_output=True, text=True, check=False
    )


def test_all_suites_pass(tmp_path: Path) -> None:
    run = _run(tmp_path, "one=echo first,echo second", "two=true")

    assert run.returncode == 0, run.stdout + run.stderr
    assert "one: ok" in run.stdout
    assert "two: ok" in run.stdout
    log = (tmp_path / ".cache" / "test" / "one.log").read_text()
    assert log.index("first") < log.index("second")
    times = [line.split() for line in run.stdout.splitlines() if line.startswith("  ")]
    assert [row[1:] for row in times] == [["one", "echo", "first"], ["one", "echo", "second"],
                                          ["two", "true"]]  # fmt: skip


def test_a_failed_suite_still_runs_the_rest_shows_its_log_and_fails(tmp_path: Path) -> None:
    run = _run(tmp_path, "good=true", "bad=echo reached,false,echo after,true")

    assert run.returncode == 1
    assert "good: ok" in run.stdout
    assert "bad: FAILED (exit 1)" in run.stdout
    assert "reached" in run.stdout  # the failed suite's log is shown
    assert "after" in (tmp_path / ".cache" / "test" / "bad.log").read_text()
    assert run.stdout.rstrip().endswith("==> FAILED: bad")
