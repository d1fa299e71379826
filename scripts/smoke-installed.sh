#!/usr/bin/env bash
# Tests what users install, away from the source tree:
#  1. the wheel (the one given as $1, else one built here with `pip wheel .`)
#     holds every data file of src/moonkv, and is compiled when this machine
#     has a C compiler and Python's headers (unless MOONKV_PURE_PYTHON is set);
#     installed into a fresh venv in a temporary directory, run from there: the
#     build it reports; SET/GET; EVAL calling redis.call; a failing script whose
#     earlier write is rolled back; SCRIPT LOAD; a restart on the same data
#     directory keeps the data and the cached script (EVALSHA); `moonkv check`;
#     moonkv.open() on that directory, and the server reading what it wrote.
#  2. the sdist holds what a build needs; a pure wheel built from it
#     (MOONKV_PURE_PYTHON=1) is py3-none-any, installs and serves.
# Every step fails the run when it cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. scripts/venv.sh
moonkv_venv '.[test]'
REDIS_CLI=$(command -v redis-cli) || { echo "smoke: redis-cli is needed" >&2; exit 1; }
BASE_PY=$(moonkv_pick_python)

T=$(mktemp -d /tmp/moonkv-smoke.XXXXXX)
case "$T" in "$ROOT"/*) echo "smoke: $T is inside the tree" >&2; exit 1 ;; esac
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "smoke: FAILED: $*" >&2; [ -f "$T/server.log" ] && tail -n 20 "$T/server.log" >&2; exit 1; }
ok() { echo "smoke: ok: $*"; }

# What this machine must build: native when a compiler and headers are here.
expected=native
reason="gcc and Python's headers are here"
if [ "${MOONKV_PURE_PYTHON:-0}" != 0 ] && [ -n "${MOONKV_PURE_PYTHON:-}" ]; then
    expected=python; reason="MOONKV_PURE_PYTHON is set"
elif ! "$BASE_PY" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
    expected=python; reason="no Python headers"
elif ! command -v "${CC:-$("$BASE_PY" -c 'import sysconfig; print(sysconfig.get_config_var("CC") or "cc")')}" >/dev/null; then
    expected=python; reason="no C compiler"
fi
echo "smoke: expecting the $expected build ($reason)"

# Every file of the package that is not Python source must be in what ships.
mapfile -t DATA < <(cd src && find moonkv -type f ! -name '*.py' ! -name '*.pyc' ! -name '*.so' | sort)
[ ${#DATA[@]} -gt 0 ] || fail "no data files found in src/moonkv"
mapfile -t SOURCES < <(cd src && find moonkv -type f -name '*.py' | sort)
# $1: an archive's file list; $2: the prefix of the package inside it.
has_files() {
    local f
    for f in "${DATA[@]}" "${SOURCES[@]}"; do
        grep -qxF "$2$f" "$1" || fail "$f is not in $(basename "$1" .list)"
    done
}

# --- 1. the wheel -------------------------------------------------------------
if [ $# -ge 1 ]; then
    WHEEL=$1
    [ -f "$WHEEL" ] || fail "no wheel at $WHEEL"
else
    .venv/bin/pip wheel -q --no-deps -w "$T/dist" . > "$T/wheel-build.log" 2>&1 \
        || { tail -n 30 "$T/wheel-build.log" >&2; fail "pip wheel ."; }
    WHEEL=$(echo "$T"/dist/moonkv-*.whl)
fi
.venv/bin/python -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' \
    "$WHEEL" > "$T/wheel.list"
has_files "$T/wheel.list" ""
ok "$(basename "$WHEEL") holds all ${#SOURCES[@]} sources and ${#DATA[@]} data files (${DATA[*]})"
so_count=$(awk '/\.so$/ { n++ } END { print n + 0 }' "$T/wheel.list")
case "$expected:$(basename "$WHEEL")" in
    native:*-py3-none-any.whl) fail "a pure wheel where the native build was expected" ;;
    python:*-py3-none-any.whl) [ "$so_count" -eq 0 ] || fail "a pure wheel with extension modules" ;;
    python:*) fail "a platform wheel where a pure one was expected" ;;
esac
ok "the wheel holds $so_count extension modules"

"$BASE_PY" -m venv "$T/venv"
"$T/venv/bin/pip" install -q "$WHEEL" > "$T/install.log" 2>&1 \
    || { cat "$T/install.log" >&2; fail "pip install $(basename "$WHEEL")"; }

BIN="$T/venv/bin"  # the installed moonkv that the checks run
cd "$T"  # from here on, nothing of the tree: only the venv's moonkv
unset PYTHONPATH VIRTUAL_ENV
PATH="$T/venv/bin:/usr/bin:/bin"

where=$("$BIN/python" -c 'import moonkv; print(moonkv.__file__)')
case "$where" in "$T/venv/"*) ok "moonkv imports from $where" ;; *) fail "moonkv imports from $where" ;; esac

PORT=
start_server() {  # $1: data directory
    PORT=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$BIN/moonkv" server --port "$PORT" --bind 127.0.0.1 --dir "$1" >> "$T/server.log" 2>&1 &
    SERVER_PID=$!
    local _ pong
    for _ in $(seq 1 200); do
        if pong=$("$REDIS_CLI" -p "$PORT" PING 2>/dev/null) && [ "$pong" = PONG ]; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || fail "moonkv server exited at start"
        sleep 0.1
    done
    fail "moonkv server did not answer PING within 20 s"
}
stop_server() {
    kill -TERM "$SERVER_PID"
    local rc=0
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    [ "$rc" -eq 0 ] || fail "moonkv server exited with $rc on SIGTERM"
}
# expect WANT ARGS...: the reply redis-cli prints for ARGS must be WANT.
expect() {
    local want=$1 got
    shift
    got=$("$REDIS_CLI" -p "$PORT" "$@" 2>&1) || fail "redis-cli $* exited non-zero"
    [ "$got" = "$want" ] || fail "$* replied '$got', expected '$want'"
}

version=$("$BIN/moonkv" --version)
case "$version" in "moonkv "*" build $expected)") ;; *) fail "moonkv --version says '$version'; expected the $expected build" ;; esac
ok "moonkv --version: $version"

start_server "$T/data"
build=$("$REDIS_CLI" -p "$PORT" INFO server | tr -d '\r' | sed -n 's/^moonkv_build://p')
[ "$build" = "$expected" ] || fail "INFO server says moonkv_build:$build; expected $expected"
grep -q "Build: $expected\$" "$T/server.log" || fail "the start-up log does not say 'Build: $expected'"
ok "the installed server reports the $build build (INFO server and its start-up log)"
expect OK SET greeting hello
expect hello GET greeting
expect world EVAL "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])" 1 planet world
ok "SET/GET, EVAL with redis.call"
out=$("$REDIS_CLI" -p "$PORT" EVAL "redis.call('SET', KEYS[1], 'doomed'); return redis.call('INCR', KEYS[2])" 2 rolled greeting 2>&1)
case "$out" in *"ERR value is not an integer or out of range"*) ;; *) fail "the failing script replied '$out'" ;; esac
expect 0 EXISTS rolled
ok "a failing script's earlier write is rolled back"
sha=$("$REDIS_CLI" -p "$PORT" SCRIPT LOAD "return redis.call('GET', KEYS[1])")
[ ${#sha} -eq 40 ] || fail "SCRIPT LOAD replied '$sha'"
expect hello EVALSHA "$sha" 1 greeting
ok "SCRIPT LOAD, EVALSHA"
stop_server

start_server "$T/data"
expect hello GET greeting
expect world GET planet
expect 0 EXISTS rolled
expect hello EVALSHA "$sha" 1 greeting
stop_server
ok "after a restart on the same directory: the data and the cached script"
"$BIN/moonkv" check --dir "$T/data" > "$T/check.log" 2>&1 || { cat "$T/check.log" >&2; fail "moonkv check --dir"; }
ok "moonkv check --dir exits 0"
# The in-process API of the installed package, on the directory the server wrote.
got=$("$BIN/python" - "$T/data" "$sha" <<'PY'
import sys
import moonkv
with moonkv.open(sys.argv[1]) as r:
    r.set("embedded", "yes")
    print(r.get("greeting").decode(), r.evalsha(sys.argv[2], 1, "planet").decode())
PY
) || fail "moonkv.open() on the data directory"
[ "$got" = "hello world" ] || fail "moonkv.open() read '$got', expected 'hello world'"
start_server "$T/data"
expect yes GET embedded
stop_server
ok "moonkv.open() reads the server's directory, and the server reads what it wrote"

# --- 2. the sdist ---------------------------------------------------------------
cd "$ROOT"
.venv/bin/python -m build --sdist -o "$T/sdist" . > "$T/sdist-build.log" 2>&1 \
    || { tail -n 30 "$T/sdist-build.log" >&2; fail "python -m build --sdist"; }
SDIST=$(echo "$T"/sdist/moonkv-*.tar.gz)
tar -tzf "$SDIST" > "$T/sdist.list"
top=$(basename "$SDIST" .tar.gz)/
for f in README.md pyproject.toml setup.py; do
    grep -qxF "$top$f" "$T/sdist.list" || fail "$f is not in the sdist"
done
has_files "$T/sdist.list" "${top}src/"
ok "$(basename "$SDIST") holds README.md, pyproject.toml, setup.py, all sources and data files"
cd "$T"
MOONKV_PURE_PYTHON=1 "$T/venv/bin/pip" wheel -q --no-deps -w "$T/pure" "$SDIST" > "$T/pure-build.log" 2>&1 \
    || { tail -n 30 "$T/pure-build.log" >&2; fail "MOONKV_PURE_PYTHON=1 pip wheel of the sdist"; }
PURE=$(echo "$T"/pure/moonkv-*.whl)
case "$(basename "$PURE")" in *-py3-none-any.whl) ;; *) fail "MOONKV_PURE_PYTHON=1 built $(basename "$PURE")" ;; esac
"$BASE_PY" -m venv "$T/venv-sdist"
"$T/venv-sdist/bin/pip" install -q "$PURE" > "$T/install-sdist.log" 2>&1 \
    || { cat "$T/install-sdist.log" >&2; fail "pip install $(basename "$PURE")"; }
BIN="$T/venv-sdist/bin"
version=$("$BIN/moonkv" --version)
case "$version" in "moonkv "*" build python)") ;; *) fail "the sdist's pure install says '$version'" ;; esac
start_server "$T/data-sdist"
expect OK SET k v
expect v EVAL "return redis.call('GET', KEYS[1])" 1 k
stop_server
ok "the sdist builds a pure wheel ($(basename "$PURE")) that installs and serves (SET, EVAL)"
echo "smoke: all checks passed ($expected build)"
