"""keyspace.codec: every value type round-trips; payloads are versioned and checksummed."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moonkv.keyspace import codec
from moonkv.keyspace.types import REGISTRY


def test_strings_round_trip() -> None:
    for v in [b"", b"x", b"\x00\xff" * 1000, b"12345"]:
        assert codec.decode_value(codec.encode_value(v)) == v
        assert codec.value_from_state(codec.value_to_state(v)) == v


@given(st.binary(max_size=300))
@settings(max_examples=100, deadline=None)
def test_payload_round_trip(v: bytes) -> None:
    p = codec.dump_payload(v)
    assert p[0] == codec.PAYLOAD_VERSION
    assert codec.verify_payload(p)
    assert codec.load_payload(p) == v


def test_payload_rejects_corruption() -> None:
    p = codec.dump_payload(b"hello")
    for i in range(len(p)):
        bad = p[:i] + bytes([p[i] ^ 0x40]) + p[i + 1:]
        assert not codec.verify_payload(bad)
        with pytest.raises(codec.CodecError):
            codec.load_payload(bad)
    assert not codec.verify_payload(b"")
    assert not codec.verify_payload(p[:-1])


def test_bad_states() -> None:
    with pytest.raises(codec.CodecError):
        codec.decode_value(b"\xc1")  # never-used msgpack byte
    with pytest.raises(codec.CodecError):
        codec.decode_value(msgpack.packb([b"nosuchtype", []], use_bin_type=True))
    with pytest.raises(codec.CodecError):
        codec.decode_value(msgpack.packb(42))


def _sample(name: bytes) -> object:
    cls = REGISTRY[name]
    if name == b"list":
        return cls.load_state([b"a", b"b", b"\x00"])  # type: ignore[attr-defined]
    if name == b"hash":
        return cls.load_state([0, [b"f", b"v", b"g", b""]])  # type: ignore[attr-defined]
    if name == b"set":
        return cls.load_state([0, [b"1", b"2", b"x"]])  # type: ignore[attr-defined]
    if name == b"zset":
        z = cls()
        z.add(b"a", 1.5)
        z.add(b"b", float("-inf"))
        return z
    pytest.skip(f"no sample for {name!r}")


@pytest.mark.parametrize("name", [b"list", b"hash", b"set", b"zset"])
def test_containers_round_trip(name: bytes) -> None:
    if name not in REGISTRY:
        pytest.skip(f"{name!r} not registered yet")
    v = _sample(name)
    back = codec.decode_value(codec.encode_value(v))
    assert type(back) is type(v)
    assert back.dump_state() == v.dump_state()  # type: ignore[attr-defined]
    assert codec.load_payload(codec.dump_payload(v)).dump_state() == v.dump_state()  # type: ignore[attr-defined]
