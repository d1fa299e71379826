"""A replica applying its primary's stream: commands out of the parser, unit by unit.

Units are applied whole: the commands between ``MULTI`` and ``EXEC`` are kept until
``EXEC`` arrives and then run as one unit (one record of the durable log).  Each
record carries the stream position reached (``Persistence.repl_pos``).  Compiled in
the native build (``native.MODULES``): a replica runs this for every command its
primary writes.
"""

from __future__ import annotations

import logging

from moonkv.commands.table import lookup, resolve_subcommand
from moonkv.engine import ACL_USERS, Client, Server
from moonkv.engine._acl import AclRuleError
from moonkv.errors import RespError
from moonkv.replication._node import Replication
from moonkv.replication._stream import StreamError, StreamParser

log = logging.getLogger("moonkv")


class Applier:
    """The link's side of the stream: bytes in (``parser.feed``), units applied
    (:meth:`process`); ``ack_wanted`` once a ``REPLCONF GETACK`` was read."""

    def __init__(self, node: Replication, client: Client) -> None:
        self.node = node
        self.server: Server = node.server
        self.client = client
        self.parser = StreamParser()
        self.multi: list[list[bytes]] | None = None
        self.ack_wanted = False
        self.first_failure = ""

    def reset(self) -> None:
        """A new connection or sync: a unit cut short is dropped (the next PSYNC asks for it)."""
        self.multi = None
        self.parser.reset()

    def process(self) -> None:
        """Apply every whole unit received; made durable before it is acknowledged."""
        parser = self.parser
        applied = False
        while True:
            argv = parser.next()
            if argv is None:
                break
            name = argv[0].lower()
            multi = self.multi
            if multi is not None:
                if name == b"exec":
                    self.multi = None
                    self._apply(multi)
                    applied = True
                    self._unit_done(True)
                else:
                    multi.append(argv)
                continue
            if name == b"multi":
                self.multi = []
                continue
            unit = False
            if name == b"replconf":
                if len(argv) > 1 and argv[1].lower() == b"getack":
                    self.ack_wanted = True
            elif name == b"select":
                self._select(argv)
            elif name != b"ping":
                self._apply([argv])
                applied = unit = True
            self._unit_done(unit)
        parser.compact()
        p = self.server.persistence
        if applied and p is not None and p.needs_flush():
            p.flush()  # durable before it is acknowledged or served to our replicas

    def _select(self, argv: list[bytes]) -> None:
        try:
            self.client.select(int(argv[1]))
        except (ValueError, IndexError):
            raise StreamError(f"bad SELECT {argv[1:]!r}") from None

    def _unit_done(self, applied: bool) -> None:
        """The unit ending at the parser's position is done: advance the offset, pass it on.
        An applied unit's record already carries the position (:meth:`_apply`)."""
        parser = self.parser
        data = bytes(parser.buf[parser.start : parser.pos])
        parser.start = parser.pos
        self.node.feed(data)
        if not applied:
            self.record_position()

    def record_position(self) -> None:
        p = self.server.persistence
        if p is not None:
            node = self.node
            p.repl_pos = [node.replid, node.offset, self.client.db.id]

    def _failed(self, argv: list[bytes], why: object) -> None:
        if not self.first_failure:
            self.first_failure = f"{argv[:3]!r}: {why}"
            log.warning("A command from the primary failed: %s", self.first_failure)

    def _acl(self, argv: list[bytes]) -> None:
        """``ACL SETUSER name rules...`` (the whole user) or ``ACL DELUSER name...``: applied
        as the loader replays them, whatever defines this node's users at start, and kept
        as an effect of the unit (this node's log; its replicas get the bytes as they came)."""
        try:
            self.server.acl.replay(argv)
        except AclRuleError as e:
            self._failed(argv, e.args[-1])
            return
        self.server.emit(ACL_USERS, argv)

    def _apply(self, cmds: list[list[bytes]]) -> None:
        srv = self.server
        c = self.client
        parser = self.parser
        end = self.node.offset + (parser.pos - parser.start)
        for argv in cmds:
            name = argv[0].lower()
            if name == b"select":
                self._select(argv)
                continue
            if name == b"acl":
                self._acl(argv)
                continue
            spec = lookup(argv[0])
            try:
                if spec is None:
                    raise RespError(f"unknown command '{argv[0].decode('utf-8', 'replace')}'")
                if spec.subcommands and len(argv) >= 2:
                    spec = resolve_subcommand(spec, argv)
                reply: object = srv.call(c, spec, argv)
            except RespError as e:
                reply = e
            if isinstance(reply, RespError):
                self._failed(argv, reply)
        ks = srv.ks
        if ks.expired_effects:  # keys found expired on the way: same record as the unit
            srv.effects[0:0] = ks.expired_effects
            ks.expired_effects = []
        p = srv.persistence
        if p is not None:
            p.repl_pos = [self.node.replid, end, c.db.id]
        srv.end_unit()
