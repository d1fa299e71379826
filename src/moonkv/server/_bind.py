"""The listening sockets of a port on every ``bind`` address, as Redis's listenToPort.

``bind`` holds up to 16 addresses; the port listens on each. ``*`` is every IPv4 address,
``::*`` every IPv6 one (IPv6 sockets are IPv6-only, so ``* ::*`` can share a port). A ``-``
before an address makes it optional: one the machine does not have (EADDRNOTAVAIL) is skipped
with a warning. An address of a family or protocol the machine lacks is skipped whatever its
prefix; any other failure closes the sockets already bound and fails the whole port. An empty
``bind`` listens nowhere.
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Final

log = logging.getLogger("moonkv")

# Redis's CONFIG_BINDADDR_MAX.
MAX_ADDRESSES: Final = 16

# Failures that skip an address even without ``-``: the machine lacks its family or protocol.
_UNSUPPORTED: Final = frozenset({
    errno.ENOPROTOOPT, errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EPFNOSUPPORT, errno.EAFNOSUPPORT,
})


class ListenError(OSError):
    """A mandatory address of ``bind`` could not be bound (the sockets bound before are closed)."""


def listen_all(bind: str, port: int, backlog: int) -> list[socket.socket]:
    """Non-blocking listening sockets on ``port`` for every address of ``bind``;
    raises ListenError naming the address that failed."""
    socks: list[socket.socket] = []
    for word in bind.split():
        optional = word.startswith("-")
        addr = word[1:] if optional else word
        try:
            socks.append(_listen(addr, port, backlog))
        except OSError as e:
            why = _reason(e)
            log.warning("Warning: Could not create server TCP listening socket %s:%d: %s", addr, port, why)
            if (optional and e.errno == errno.EADDRNOTAVAIL) or e.errno in _UNSUPPORTED:
                continue
            for s in socks:
                s.close()
            raise ListenError(e.errno, f"{addr}:{port}: {why}") from None
    return socks


def first_host(bind: str) -> str:
    """The host to serve a single-address endpoint on (the metrics port): bind's first
    address, without its ``-``, a wildcard as the family's any-address; 127.0.0.1 when empty."""
    words = bind.split()
    if not words:
        return "127.0.0.1"
    addr = words[0].removeprefix("-")
    return {"*": "0.0.0.0", "::*": "::"}.get(addr, addr)


def _listen(addr: str, port: int, backlog: int) -> socket.socket:
    """Redis's anetTcpServer/anetTcp6Server: the first of the name's addresses that binds."""
    six = ":" in addr
    family = socket.AF_INET6 if six else socket.AF_INET
    host: str | None = addr
    if addr == "*" or (six and addr == "::*"):
        host = None  # the wildcard address
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    last: OSError | None = None
    for fam, kind, proto, _name, sockaddr in infos:
        try:
            sock = socket.socket(fam, kind, proto)
        except OSError as e:
            last = e
            continue
        try:
            if fam == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
            sock.bind(sockaddr)
            sock.listen(backlog)
        except OSError as e:
            sock.close()
            last = e
            continue
        sock.setblocking(False)
        return sock
    assert last is not None  # getaddrinfo answers at least one address or raises
    raise last


def _reason(e: OSError) -> str:
    """Redis's anet error texts: ``bind: <strerror>`` for a bind or listen failure, the
    resolver's own text for a name it cannot resolve."""
    if isinstance(e, socket.gaierror):
        return e.strerror or str(e)
    return f"bind: {e.strerror}"
