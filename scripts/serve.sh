#!/usr/bin/env bash
# Set up ./.venv (first run only) and start moonkv in the foreground on
# 127.0.0.1:6379 with its data in ./moonkv-data. Arguments go to `moonkv server`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
moonkv_venv . >&2
exec .venv/bin/moonkv server "$@"
