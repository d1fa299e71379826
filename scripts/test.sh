#!/usr/bin/env bash
# The whole test suite: installs what it needs, then lint, types, pytest
# (unit + differential against a real redis-server), and Redis's own test units.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
command -v redis-benchmark >/dev/null || need_apt+=(redis-tools)
command -v tclsh8.6 >/dev/null || need_apt+=(tcl)
command -v dpkg-source >/dev/null || need_apt+=(dpkg-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Debian starts a redis-server on 6379 when the package is installed; the tests
# start their own servers on free ports and never need that one.

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/pip install -q -e '.[test]'
export PATH="$ROOT/.venv/bin:$PATH"

echo "== ruff"
ruff check src tests bench
echo "== mypy"
mypy
echo "== pytest"
pytest -q -p no:cacheprovider "$@"
echo "== Redis's own test suite"
bash scripts/redis-suite.sh
