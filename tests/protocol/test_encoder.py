"""Reply encoding, RESP2 and RESP3, for every reply value type."""

from __future__ import annotations

import math

import hiredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moonkv.errors import NoScriptError, RespError, WrongTypeError
from moonkv.protocol import (
    NULL_ARRAY,
    BigNumber,
    Double,
    Push,
    RawReply,
    Verbatim,
    encode,
    encode_command,
    encode_many,
    format_double,
)

CASES: list[tuple[object, bytes, bytes]] = [
    # value, RESP2, RESP3
    (b"abc", b"$3\r\nabc\r\n", b"$3\r\nabc\r\n"),
    (b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    (b"a\r\nb\x00", b"$5\r\na\r\nb\x00\r\n", b"$5\r\na\r\nb\x00\r\n"),
    (bytearray(b"xy"), b"$2\r\nxy\r\n", b"$2\r\nxy\r\n"),
    (memoryview(b"xy"), b"$2\r\nxy\r\n", b"$2\r\nxy\r\n"),
    ("OK", b"+OK\r\n", b"+OK\r\n"),
    ("", b"+\r\n", b"+\r\n"),
    (0, b":0\r\n", b":0\r\n"),
    (-(2**63), b":-9223372036854775808\r\n", b":-9223372036854775808\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (False, b":0\r\n", b"#f\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    ([], b"*0\r\n", b"*0\r\n"),
    ([b"a", 1, None, [b"b"]], b"*4\r\n$1\r\na\r\n:1\r\n$-1\r\n*1\r\n$1\r\nb\r\n",
     b"*4\r\n$1\r\na\r\n:1\r\n_\r\n*1\r\n$1\r\nb\r\n"),
    ((b"t", "s"), b"*2\r\n$1\r\nt\r\n+s\r\n", b"*2\r\n$1\r\nt\r\n+s\r\n"),
    ({b"k": 1, b"j": b"v"}, b"*4\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n$1\r\nv\r\n",
     b"%2\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n$1\r\nv\r\n"),
    ({}, b"*0\r\n", b"%0\r\n"),
    ({b"m"}, b"*1\r\n$1\r\nm\r\n", b"~1\r\n$1\r\nm\r\n"),
    (frozenset(), b"*0\r\n", b"~0\r\n"),
    (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (0.1, b"$19\r\n0.10000000000000001\r\n", b",0.10000000000000001\r\n"),
    (math.inf, b"$3\r\ninf\r\n", b",inf\r\n"),
    (-math.inf, b"$4\r\n-inf\r\n", b",-inf\r\n"),
    (Double(2.0), b"$1\r\n2\r\n", b",2\r\n"),
    (Verbatim(b"hello"), b"$5\r\nhello\r\n", b"=9\r\ntxt:hello\r\n"),
    (Verbatim(b"# x", b"mkd"), b"$3\r\n# x\r\n", b"=7\r\nmkd:# x\r\n"),
    (BigNumber(b"123456789012345678901234567890"),
     b"$30\r\n123456789012345678901234567890\r\n", b"(123456789012345678901234567890\r\n"),
    (Push([b"message", b"ch", b"hi"]), b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
     b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
    (RawReply(b"+RAW\r\n"), b"+RAW\r\n", b"+RAW\r\n"),
    (RespError("bad thing"), b"-ERR bad thing\r\n", b"-ERR bad thing\r\n"),
    (WrongTypeError(), b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
     b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    (NoScriptError(), b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
     b"-NOSCRIPT No matching script. Please use EVAL.\r\n"),
    (RespError("a\r\nb"), b"-ERR a  b\r\n", b"-ERR a  b\r\n"),
    (RespError(full="MYERR custom"), b"-MYERR custom\r\n", b"-MYERR custom\r\n"),
]


@pytest.mark.parametrize(("value", "resp2", "resp3"), CASES)
def test_encode(value: object, resp2: bytes, resp3: bytes) -> None:
    assert encode(value, 2) == resp2
    assert encode(value, 3) == resp3
    out: list[bytes] = []
    encode_many([value, value], 3, out.append)
    assert b"".join(out) == resp3 * 2


def test_nested_resp3_map_in_array() -> None:
    v = [{b"a": {b"x"}}, Push([True])]
    assert encode(v, 3) == b"*2\r\n%1\r\n$1\r\na\r\n~1\r\n$1\r\nx\r\n>1\r\n#t\r\n"
    assert encode(v, 2) == b"*2\r\n*2\r\n$1\r\na\r\n*1\r\n$1\r\nx\r\n*1\r\n:1\r\n"


def test_unknown_type_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        encode(object(), 2)


def test_format_double() -> None:
    assert format_double(3.0) == b"3"
    assert format_double(1e300) == b"1.0000000000000001e+300"
    assert format_double(-0.0) == b"-0"
    assert format_double(math.nan) == b"nan"


json_like = st.recursive(
    st.one_of(st.binary(max_size=20), st.integers(-(2**63), 2**63 - 1), st.none(),
              st.text(alphabet="abcXYZ 09", max_size=10)),
    lambda inner: st.lists(inner, max_size=5),
    max_leaves=20,
)


def _expect(v: object) -> object:
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, list):
        return [_expect(x) for x in v]
    return v


@settings(max_examples=300, deadline=None)
@given(json_like)
def test_resp2_roundtrip_through_hiredis(value: object) -> None:
    r = hiredis.Reader()
    r.feed(encode(value, 2))
    assert r.gets() == _expect(value)
    assert r.gets() is False


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.binary(max_size=8), st.integers(-(2**63), 2**63 - 1), max_size=5))
def test_resp3_map_roundtrip_through_hiredis(value: dict[bytes, int]) -> None:
    r = hiredis.Reader()
    r.feed(encode(value, 3))
    assert r.gets() == value


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=1100) | st.binary(min_size=1020, max_size=1030), min_size=1, max_size=20))
def test_encode_command_is_the_array_of_bulk_strings(argv: list[bytes]) -> None:
    """The replication stream's encoder: the reply encoder's bytes, which hiredis reads back
    (lengths around the header table's end and array lengths past its 16 included)."""
    data = encode_command(argv)
    assert data == encode(argv, 2)
    r = hiredis.Reader()
    r.feed(data)
    assert r.gets() == argv
