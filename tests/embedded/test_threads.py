"""Threads sharing one client: every command atomic, scripts alone."""

from __future__ import annotations

import threading
from pathlib import Path

import moonkv


def test_threads_share_a_client(tmp_path: Path) -> None:
    threads, rounds = 6, 300
    with moonkv.open(tmp_path, appendfsync="no") as r:
        script = r.register_script(
            "local v = redis.call('GET', KEYS[1]) or '0' "
            "redis.call('SET', KEYS[1], tonumber(v) + 1) return 1"
        )
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                for n in range(rounds):
                    r.incr("counter")
                    script(keys=["scripted"])  # read-modify-write: atomic only if scripts run alone
                    with r.pipeline() as p:
                        p.rpush(f"list{i}", n).lpush("shared", n).execute()
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert not errors
        assert not any(t.is_alive() for t in ts)
        total = threads * rounds
        assert r.get("counter") == str(total).encode()
        assert r.get("scripted") == str(total).encode()
        assert r.llen("shared") == total
        assert all(r.lrange(f"list{i}", 0, -1) == [str(n).encode() for n in range(rounds)] for i in range(threads))
    with moonkv.open(tmp_path) as r:
        assert r.get("counter") == str(total).encode()
