"""ACL records of every log format load: database -2 (written since ACL users became effects
of their own, before and after they replicated) and database 0 (older logs)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.fuzz.regressions.test_datadir_found import make_dir
from tests.helpers import RawClient, start_moonkv

TS = 1700000000000


def _setuser(name: bytes, password: bytes) -> list[bytes]:
    digest = hashlib.sha256(password).hexdigest().encode()
    return [b"ACL", b"SETUSER", name, b"on", b"#" + digest, b"~*", b"resetchannels", b"+@all"]


def test_acl_records_of_older_logs_load(tmp_path: Path) -> None:
    d = make_dir(tmp_path, [
        [TS, [[-2, _setuser(b"alice", b"pw")]]],
        [TS, [[0, _setuser(b"bob", b"b")], [0, [b"SET", b"k", b"v"]]]],  # database 0: older logs
        [TS, [[-2, _setuser(b"carol", b"c")]], ["0" * 40, 10, 0]],  # a record with a position
        [TS, [[-2, [b"ACL", b"DELUSER", b"carol"]]]],
    ])
    h = start_moonkv(["--save", ""], dir=d)
    try:
        c = RawClient(h.port)
        try:
            assert c.call("AUTH", "alice", "pw") == b"+OK\r\n"
            assert c.call("AUTH", "bob", "b") == b"+OK\r\n"
            assert c.call("GET", "k") == b"$1\r\nv\r\n"
            assert c.call("ACL", "USERS") == b"*3\r\n$5\r\nalice\r\n$3\r\nbob\r\n$7\r\ndefault\r\n"
        finally:
            c.close()
    finally:
        h.stop()
