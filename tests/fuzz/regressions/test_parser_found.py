"""Inputs the parser fuzzer found, kept exactly."""

from __future__ import annotations

from moonkv.protocol import RespParser


def test_a_resp3_header_after_a_command_is_an_inline_command() -> None:
    # Found by seed d1b96c44b565, case 14000: parse_whole took "~1" (an inline
    # command, as Redis reads it) for "*1" and swallowed the two lines after it.
    data = b"*2\r\n$6\r\nLRANGE\r\n$4\r\n9zx\x00\r\n~1\r\n$1\r\na\r\n"
    p = RespParser()
    assert p.parse_whole(data) is None
    p.feed(data)
    assert p.parse() == [[b"LRANGE", b"9zx\x00"], [b"~1"], [b"$1"], [b"a"]]
    assert p.error is None


def test_every_two_byte_header_but_star_is_refused_by_parse_whole() -> None:
    for t in b"%~>|$+-:#,(=_!x":
        data = b"*1\r\n$4\r\nPING\r\n" + bytes([t]) + b"1\r\n$4\r\nPING\r\n"
        assert RespParser().parse_whole(data) is None, data
