#!/usr/bin/env bash
# Create .venv, install the pinned dependency set when the lock changed, then the project itself
# (editable, so the `ml-serving` command runs this checkout) when pyproject.toml changed. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.installed
if ! { [ -f "$stamp" ] && [ "$stamp" -nt requirements.lock ]; }; then
  echo "==> setting up .venv (Python: $($PYTHON --version 2>&1)); this takes a few minutes the first time"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --progress-bar off -r requirements.lock
  touch "$stamp"
  echo "==> .venv ready"
fi

# The project: `ml-serving` on .venv/bin. Built by the lock's setuptools (--no-build-isolation),
# without touching the dependencies (--no-deps). A .venv that is a link to another checkout's
# keeps pointing there: this checkout runs its own code with `.venv/bin/python -m cli`.
project_stamp=.venv/.installed-project
here=$(pwd -P)
if [ "$(cd .venv && pwd -P)" != "$here/.venv" ]; then
  exit 0
fi
if [ -x .venv/bin/ml-serving ] && [ -f "$project_stamp" ] && [ "$project_stamp" -nt pyproject.toml ] \
  && [ "$(cat "$project_stamp")" = "$here" ]; then
  exit 0
fi
echo "==> installing the project (ml-serving command) into .venv"
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation --editable .
echo "$here" > "$project_stamp"
