"""The LFU counters and the random sampling that eviction needs, kept only when used.

A key's last access time (OBJECT IDLETIME, LRU eviction) is ``Database.lru``, kept
under an LRU policy only.  A :class:`Tracker` exists for a database only
under an LFU policy (it holds the counters OBJECT FREQ reads) or while ``maxmemory``
is set with another policy than ``noeviction`` (eviction draws keys from it): without
either, reads and writes never touch it.

Keys live in an array (``keys``) with their positions (``pos``), so a random
key is O(1) to draw (Python's dicts cannot be sampled) and a removal swaps
the last key into the hole.  Under LFU, ``vals`` holds per key Redis's 24-bit
word: the minute of the last decrement (16 bits) and an 8-bit logarithmic counter.
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
        if self.lfu:
            self.vals.append((lfu_minutes(now_ms) << 8) | LFU_INIT)

    def remove(self, key: bytes) -> None:
        i = self.pos.pop(key, None)
        if i is None:
            return
        last = self.keys.pop()
        val = self.vals.pop() if self.lfu else 0
        if i < len(self.keys):
            self.keys[i] = last
            if self.lfu:
                self.vals[i] = val
            self.pos[last] = i

    def access(self, key: bytes, now_ms: int) -> None:
        """An access to ``key`` under LFU: Redis's updateLFU (decay, then maybe increment)."""
        i = self.pos.get(key)
        if i is None:
            self.add(key, now_ms)
            return
        now_min = lfu_minutes(now_ms)
        counter = lfu_incr(lfu_decayed(self.vals[i], now_min, self.decay_time), self.log_factor)
        self.vals[i] = (now_min << 8) | counter

    def set_freq(self, key: bytes, freq: int, now_ms: int) -> None:
        """RESTORE ... FREQ: the counter as given, decremented from now on."""
        i = self.pos.get(key)
        if i is None:
            self.add(key, now_ms)
            i = self.pos[key]
        self.vals[i] = (lfu_minutes(now_ms) << 8) | freq

    def word(self, key: bytes) -> int:
        """The LFU word as Redis keeps it in the object's ``lru`` field (DEBUG OBJECT)."""
        i = self.pos.get(key)
        return 0 if i is None else self.vals[i]

    def random_key(self) -> bytes:
        keys = self.keys
        return keys[random.randrange(len(keys))]

    def freq(self, key: bytes, now_ms: int) -> int:
        """The LFU counter after decay (OBJECT FREQ)."""
        i = self.pos.get(key)
        if i is None or not self.lfu:
            return 0
        return lfu_decayed(self.vals[i], lfu_minutes(now_ms), self.decay_time)

    def rank(self, key: bytes, now_ms: int) -> int:
        """Under LFU, the higher, the better a candidate for eviction (Redis's ``idle``)."""
        i = self.pos.get(key)
        if i is None:
            return 0
        return 255 - lfu_decayed(self.vals[i], lfu_minutes(now_ms), self.decay_time)

    def memory(self) -> int:
        """Bytes held by the tracker (counted in used_memory)."""
        # per key: its pointer in ``keys``, its slot in ``vals`` (LFU), its position's int object
        return sys.getsizeof(self.pos) + (48 if self.lfu else 40) * len(self.keys)
