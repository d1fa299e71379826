"""Per-connection state that commands read and change (not the socket itself)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from moonkv.keyspace import Database
from moonkv.pubsub import Subscriptions
from moonkv.tracking import TrackingState

if TYPE_CHECKING:
    from moonkv.engine._server import Server

_ids: Final = itertools.count(1)

REPLY_ON: Final = 0
REPLY_OFF: Final = 1
REPLY_SKIP: Final = 2

# The fewest bytes one element of a reply takes (":0\r\n"; a bulk string takes 6 or more).
_MIN_ELEMENT: Final = 4

# A connection's fixed cost (its objects and the transport's), before its buffers: CLIENT
# LIST's tot-mem starts there (docs/operations.md, "What `used_memory` counts").
BASE_MEM: Final = 8192
# What one subscription, watched key or tracking prefix costs a client (the entry in the
# client's own set and its share of the server's table; the name itself is counted once).
_ENTRY_MEM: Final = 64
# A queued MULTI command's cost beside its arguments (the tuple, the list, the pointers).
_QUEUED_MEM: Final = 96


class Client:
    """A client: a network connection, a script's fake caller, or an embedded user.

    The network layer sets ``send`` (deliver a reply later, e.g. when a blocked
    client is served), ``push`` (out-of-band bytes for this client, already
    encoded for its protocol: pub/sub messages; they go out even under CLIENT
    REPLY OFF, in order with its replies; ``push_after``: after the reply of the
    command running now), ``close`` (drop the connection) and
    ``buffers`` (qbuf, output bytes not yet written, output chunks, qbuf-free and argv-mem,
    for CLIENT LIST and INFO), ``abort`` (drop the connection and its unwritten output at
    once: client eviction), ``reply_room`` and ``deferred_reply``
    (client-output-buffer-limit).

    ``mem`` is the memory this client last added to the clients' total
    (engine/_clientmem.py), ``multi_mem`` what its queued MULTI commands hold.
    """

    def __init__(
        self, server: Server, addr: str = "", laddr: str = "", fd: int = -1, local: bool = True
    ) -> None:
        self.id = next(_ids)
        self.server = server
        self.db: Database = server.ks.dbs[0]
        self.resp = 2
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.addr = addr
        self.laddr = laddr
        self.fd = fd
        # From 127.0.0.1/::1 (or in-process): see engine/_protect.py.
        self.local = local
        self.created = time.time()
        self.last_interaction = self.created
        acl = getattr(server, "acl", None)
        self.authenticated = acl.default_open if acl is not None else not server.config["requirepass"]
        self.user: Any = acl.default if acl is not None else None  # engine._acl.User
        # The user when its permissions must be checked (restricted), else None.
        self.acl_user: Any = self.user if self.user is not None and self.user.restricted else None
        self.multi: list[tuple[Any, list[bytes]]] | None = None
        self.multi_error = False
        self.multi_mem = 0
        self.mem = 0
        self.watched: set[tuple[int, bytes]] = set()
        self.watch_expired: set[tuple[int, bytes]] = set()
        self.dirty_cas = False
        self.blocked: Any = None  # a BlockState while blocked
        self.reply_mode = REPLY_ON
        self.last_cmd = b"NULL"
        self.closing = False
        self.in_script = False  # a script's fake client
        self.in_exec = False
        self.no_evict = False
        self.paused_reply: list[object] = []
        self.send: Callable[[object], None] = _discard
        self.push: Callable[[bytes], None] = _discard_bytes
        # A push that must follow the reply of the command running now (the network
        # layer defers it; elsewhere it is a plain push).
        self.push_after: Callable[[bytes], None] = self._push_now
        self.close: Callable[[], None] = _noop
        self.abort: Callable[[], None] = _noop
        self.buffers: Callable[[], tuple[int, int, int, int, int]] = _no_buffers
        # Reply bytes this client may still be sent before its output buffer's hard limit
        # closes it; None: no limit (the network layer sets it; see Connection.reply_room).
        self.reply_room: Callable[[], int | None] = _no_limit
        # A handler whose reply Redis 7.0 starts with a deferred length (addReplyDeferredLen:
        # KEYS, SMEMBERS, ZRANGEBYSCORE, ...) calls it before it returns: Redis puts such a
        # reply in its reply list, past the 16 KiB reply buffer, so all of it counts against
        # client-output-buffer-limit (the network layer sets it; see Connection.deferred_reply).
        self.deferred_reply: Callable[[], None] = _noop
        self.subs: Subscriptions | None = None  # while subscribed to something (pub/sub mode)
        # Bytes written but not yet taken by the socket (the network layer sets it).
        self.out_pending: Callable[[], int] = _zero
        self.tracking: TrackingState | None = None  # while CLIENT TRACKING is on
        self.kill_reason = ""
        self.readonly = False  # cluster mode: READONLY (a replica serves this client's reads)
        self.asking = False  # cluster mode: ASKING (one command may use a slot being imported)
        self.flags = ""

    def _push_now(self, data: bytes) -> None:
        self.push(data)

    def reply_elements(self, n: int) -> int:
        """How many of ``n`` reply elements to build for a reply whose size the caller chose
        (a negative count to HRANDFIELD, SRANDMEMBER, ZRANDMEMBER): all of them, unless they
        cannot fit under this client's output buffer hard limit; then just enough to be sure
        to pass it, as the client is closed at the flush with its reply dropped anyway (Redis
        stops such a command mid-run). A count of a billion costs neither time nor memory."""
        room = self.reply_room()
        if room is None:
            return n
        return min(n, room // _MIN_ELEMENT + 1)

    def queue(self, spec: Any, argv: list[bytes]) -> None:
        """Queue a command into MULTI, counting what it holds (CLIENT LIST multi-mem)."""
        queue = self.multi
        assert queue is not None
        if not queue:
            self.multi_mem = 0
        queue.append((spec, argv))
        self.multi_mem += _QUEUED_MEM + 8 * len(argv) + sum(map(len, argv))

    def memory(self) -> int:
        """This client's memory: its fixed cost, query and output buffers, queued MULTI
        commands, subscriptions, watched keys and tracking prefixes (Redis's
        getClientMemoryUsage; CLIENT LIST tot-mem)."""
        # The output counted is omem: what Redis's 16 KiB reply buffer, allocated with the
        # client, would not hold (a few KB of replies coming and going would otherwise move
        # used_memory at every reply and, under maxmemory, evict for it).
        qbuf, omem, _, qfree, argv = self.buffers()
        mem = BASE_MEM + qbuf + qfree + argv + omem + _ENTRY_MEM * len(self.watched)
        if self.multi:
            mem += self.multi_mem
        subs = self.subs
        if subs is not None:
            mem += _ENTRY_MEM * (len(subs.channels) + len(subs.patterns) + len(subs.shard))
        tracking = self.tracking
        if tracking is not None:
            mem += _ENTRY_MEM * len(tracking.prefixes)
        return mem

    def select(self, index: int) -> None:
        self.db = self.server.ks.dbs[index]

    def info_line(self, running: list[bytes] | None = None) -> str:
        """One line of CLIENT LIST / CLIENT INFO, in Redis's field order.

        ``running``: the command this client is running (the CLIENT LIST or INFO itself),
        which Redis's query buffer still holds while it runs: ``qbuf`` counts it, in its
        multibulk form, beside the bytes not yet parsed.
        """
        now = time.time()
        flags = "O" if self in self.server.monitors else ""
        subs = self.subs
        if subs is not None:
            flags += "P"
        if self.multi is not None:
            flags += "x"
        if self.blocked is not None:
            flags += "b"
        tracking = self.tracking
        if tracking is not None:
            flags += "t"
            if tracking.broken:
                flags += "R"
            if tracking.bcast:
                flags += "B"
        if self.dirty_cas:
            flags += "d"
        if self.closing:
            flags += "c"
        if "S" in self.flags:  # a replica's connection (replication marks it)
            flags += "S"
        if self.readonly:
            flags += "r"
        if self.no_evict:
            flags += "e"
        flags = flags or "N"
        cmd = self.last_cmd.decode("utf-8", "replace").lower()
        qbuf, out, oll, qfree, argv = self.buffers()
        mem = self.memory()
        if running is not None:
            size = request_size(running)
            qbuf += size
            mem += size
        user = self.user.name.decode("utf-8", "replace") if self.user is not None else "default"
        return (
            f"id={self.id} addr={self.addr} laddr={self.laddr} fd={self.fd} "
            f"name={self.name.decode('utf-8', 'replace')} age={int(now - self.created)} "
            f"idle={int(now - self.last_interaction)} flags={flags} db={self.db.id} "
            f"sub={len(subs.channels) if subs else 0} psub={len(subs.patterns) if subs else 0} "
            f"ssub={len(subs.shard) if subs else 0} multi={len(self.multi) if self.multi is not None else -1} qbuf={qbuf} "
            f"qbuf-free={qfree} argv-mem={argv} multi-mem={self.multi_mem if self.multi else 0} rbs=1024 rbp=0 "
            f"obl=0 oll={oll} omem={out} tot-mem={mem} "
            f"events=r cmd={cmd} user={user} redir={tracking.redirect if tracking is not None else -1} resp={self.resp}"
        )


def request_size(argv: list[bytes]) -> int:
    """Bytes of ``argv`` sent as a multibulk request (``*2\\r\\n$6\\r\\nclient...``)."""
    size = len(b"*%d\r\n" % len(argv))
    for a in argv:
        size += len(b"$%d\r\n" % len(a)) + len(a) + 2
    return size


def _discard(_reply: object) -> None:
    pass


def _discard_bytes(_data: bytes) -> None:
    pass


def _noop() -> None:
    pass


def _zero() -> int:
    return 0


def _no_buffers() -> tuple[int, int, int, int, int]:
    return 0, 0, 0, 0, 0


def _no_limit() -> int | None:
    return None
