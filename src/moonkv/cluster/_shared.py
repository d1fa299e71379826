"""Scripts, function libraries and ACL users as cluster-wide objects, kept in etcd.

Redis loads scripts and defines users per node, and every client library
re-implements "NOSCRIPT, load, retry".  In a moonkv cluster with
``cluster-etcd-endpoints``, what a client loads or defines on one node is on every
node, primaries and replicas, present and future.  The registry lives in etcd
under ``/moonkv/<cluster-name>/``:

- ``scripts/<sha1>``: the body of a script loaded with SCRIPT LOAD (kept);
- ``evals/<sha1>``: the body of a script an EVAL created; bounded like the local
  cache: a node whose ``lua-eval-cache-size`` evicts it deletes the key;
- ``functions/<library>``: a library's code;
- ``acl/<user>``: a user's whole rules as ACL LIST prints them (hashed passwords).
  One key per user, so that changes of different users on different nodes never
  overwrite each other; ACL LOAD writes its users and deletes the others.  The
  first node to find no ``acl/`` key writes its users (``default`` included), so
  once a node has started etcd always holds the cluster's whole set.

Guarantees, and how:

- **The reply waits for etcd.**  SCRIPT LOAD, an EVAL that created a script,
  SCRIPT FLUSH, FUNCTION LOAD/DELETE/FLUSH/RESTORE change the node first, then
  block their client (``Server.block``, as WAIT does; the event loop goes on)
  until etcd committed the change.  So once a client has the reply, any node can
  find the script.  Inside MULTI/EXEC or a script a client cannot wait: the
  change goes out without holding the reply.
- **A miss asks etcd before answering.**  EVALSHA of an unknown sha and FCALL of
  an unknown function block their client while the node reads etcd; what it finds
  is loaded and the command runs again, else NOSCRIPT / "Function not found".
  That covers changes the watch has not delivered yet.
- **Every node applies every change.**  A node watches the prefix and applies
  what it sees through the command table with an internal client (``SCRIPT LOAD``,
  ``FUNCTION LOAD REPLACE``, ``FUNCTION DELETE``), so its durable log and its
  replicas record them as their own; deletions drop the script or library.  Users
  go through ``Acl.replay`` (the whole user, as replication applies them), with the
  same effect a client's ACL SETUSER/DELUSER has.
- **etcd is the truth after a (re)connection.**  Once its data directory is
  loaded, and again whenever the watch had to be re-established, a node reads the
  whole prefix and makes its cache and users equal to it: what is missing is
  loaded, what etcd no longer has (flushed or deleted while the node was away) is
  dropped.  The node serves meanwhile; a miss asks etcd anyway.

Only requests from connected clients publish: replays of the durable log, the
replication stream and the registry's own applications do not (their client is
not in ``Server.clients``).  When etcd does not confirm within
``cluster-node-timeout``, the command's change stays on this node and the client
gets an error saying so (EVAL still gets its script's result: it carries its body).

The network layer attaches the registry (``ScriptEngine.shared``, ``Acl.shared``)
and starts it; this module imports the engine and the command table, never the
network layer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aetcd

from moonkv.cluster.etcd import Keys, close_quietly
from moonkv.commands.table import lookup, resolve_subcommand
from moonkv.engine import ACL_USERS, BLOCKED, Client, Server
from moonkv.engine._acl import AclRuleError
from moonkv.engine._aclfile import UnmatchedSelector, merge_selectors
from moonkv.errors import NoScriptError, RespError
from moonkv.scripting import ScriptEngine, sha1hex

log: Final = logging.getLogger("moonkv.cluster")

SCRIPTS: Final = b"scripts/"
EVALS: Final = b"evals/"
FUNCTIONS: Final = b"functions/"
ACL: Final = b"acl/"
_NOT_CONFIRMED: Final = (
    "etcd did not confirm the change ({}): it holds on this node only; "
    "send the command again to register it for the whole cluster"
)


class SharedState:
    """This node's view of the cluster-wide registry (see the module doc)."""

    def __init__(
        self,
        server: Server,
        endpoints: list[tuple[str, int]],
        cluster_name: str,
        timeout: float,
    ) -> None:
        self.server = server
        eng: ScriptEngine = server.scripting
        self.engine = eng
        self.endpoints = endpoints
        self.prefix = Keys(cluster_name).prefix
        self.timeout = timeout
        self._endpoint = 0
        self._etcd: aetcd.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[str | None]] = set()
        # The last ACL change sent to etcd: the next waits for it, so etcd keeps this
        # node's changes of one user in the order they were made.
        self._acl_last: asyncio.Task[str | None] | None = None
        self._closed = False
        # The registry's own applications run as this client (not a connected one).
        self.internal = Client(server)
        self.internal.authenticated = True

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.engine.shared = self
        self.server.acl.shared = self
        self._task = loop.create_task(self._follow())

    async def close(self) -> None:
        self._closed = True
        self.engine.shared = None
        self.server.acl.shared = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for t in list(self._pending):
            t.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        await self._drop_etcd()

    def _client(self) -> aetcd.Client:
        if self._etcd is None:
            host, port = self.endpoints[self._endpoint % len(self.endpoints)]
            self._etcd = aetcd.Client(host=host, port=port, timeout=self.timeout)
        return self._etcd

    async def _drop_etcd(self) -> None:
        """Forget the connection (the next one tries the next endpoint)."""
        etcd, self._etcd = self._etcd, None
        self._endpoint += 1
        if etcd is not None:
            await close_quietly(etcd)

    # -- following etcd ------------------------------------------------------------------

    async def _follow(self) -> None:
        srv = self.server
        while srv.loading:  # the data directory's scripts first, then etcd's verdict
            await asyncio.sleep(0.05)
        delay = 0.1
        while not self._closed:
            try:
                etcd = self._client()
                revision = await self._sync(etcd)
                delay = 0.1
                watch = await etcd.watch_prefix(self.prefix, start_revision=revision + 1)
                async for event in watch:
                    self._apply(event.kind == aetcd.EventKind.PUT, event.kv.key, event.kv.value)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - etcd away, a compacted revision, ...
                log.warning("Cluster registry: etcd: %s; reconnecting in %.1fs", e or type(e).__name__, delay)
                await self._drop_etcd()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _sync(self, etcd: aetcd.Client) -> int:
        """Make the local cache equal to etcd's registry; returns the revision read."""
        got = await etcd.get_prefix(self.prefix)
        scripts: dict[bytes, bytes] = {}
        evals: dict[bytes, bytes] = {}
        libraries: dict[bytes, bytes] = {}
        users: dict[bytes, bytes] = {}
        n = len(self.prefix)
        for kv in got:
            key = kv.key[n:]
            if key.startswith(SCRIPTS):
                scripts[key[len(SCRIPTS):]] = kv.value
            elif key.startswith(EVALS):
                evals[key[len(EVALS):]] = kv.value
            elif key.startswith(FUNCTIONS):
                libraries[key[len(FUNCTIONS):]] = kv.value
            elif key.startswith(ACL):
                users[key[len(ACL):]] = kv.value
        if not users:  # the first node here: its users become the cluster's
            if not await self._seed_users(etcd):
                return await self._sync(etcd)  # another node wrote its users first: take them
        eng = self.engine
        for sha, script in list(eng.scripts.items()):
            if sha not in (scripts if script.loaded else evals) and sha not in scripts:
                eng.forget(sha)
        for sha, body in evals.items():
            self._apply(True, self.prefix + EVALS + sha, body)
        for sha, body in scripts.items():
            self._apply(True, self.prefix + SCRIPTS + sha, body)
        reg = eng.functions
        for name in list(reg.libraries):
            if name not in libraries:
                self._run(b"FUNCTION", b"DELETE", name)
        for name, code in libraries.items():
            self._apply(True, self.prefix + FUNCTIONS + name, code)
        gone = [n for n in self.server.acl.users if users and n not in users and n != b"default"]
        for name in gone:
            self._replay_user([b"ACL", b"DELUSER", name])
        for name, rules in users.items():
            self._apply(True, self.prefix + ACL + name, rules)
        return int(got.header.revision)

    async def _seed_users(self, etcd: aetcd.Client) -> bool:
        """No user in etcd yet: write this node's, unless another node did first (False)."""
        acl = self.server.acl
        tx = etcd.transactions
        ok, _ = await etcd.transaction(
            compare=[tx.create(self.prefix + ACL + b"default") == 0],
            success=[tx.put(self.prefix + ACL + name, self._rules(name)) for name in acl.users],
            failure=[],
        )
        return bool(ok)

    def _rules(self, name: bytes) -> bytes:
        """A user's value in etcd: its rules as ACL LIST prints them."""
        acl = self.server.acl
        return b" ".join(acl.rules(acl.users[name]))

    def _apply(self, put: bool, key: bytes, value: bytes) -> None:
        """One change seen in etcd, applied here unless this node has it already."""
        key = key[len(self.prefix):]
        eng = self.engine
        if key.startswith((SCRIPTS, EVALS)):
            kept = key.startswith(SCRIPTS)
            sha = key[len(SCRIPTS if kept else EVALS):]
            script = eng.scripts.get(sha)
            if not put:
                if script is not None and script.loaded == kept:
                    eng.forget(sha)
            elif sha1hex(value) != sha:
                log.warning("Cluster registry: %r does not hold the script of that sha1", key)
            elif script is None or (kept and not script.loaded):
                # (the internal marker EVAL makes an EVAL-created entry, as in log replay)
                self._run(b"SCRIPT", b"LOAD", value, *(() if kept else (b"EVAL",)))
        elif key.startswith(FUNCTIONS):
            name = key[len(FUNCTIONS):]
            lib = eng.functions.libraries.get(name)
            if not put:
                if lib is not None:
                    self._run(b"FUNCTION", b"DELETE", name)
            elif lib is None or lib.code != value:
                self._run(b"FUNCTION", b"LOAD", b"REPLACE", value)
        elif key.startswith(ACL):
            name = key[len(ACL):]
            users = self.server.acl.users
            if not put:
                if name in users and name != b"default":
                    self._replay_user([b"ACL", b"DELUSER", name])
            elif name not in users or self._rules(name) != value:
                try:
                    rules = merge_selectors(value.split(b" "))
                except UnmatchedSelector:
                    log.warning("Cluster registry: %r does not hold a user's rules", key)
                    return
                self._replay_user([b"ACL", b"SETUSER", name, *rules])

    def _replay_user(self, argv: list[bytes]) -> None:
        """Apply a user's change as its own unit, with the effect a client's would have
        (the node's log, its replicas)."""
        srv = self.server
        try:
            srv.acl.replay(argv)
        except AclRuleError as e:
            log.warning("Cluster registry: ACL %s %s failed: %s", argv[1].decode(),
                        argv[2].decode("utf-8", "replace"), e.args[-1])
            return
        srv.emit(ACL_USERS, argv)
        srv.end_unit()

    def _run(self, *args: bytes) -> None:
        """Apply a change through the command table, as its own unit (logged, replicated)."""
        srv = self.server
        argv = list(args)
        spec = lookup(argv[0])
        assert spec is not None
        spec = resolve_subcommand(spec, argv)
        reply = srv.call(self.internal, spec, argv)
        srv.end_unit()
        if isinstance(reply, RespError):
            log.warning("Cluster registry: %s %s failed: %s", args[0].decode(), args[1].decode(), reply)

    # -- publishing what a client changed --------------------------------------------------

    def _connected(self, c: Client) -> bool:
        return self.server.clients.get(c.id) is c

    def _submit(self, work: Callable[[aetcd.Client], Awaitable[Any]]) -> asyncio.Task[str | None]:
        """Run one etcd operation; the task's result is None once committed, else why not."""

        async def attempt() -> str | None:
            try:
                await asyncio.wait_for(work(self._client()), self.timeout)
                return None
            except asyncio.CancelledError:
                if self._closed:
                    raise
                # The connection was dropped under the call (the watch found etcd away).
                return "the connection to etcd was closed"
            except Exception as e:  # noqa: BLE001 - etcd away or slow
                log.warning("Cluster registry: etcd did not take a change: %s", e or type(e).__name__)
                return str(e) or type(e).__name__

        assert self._loop is not None
        task = self._loop.create_task(attempt())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    def _hold(self, c: Client, task: asyncio.Task[str | None], reply: object, *, strict: bool = True) -> object:
        """Answer ``reply`` once ``task`` committed (an error instead if ``strict`` and it did not)."""
        srv = self.server
        if not srv.can_block(c):
            return reply
        srv.block(c, [], 0, timeout_reply=reply)
        state = c.blocked

        def done(t: asyncio.Task[str | None]) -> None:
            if c.blocked is not state:  # gone, or CLIENT UNBLOCK answered it
                return
            why = "the node is shutting down" if t.cancelled() else t.result()
            if why is not None and strict:
                srv.unblock_with(c, srv.error_reply(RespError(_NOT_CONFIRMED.format(why))))
            else:
                srv.unblock_with(c, reply)

        task.add_done_callback(done)
        return BLOCKED

    def _publish(self, c: Client, reply: object, work: Callable[[aetcd.Client], Awaitable[Any]]) -> object:
        if not self._connected(c):
            return reply
        return self._hold(c, self._submit(work), reply)

    def script_loaded(self, c: Client, sha: bytes, body: bytes) -> object:
        """SCRIPT LOAD: ``scripts/<sha>``; the reply (the sha) waits for etcd."""
        key = self.prefix + SCRIPTS + sha
        return self._publish(c, sha, lambda etcd: etcd.put(key, body))

    def scripts_flushed(self, c: Client) -> object:
        """SCRIPT FLUSH: every script goes, on every node."""
        scripts, evals = self.prefix + SCRIPTS, self.prefix + EVALS

        async def work(etcd: aetcd.Client) -> None:
            await etcd.delete_prefix(scripts)
            await etcd.delete_prefix(evals)

        return self._publish(c, "OK", work)

    def eval_new(self, c: Client, argv: list[bytes], read_only: bool) -> object:
        """EVAL of a script this node did not have: create it, publish it, run it; the
        reply waits for etcd (the result stands even if etcd did not confirm)."""
        eng = self.engine
        sha, _ = eng.get_or_create(argv[1], loaded=False)
        if not self._connected(c):
            return eng.eval(c, argv, by_sha=False, read_only=read_only)
        key, body = self.prefix + EVALS + sha, argv[1]
        task = self._submit(lambda etcd: etcd.put(key, body))
        return self._hold(c, task, eng.eval(c, argv, by_sha=False, read_only=read_only), strict=False)

    def evicted(self, sha: bytes) -> None:
        """The local LRU dropped an EVAL-created script: so does the registry."""
        if self._loop is not None and not self._closed:
            key = self.prefix + EVALS + sha
            self._submit(lambda etcd: etcd.delete(key))

    def library_loaded(self, c: Client, name: bytes) -> object:
        lib = self.engine.functions.libraries[name]
        key, code = self.prefix + FUNCTIONS + name, lib.code
        return self._publish(c, name, lambda etcd: etcd.put(key, code))

    def library_deleted(self, c: Client, name: bytes) -> object:
        key = self.prefix + FUNCTIONS + name
        return self._publish(c, "OK", lambda etcd: etcd.delete(key))

    def functions_replaced(self, c: Client, flushed: bool) -> object:
        """FUNCTION FLUSH or RESTORE: every library this node has is written to the
        registry, emptied first when the node's were (``flushed``)."""
        prefix = self.prefix + FUNCTIONS
        codes = {name: lib.code for name, lib in self.engine.functions.libraries.items()}

        async def work(etcd: aetcd.Client) -> None:
            if flushed:
                await etcd.delete_prefix(prefix)
            for name, code in codes.items():
                await etcd.put(prefix + name, code)

        return self._publish(c, "OK", work)

    def users_changed(self, c: Client, reply: object, names: list[bytes]) -> object:
        """ACL SETUSER/DELUSER: each user's key becomes what the node has now (its rules, or
        deleted).  The reply waits for etcd."""
        users = self.server.acl.users
        changes = {self.prefix + ACL + name: self._rules(name) if name in users else None for name in names}

        async def work(etcd: aetcd.Client) -> None:
            for key, rules in changes.items():
                if rules is None:
                    await etcd.delete(key)
                else:
                    await etcd.put(key, rules)

        return self._publish_acl(c, reply, work)

    def users_replaced(self, c: Client) -> object:
        """ACL LOAD: the file's users are the cluster's; every other user goes."""
        prefix = self.prefix + ACL
        users = {name: self._rules(name) for name in self.server.acl.users}

        async def work(etcd: aetcd.Client) -> None:
            for name, rules in users.items():
                await etcd.put(prefix + name, rules)
            for kv in await etcd.get_prefix(prefix):
                if kv.key[len(prefix):] not in users:
                    await etcd.delete(kv.key)

        return self._publish_acl(c, "OK", work)

    def _publish_acl(self, c: Client, reply: object, work: Callable[[aetcd.Client], Awaitable[Any]]) -> object:
        """As :meth:`_publish`, after the previous ACL change: the values are taken when the
        command ran (a node's first read of etcd may drop a user created meanwhile; the
        watch brings it back) and etcd gets them in the order the node made them."""
        if not self._connected(c):
            return reply
        before = self._acl_last

        async def in_order(etcd: aetcd.Client) -> None:
            if before is not None:
                await asyncio.wait([before])
            await work(etcd)

        task = self._submit(in_order)
        self._acl_last = task
        return self._hold(c, task, reply)

    # -- misses --------------------------------------------------------------------------

    def find_script(self, c: Client, sha: bytes) -> object:
        """EVALSHA of a sha this node does not have: ask etcd, then run or NOSCRIPT."""
        srv = self.server
        if not srv.can_block(c):
            raise NoScriptError()
        scripts, evals = self.prefix + SCRIPTS + sha, self.prefix + EVALS + sha

        async def fetch() -> tuple[bytes, bool] | None:
            etcd = self._client()
            for key in (scripts, evals):
                got = await asyncio.wait_for(etcd.get(key), self.timeout)
                if got is not None:
                    return got.value, key is scripts
            return None

        def found(result: tuple[bytes, bool] | None) -> bool:
            if result is not None:
                self._apply(True, (scripts if result[1] else evals), result[0])
            return sha in self.engine.scripts

        return self._wait_for(c, fetch, found, NoScriptError())

    def find_function(self, c: Client, name: bytes) -> object:
        """FCALL of a function this node does not have: read etcd's libraries, then run or fail."""
        srv = self.server
        err = RespError("Function not found")
        if not srv.can_block(c):
            raise err
        prefix = self.prefix + FUNCTIONS

        async def fetch() -> list[tuple[bytes, bytes]]:
            got = await asyncio.wait_for(self._client().get_prefix(prefix), self.timeout)
            return [(kv.key, kv.value) for kv in got]

        def found(result: list[tuple[bytes, bytes]] | None) -> bool:
            for key, code in result or ():
                self._apply(True, key, code)
            return name.lower() in self.engine.functions.functions

        return self._wait_for(c, fetch, found, err)

    def _wait_for(
        self,
        c: Client,
        fetch: Callable[[], Awaitable[Any]],
        found: Callable[[Any], bool],
        miss: RespError,
    ) -> object:
        """Block ``c`` while ``fetch`` reads etcd; then run its command again if
        ``found(result)`` says the node now has what it needs, else answer ``miss``."""
        srv = self.server
        assert self._loop is not None
        srv.block(c, [], 0, timeout_reply=miss)
        state = c.blocked

        async def guarded() -> Any:
            try:
                return await fetch()
            except asyncio.CancelledError:
                if self._closed:
                    raise
                return None  # the connection was dropped under the read: answer as without it
            except Exception as e:  # noqa: BLE001 - etcd away: answer as without it
                log.warning("Cluster registry: etcd could not be read: %s", e or type(e).__name__)
                return None

        def done(t: asyncio.Task[Any]) -> None:
            if c.blocked is not state:
                return
            if t.cancelled() or not found(t.result()):
                srv.unblock_with(c, srv.error_reply(miss))
                return
            srv.unblock(c)
            reply = srv.call(c, state.spec, state.argv)
            srv.end_unit()
            if reply is not BLOCKED:  # (it waits for etcd again: its own callback answers)
                c.send(reply)

        task = self._loop.create_task(guarded())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        task.add_done_callback(done)
        return BLOCKED
