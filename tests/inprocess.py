"""An in-process server for command tests: no sockets, effects captured, undo checked."""

from __future__ import annotations

from typing import Any

from moonkv.clock import Clock
from moonkv.commands import load
from moonkv.engine import Server
from moonkv.errors import RespError
from moonkv.keyspace.codec import encode_value

# Replies delivered to each test client outside its own request (blocked
# clients served), by client id: Client takes no attributes of its own when
# compiled, so the list lives here.
_SENT: dict[int, list[Any]] = {}


def sent(c: Any) -> list[Any]:
    """What was delivered to client ``c`` made by :meth:`InProcessServer.client`."""
    return _SENT[c.id]


class InProcessServer:
    """Runs commands through the real executor; records the effects it commits."""

    def __init__(self, clock: Clock | None = None) -> None:
        load()
        self.clock = clock
        self.srv = Server(clock=clock)
        self.effects: list[tuple[int, list[bytes]]] = []
        self.srv.sinks.append(self)
        self.c = self.client()

    def commit(self, effects: list[tuple[int, list[bytes]]]) -> None:
        self.effects.extend(effects)

    def client(self) -> Any:
        c = self.srv.new_client()
        c.send = _SENT.setdefault(c.id, []).append
        return c

    def __call__(self, *args: Any, c: Any = None) -> Any:
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        r = self.srv.execute(c or self.c, argv)
        if isinstance(r, RespError):
            raise r
        return r

    @property
    def data(self) -> dict[bytes, Any]:
        return self.srv.ks.dbs[0].data

    def snap(self) -> dict[bytes, Any]:
        """The whole database 0, comparable with ==."""
        return {k: encode_value(v) for k, v in self.data.items()}

    def undone(self, *args: Any) -> None:
        """Run a command with undo recording, roll it back, check nothing changed."""
        before = self.snap()
        self.srv.ks.undo = []
        try:
            self(*args)
        except RespError:
            pass
        undo, self.srv.ks.undo = self.srv.ks.undo, None
        for fn in reversed(undo):
            fn()
        assert self.snap() == before, args
