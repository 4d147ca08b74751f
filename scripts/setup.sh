#!/usr/bin/env bash
# Create .venv and install the pinned dependency set when the lock changed. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt requirements.lock ]; then
  exit 0
fi
echo "==> setting up .venv (Python: $($PYTHON --version 2>&1)); this takes a few minutes the first time"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --progress-bar off -r requirements.lock
touch "$stamp"
echo "==> .venv ready"
