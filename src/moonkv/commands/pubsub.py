"""Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.

The registry and delivery live in :mod:`moonkv.pubsub` (``c.server.pubsub``).
Confirmations are pushes (``>`` in RESP3, arrays in RESP2), one per channel,
returned as :class:`~moonkv.protocol.Replies` so the connection sends them
even under CLIENT REPLY OFF, as Redis does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Final

from moonkv.commands._util import glob_match
from moonkv.commands.table import command, container, keys
from moonkv.engine import Client
from moonkv.errors import RespError
from moonkv.protocol import Push, Replies

_G: Final = "pubsub"
_SUB: Final = "pubsub noscript loading stale"
# SSUBSCRIBE/SUNSUBSCRIBE/SPUBLISH name their shard channel as a key (cluster routing), not a key.
_SHARD_KEYS: Final = keys(1, -1, flags="NOT_KEY")


@command("subscribe", -2, _SUB, group=_G, since="2.0.0",
         summary="Listens for messages published to channels.",
         complexity="O(N) where N is the number of channels to subscribe to.")
def subscribe(c: Client, argv: list[bytes]) -> object:
    hub = c.server.pubsub
    out: list[object] = []
    for ch in argv[1:]:
        hub.subscribe(c, ch)
        out.append(Push([b"subscribe", ch, _count(c)]))
    return Replies(out)


@command("ssubscribe", -2, _SUB, keys=_SHARD_KEYS, group=_G, since="7.0.0",
         summary="Listens for messages published to shard channels.",
         complexity="O(N) where N is the number of shard channels to subscribe to.")
def ssubscribe(c: Client, argv: list[bytes]) -> object:
    if c.in_exec:  # Redis's CLIENT_DENY_BLOCKING (MULTI is excused for SUBSCRIBE only)
        raise RespError("SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    hub = c.server.pubsub
    out: list[object] = []
    for ch in argv[1:]:
        hub.subscribe(c, ch, shard=True)
        out.append(Push([b"ssubscribe", ch, _shard_count(c)]))
    return Replies(out)


@command("psubscribe", -2, _SUB, group=_G, since="2.0.0",
         summary="Listens for messages published to channels that match one or more patterns.",
         complexity="O(N) where N is the number of patterns to subscribe to.")
def psubscribe(c: Client, argv: list[bytes]) -> object:
    hub = c.server.pubsub
    out: list[object] = []
    for pat in argv[1:]:
        hub.psubscribe(c, pat)
        out.append(Push([b"psubscribe", pat, _count(c)]))
    return Replies(out)


@command("unsubscribe", -1, _SUB, group=_G, since="2.0.0",
         summary="Stops listening to messages posted to channels.",
         complexity="O(N) where N is the number of channels to unsubscribe.")
def unsubscribe(c: Client, argv: list[bytes]) -> object:
    subs = c.subs
    names = argv[1:] or (list(subs.channels) if subs is not None else [])
    return _leave(c, b"unsubscribe", names, shard=False)


@command("sunsubscribe", -1, _SUB, keys=_SHARD_KEYS, group=_G, since="7.0.0",
         summary="Stops listening to messages posted to shard channels.",
         complexity="O(N) where N is the number of clients already subscribed to a shard channel.")
def sunsubscribe(c: Client, argv: list[bytes]) -> object:
    subs = c.subs
    names = argv[1:] or (list(subs.shard) if subs is not None else [])
    return _leave(c, b"sunsubscribe", names, shard=True)


@command("punsubscribe", -1, _SUB, group=_G, since="2.0.0",
         summary="Stops listening to messages published to channels that match one or more patterns.",
         complexity="O(N+M) where N is the number of patterns the client is already subscribed "
                    "and M is the number of total patterns subscribed in the system (by any client).")
def punsubscribe(c: Client, argv: list[bytes]) -> object:
    hub = c.server.pubsub
    subs = c.subs
    names = argv[1:] or (list(subs.patterns) if subs is not None else [])
    out: list[object] = []
    for pat in names:
        hub.punsubscribe(c, pat)
        out.append(Push([b"punsubscribe", pat, _count(c)]))
    if not out:  # subscribed to nothing: still one reply, with a null name
        out.append(Push([b"punsubscribe", None, _count(c)]))
    hub.settle(c)
    return Replies(out)


def _leave(c: Client, kind: bytes, names: list[bytes], shard: bool) -> object:
    hub = c.server.pubsub
    count = _shard_count if shard else _count
    out: list[object] = []
    for ch in names:
        hub.unsubscribe(c, ch, shard)
        out.append(Push([kind, ch, count(c)]))
    if not out:
        out.append(Push([kind, None, count(c)]))
    hub.settle(c)
    return Replies(out)


def _count(c: Client) -> int:
    subs = c.subs
    return subs.count() if subs is not None else 0


def _shard_count(c: Client) -> int:
    subs = c.subs
    return len(subs.shard) if subs is not None else 0


@command("publish", 3, "pubsub loading stale fast may_replicate", group=_G, since="2.0.0",
         summary="Posts a message to a channel.",
         complexity="O(N+M) where N is the number of clients subscribed to the receiving channel "
                    "and M is the total number of subscribed patterns (by any client).")
def publish(c: Client, argv: list[bytes]) -> object:
    _propagate(c, argv)
    return c.server.pubsub.publish(argv[1], argv[2])


def _propagate(c: Client, argv: list[bytes]) -> None:
    """Redis sends PUBLISH (and SPUBLISH outside cluster mode) to replicas, in the unit that
    published and in the publisher's database (the stream SELECTs it first, as Redis's
    does); the log keeps it for the stream's offsets but never replays it.  Nothing while
    no replica ever attached."""
    srv = c.server
    repl = srv.replication
    if repl is not None and repl.propagating and (srv.cluster is None or argv[0].lower() == b"publish"):
        srv.emit(c.db.id, argv)


@command("spublish", 3, "pubsub loading stale fast may_replicate", keys=keys(1, 0, flags="NOT_KEY"), group=_G,
         since="7.0.0", summary="Post a message to a shard channel",
         complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.")
def spublish(c: Client, argv: list[bytes]) -> object:
    _propagate(c, argv)
    return c.server.pubsub.publish(argv[1], argv[2], shard=True)


container("pubsub", group=_G, since="2.8.0", summary="A container for Pub/Sub commands.")

_INTRO: Final = "pubsub loading stale"


@command("pubsub|channels", -2, _INTRO, group=_G, since="2.8.0",
         summary="Returns the active channels.",
         complexity="O(N) where N is the number of active channels, and assuming constant time "
                    "pattern matching (relatively short channels and patterns)")
def pubsub_channels(c: Client, argv: list[bytes]) -> object:
    return _channel_list(c, argv, c.server.pubsub.channels)


@command("pubsub|shardchannels", -2, _INTRO, group=_G, since="7.0.0",
         summary="Returns the active shard channels.",
         complexity="O(N) where N is the number of active shard channels, and assuming constant "
                    "time pattern matching (relatively short shard channels).")
def pubsub_shardchannels(c: Client, argv: list[bytes]) -> object:
    return _channel_list(c, argv, c.server.pubsub.shard)


def _channel_list(c: Client, argv: list[bytes], table: Mapping[bytes, Sized]) -> object:
    if len(argv) > 3:
        raise _subcommand_error(argv)
    c.deferred_reply()  # Redis counts the channels as it lists them: addReplyDeferredLen
    if len(argv) == 2:
        return list(table)
    pat = argv[2]
    return [ch for ch in table if glob_match(pat, ch)]


@command("pubsub|numsub", -2, _INTRO, group=_G, since="2.8.0",
         summary="Returns a count of subscribers to channels.",
         complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels")
def pubsub_numsub(c: Client, argv: list[bytes]) -> object:
    table = c.server.pubsub.channels
    return _numsub(argv, table)


@command("pubsub|shardnumsub", -2, _INTRO, group=_G, since="7.0.0",
         summary="Returns the count of subscribers of shard channels.",
         complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested "
                    "shard channels")
def pubsub_shardnumsub(c: Client, argv: list[bytes]) -> object:
    return _numsub(argv, c.server.pubsub.shard)


def _numsub(argv: list[bytes], table: Mapping[bytes, Sized]) -> object:
    out: list[object] = []
    for ch in argv[2:]:
        out.append(ch)
        out.append(len(table.get(ch) or ()))
    return out


@command("pubsub|numpat", 2, _INTRO, group=_G, since="2.8.0",
         summary="Returns a count of unique pattern subscriptions.", complexity="O(1)")
def pubsub_numpat(c: Client, argv: list[bytes]) -> object:
    return len(c.server.pubsub.patterns)


@command("pubsub|help", 2, "loading stale", group=_G, since="6.2.0",
         summary="Returns helpful text about the different subcommands.", complexity="O(1)")
def pubsub_help(c: Client, argv: list[bytes]) -> object:
    return [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ]


def _subcommand_error(argv: list[bytes]) -> RespError:
    sub = argv[1][:128].decode("utf-8", "surrogateescape")
    return RespError(f"unknown subcommand or wrong number of arguments for '{sub}'. Try PUBSUB HELP.")
