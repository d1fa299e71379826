"""SLOWLOG and LATENCY: the operator's view of slow commands (moonkv.monitoring)."""

from __future__ import annotations

from typing import Final

from moonkv.commands.table import CommandSpec, all_commands, command, container, lookup
from moonkv.engine import Client
from moonkv.errors import RespError
from moonkv.monitoring import cumulative_usec, total
from moonkv.protocol import Verbatim

_S: Final = "server"
_ADMIN: Final = "admin loading stale"
_LATENCY: Final = "admin noscript loading stale"

container("slowlog", summary="A container for slow log commands.", since="2.2.12")


@command("slowlog|get", -2, _ADMIN, group=_S, since="2.2.12", summary="Returns the slow log's entries.",
         complexity="O(N) where N is the number of entries returned",
         tips="request_policy:all_nodes nondeterministic_output")
def slowlog_get(c: Client, argv: list[bytes]) -> object:
    count = 10
    if len(argv) > 3:
        raise RespError("wrong number of arguments for 'slowlog|get' command")
    if len(argv) == 3:
        try:
            count = int(argv[2])
        except ValueError:
            count = -2
        if count < -1:
            raise RespError("count should be greater than or equal to -1")
    c.deferred_reply()  # Redis counts the entries as it lists them: addReplyDeferredLen
    return c.server.slowlog.get(count)


@command("slowlog|len", 2, _ADMIN, group=_S, since="2.2.12", summary="Returns the number of entries in the slow log.",
         tips="request_policy:all_nodes response_policy:agg_sum nondeterministic_output")
def slowlog_len(c: Client, argv: list[bytes]) -> object:
    return len(c.server.slowlog.entries)


@command("slowlog|reset", 2, _ADMIN, group=_S, since="2.2.12", summary="Clears all entries from the slow log.",
         complexity="O(N) where N is the number of entries in the slowlog",
         tips="request_policy:all_nodes response_policy:all_succeeded")
def slowlog_reset(c: Client, argv: list[bytes]) -> object:
    c.server.slowlog.reset()
    return "OK"


@command("slowlog|help", 2, "loading stale", group=_S, since="6.2.0",
         summary="Show helpful text about the different subcommands")
def slowlog_help(c: Client, argv: list[bytes]) -> object:
    return [
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    ]


container("latency", summary="A container for latency diagnostics commands.", since="2.8.13")


@command("latency|latest", 2, _LATENCY, group=_S, since="2.8.13",
         summary="Returns the latest latency samples for all events.",
         tips="nondeterministic_output request_policy:all_nodes response_policy:special")
def latency_latest(c: Client, argv: list[bytes]) -> object:
    return c.server.latency.latest()


@command("latency|history", 3, _LATENCY, group=_S, since="2.8.13",
         summary="Returns timestamp-latency samples for an event.",
         tips="nondeterministic_output request_policy:all_nodes response_policy:special")
def latency_history(c: Client, argv: list[bytes]) -> object:
    return c.server.latency.history(argv[2].decode("utf-8", "surrogateescape"))


@command("latency|reset", -2, _LATENCY, group=_S, since="2.8.13",
         summary="Resets the latency data for one or more events.",
         tips="request_policy:all_nodes response_policy:all_succeeded")
def latency_reset(c: Client, argv: list[bytes]) -> object:
    return c.server.latency.reset([a.decode("utf-8", "surrogateescape") for a in argv[2:]])


@command("latency|graph", 3, _LATENCY, group=_S, since="2.8.13",
         summary="Returns a latency graph for an event.",
         tips="nondeterministic_output request_policy:all_nodes response_policy:special")
def latency_graph(c: Client, argv: list[bytes]) -> object:
    event = argv[2].decode("utf-8", "surrogateescape")
    text = c.server.latency.graph(event)
    if text is None:
        raise RespError(f"No samples available for event '{event}'")
    return Verbatim(text.encode())


@command("latency|doctor", 2, _LATENCY, group=_S, since="2.8.13",
         summary="Returns a human-readable latency analysis report.",
         tips="nondeterministic_output request_policy:all_nodes response_policy:special")
def latency_doctor(c: Client, argv: list[bytes]) -> object:
    srv = c.server
    return Verbatim(srv.latency.doctor(srv.config["latency-monitor-threshold"]).encode())


def _cdf(spec: CommandSpec) -> dict[bytes, object]:
    h = spec.latency
    return {b"calls": total(h), b"histogram_usec": cumulative_usec(h)}


@command("latency|histogram", -2, _LATENCY, group=_S, since="7.0.0",
         summary="Returns the cumulative distribution of latencies of a subset or all commands.",
         complexity="O(N) where N is the number of commands with latency information being retrieved.",
         tips="nondeterministic_output request_policy:all_nodes response_policy:special")
def latency_histogram(c: Client, argv: list[bytes]) -> object:
    out: dict[bytes, object] = {}
    if len(argv) == 2:
        for spec in all_commands():
            for s in [spec, *spec.subcommands.values()]:
                if s.latency:
                    out[s.name.encode()] = _cdf(s)
        return out
    for a in argv[2:]:
        name = a.decode("utf-8", "surrogateescape").lower()
        parent, _, sub = name.partition("|")
        top = lookup(parent.encode())
        if top is None:
            continue
        if sub:
            found = top.subcommands.get(sub.encode())
            if found is not None and found.latency:
                out[found.name.encode()] = _cdf(found)
        elif top.subcommands:  # a container: its subcommands
            for s in top.subcommands.values():
                if s.latency:
                    out[s.name.encode()] = _cdf(s)
        elif top.latency:
            out[top.name.encode()] = _cdf(top)
    return out


@command("latency|help", 2, "loading stale", group=_S, since="2.8.13",
         summary="Returns helpful text about the different subcommands.")
def latency_help(c: Client, argv: list[bytes]) -> object:
    return [
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    ]
