"""Hash slots (moonkv.cluster.slots) against CRC16 computed by binascii and Redis's hash-tag rule.

The compiled build hashes keys of up to SHORT bytes with its own table loop and longer
ones with binascii.crc_hqx; the interpreted build always uses crc_hqx.  scripts/test.sh
runs this file on both builds, so both ways are checked against the same reference.
"""

from __future__ import annotations

import binascii

from hypothesis import given, settings
from hypothesis import strategies as st

from moonkv import native
from moonkv.cluster import slots
from moonkv.cluster.slots import SHORT, crc16, key_slot


def reference_slot(key: bytes) -> int:
    """Redis's keyHashSlot: the part between the first "{" and the next "}", if not empty."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return binascii.crc_hqx(key, 0) % 16384


# Keys rich in braces, around SHORT (where the compiled build changes method) and beyond.
keys_st = st.one_of(
    st.binary(max_size=3 * SHORT),
    st.lists(st.sampled_from([b"{", b"}", b"a", b"\x00", b"\xff", b"key:"]), max_size=2 * SHORT).map(b"".join),
)


@settings(max_examples=3000, deadline=None)
@given(keys_st)
def test_key_slot_and_crc16_match_binascii(key: bytes) -> None:
    assert key_slot(key) == reference_slot(key)
    assert crc16(key) == binascii.crc_hqx(key, 0)


def test_keys_on_both_sides_of_short() -> None:
    for n in (0, 1, SHORT - 1, SHORT, SHORT + 1, 4 * SHORT):
        for key in (b"k" * n, b"{t}" + b"k" * n, b"k" * n + b"{t}", b"k" * n + b"{}", b"\xff" * n):
            assert key_slot(key) == reference_slot(key), key
            assert crc16(key) == binascii.crc_hqx(key, 0), key
    assert crc16(b"123456789") == 0x31C3  # CRC16/XMODEM's check value


def test_compiled_flag_names_the_build() -> None:
    assert slots.COMPILED == native.is_compiled("moonkv.cluster.slots")
