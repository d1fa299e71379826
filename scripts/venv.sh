# Sourced by serve.sh and test.sh: make sure ./.venv exists and holds moonkv.
#
# The venv is built on the distribution's /usr/bin/python3 when that is 3.11 or
# newer: distribution builds of CPython are compiled with PGO and LTO and run
# moonkv about 20 % faster than a default source build (pyenv's, for one);
# see docs/performance.md. Otherwise the first python3 on PATH is used.
# MOONKV_PYTHON=/path/to/python overrides the choice.

moonkv_python_ok() {
    "$1" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

moonkv_pick_python() {
    local cand
    for cand in ${MOONKV_PYTHON:-} /usr/bin/python3 python3; do
        if command -v "$cand" >/dev/null 2>&1 && moonkv_python_ok "$cand"; then
            command -v "$cand"
            return 0
        fi
    done
    echo "moonkv needs Python >= 3.11 with the venv module (Debian: apt-get install python3-venv)" >&2
    return 1
}

moonkv_venv() {  # $1: pip extras spec, e.g. "." or ".[test]"
    if [ ! -x .venv/bin/python ]; then
        local py
        py=$(moonkv_pick_python)
        echo "== creating .venv with $py ($("$py" --version 2>&1))" >&2
        "$py" -m venv .venv
    fi
    # Install (again) only when the venv is new, pyproject.toml changed, or
    # extras are asked for that are not installed ("." is part of ".[test]").
    local stamp=".venv/.moonkv-installed" sum have
    sum=$(cksum < pyproject.toml)
    have=$(cat "$stamp" 2>/dev/null || true)
    if [ "$have" != "$1 $sum" ] && { [ "$1" != "." ] || [ "${have#* }" != "$sum" ]; }; then
        .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
        .venv/bin/pip install -q -e "$1"
        echo "$1 $sum" > "$stamp"
    fi
}
