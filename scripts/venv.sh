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

# ./.venv-wheel: moonkv installed the way users install it, from a wheel of
# these sources (compiled with mypyc when gcc and Python's headers are here, see
# setup.py), for serve.sh, test.sh's second pytest pass and the benchmarks.
# ./.venv stays the editable install that runs the sources as they are edited.
moonkv_sources_digest() {
    { find src -type f ! -path '*/__pycache__/*' ! -path '*.egg-info/*' ! -name '*.so' -print0 \
        | sort -z | xargs -0 sha256sum
      sha256sum pyproject.toml setup.py README.md
    } | sha256sum | cut -d' ' -f1
}

moonkv_wheel_venv() {  # $1: pip extras, "" or e.g. "[test]"
    local venv=.venv-wheel
    if [ ! -x "$venv/bin/python" ]; then
        local py
        py=$(moonkv_pick_python)
        echo "== creating $venv with $py ($("$py" --version 2>&1))" >&2
        "$py" -m venv "$venv"
    fi
    # Build and install again only when the sources or MOONKV_PURE_PYTHON
    # changed (a stamp of the installer, not the importer); install the extras
    # asked for when they are not yet.
    local want whl
    want="pure=${MOONKV_PURE_PYTHON:-} $(moonkv_sources_digest)"
    if [ "$(cat "$venv/.moonkv-built" 2>/dev/null || true)" != "$want" ] \
            || ! [ -f "$(echo "$venv"/dist/moonkv-*.whl)" ]; then
        echo "== building moonkv's wheel into $venv/dist (log: $venv/build.log)" >&2
        rm -rf "$venv/dist" "$venv/.moonkv-built" "$venv/.moonkv-extras"
        if ! "$venv/bin/pip" wheel --no-deps -w "$venv/dist" . > "$venv/build.log" 2>&1; then
            tail -n 30 "$venv/build.log" >&2
            echo "moonkv: building the wheel failed (log: $venv/build.log)" >&2
            return 1
        fi
        whl=$(echo "$venv"/dist/moonkv-*.whl)
        echo "== installing $whl into $venv" >&2
        "$venv/bin/pip" install -q "$whl"
        "$venv/bin/pip" install -q --force-reinstall --no-deps "$whl"
        echo "$want" > "$venv/.moonkv-built"
    fi
    if [ -n "$1" ] && ! grep -qxF "$1" "$venv/.moonkv-extras" 2>/dev/null; then
        whl=$(echo "$venv"/dist/moonkv-*.whl)
        "$venv/bin/pip" install -q "$whl$1"
        echo "$1" >> "$venv/.moonkv-extras"
    fi
}
