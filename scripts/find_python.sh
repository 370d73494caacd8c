#!/usr/bin/env bash
# Print the path of a CPython interpreter of the given X.Y version, or fail with a hint.
# Looks on PATH first (pythonX.Y), then in pyenv's versions folder.
set -euo pipefail
want="${1:?usage: find_python.sh X.Y}"
if command -v "python${want}" >/dev/null 2>&1; then
  candidate="$(command -v "python${want}")"
  if real="$("$candidate" -c "import sys; print(sys.executable)" 2>/dev/null)"; then echo "$real"; exit 0; fi
fi
if command -v pyenv >/dev/null 2>&1; then
  root="$(pyenv root)"
  for dir in $(ls -d "$root/versions/${want}".* 2>/dev/null | sort -V -r); do
    if [ -x "$dir/bin/python${want}" ]; then echo "$dir/bin/python${want}"; exit 0; fi
  done
fi
echo "find_python.sh: no Python ${want} found (looked for python${want} on PATH and in pyenv versions)." >&2
echo "Install it (e.g. 'pyenv install ${want}') or pass the interpreter explicitly." >&2
exit 1
