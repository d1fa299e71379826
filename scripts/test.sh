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
# tests/cluster: cluster mode's coordination runs on a real etcd (docs/cluster.md).
command -v etcd >/dev/null || need_apt+=(etcd-server)
# tests/tls: openssl rehash (a CA directory) and DH parameters.
command -v openssl >/dev/null || need_apt+=(openssl)
command -v dpkg-source >/dev/null || need_apt+=(dpkg-dev)
# The wheel's request path (mypyc) compiles C against Python's headers.
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
# Debian starts a redis-server on 6379 (and etcd-server an etcd on 2379) when the
# package is installed; the tests start their own on free ports and never need those.

. scripts/venv.sh
moonkv_venv '.[test,cluster]'
export PATH="$ROOT/.venv/bin:$PATH"

echo "== ruff"
ruff check setup.py src tests bench
echo "== mypy"
mypy
# The same suite on both builds: plain Python from the editable install (what
# an edited checkout runs) and the wheel users get (compiled with mypyc when
# gcc and Python's headers are here: always here, test.sh installs them).
# The fuzzers (tests/fuzz) run with one fixed seed here, so that a red run is a
# regression anyone can replay; random seeds are for longer runs by hand, and
# what they found and is still open is listed in docs/fuzzing.md.
export MOONKV_FUZZ_SEED="${MOONKV_FUZZ_SEED:-fac9cd1d5a56}"
echo "== pytest (pure Python, editable install in .venv)"
MOONKV_EXPECT_BUILD=python pytest -q -p no:cacheprovider "$@"
moonkv_wheel_venv '[test,cluster]'
wheel_build=native
case "${MOONKV_PURE_PYTHON:-0}" in 0|"") ;; *) wheel_build=python ;; esac
echo "== pytest ($wheel_build build, the wheel installed in .venv-wheel)"
# `python -m pytest` puts the root on sys.path, for the tests package; moonkv
# itself lives in src/, so `import moonkv` finds the installed wheel (and
# tests/test_build.py fails unless every request-path module is compiled).
MOONKV_EXPECT_BUILD=$wheel_build .venv-wheel/bin/python -m pytest -q -p no:cacheprovider "$@"
echo "== the installed package, outside the tree"
bash scripts/smoke-installed.sh .venv-wheel/dist/moonkv-*.whl
echo "== Redis's own test suite ($wheel_build build)"
# The runner starts "$PYTHON -m moonkv server" per unit (default .venv/bin/python), or, for
# the spawned-full rows of ci.tsv, lets the harness start it through a launcher.
PYTHON="$ROOT/.venv-wheel/bin/python" python3 tests/redis_suite/runner.py
