"""Pure helpers of the string commands: LCS rows and the long double emulation."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moonkv.commands.strings import _lcs_rows, format_long_double, parse_long_double
from moonkv.errors import RespError


def _dp(a: bytes, b: bytes) -> list[list[int]]:
    t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            t[i][j] = t[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(t[i - 1][j], t[i][j - 1])
    return t


@given(st.binary(max_size=30), st.binary(max_size=30))
@settings(max_examples=300, deadline=None)
def test_lcs_rows_match_dynamic_programming(a: bytes, b: bytes) -> None:
    a = bytes(x % 3 for x in a)
    b = bytes(x % 3 for x in b)
    rows = _lcs_rows(a, b)
    t = _dp(a, b)
    for i in range(len(a) + 1):
        for j in range(len(b) + 1):
            assert j - (rows[i] & ((1 << j) - 1)).bit_count() == t[i][j]


@pytest.mark.parametrize(("text", "out"), [
    (b"10.5", b"10.5"), (b"1e5", b"100000"), (b"0.1", b"0.1"), (b"-0.1", b"-0.1"),
    (b"1e30", b"1000000000000000000024696061952"), (b"0x10", b"16"), (b"5.", b"5"),
    (b"-1e-30", b"0"), (b"3e-20", b"0"),
])
def test_long_double_parse_and_format(text: bytes, out: bytes) -> None:
    v = parse_long_double(text)
    assert isinstance(v, Fraction)
    assert format_long_double(v) == out


@pytest.mark.parametrize("text", [b"", b" 1", b"1 ", b"abc", b"1e", b"nan", b"1e5000", b"1e-5000",
                                  b"1_0", b".", b"0x"])
def test_long_double_rejects(text: bytes) -> None:
    with pytest.raises(RespError):
        parse_long_double(text)


def test_long_double_infinity() -> None:
    assert parse_long_double(b"inf") is None
    assert parse_long_double(b"-Infinity") is None
