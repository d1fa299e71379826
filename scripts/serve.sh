#!/usr/bin/env bash
# Set up ./.venv (first run only) and start moonkv in the foreground on
# 127.0.0.1:6379 with its data in ./moonkv-data. Arguments go to `moonkv server`.
# When gcc and Python's headers are present, the request path is compiled with
# mypyc first (about a minute, once per change of the sources); without them
# moonkv runs as plain Python, with the same behaviour.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
moonkv_venv '.[native]' >&2
if ! .venv/bin/moonkv native build > .venv/native-build.log 2>&1; then
    echo "moonkv: no native build (see .venv/native-build.log); running as plain Python" >&2
fi
exec .venv/bin/moonkv server "$@"
