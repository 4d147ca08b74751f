#!/usr/bin/env bash
# `make up` and `make demo` start a real Prometheus (Debian's prometheus package) beside the
# platform. Install it when missing; when it cannot be installed, say so and let the platform run
# without it (runtime.local says the same when it finds no binary).
set -uo pipefail
command -v prometheus >/dev/null 2>&1 && exit 0
echo "==> installing prometheus (Debian package) for the local platform's metrics"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; then
  echo "==> could not install prometheus: the platform starts without it"
fi
exit 0
