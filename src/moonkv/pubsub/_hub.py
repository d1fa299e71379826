"""The subscription registry and message delivery (see the package doc)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from moonkv.commands._util import glob_match
from moonkv.keyspace import Keyspace
from moonkv.keyspace.events import KEYEVENT, KEYSPACE
from moonkv.protocol import bulk

_MESSAGE: Final = bulk(b"message")
_SMESSAGE: Final = bulk(b"smessage")
_PMESSAGE: Final = bulk(b"pmessage")


class Subscriptions:
    """One client's subscriptions (insertion ordered, as UNSUBSCRIBE lists them)."""

    __slots__ = ("channels", "patterns", "shard")

    def __init__(self) -> None:
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard: dict[bytes, None] = {}

    def count(self) -> int:
        """The count SUBSCRIBE/PSUBSCRIBE replies show (shard channels apart, as in Redis)."""
        return len(self.channels) + len(self.patterns)

    def total(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shard)


class Subscriber(Protocol):
    """What the hub needs of a client (engine.Client has it)."""

    resp: int
    subs: Subscriptions | None
    push: Callable[[bytes], None]


Clients = dict[Subscriber, None]  # an ordered set: delivery in subscription order


class Hub:
    """Every subscription of the server, and publishing.

    ``push`` must not change subscriptions: a client that has to be closed
    because of what it was sent is closed after the delivery.
    """

    __slots__ = ("ks", "channels", "patterns", "shard", "held")

    def __init__(self, ks: Keyspace) -> None:
        self.ks = ks
        self.channels: dict[bytes, Clients] = {}
        self.patterns: dict[bytes, Clients] = {}
        self.shard: dict[bytes, Clients] = {}
        # Messages published by the running script: delivered when it commits
        # (release), dropped when it rolls back (discard).
        self.held: list[tuple[bytes, bytes, bool]] = []

    # -- subscribing ----------------------------------------------------------

    def subscribe(self, c: Subscriber, channel: bytes, shard: bool = False) -> bool:
        subs = c.subs
        if subs is None:
            subs = c.subs = Subscriptions()
        mine = subs.shard if shard else subs.channels
        if channel in mine:
            return False
        mine[channel] = None
        table = self.shard if shard else self.channels
        clients = table.get(channel)
        if clients is None:
            clients = table[channel] = {}
        clients[c] = None
        return True

    def unsubscribe(self, c: Subscriber, channel: bytes, shard: bool = False) -> bool:
        subs = c.subs
        if subs is None:
            return False
        mine = subs.shard if shard else subs.channels
        if channel not in mine:
            return False
        del mine[channel]
        _remove(self.shard if shard else self.channels, channel, c)
        return True

    def psubscribe(self, c: Subscriber, pattern: bytes) -> bool:
        subs = c.subs
        if subs is None:
            subs = c.subs = Subscriptions()
        if pattern in subs.patterns:
            return False
        subs.patterns[pattern] = None
        clients = self.patterns.get(pattern)
        if clients is None:
            clients = self.patterns[pattern] = {}
        clients[c] = None
        return True

    def punsubscribe(self, c: Subscriber, pattern: bytes) -> bool:
        subs = c.subs
        if subs is None or pattern not in subs.patterns:
            return False
        del subs.patterns[pattern]
        _remove(self.patterns, pattern, c)
        return True

    def settle(self, c: Subscriber) -> None:
        """Leave subscribed mode once nothing is left (Redis clears CLIENT_PUBSUB then)."""
        subs = c.subs
        if subs is not None and not subs.total():
            c.subs = None

    def drop(self, c: Subscriber) -> None:
        """Forget every subscription of ``c`` (disconnection, RESET), telling it nothing."""
        subs = c.subs
        if subs is None:
            return
        for ch in subs.channels:
            _remove(self.channels, ch, c)
        for ch in subs.shard:
            _remove(self.shard, ch, c)
        for pat in subs.patterns:
            _remove(self.patterns, pat, c)
        c.subs = None

    # -- publishing -------------------------------------------------------------

    def publish(self, channel: bytes, message: bytes, shard: bool = False) -> int:
        """Send ``message`` to the subscribers of ``channel``; returns how many receive it.

        Inside a script (its undo log exists) the message is held until the
        script commits; the count is the receivers at the time of the call,
        which nothing can change before the commit (scripts cannot subscribe).
        """
        if self.ks.undo is not None:
            self.held.append((channel, message, shard))
            return self.receivers(channel, shard)
        return self.deliver(channel, message, shard)

    def notify(self, event: bytes, key: bytes, dbid: int) -> None:
        """Publish a keyspace event (the keyspace's notifier): the key's channel
        first, then the event's, as Redis's notifyKeyspaceEvent."""
        flags = self.ks.events
        if flags & KEYSPACE:
            self.publish(b"__keyspace@%d__:%s" % (dbid, key), event)
        if flags & KEYEVENT:
            self.publish(b"__keyevent@%d__:%s" % (dbid, event), key)

    def receivers(self, channel: bytes, shard: bool = False) -> int:
        if shard:
            return len(self.shard.get(channel) or ())
        n = len(self.channels.get(channel) or ())
        for pat, clients in self.patterns.items():
            if glob_match(pat, channel):
                n += len(clients)
        return n

    def deliver(self, channel: bytes, message: bytes, shard: bool = False) -> int:
        # Each message is encoded once per RESP version and the same bytes go
        # to every subscriber (the push seam holds them for the loop's flush).
        n = 0
        clients = (self.shard if shard else self.channels).get(channel)
        if clients:
            body = (_SMESSAGE if shard else _MESSAGE) + bulk(channel) + bulk(message)
            m2 = b"*3\r\n" + body
            m3 = b""
            for cl in clients:
                if cl.resp == 2:
                    cl.push(m2)
                else:
                    m3 = m3 or b">3\r\n" + body
                    cl.push(m3)
            n = len(clients)
        if shard or not self.patterns:
            return n
        tail = bulk(channel) + bulk(message)
        for pat, clients in self.patterns.items():
            if glob_match(pat, channel):
                body = _PMESSAGE + bulk(pat) + tail
                m2 = b"*4\r\n" + body
                m3 = b">4\r\n" + body
                for cl in clients:
                    cl.push(m3 if cl.resp == 3 else m2)
                n += len(clients)
        return n

    def release(self) -> None:
        """The script committed: deliver what it published, in order."""
        held = self.held
        self.held = []
        for channel, message, shard in held:
            self.deliver(channel, message, shard)

    def discard(self) -> None:
        """The script rolled back: its messages are never sent."""
        self.held = []


def _remove(table: dict[bytes, Clients], name: bytes, c: Subscriber) -> None:
    clients = table[name]
    del clients[c]
    if not clients:
        del table[name]  # no empty entries: channel names cannot pile up
