"""Every command-line tool refuses a wrong argument with one line naming it and exit status 2."""

from __future__ import annotations

import importlib
import subprocess

import pytest

from sbc_tools.paths import REPO


@pytest.mark.parametrize(
    ("module", "argv", "named"),
    [
        ("localcloud.__main__", ["--instance", "/", "status"], "--instance"),
        ("localcloud.__main__", ["--instance", "../..", "stop", "--all"], "--instance"),
        ("localcloud.__main__", ["--instance", "Default", "status"], "--instance"),
        ("localcloud.__main__", ["--instance", "-x", "status"], "--instance"),
        ("localcloud.__main__", ["--instance", "a" * 33, "status"], "--instance"),
        ("localcloud.__main__", ["logs", "--lines", "-1"], "--lines"),
        ("localcloud.__main__", ["start", "--port", "-5"], "--port"),
        ("localcloud.__main__", ["api-start", "--port", "70000"], "--port"),
        ("localcloud.__main__", ["api-start", "--rate", "nan"], "--rate"),
        ("localcloud.__main__", ["api-start", "--token", "secret"], "--token"),
        ("localcloud.deploy", ["apply", "--instance", "../x"], "--instance"),
        ("localcloud.deploy", ["apply", "--stack", "../x"], "--stack"),
        ("localcloud.deploy", ["destroy", "--stack", "Short"], "--stack"),
        ("localcloud.deploy", ["apply", "--var", "no-value"], "--var"),
        ("localcloud.deploy", ["apply", "--runtime", "python2.7"], "--runtime"),
        ("localcloud.reset", ["--instance", "a/b"], "--instance"),
        ("sbc_tools.ops.publish", ["--poison-percent", "inf"], "--poison-percent"),
        ("sbc_tools.ops.publish", ["--duplicate-percent", "101"], "--duplicate-percent"),
        ("sbc_tools.ops.publish", ["--entities", "-3"], "--entities"),
        ("sbc_tools.ops.publish", ["--count", "many"], "--count"),
        ("sbc_tools.ops.publish", ["--concurrency", "0"], "--concurrency"),
        ("sbc_tools.ops.redrive", ["--limit", "-1"], "--limit"),
        ("sbc_tools.ops.redrive", ["--error-code", "lost"], "--error-code"),
        ("sbc_tools.ops.report", ["--since-minutes", "nan"], "--since-minutes"),
        ("sbc_tools.ops.drain", ["--timeout", "0"], "--timeout"),
        ("sbc_tools.ops.drain", ["--expect", "-1"], "--expect"),
        ("sbc_tools.ops.logs", ["--lines", "-2"], "--lines"),
        ("bench.e2e", ["--paced-rate", "0"], "--paced-rate"),
        ("lambda_package.__main__", ["--python-version", "3.12", "--output", "x.zip"], "--arch"),
    ],
)
def test_a_wrong_argument_is_one_line_naming_it_and_exit_2(
    module: str, argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main = importlib.import_module(module).main

    with pytest.raises(SystemExit) as stopped:
        main(argv)

    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert err.count("\n") == 1, err
    assert named in err
    assert "Traceback" not in err


def test_make_help_writes_no_colour_codes_into_a_pipe() -> None:
    run = subprocess.run(
        ["make", "--no-print-directory", "help"],  # noqa: S607 (make from PATH, as a user runs it)
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout
    assert "  test " in run.stdout
