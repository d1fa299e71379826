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
# tests/tls: openssl rehash (a CA directory) and DH parameters.
command -v openssl >/dev/null || need_apt+=(openssl)
command -v dpkg-source >/dev/null || need_apt+=(dpkg-dev)
# The native build (mypyc) compiles C against Python's headers.
command -v gcc >/dev/null || need_apt+=(gcc)
if [ -x /usr/bin/python3 ] && ! [ -f "$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then
    need_apt+=(python3-dev)
fi
# Debian's python3 (the one scripts/venv.sh prefers) needs python3-venv for venvs.
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null \
        && command -v apt-get >/dev/null; then
    need_apt+=(python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Debian starts a redis-server on 6379 when the package is installed; the tests
# start their own servers on free ports and never need that one.

. scripts/venv.sh
moonkv_venv '.[test]'
export PATH="$ROOT/.venv/bin:$PATH"

echo "== ruff"
ruff check src tests bench
echo "== mypy"
mypy
echo "== native build (mypyc)"
if ! moonkv native build > .venv/native-build.log 2>&1; then
    tail -40 .venv/native-build.log
    echo "the native build failed (full log: .venv/native-build.log)" >&2
    exit 1
fi
tail -1 .venv/native-build.log
# The same suite on both builds: the compiled one (what serve.sh runs and the
# benchmarks measure) and plain Python (what an edited checkout runs).
echo "== pytest (native build)"
MOONKV_EXPECT_BUILD=native pytest -q -p no:cacheprovider "$@"
echo "== pytest (pure Python)"
MOONKV_PURE_PYTHON=1 MOONKV_EXPECT_BUILD=python pytest -q -p no:cacheprovider "$@"
echo "== Redis's own test suite (native build)"
python3 tests/redis_suite/runner.py
