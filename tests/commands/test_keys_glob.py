"""glob_match (KEYS/SCAN MATCH) against a direct transcription of Redis's recursive algorithm."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from moonkv.commands._util import glob_match


def _redis_ref(p: bytes, s: bytes, nesting: int = 0) -> tuple[bool, bool]:
    """(matched, skip_longer) exactly as stringmatchlen_impl walks, for small inputs."""
    if nesting > 1000:
        return False, False
    pi, si = 0, 0
    while pi < len(p) and si < len(s):
        c = p[pi]
        if c == 42:
            while pi + 1 < len(p) and p[pi + 1] == 42:
                pi += 1
            if pi + 1 == len(p):
                return True, False
            while si < len(s):
                m, skip = _redis_ref(p[pi + 1:], s[si:], nesting + 1)
                if m:
                    return True, False
                if skip:
                    return False, True
                si += 1
            return False, True
        elif c == 63:
            si += 1
        elif c == 91:
            pi += 1
            neg = pi < len(p) and p[pi] == 94
            if neg:
                pi += 1
            match = False
            while True:
                if pi < len(p) and p[pi] == 92 and len(p) - pi >= 2:
                    pi += 1
                    if p[pi] == s[si]:
                        match = True
                elif pi < len(p) and p[pi] == 93:
                    break
                elif pi >= len(p):
                    pi -= 1
                    break
                elif len(p) - pi >= 3 and p[pi + 1] == 45:
                    lo, hi = p[pi], p[pi + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    pi += 2
                    if lo <= s[si] <= hi:
                        match = True
                elif p[pi] == s[si]:
                    match = True
                pi += 1
            if neg:
                match = not match
            if not match:
                return False, False
            si += 1
        else:
            if c == 92 and len(p) - pi >= 2:
                pi += 1
            if p[pi] != s[si]:
                return False, False
            si += 1
        pi += 1
        if si == len(s):
            while pi < len(p) and p[pi] == 42:
                pi += 1
            break
    return pi == len(p) and si == len(s), False


def test_examples() -> None:
    assert glob_match(b"h?llo", b"hello")
    assert glob_match(b"h*llo", b"heeeello")
    assert glob_match(b"h[ae]llo", b"hallo")
    assert not glob_match(b"h[^e]llo", b"hello")
    assert glob_match(b"h[a-b]llo", b"hbllo")
    assert glob_match(b"h\\*llo", b"h*llo")
    assert not glob_match(b"h\\*llo", b"hello")
    assert glob_match(b"H*", b"hello", nocase=True)
    assert glob_match(b"", b"")
    assert not glob_match(b"*", b"")  # as Redis: the empty string only matches ""
    assert glob_match(b"[abc", b"c")  # an unterminated set ends with the pattern


def test_pathological_patterns_are_fast() -> None:
    t = time.perf_counter()
    assert not glob_match(b"a*" * 20 + b"b", b"a" * 40)
    assert not glob_match(b"*?" * 50000, b"a" * 50000)
    assert glob_match(b"*a" * 1000, b"a" * 1000)
    assert not glob_match(b"*a" * 1001, b"a" * 1001)  # Redis's nesting limit
    assert time.perf_counter() - t < 2


_ALPHA = st.sampled_from([b"a", b"b", b"*", b"?", b"[", b"]", b"^", b"-", b"\\"])


@given(st.lists(_ALPHA, max_size=8).map(b"".join), st.lists(st.sampled_from([b"a", b"b", b"-", b"]", b"*"]),
                                                            max_size=8).map(b"".join))
@settings(max_examples=2000, deadline=None)
def test_matches_redis_reference(p: bytes, s: bytes) -> None:
    assert glob_match(p, s) == _redis_ref(p, s)[0], (p, s)
