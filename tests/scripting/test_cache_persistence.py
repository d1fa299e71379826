"""Scripts survive restarts: EVALSHA works after a restart, SCRIPT FLUSH is durable,
EVAL-created entries are bounded (least recently used evicted), SCRIPT LOAD entries kept."""

from __future__ import annotations

import tempfile
import time

import pytest
import redis

from tests.conftest import CLIENT_OPTIONS
from tests.helpers import start_moonkv


def _restart(dir: str, *extra: str):  # type: ignore[no-untyped-def]
    return start_moonkv(["--appendfsync", "always", *extra], dir=dir)


@pytest.mark.parametrize("compact", [False, True])
def test_evalsha_after_restart(compact: bool) -> None:
    d = tempfile.mkdtemp(prefix="moonkv-scripts-")
    h = _restart(d)
    try:
        r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
        sha_loaded = r.script_load("return 'loaded'")
        r.eval("return 'evaluated'", 0)
        sha_eval = r.eval("return redis.sha1hex(\"return 'evaluated'\")", 0).decode()
        r.function_load("#!lua name=lib\nredis.register_function('hi', function() return 'hi' end)")
        if compact:
            r.bgrewriteaof()
            deadline = time.monotonic() + 20
            while r.info("persistence")["aof_rewrite_in_progress"] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert r.info("persistence")["aof_rewrite_in_progress"] == 0
    finally:
        h.stop()
    h = _restart(d)
    try:
        r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
        assert r.evalsha(sha_loaded, 0) == b"loaded"
        assert r.evalsha(sha_eval, 0) == b"evaluated"
        assert r.fcall("hi", 0) == b"hi"
        r.script_flush()
    finally:
        h.stop()
    h = _restart(d)
    try:
        r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
        assert r.script_exists(sha_loaded, sha_eval) == [False, False]
        with pytest.raises(redis.exceptions.NoScriptError):
            r.evalsha(sha_loaded, 0)
    finally:
        h.stop()


def test_eval_cache_is_bounded_and_load_is_kept() -> None:
    h = start_moonkv(["--appendonly", "no", "--save", "", "--lua-eval-cache-size", "3"])
    try:
        r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
        kept = r.script_load("return 'kept'")
        shas = []
        for i in range(6):
            r.eval(f"return {i}", 0)
            shas.append(r.eval(f"return redis.sha1hex('return {i}')", 0).decode())
        # The sha1hex helper scripts are EVAL entries too: only the newest 3 EVAL entries live.
        assert r.script_exists(*shas[:2]) == [False, False]
        assert r.script_exists(kept) == [True]
        info = r.info("memory")
        assert info["number_of_cached_scripts"] == 4
    finally:
        h.stop()


def test_eval_cache_evicts_the_least_recently_used() -> None:
    h = start_moonkv(["--appendonly", "no", "--save", "", "--lua-eval-cache-size", "3"])
    try:
        r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
        a, b, c, d, e = (f"return '{x}'" for x in "abcde")
        sha = {x: r.script_load(x) for x in (a, b, c, d, e)}
        r.script_flush()
        for body in (a, b, c):
            r.eval(body, 0)
        assert r.evalsha(sha[a], 0) == b"a"  # a is now the most recently used
        r.eval(d, 0)  # evicts b, the least recently used
        assert r.script_exists(sha[a], sha[b], sha[c], sha[d]) == [True, False, True, True]
        r.script_load(c)  # an EVAL entry loaded explicitly is kept from now on
        r.eval(e, 0)  # a, d, e: c no longer counts against the bound
        r.eval(b, 0)  # evicts a
        assert r.script_exists(sha[a], sha[b], sha[c], sha[d], sha[e]) == [False, True, True, True, True]
        assert r.info("memory")["number_of_cached_scripts"] == 4
    finally:
        h.stop()


def test_failed_script_is_still_cached_and_logged() -> None:
    d = tempfile.mkdtemp(prefix="moonkv-scripts-")
    h = _restart(d)
    try:
        r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
        with pytest.raises(redis.ResponseError):
            r.eval("redis.call('set','x','1'); error('boom')", 0)
        sha = r.eval("return redis.sha1hex(\"redis.call('set','x','1'); error('boom')\")", 0).decode()
    finally:
        h.stop()
    h = _restart(d)
    try:
        r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
        assert r.get("x") is None  # the write was rolled back and never logged
        assert r.script_exists(sha) == [True]
    finally:
        h.stop()
