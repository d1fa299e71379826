"""Client load for the resharding tests: redis-py's RedisCluster writing continuously."""

from __future__ import annotations

import threading
import traceback

from redis.cluster import RedisCluster


class Writer(threading.Thread):
    """redis-py's RedisCluster writing continuously; remembers what was acknowledged."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.rc = RedisCluster(host="127.0.0.1", port=port, socket_timeout=20)
        self.stop_flag = threading.Event()
        self.acked: dict[bytes, bytes] = {}
        self.incrs = 0
        self.errors: list[BaseException] = []
        self.trace = ""

    def run(self) -> None:
        i = 0
        try:
            while not self.stop_flag.is_set():
                key = b"key:%d" % (i % 3000)
                val = b"v%d" % i
                self.rc.set(key, val)
                self.acked[key] = val
                # One slot (hash tag) for a counter and a pair written together.
                self.rc.incr(b"{tag}:count")
                self.incrs += 1
                self.rc.mset({b"{tag}:a": val, b"{tag}:b": val})
                self.acked[b"{tag}:a"] = self.acked[b"{tag}:b"] = val
                i += 1
        except BaseException as e:  # noqa: BLE001 - the test reports it
            self.errors.append(e)
            self.trace = traceback.format_exc()
        finally:
            self.rc.close()
