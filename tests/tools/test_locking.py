"""`python -m locking`: a lock cut down to the wheels the Lambda targets install."""

from __future__ import annotations

from pathlib import Path

import pytest

from locking.__main__ import main

DIGEST = {name: f"{n:x}" * 64 for n, name in enumerate("abcdefg", start=1)}


def _hash_lines(*names: str) -> str:
    return " \\\n".join(f"    --hash=sha256:{DIGEST[n][:64]}" for n in names)


REQUIREMENTS = f"""# header kept
fast-lib==1.0 \\
{_hash_lines("a", "b", "c", "d", "e", "f")}
    # via -r function/requirements.in
pure==2.0 \\
{_hash_lines("g")}
    # via fast-lib
"""


def _wheel(filename: str, digest: str) -> str:
    return f'{{ url = "https://x/{filename}", hashes = {{ sha256 = "{DIGEST[digest]}" }} }},'


FAST_LIB_WHEELS = [
    ("fast_lib-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "b"),
    ("fast_lib-1.0-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "c"),
    ("fast_lib-1.0-cp312-cp312-musllinux_1_2_x86_64.whl", "d"),
    ("fast_lib-1.0-cp312-cp312-win_amd64.whl", "e"),
    ("fast_lib-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "f"),
]
PYLOCK = f"""
lock-version = "1.0"
[[packages]]
name = "fast-lib"
version = "1.0"
sdist = {{ url = "https://x/fast_lib-1.0.tar.gz", hashes = {{ sha256 = "{DIGEST["a"]}" }} }}
wheels = [
{chr(10).join(_wheel(name, digest) for name, digest in FAST_LIB_WHEELS)}
]
[[packages]]
name = "pure"
version = "2.0"
wheels = [{_wheel("pure-2.0-py3-none-any.whl", "g").rstrip(",")}]
"""


def _run(tmp_path: Path, requirements: str, pylock: str) -> str:
    (tmp_path / "requirements.txt").write_text(requirements)
    (tmp_path / "pylock.function.toml").write_text(pylock)
    main([str(tmp_path / "requirements.txt"), "--pylock", str(tmp_path / "pylock.function.toml")])
    return (tmp_path / "requirements.txt").read_text()


def test_only_the_lambda_wheels_keep_their_hashes(tmp_path: Path) -> None:
    text = _run(tmp_path, REQUIREMENTS, PYLOCK)
    assert text == (
        "# header kept\nfast-lib==1.0 \\\n"
        f"{_hash_lines('b', 'c')}\n"
        "    # via -r function/requirements.in\npure==2.0 \\\n"
        f"{_hash_lines('g')}\n"
        "    # via fast-lib\n"
    )


def test_a_package_with_no_lambda_wheel_is_refused(tmp_path: Path) -> None:
    only_windows = PYLOCK.replace("py3-none-any", "cp312-cp312-win_amd64")
    with pytest.raises(SystemExit, match="no wheel for the target platforms: pure"):
        _run(tmp_path, REQUIREMENTS, only_windows)
