#!/usr/bin/env bash
# Runs units of Redis's own test suite (../shared/tools/redis-suite.sh) against a
# fresh moonkv per unit. Every unit in REQUIRED must report status=ok, missing=0.
set -uo pipefail
cd "$(dirname "$0")/.."
SUITE_TOOL="${SUITE_TOOL:-../shared/tools/redis-suite.sh}"
REQUIRED="${REDIS_SUITE_UNITS:-unit/protocol unit/info-command unit/keyspace unit/type/string unit/type/incr unit/expire unit/multi}"
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] && PY=.venv/bin/python
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
PIDFILE="$WORK/pid"

start() {
    rm -rf "$WORK/data"
    "$PY" -m moonkv server --port "$PORT" --dir "$WORK/data" --appendonly no --save "" \
        >>"$WORK/server.log" 2>&1 &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "moonkv did not start" >&2
    return 1
}
stop() {
    [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$(cat "$PIDFILE")" 2>/dev/null || true
}
trap stop EXIT
export -f start stop
export PY PORT WORK PIDFILE
start
# shellcheck disable=SC2086
out=$(bash "$SUITE_TOOL" --show-failures --before-unit 'stop; start' "127.0.0.1:$PORT" $REQUIRED)
rc=$?
echo "$out"
if [ $rc -ne 0 ] || echo "$out" | grep -E 'missing=[1-9]' >/dev/null; then
    echo "Redis suite: some required unit is not ok (server log: $WORK/server.log)"
    tail -n 30 "$WORK/server.log"
    exit 1
fi
