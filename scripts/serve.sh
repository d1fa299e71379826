#!/usr/bin/env bash
# Install moonkv into ./.venv-wheel as users install it (a wheel of these
# sources; again only when they change) and start it in the foreground on
# 127.0.0.1:6379 with its data in ./moonkv-data. Arguments go to `moonkv server`.
# When gcc and Python's headers are present the wheel's request path is
# compiled with mypyc (about a minute); without them moonkv runs as plain
# Python, with the same behaviour. The start-up log says which build runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
moonkv_wheel_venv ""
exec .venv-wheel/bin/moonkv server "$@"
