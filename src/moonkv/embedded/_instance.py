"""One moonkv engine inside this process: its lock, its timers, its sessions.

An :class:`Instance` owns a :class:`moonkv.engine.Server` built by the same
assembler as the network server (commands, scripting and, with a data
directory, the durable log).  Every command runs under one lock, so each is
atomic and a script runs alone, whatever thread calls.  A :class:`Session` is
one client's engine state (SELECT, MULTI, WATCH, CLIENT SETNAME, blocking),
what a connection is to the server; redis-py's connections each hold one.

Durability: a command's log record is written (and, with ``appendfsync
always``, fsynced) before :meth:`Instance.call` returns, as the server sends
no reply before its record is safe.

Timers, without an event loop:

* a blocked client's timeout is run by the blocked thread itself, which waits
  on its condition no longer than the earliest timer (:meth:`call_later`);
* active expiry, the persistence cron (``everysec`` fsync, snapshots, log
  compaction) and the slow-script watchdog run on one daemon thread,
  ``hz`` times a second; it skips a round while another thread holds the lock.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Final

from moonkv.commands.table import lookup
from moonkv.engine import BLOCKED, NO_REPLY, Client, Config, Server
from moonkv.errors import BusyError, RespError, wrong_arity
from moonkv.persistence._load import CorruptDirectory
from moonkv.protocol import RawReply
from moonkv.server import active_expire_cycle, assemble

_BUSY_EVAL: Final = "Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
_BUSY_FUNCTION: Final = "Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
# How often a thread waiting for the lock looks whether a slow script turned busy.
_BUSY_POLL: Final = 0.005


class Closed(Exception):
    """The instance was closed (or shut down): it runs no more commands."""


class LogWriteFailed(Exception):
    """The command ran but its log record could not be made durable."""


class _Timer:
    __slots__ = ("fn", "cancelled")

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Session:
    """One client of the instance (a redis-py connection holds one)."""

    __slots__ = ("instance", "client", "registered", "cond", "waiting", "answer", "pushed")

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        c = Client(instance.server, "embedded", "embedded")
        c.send = self._deliver
        c.push = self._push
        c.close = self._kill
        self.client = c
        self.registered = False  # added to the server's clients by its first command, under the lock
        self.cond = threading.Condition(instance.lock)
        self.waiting = False  # blocked in a command: the next delivery is its reply
        self.answer: list[object] = []
        # Replies delivered outside a command: pub/sub messages and MONITOR lines
        # (Client.push, already encoded: RawReply), a served blocked command's reply.
        self.pushed: list[object] = []

    def _deliver(self, reply: object) -> None:  # called with the instance lock held
        if self.waiting:
            self.answer.append(reply)
        else:
            self.pushed.append(reply)
        self.cond.notify()

    def _push(self, data: bytes) -> None:  # called with the instance lock held
        self.pushed.append(RawReply(data))
        self.cond.notify()

    def _kill(self) -> None:  # CLIENT KILL: the connection is dropped
        self.client.closing = True
        self.cond.notify()

    def call(self, argv: list[bytes]) -> object:
        return self.instance.call(self, argv)

    def wait_push(self, timeout: float | None) -> object | None:
        """The oldest reply delivered outside a command, waiting up to ``timeout`` s (None: for ever)."""
        inst = self.instance
        with inst.lock:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self.pushed:
                if inst.closed or self.client.closing:
                    raise Closed("the connection was closed")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self.cond.wait(left)
            return self.pushed.pop(0)

    def close(self) -> None:
        """Forget the client; done later, by the next command, while a script holds the lock."""
        if self.registered:
            self.registered = False
            self.instance.drop(self.client)


class Instance:
    """The engine, its lock and its timers; see the module docstring."""

    def __init__(self, path: str | os.PathLike[str] | None, directives: Mapping[str, object]) -> None:
        config = Config()
        for name, value in directives.items():
            try:
                config.load(name.replace("_", "-"), _directive_text(value))
            except ValueError as e:  # the configuration's message names no directive
                raise ValueError(f"{name}={value!r}: {e}") from None
        if path is not None:
            config.load("dir", os.fspath(path))
        self.path = None if path is None else os.path.abspath(os.fspath(path))
        srv = assemble(config, with_persistence=path is not None, lock_note="embedded yes")
        p = srv.persistence
        if p is not None:
            try:
                p.load_now()
            except CorruptDirectory as e:
                p.close()
                raise OSError(p.corrupt_message(e)) from None
            except BaseException:
                p.close()
                raise
        self.server: Server = srv
        self.persistence: Any = p
        self.scripting: Any = srv.scripting
        srv.scheduler = self
        self.lock = threading.Lock()
        self.closed = False
        self._timers: list[tuple[float, int, _Timer]] = []
        self._dropped: list[Client] = []  # closed sessions' clients, removed under the lock
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._cron_thread = threading.Thread(
            target=_cron_loop, args=(weakref.ref(self), self._stop, srv.config),
            name="moonkv-embedded-cron", daemon=True,
        )
        self._cron_thread.start()

    # -- running commands ----------------------------------------------------------

    def call(self, session: Session, argv: list[bytes], wait: bool = True) -> object:
        """Run one command for ``session``; returns the engine's reply value.

        A blocking command waits here (the lock released meanwhile) until it
        is served or times out; with ``wait`` False it returns BLOCKED instead
        and the caller finishes with :meth:`finish_blocked` (the asyncio
        client does that on a worker thread).  An error comes back as a
        RespError value.
        """
        lock = self.lock
        if not lock.acquire(False):
            answered = self._acquire(session, argv)
            if answered is not None:
                return answered
        try:
            if self.closed:
                raise Closed("the moonkv instance is closed")
            c = session.client
            if c.closing:
                raise Closed("the connection was closed (CLIENT KILL)")
            srv = self.server
            if not session.registered:
                session.registered = True
                srv.add_client(c)
            if self._dropped:
                self._remove_dropped()
            reply = srv.execute(c, argv)
            if reply is BLOCKED:
                if not wait:
                    session.waiting = True  # its reply is kept for finish_blocked
                    return BLOCKED
                reply = self._wait_blocked(session)
            elif reply is NO_REPLY:
                reply = None
                if srv.shutdown_requested is not None:
                    self._close_locked(save=srv.shutdown_requested != "nosave")
                    raise Closed("the moonkv instance was shut down (SHUTDOWN)")
            p = self.persistence
            if p is not None and p.buf and not p.flush():
                raise LogWriteFailed(
                    f"the log record could not be written: {p.last_write_error}; "
                    "the change is in memory only"
                )
            return reply
        finally:
            lock.release()

    def drop(self, c: Client) -> None:
        """Remove a closed connection's client (now, or by the next command if the lock is busy)."""
        self._dropped.append(c)
        if self.lock.acquire(False):
            try:
                self._remove_dropped()
            finally:
                self.lock.release()

    def _remove_dropped(self) -> None:
        dropped = self._dropped
        while dropped:
            self.server.remove_client(dropped.pop())

    def _acquire(self, session: Session, argv: list[bytes]) -> object:
        """Wait for the lock; while a slow script holds it, answer as a busy server does.

        Returns None once the lock is held, else the reply to ``argv`` (given without it).
        """
        eng = self.scripting
        lock = self.lock
        while not lock.acquire(timeout=_BUSY_POLL):
            run = eng.running
            if run is None or not run.busy:
                continue
            name = argv[0].lower()
            sub = argv[1].lower() if len(argv) == 2 else b""
            c = session.client
            try:
                if name in (b"hello", b"auth") and c.multi is None:
                    # Served while busy, as Redis does (redis-py's handshake); they touch only the client.
                    spec = lookup(name)
                    assert spec is not None and spec.handler is not None
                    if not spec.arity_ok(len(argv)):
                        return wrong_arity(spec.name)
                    return spec.handler(c, argv)
                if name == b"script" and sub == b"kill":
                    return eng.kill(is_eval=True)
                if name == b"function" and sub == b"kill":
                    return eng.kill(is_eval=False)
            except RespError as e:
                return e
            if c.multi is not None:  # as Redis: a refused command fails the transaction
                c.multi_error = True
            return BusyError(_BUSY_EVAL if run.is_eval else _BUSY_FUNCTION)
        return None

    def finish_blocked(self, session: Session) -> object:
        """The reply of the command :meth:`call` left blocked (``wait=False``)."""
        with self.lock:
            return self._wait_blocked(session)

    def _wait_blocked(self, session: Session) -> object:
        """Wait (lock released) until the blocked command is served or its timer fires."""
        srv = self.server
        c = session.client
        session.waiting = True
        try:
            while not session.answer:
                if self.closed or c.closing:
                    raise Closed("the connection was closed while blocked")
                self._run_due_timers()
                if session.answer:
                    break
                session.cond.wait(self._next_timer_delay())
            return session.answer.pop(0)
        except BaseException:
            if c.blocked is not None:
                srv.unblock(c)
            raise
        finally:
            session.waiting = False
            session.answer.clear()

    # -- the engine's Scheduler --------------------------------------------------------

    def call_later(self, delay: float, fn: Callable[[], None]) -> _Timer:
        """Called with the lock held (by Server.block)."""
        timer = _Timer(fn)
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), timer))
        return timer

    def _next_timer_delay(self) -> float | None:
        timers = self._timers
        while timers and timers[0][2].cancelled:
            heapq.heappop(timers)
        if not timers:
            return None
        return max(0.0, timers[0][0] - time.monotonic())

    def _run_due_timers(self) -> None:
        timers = self._timers
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            _, _, timer = heapq.heappop(timers)
            if not timer.cancelled:
                timer.fn()

    # -- background work ------------------------------------------------------------------

    def cron(self) -> None:
        """One round of the timer thread's work (see the module docstring)."""
        eng = self.scripting
        if eng.running is not None:
            eng.check_busy(grace_ms=100)  # a script stuck in one long C call
        if not self.lock.acquire(False):
            return
        try:
            srv = self.server
            if self.closed or srv.cron_paused:  # DEBUG PAUSE-CRON 1
                return
            srv.ks.clock.tick()  # the access clock keys store
            if srv.ks.active_expire_enabled:
                active_expire_cycle(srv, budget_s=0.25 / srv.config["hz"])
            if srv.ks.expired_effects:
                srv.end_unit()
            srv.client_memory.cron(srv.config["hz"])  # sessions' fixed cost, in used_memory
            p = self.persistence
            if p is not None:
                p.cron()
        finally:
            self.lock.release()

    # -- closing -------------------------------------------------------------------------

    def close(self, save: bool = True) -> None:
        """Flush the log, save if the save rules ask for it, release the directory. Idempotent."""
        with self.lock:
            self._close_locked(save)
        if self._cron_thread is not threading.current_thread():
            self._cron_thread.join(timeout=5)

    def _close_locked(self, save: bool) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        srv = self.server
        for c in list(srv.clients.values()):
            srv.remove_client(c)
            c.close()
        p = self.persistence
        if p is not None:
            p.shutdown(save=save)
        if self.scripting is not None:
            self.scripting.close()


def _cron_loop(ref: weakref.ref[Instance], stop: threading.Event, config: Config) -> None:
    while not stop.wait(1.0 / config["hz"]):  # CONFIG SET hz applies from the next round
        inst = ref()
        if inst is None:
            return
        try:
            inst.cron()
        finally:
            del inst


def _directive_text(value: object) -> str:
    """A keyword's value as the configuration file would spell it (True → yes)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
