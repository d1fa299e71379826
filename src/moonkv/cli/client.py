"""``moonkv cli``, ``moonkv run`` and ``moonkv scripts``: a small client for people.

    moonkv cli [-h HOST] [-p PORT] [-a PASSWORD] [-n DB] [command ...]
    moonkv run [-h HOST] [-p PORT | --dir D | --memory] (FILE.lua | -e SOURCE) [key ...] [-- arg ...]
    moonkv scripts [-h HOST] [-p PORT]

Requests are encoded with moonkv's own RESP code; replies are parsed with
hiredis and printed the way redis-cli prints them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import socket
import sys
from collections.abc import Sequence
from typing import Any

import hiredis


class ServerError(Exception):
    pass


class Connection:
    def __init__(self, host: str, port: int, timeout: float | None = None) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.reader = hiredis.Reader(replyError=ServerError)

    def call(self, *args: bytes | str | int) -> Any:
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(parts))
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.reader.feed(data)

    def close(self) -> None:
        self.sock.close()


def format_reply(reply: Any, indent: int = 0) -> str:
    """redis-cli's human-readable rendering."""
    if isinstance(reply, ServerError):
        return f"(error) {reply}"
    if reply is None:
        return "(nil)"
    if isinstance(reply, bool):
        return "(true)" if reply else "(false)"
    if isinstance(reply, int):
        return f"(integer) {reply}"
    if isinstance(reply, float):
        return f"(double) {reply!r}"
    if isinstance(reply, bytes):
        return '"' + reply.decode("utf-8", "backslashreplace").replace('"', '\\"') + '"'
    if isinstance(reply, dict):
        reply = [x for kv in reply.items() for x in kv]
    if isinstance(reply, (list, tuple, set)):
        items = list(reply)
        if not items:
            return "(empty array)"
        width = len(str(len(items)))
        lines = []
        for i, item in enumerate(items, 1):
            prefix = f"{i:>{width}}) "
            body = format_reply(item, indent + len(prefix))
            lines.append((" " * indent if i > 1 else "") + prefix + body)
        return "\n".join(lines)
    return str(reply)


def _connect(ns: argparse.Namespace) -> Connection:
    try:
        conn = Connection(ns.host, ns.port)
    except OSError as e:
        raise SystemExit(f"moonkv: could not connect to {ns.host}:{ns.port}: {e.strerror or e}") from None
    if getattr(ns, "password", None):
        conn.call("AUTH", ns.password)
    if getattr(ns, "db", 0):
        conn.call("SELECT", ns.db)
    return conn


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-h", dest="host", default="127.0.0.1", help="server host (default 127.0.0.1)")
    p.add_argument("-p", dest="port", type=int, default=6379, help="server port (default 6379)")
    p.add_argument("-a", dest="password", default=None, help="password (AUTH)")
    p.add_argument("-n", dest="db", type=int, default=0, help="database number")
    p.add_argument("--help", action="help", help="show this help")


def cmd_cli(args: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="moonkv cli", add_help=False, description="Talk to a server.")
    _common(p)
    p.add_argument("command", nargs=argparse.REMAINDER)
    ns = p.parse_args(args)
    conn = _connect(ns)
    if ns.command:
        reply = conn.call(*ns.command)
        print(format_reply(reply) if sys.stdout.isatty() else _raw(reply))
        return 1 if isinstance(reply, ServerError) else 0
    return _interactive(conn, ns)


def _raw(reply: Any) -> str:
    if isinstance(reply, list):
        return "\n".join(_raw(x) for x in reply)
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "backslashreplace")
    if reply is None:
        return ""
    return str(reply)


def _interactive(conn: Connection, ns: argparse.Namespace) -> int:
    try:
        import readline  # noqa: F401 - line editing and history for input()
    except ImportError:
        pass
    prompt = f"{ns.host}:{ns.port}> "
    while True:
        try:
            line = input(prompt)
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        try:
            parts = shlex.split(line)
        except ValueError as e:
            print(f"Invalid argument(s): {e}")
            continue
        if not parts:
            continue
        if parts[0].lower() in ("quit", "exit"):
            return 0
        try:
            print(format_reply(conn.call(*parts)))
        except ConnectionError as e:
            print(f"Error: {e}")
            return 1


def cmd_run(args: Sequence[str]) -> int:
    """Run a Lua file or ``-e`` source: keys, then ``--``, then arguments (redis-cli --eval style).

    Against a server (``-h``/``-p``), or in this process with ``--dir D`` or ``--memory``.
    """
    p = argparse.ArgumentParser(
        prog="moonkv run", add_help=False,
        description="Run a Lua script: FILE [key ...] [-- arg ...], or -e SOURCE [key ...] [-- arg ...]",
    )
    _common(p)
    p.add_argument("-e", dest="source", default=None, help="the script's source (instead of FILE)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--dir", default=None, help="run in process on this data directory (no server)")
    where.add_argument("--memory", action="store_true", help="run in process on an empty in-memory dataset")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    ns = p.parse_args(args)
    rest = list(ns.rest)
    if ns.source is None:
        if not rest or rest[0] == "--":
            p.error("a FILE or -e SOURCE is required")
        name = rest.pop(0)
        try:
            with open(name, "rb") as f:
                body = f.read()
        except OSError as e:
            print(f"moonkv: cannot read {name}: {e.strerror}", file=sys.stderr)
            return 2
    else:
        body = ns.source.encode()
    if "--" in rest:
        i = rest.index("--")
        keys, argv = rest[:i], rest[i + 1 :]
    else:
        keys, argv = rest, []
    if ns.dir is not None or ns.memory:
        return _run_in_process(ns.dir, body, keys, argv)
    conn = _connect(ns)
    sha = hashlib.sha1(body).hexdigest()
    reply = conn.call("EVALSHA", sha, len(keys), *keys, *argv)
    if isinstance(reply, ServerError) and str(reply).startswith("NOSCRIPT"):
        conn.call("SCRIPT", "LOAD", body)
        reply = conn.call("EVALSHA", sha, len(keys), *keys, *argv)
    print(format_reply(reply))
    return 1 if isinstance(reply, ServerError) else 0


def _run_in_process(dir: str | None, body: bytes, keys: list[str], argv: list[str]) -> int:
    from moonkv.embedded import eval_script
    from moonkv.embedded import open as open_embedded

    try:
        r = open_embedded(dir)
    except (OSError, ValueError) as e:
        print(f"moonkv: {e}", file=sys.stderr)
        return 2
    with r:
        reply, error = eval_script(r, body, [k.encode() for k in keys], [a.encode() for a in argv])
    print(format_reply(ServerError(error) if error is not None else reply))
    return 1 if error is not None else 0


def cmd_scripts(args: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="moonkv scripts", add_help=False, description="List cached scripts.")
    _common(p)
    ns = p.parse_args(args)
    conn = _connect(ns)
    reply = conn.call("SCRIPT", "LIST")
    if isinstance(reply, ServerError):
        print(f"(error) {reply}", file=sys.stderr)
        return 1
    if not reply:
        print("no cached scripts")
        return 0
    print(f"{'sha1':40}  {'origin':6}  {'bytes':>7}  first line")
    for sha, origin, size, first in reply:
        print(f"{sha.decode():40}  {origin.decode():6}  {size:>7}  {first.decode('utf-8', 'replace')}")
    return 0


def main(command: str, args: Sequence[str]) -> int:
    handlers = {"cli": cmd_cli, "run": cmd_run, "scripts": cmd_scripts}
    try:
        return handlers[command](args)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
