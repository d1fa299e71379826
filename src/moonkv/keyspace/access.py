"""The per-key access clock and random sampling that eviction needs, kept only when it is on.

A :class:`Tracker` exists for a database only while ``maxmemory`` is set with
a policy other than ``noeviction`` (the keyspace's ``evicting`` state): with
no limit, reads and writes pay one ``is None`` test and nothing else.

Keys live in an array (``keys``) with their positions (``pos``), so a random
key is O(1) to draw (Python's dicts cannot be sampled) and a removal swaps
the last key into the hole.  ``vals`` holds, per key, what the policy ranks
by: the last access in ms under LRU; under LFU Redis's 24-bit word, the
minute of the last decrement (16 bits) and an 8-bit logarithmic counter.
"""

from __future__ import annotations

import random
import sys
from array import array
from typing import Final

LFU_INIT: Final = 5  # Redis's LFU_INIT_VAL: a new key is not evicted at once


def lfu_minutes(now_ms: int) -> int:
    return (now_ms // 60000) & 0xFFFF


def lfu_decayed(word: int, now_min: int, decay_time: int) -> int:
    """The counter of ``word`` after the decay periods elapsed since its last decrement."""
    counter = word & 0xFF
    if decay_time:
        elapsed = (now_min - (word >> 8)) & 0xFFFF
        counter = max(0, counter - elapsed // decay_time)
    return counter


def lfu_incr(counter: int, log_factor: int) -> int:
    """Redis's logarithmic increment: the higher the counter, the less likely it grows."""
    if counter == 255:
        return 255
    base = max(0, counter - LFU_INIT)
    if random.random() < 1.0 / (base * log_factor + 1):
        return counter + 1
    return counter


class Tracker:
    __slots__ = ("keys", "pos", "vals", "lfu", "log_factor", "decay_time")

    def __init__(self, lfu: bool, log_factor: int, decay_time: int) -> None:
        self.keys: list[bytes] = []
        self.pos: dict[bytes, int] = {}
        self.vals = array("q")
        self.lfu = lfu
        self.log_factor = log_factor
        self.decay_time = decay_time

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: bytes, now_ms: int) -> None:
        self.pos[key] = len(self.keys)
        self.keys.append(key)
        self.vals.append((lfu_minutes(now_ms) << 8) | LFU_INIT if self.lfu else now_ms)

    def remove(self, key: bytes) -> None:
        i = self.pos.pop(key, None)
        if i is None:
            return
        last = self.keys.pop()
        val = self.vals.pop()
        if i < len(self.keys):
            self.keys[i] = last
            self.vals[i] = val
            self.pos[last] = i

    def access(self, key: bytes, now_ms: int) -> None:
        i = self.pos.get(key)
        if i is None:
            self.add(key, now_ms)
        elif self.lfu:
            now_min = lfu_minutes(now_ms)
            counter = lfu_incr(lfu_decayed(self.vals[i], now_min, self.decay_time), self.log_factor)
            self.vals[i] = (now_min << 8) | counter
        else:
            self.vals[i] = now_ms

    def random_key(self) -> bytes:
        keys = self.keys
        return keys[random.randrange(len(keys))]

    def idle_ms(self, key: bytes, now_ms: int) -> int:
        """Milliseconds since the last access (LRU); 0 if unknown."""
        i = self.pos.get(key)
        return 0 if i is None or self.lfu else max(0, now_ms - self.vals[i])

    def freq(self, key: bytes, now_ms: int) -> int:
        """The LFU counter after decay (OBJECT FREQ)."""
        i = self.pos.get(key)
        if i is None or not self.lfu:
            return 0
        return lfu_decayed(self.vals[i], lfu_minutes(now_ms), self.decay_time)

    def rank(self, key: bytes, now_ms: int) -> int:
        """The higher, the better a candidate for eviction (Redis's ``idle``)."""
        i = self.pos.get(key)
        if i is None:
            return 0
        if self.lfu:
            return 255 - lfu_decayed(self.vals[i], lfu_minutes(now_ms), self.decay_time)
        return now_ms - self.vals[i]

    def memory(self) -> int:
        """Bytes held by the tracker (counted in used_memory)."""
        # per key: its pointer in ``keys``, its slot in ``vals``, its position's int object
        return sys.getsizeof(self.pos) + 48 * len(self.keys)
