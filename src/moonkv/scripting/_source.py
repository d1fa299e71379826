"""Source preparation for scripts and libraries: keep the caller's frame in error locations.

Redis's redis.call is a C function, so ``return redis.call(...)`` keeps the
caller's stack frame and an error reports ``on @user_script:<line>`` (or
``@user_function`` in a library).  moonkv's redis.call is a Lua function (the
sandbox's bridge), and a Lua tail call would replace the caller's frame.
Parentheses turn a tail call into an ordinary call, line numbers unchanged:

- ``return redis.call(...)`` and ``return redis.pcall(...)``, in any function:
  the bridge returns one value, so ``return (e)`` is the same;
- in an EVAL script, every ``return`` of the main chunk with a single
  expression: Redis runs the chunk with one result (``lua_pcall(..., 1,
  ...)``), so there too ``return (e)`` is ``return e``.
"""

from __future__ import annotations

_NAME_START = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME = _NAME_START | frozenset(b"0123456789")
_SPACE = frozenset(b" \t\r\n\f\v")
_TERMINATORS = frozenset({b"end", b"else", b"elseif", b"until", b";"})
_OPENERS = frozenset({b"function", b"if", b"do", b"repeat"})


def _long_bracket(src: bytes, i: int) -> int:
    """If src[i] starts ``[==[``, the index after the matching ``]==]`` (or len); else -1."""
    j = i + 1
    while j < len(src) and src[j] == 61:  # '='
        j += 1
    if j >= len(src) or src[j] != 91:  # '['
        return -1
    close = b"]" + b"=" * (j - i - 1) + b"]"
    end = src.find(close, j + 1)
    return len(src) if end < 0 else end + len(close)


def tokens(src: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, text) of each token; comments and whitespace skipped.

    Strings and long strings are single tokens (text ``b'"'``); it only needs
    to be right enough to find keywords, brackets and commas.
    """
    out: list[tuple[int, int, bytes]] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in _SPACE:
            i += 1
        elif c == 45 and src.startswith(b"--", i):  # comment
            if i + 2 < n and src[i + 2] == 91:
                end = _long_bracket(src, i + 2)
                if end >= 0:
                    i = end
                    continue
            nl = src.find(b"\n", i)
            i = n if nl < 0 else nl + 1
        elif c in (34, 39):  # quoted string
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == 92 else 1
            out.append((i, min(j + 1, n), b'"'))
            i = j + 1
        elif c == 91 and (end := _long_bracket(src, i)) >= 0:
            out.append((i, end, b'"'))
            i = end
        elif c in _NAME_START:
            j = i + 1
            while j < n and src[j] in _NAME:
                j += 1
            out.append((i, j, src[i:j]))
            i = j
        elif 48 <= c <= 57 or (c == 46 and i + 1 < n and 48 <= src[i + 1] <= 57):
            j = i + 1
            while j < n and (src[j] in _NAME or src[j] == 46 or (src[j] in b"+-" and src[j - 1] in b"eEpP")):
                j += 1
            out.append((i, j, b"0"))
            i = j
        elif src.startswith(b"...", i):
            out.append((i, i + 3, b"..."))
            i += 3
        else:
            out.append((i, i + 1, src[i : i + 1]))
            i += 1
    return out


def protect_tail_returns(src: bytes, chunk: bool = True) -> bytes:
    """Parenthesize the returns of a bridge call, and with ``chunk`` (an EVAL script) the
    main chunk's single-expression returns (see module doc)."""
    if b"return" not in src:
        return src
    toks = tokens(src)
    inserts: list[tuple[int, bytes]] = []
    blocks: list[bytes] = []  # open block keywords
    fdepth = 0  # how many of them are functions
    k = 0
    while k < len(toks):
        _s, _e, t = toks[k]
        if t in _OPENERS:
            blocks.append(t)
            fdepth += t == b"function"
        elif t == b"end" or t == b"until":
            if blocks:
                fdepth -= blocks.pop() == b"function"
        elif t == b"return" and fdepth == 0 and chunk:
            k = _wrap_return(toks, k, inserts)
            continue
        elif t == b"return":
            _wrap_bridge_call(toks, k, inserts)
        k += 1
    if not inserts:
        return src
    out = bytearray(src)
    for pos, text in sorted(inserts, reverse=True):
        out[pos:pos] = text
    return bytes(out)


def _wrap_return(toks: list[tuple[int, int, bytes]], k: int, inserts: list[tuple[int, bytes]]) -> int:
    """Scan the explist after ``return`` at toks[k]; record parentheses; return the next index."""
    j = k + 1
    brackets = 0
    blocks = 0
    comma = False
    last = -1
    while j < len(toks):
        t = toks[j][2]
        if brackets == 0 and blocks == 0 and t in _TERMINATORS:
            break
        if t in (b"(", b"{", b"["):
            brackets += 1
        elif t in (b")", b"}", b"]"):
            brackets -= 1
        elif t in _OPENERS:
            blocks += 1
        elif t == b"end" or t == b"until":
            blocks -= 1
        elif t == b"," and brackets == 0 and blocks == 0:
            comma = True
        last = j
        j += 1
    if last >= 0 and not comma:
        inserts.append((toks[k][1], b" ("))
        inserts.append((toks[last][1], b")"))
    return j


def _wrap_bridge_call(toks: list[tuple[int, int, bytes]], k: int, inserts: list[tuple[int, bytes]]) -> None:
    """Record parentheses if toks[k] is ``return redis.call(...)`` or ``return redis.pcall(...)``
    and nothing else (a return ends its block: a terminator or the end follows)."""
    head = [t for _s, _e, t in toks[k + 1 : k + 5]]
    if head[:3] not in ([b"redis", b".", b"call"], [b"redis", b".", b"pcall"]) or head[3:] != [b"("]:
        return
    depth = 0
    for j in range(k + 4, len(toks)):
        t = toks[j][2]
        if t == b"(":
            depth += 1
        elif t == b")":
            depth -= 1
            if depth == 0:
                if j + 1 == len(toks) or toks[j + 1][2] in _TERMINATORS:
                    inserts.append((toks[k][1], b" ("))
                    inserts.append((toks[j][1], b")"))
                return
