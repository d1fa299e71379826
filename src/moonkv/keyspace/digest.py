"""DEBUG DIGEST / DIGEST-VALUE: Redis's order-independent SHA1 digest of the dataset.

The same mixing as Redis's debug.c: a key's digest mixes its name, its type and its value
(list elements in order; set members, hash fields with their values and sorted set
members with their scores combined order-independently), and notes that it has a TTL;
the dataset's digest XORs the key digests of each non-empty database, mixed with its
number.  A stream's value is mixed from moonkv's own serialization (Redis mixes its
internal listpacks, which moonkv does not have): its digests differ from Redis's, while
equal streams still give equal digests.
"""

from __future__ import annotations

import hashlib
from typing import Any

from moonkv.keyspace.codec import encode_value
from moonkv.keyspace.db import Database, Keyspace
from moonkv.keyspace.types.hash import Hash
from moonkv.keyspace.types.list import List
from moonkv.keyspace.types.set import Set
from moonkv.keyspace.types.zset import ZSet

# Redis's object type numbers (OBJ_STRING ... OBJ_STREAM), mixed in as 4 big-endian bytes.
_TYPE_CODES = {bytes: 0, List: 1, Set: 2, ZSet: 3, Hash: 4}
_STREAM_CODE = 6


def _xor(digest: bytearray, data: bytes) -> None:
    h = hashlib.sha1(data).digest()
    for i in range(20):
        digest[i] ^= h[i]


def _mix(digest: bytearray, data: bytes) -> None:
    _xor(digest, data)
    digest[:] = hashlib.sha1(digest).digest()


def _score(score: float) -> bytes:
    """A score as Redis 7.0's digest writes it (printf's %.17g)."""
    return b"%.17g" % score  # inf and -inf as C writes them


def _mix_object(digest: bytearray, db: Database, key: bytes, value: Any) -> None:
    """Redis's xorObjectDigest: mix ``key``'s type, value and TTL flag into ``digest``."""
    _mix(digest, _TYPE_CODES.get(type(value), _STREAM_CODE).to_bytes(4, "big"))
    if type(value) is bytes:
        _mix(digest, value)
    elif isinstance(value, List):
        for el in value:
            _mix(digest, el)
    elif isinstance(value, Set):
        for m in value:
            _xor(digest, m)
    elif isinstance(value, ZSet):
        for m, s in value.dict.items():
            ele = bytearray(20)
            _mix(ele, m)
            _mix(ele, _score(s))
            _xor(digest, bytes(ele))
    elif isinstance(value, Hash):
        for f, v in value.items():
            ele = bytearray(20)
            _mix(ele, f)
            _mix(ele, v)
            _xor(digest, bytes(ele))
    else:
        _mix(digest, encode_value(value))
    if key in db.expires:
        _xor(digest, b"!!expire!!")


def value_digest(db: Database, key: bytes) -> bytes:
    """DEBUG DIGEST-VALUE of one key (zeros when missing; logically expired keys count)."""
    digest = bytearray(20)
    value = db.data.get(key)
    if value is not None:
        _mix_object(digest, db, key, value)
    return bytes(digest)


def dataset_digest(ks: Keyspace) -> bytes:
    """DEBUG DIGEST: every database's keys; zeros when all are empty."""
    final = bytearray(20)
    for db in ks.dbs:
        if not db.data:
            continue
        _mix(final, db.id.to_bytes(4, "big"))
        for key, value in db.data.items():
            digest = bytearray(20)
            _mix(digest, key)
            _mix_object(digest, db, key, value)
            _xor(final, bytes(digest))
    return bytes(final)
