"""The keys of each hash slot, kept only in cluster mode (Redis's ``slot_to_keys``).

Database 0 holds a :class:`SlotKeys` as ``Database.slot_keys`` while the node
runs in cluster mode (None otherwise, which the keyspace tests where a key is
created or removed), so CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT cost the
keys of one slot, not a scan of the keyspace.
"""

from __future__ import annotations

from collections.abc import Iterable

from moonkv.cluster.slots import key_slot


class SlotKeys:
    def __init__(self) -> None:
        self.by_slot: dict[int, dict[bytes, None]] = {}

    def add(self, key: bytes) -> None:
        slot = key_slot(key)
        keys = self.by_slot.get(slot)
        if keys is None:
            self.by_slot[slot] = {key: None}
        else:
            keys[key] = None

    def remove(self, key: bytes) -> None:
        slot = key_slot(key)
        keys = self.by_slot.get(slot)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del self.by_slot[slot]

    def clear(self) -> None:
        self.by_slot = {}

    def rebuild(self, keys: Iterable[bytes]) -> None:
        self.clear()
        for key in keys:
            self.add(key)

    def count(self, slot: int) -> int:
        return len(self.by_slot.get(slot, ()))

    def keys(self, slot: int, limit: int) -> list[bytes]:
        out: list[bytes] = []
        for key in self.by_slot.get(slot, ()):
            if len(out) >= limit:
                break
            out.append(key)
        return out
