"""RespParser: Redis's request grammar, limits and exact error texts, without sockets.

Every behaviour is checked on both paths (hiredis fast path and the pure-Python
parser); property tests check that any chunking gives the same result and that
the two paths agree on arbitrary (also malformed) input.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moonkv.errors import ProtocolError
from moonkv.protocol import RespParser, split_args

FAST = [True, False]


def enc(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def run(
    data: bytes | list[bytes], fast: bool = True, **kw: object
) -> tuple[list[list[bytes]], str | None, int]:
    """Feed chunks, parsing after each; returns (commands, error text, bytes left)."""
    p = RespParser(use_fast_path=fast)
    for k, v in kw.items():
        setattr(p, k, v)
    chunks = [data] if isinstance(data, bytes) else data
    out: list[list[bytes]] = []
    for c in chunks:
        p.feed(c)
        out.extend(p.parse())
        if p.error is not None:
            break
    return out, (p.error.message if p.error else None), p.buffered


# --------------------------------------------------------------------------- basics


@pytest.mark.parametrize("fast", FAST)
def test_multibulk_and_pipeline(fast: bool) -> None:
    data = enc(b"SET", b"k", b"v") + enc(b"GET", b"k") + enc(b"PING")
    cmds, err, left = run(data, fast)
    assert cmds == [[b"SET", b"k", b"v"], [b"GET", b"k"], [b"PING"]]
    assert err is None and left == 0


@pytest.mark.parametrize("fast", FAST)
def test_binary_safe_values(fast: bool) -> None:
    val = bytes(range(256)) + b"\r\n*3\r\n$1\r\n"
    cmds, err, _ = run(enc(b"SET", b"\x00k\r\n", val, b""), fast)
    assert cmds == [[b"SET", b"\x00k\r\n", val, b""]] and err is None


@pytest.mark.parametrize("fast", FAST)
def test_incomplete_then_complete(fast: bool) -> None:
    data = enc(b"SET", b"key", b"x" * 1000)
    p = RespParser(use_fast_path=fast)
    for i in range(len(data) - 1):
        p.feed(data[i : i + 1])
        assert p.parse() == []
        assert p.buffered == i + 1
    p.feed(data[-1:])
    assert p.parse() == [[b"SET", b"key", b"x" * 1000]]
    assert p.buffered == 0


@pytest.mark.parametrize("fast", FAST)
def test_empty_and_null_multibulk_are_skipped(fast: bool) -> None:
    cmds, err, _ = run(b"*0\r\n*-1\r\n" + enc(b"PING") + b"*0\r\n", fast)
    assert cmds == [[b"PING"]] and err is None


@pytest.mark.parametrize("fast", FAST)
def test_inline_commands(fast: bool) -> None:
    cmds, err, _ = run(b"PING\r\nSET a 'b c'\r\n  \r\n\r\nECHO \"x\\ty\"\n" + enc(b"GET", b"a"), fast)
    assert cmds == [[b"PING"], [b"SET", b"a", b"b c"], [b"ECHO", b"x\ty"], [b"GET", b"a"]]
    assert err is None


@pytest.mark.parametrize("fast", FAST)
def test_multibulk_then_inline_then_multibulk(fast: bool) -> None:
    data = enc(b"PING") + b"PING\r\n" + enc(b"ECHO", b"x")
    assert run(data, fast)[0] == [[b"PING"], [b"PING"], [b"ECHO", b"x"]]


@pytest.mark.parametrize("fast", FAST)
def test_large_value_in_many_chunks(fast: bool) -> None:
    val = b"v" * (3 * 1024 * 1024)
    data = enc(b"SET", b"k", val) + enc(b"GET", b"k")
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    cmds, err, left = run(chunks, fast)
    assert cmds == [[b"SET", b"k", val], [b"GET", b"k"]] and err is None and left == 0


@pytest.mark.parametrize("fast", FAST)
def test_feed_accepts_bytearray_and_memoryview(fast: bool) -> None:
    p = RespParser(use_fast_path=fast)
    data = enc(b"ECHO", b"abc") + enc(b"PING")
    p.feed(bytearray(data[:7]))
    p.feed(memoryview(data)[7:20])
    p.feed(memoryview(bytearray(data[20:])))
    assert p.parse() == [[b"ECHO", b"abc"], [b"PING"]]


def test_take_buffer_returns_unconsumed_bytes() -> None:
    p = RespParser()
    p.feed(enc(b"PING") + b"*2\r\n$3\r\nGET")
    assert p.parse() == [[b"PING"]]
    assert p.take_buffer() == b"*2\r\n$3\r\nGET"
    assert p.buffered == 0
    p.feed(enc(b"ECHO", b"a"))
    assert p.parse() == [[b"ECHO", b"a"]]


# --------------------------------------------------------------------------- errors


ERRORS = [
    (b"*abc\r\n", "invalid multibulk length"),
    (b"*-\r\n", "invalid multibulk length"),
    (b"*01\r\n", "invalid multibulk length"),
    (b"*+1\r\n", "invalid multibulk length"),
    (b"* 1\r\n", "invalid multibulk length"),
    (b"*2147483648\r\n", "invalid multibulk length"),
    (b"*99999999999999999999\r\n", "invalid multibulk length"),
    (b"*1\r\n$abc\r\n", "invalid bulk length"),
    (b"*1\r\n$-1\r\n", "invalid bulk length"),
    (b"*1\r\n$03\r\nabc\r\n", "invalid bulk length"),
    (b"*1\r\n$536870913\r\n", "invalid bulk length"),
    (b"*1\r\nx\r\n", "expected '$', got 'x'"),
    (b"*2\r\n$1\r\na\r\n:1\r\n", "expected '$', got ':'"),
    (b"*1\r\n+OK\r\n", "expected '$', got '+'"),
    (b"*1\r\n*1\r\n$1\r\na\r\n", "expected '$', got '*'"),
    (b"SET a \"b\r\n", "unbalanced quotes in request"),
    (b"SET a 'b\r\n", "unbalanced quotes in request"),
    (b"SET \"a\"b\r\n", "unbalanced quotes in request"),
]


@pytest.mark.parametrize("fast", FAST)
@pytest.mark.parametrize(("data", "message"), ERRORS)
def test_error_texts(fast: bool, data: bytes, message: str) -> None:
    prefix = enc(b"PING")
    cmds, err, left = run(prefix + data, fast)
    assert cmds == [[b"PING"]], "commands before the bad bytes are kept"
    assert err == message
    assert left == 0


@pytest.mark.parametrize("fast", FAST)
def test_huge_bulk_length_fails_on_header(fast: bool) -> None:
    # No payload yet: Redis rejects the header as soon as it arrives.
    cmds, err, _ = run([enc(b"PING"), b"*2\r\n$3\r\nSET\r\n$999999999999\r\n"], fast)
    assert cmds == [[b"PING"]] and err == "invalid bulk length"


@pytest.mark.parametrize("fast", FAST)
def test_proto_max_bulk_len_is_configurable(fast: bool) -> None:
    p = RespParser(max_bulk_len=10, use_fast_path=fast)
    p.feed(enc(b"SET", b"k", b"0123456789"))
    assert p.parse() == [[b"SET", b"k", b"0123456789"]]
    p.feed(enc(b"SET", b"k", b"0123456789a"))
    assert p.parse() == []
    assert p.error is not None and p.error.message == "invalid bulk length"


@pytest.mark.parametrize("fast", FAST)
def test_too_big_inline_request(fast: bool) -> None:
    _, err, _ = run([b"SET k ", b"x" * (64 * 1024 + 1)], fast)
    assert err == "too big inline request"
    # At the limit without a newline it still waits.
    assert run(b"x" * (64 * 1024), fast)[1] is None


@pytest.mark.parametrize("fast", FAST)
def test_too_big_count_strings(fast: bool) -> None:
    assert run(b"*1" + b"1" * (64 * 1024 + 1), fast)[1] == "too big mbulk count string"
    assert run(b"*1\r\n$1" + b"1" * (64 * 1024 + 1), fast)[1] == "too big bulk count string"


@pytest.mark.parametrize("fast", FAST)
def test_unauthenticated_limits(fast: bool) -> None:
    args = [b"a"] * 11
    assert run(enc(*args), fast, auth_required=True)[1] == "unauthenticated multibulk length"
    assert run(enc(*args), fast, auth_required=False)[1] is None
    big = enc(b"AUTH", b"x" * 16385)
    assert run(big, fast, auth_required=True)[1] == "unauthenticated bulk length"
    ok = enc(b"AUTH", b"x" * 16384)
    assert run(ok, fast, auth_required=True)[0] == [[b"AUTH", b"x" * 16384]]


@pytest.mark.parametrize("fast", FAST)
def test_error_state_is_sticky(fast: bool) -> None:
    p = RespParser(use_fast_path=fast)
    p.feed(b"*x\r\n")
    assert p.parse() == []
    assert isinstance(p.error, ProtocolError)
    p.feed(enc(b"PING"))
    assert p.parse() == []


@pytest.mark.parametrize("fast", FAST)
def test_no_crlf_check_after_bulk_like_redis(fast: bool) -> None:
    # Redis skips the two bytes after a bulk without looking at them.
    cmds, err, _ = run(b"*1\r\n$1\r\naXY" + enc(b"PING"), fast)
    assert cmds == [[b"a"], [b"PING"]] and err is None


# --------------------------------------------------------------------------- inline quoting


SPLIT_CASES = [
    (b"", []),
    (b"   ", []),
    (b"a b  c", [b"a", b"b", b"c"]),
    (b"\ta\tb\t", [b"a", b"b"]),
    (b'"a b" c', [b"a b", b"c"]),
    (b'"a\\nb\\r\\t\\b\\a"', [b"a\nb\r\t\b\x07"]),
    (b'"\\x41\\x4a\\x4Z"', [b"AJx4Z"]),
    (b'"\\"q\\""', [b'"q"']),
    (b'"\\\\"', [b"\\"]),
    (b"'a \\' b'", [b"a ' b"]),
    (b"'a\\nb'", [b"a\\nb"]),
    (b'"a"', [b"a"]),
    (b'""', [b""]),
    (b"''", [b""]),
    (b'a"b"', [b"ab"]),
    (b"a'b'", [b"ab"]),
    (b"a\vb\fc d", [b"a\vb\fc", b"d"]),
    (b"\v\fa\v", [b"a\v"]),
    (b'"a"\vb', [b"a", b"b"]),
    (b"a\x00b c", [b"a"]),
    (b'"a\x00b"', None),
    (b'"\\x00"', [b"\x00"]),
    (b'"a"b', None),
    (b"'a'b", None),
    (b'"abc', None),
    (b"'abc", None),
    (b'"abc\\"', None),
]


@pytest.mark.parametrize(("line", "want"), SPLIT_CASES)
def test_split_args_matches_sdssplitargs(line: bytes, want: list[bytes] | None) -> None:
    assert split_args(line) == want


# --------------------------------------------------------------------------- properties

args_st = st.lists(st.binary(max_size=40), min_size=1, max_size=8)
commands_st = st.lists(args_st, min_size=1, max_size=20)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False) if b > a] or [b""]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands_st, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30), st.booleans())
def test_any_chunking_gives_same_commands(
    cmds: list[list[bytes]], cuts: list[int], fast: bool
) -> None:
    data = b"".join(enc(*c) for c in cmds)
    got, err, left = run(chunked(data, cuts), fast)
    assert err is None and left == 0
    assert got == cmds


def test_a_huge_aggregate_header_never_reaches_hiredis_however_it_is_split() -> None:
    # hiredis allocates a list for "*2000000000" at once and walks all its
    # slots when the reader is dropped (seconds of CPU): the parser must keep
    # such a header on the Python path even when it arrives in many pieces.
    header = b"*2000000000\r\n"
    for i in range(1, len(header)):
        for j in range(i, len(header)):
            p = RespParser()
            assert p._fast, "hiredis is a dependency: the fast path must be on"
            for c in (b"PING\r\n", header[:i], header[i:j], header[j:]):
                p.feed(c)
                p.parse()
            assert p._reader is None, (i, j)
            p.feed(b"$3\r\nGET\r\n")
            assert p.parse() == [] and p.error is None  # still waiting for the other arguments


GARBAGE_ALPHABET = b"*$:+-~%\r\n0123456789 \"'\\xabPING"

garbage_piece = st.one_of(
    st.binary(max_size=12),
    st.lists(st.sampled_from(list(GARBAGE_ALPHABET)), max_size=20).map(bytes),
    args_st.map(lambda a: enc(*a)),
    st.sampled_from([b"*1\r\n", b"$3\r\n", b"*-1\r\n", b"$-1\r\n", b"*0\r\n", b"\r\n", b"PING\r\n",
                     b"*2\r\n$3\r\nGET\r\n", b"+OK\r\n", b":1\r\n", b"$2147483648\r\n",
                     b"*3000000000\r\n", b"*2000000000\r\n", b"*1000", b"000\r\n", b"~1\r\n", b"=5\r\ntxt:a\r\n", b"_\r\n"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(garbage_piece, max_size=12), st.lists(st.integers(0, 10_000), max_size=10))
def test_garbage_paths_agree_and_never_raise(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pieces)
    chunks = chunked(data, cuts)
    fast = run(chunks, True)
    slow = run(chunks, False)
    assert fast == slow
    cmds, err, left = slow
    assert all(isinstance(c, list) and c and all(type(a) is bytes for a in c) for c in cmds)
    if err is not None:
        assert left == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_terminate(data: bytes, fast: bool) -> None:
    p = RespParser(use_fast_path=fast)
    p.feed(data)
    p.parse()
    # A second parse without new data makes no progress and does not raise.
    before = p.buffered
    assert p.parse() == []
    assert p.buffered == before


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=20).filter(lambda b: b"\n" not in b and b"\r" not in b),
                min_size=1, max_size=6))
def test_inline_roundtrip_with_quoting(args: list[bytes]) -> None:
    def quote(a: bytes) -> bytes:
        out = b'"'
        for ch in a:
            if ch in b'"\\' or ch < 32 or ch > 126:
                out += b"\\x%02x" % ch
            else:
                out += bytes([ch])
        return out + b'"'

    line = b" ".join(quote(a) for a in args) + b"\r\n"
    cmds, err, _ = run(line, True)
    assert err is None and cmds == [args]


# -- parse_whole: the shortcut the connection tries first ---------------------------


@settings(max_examples=300, deadline=None)
@given(args_st)
def test_parse_whole_takes_any_plain_command(args: list[bytes]) -> None:
    got = RespParser().parse_whole(enc(*args))
    if any(b"\r\n" in a for a in args):
        assert got is None  # a value with CRLF goes to the general path
    else:
        assert got == [args]


@settings(max_examples=200, deadline=None)
@given(st.lists(args_st, min_size=1, max_size=20))
def test_parse_whole_takes_any_plain_pipeline(cmds: list[list[bytes]]) -> None:
    got = RespParser().parse_whole(b"".join(enc(*a) for a in cmds))
    if any(b"\r\n" in a for args in cmds for a in args):
        assert got is None
    else:
        assert got == cmds


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(garbage_piece, args_st.map(lambda a: enc(*a))), max_size=8))
def test_parse_whole_never_disagrees_with_the_parser(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    got = RespParser().parse_whole(data)
    if got is not None:
        # Only ever complete, valid commands, exactly as parse() sees them.
        assert run(data, False) == (got, None, 0)


@pytest.mark.parametrize("data", [
    b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI",  # the last command incomplete
    b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n",  # ends on a line, not a command
    b"*2\r\n$3\r\nGET\r\n$1\r\n",  # incomplete
    b"*1\r\n$04\r\nPING\r\n",  # a header Redis rejects
    b"*01\r\n$4\r\nPING\r\n",
    b"*1\r\n$4\r\nPING\r\n*01\r\n$4\r\nPING\r\n",  # ... after a good command
    b"*1\r\n$4\r\nPING\r\nPING\r\n",  # an inline command after one
    b"PING\r\n",  # inline
    b"*0\r\n",
    b"*1\r\n$4\r\nPING\r\n*0\r\n",
    b"*2\r\n$3\r\nGET\r\n$5000\r\n" + b"x" * 5000 + b"\r\n",  # longer than the header table
    b"*2\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n",  # a value with CRLF inside
])
def test_parse_whole_declines_the_unusual(data: bytes) -> None:
    assert RespParser().parse_whole(data) is None


def test_parse_whole_declines_while_bytes_are_buffered_or_unauthenticated() -> None:
    p = RespParser()
    p.feed(b"*1\r\n$4\r\nPI")
    assert p.parse() == []
    assert p.parse_whole(enc(b"PING")) is None
    q = RespParser()
    q.auth_required = True
    assert q.parse_whole(enc(b"PING")) is None
