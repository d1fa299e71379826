"""Prometheus text format from INFO's figures and the per-script statistics."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector, CollectorRegistry

from moonkv.commands.server import render_info
from moonkv.engine import Server

PREFIX: Final = "moonkv_"
SNAPSHOT_TIMEOUT: Final = 5.0  # a scrape while a script keeps the loop busy gives up


@dataclass
class Snapshot:
    """What one scrape reports, read on the event loop in one go."""

    info: dict[str, float] = field(default_factory=dict)  # numeric INFO fields
    commands: dict[str, tuple[int, float]] = field(default_factory=dict)  # name -> calls, seconds
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)  # db -> keys, expires
    scripts: list[tuple[str, str, dict[bytes, object]]] = field(default_factory=list)


def _number(v: str) -> float | None:
    if v in ("ok", "err"):  # statuses, as redis_exporter reads them
        return 1.0 if v == "ok" else 0.0
    try:
        return float(v.rstrip("%"))
    except ValueError:
        return None


def snapshot(srv: Server) -> Snapshot:
    """The figures, taken on the loop thread."""
    snap = Snapshot()
    for line in render_info(srv, [b"everything"]).split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep or line.startswith("#"):
            continue
        if name.startswith("cmdstat_"):
            f = dict(kv.split("=", 1) for kv in value.split(","))
            snap.commands[name[8:]] = (int(f["calls"]), int(f["usec"]) / 1e6)
        elif name.startswith("db") and name[2:].isdigit():
            f = dict(kv.split("=", 1) for kv in value.split(","))
            snap.keys[name] = (int(f["keys"]), int(f["expires"]))
        elif not name.startswith(("latency_percentiles_usec_", "errorstat_")):
            n = _number(value)
            if n is not None:
                snap.info[name] = n
    eng = srv.scripting
    if eng is not None:
        names = list(eng.functions.functions) if eng.functions is not None else []
        for kind, report in (
            ("script", eng.stats.report([], list(eng.scripts), True)),
            ("function", eng.stats.report([], names, False)),
        ):
            for sname, fields in report.items():
                snap.scripts.append((kind, sname.decode("utf-8", "replace"), fields))
    return snap


_SCRIPT_COUNTERS: Final = (
    (b"calls", "calls", "Runs of the script or function"),
    (b"successes", "successes", "Runs that completed"),
    (b"errors", "errors", "Runs that failed or returned an error reply"),
    (b"rollbacks", "rollbacks", "Failed runs whose writes were rolled back"),
    (b"kills", "kills", "Runs stopped by SCRIPT KILL / FUNCTION KILL"),
    (b"time_budget_stops", "time_budget_stops", "Runs stopped by lua-kill-time-limit"),
    (b"memory_budget_stops", "memory_budget_stops", "Runs stopped by lua-memory-limit"),
    (b"keys_written", "keys_written", "Key writes of runs that were kept"),
)


def families(snap: Snapshot) -> Iterator[Metric]:
    for name, value in snap.info.items():
        g = GaugeMetricFamily(PREFIX + name.replace("-", "_"), f"INFO field {name}")
        g.add_metric([], value)
        yield g
    calls = CounterMetricFamily(PREFIX + "commands", "Calls per command", labels=["cmd"])
    secs = CounterMetricFamily(
        PREFIX + "commands_duration_seconds", "Time spent per command", labels=["cmd"]
    )
    for cmd, (n, s) in snap.commands.items():
        calls.add_metric([cmd], n)
        secs.add_metric([cmd], s)
    yield calls
    yield secs
    keys = GaugeMetricFamily(PREFIX + "db_keys", "Keys per database", labels=["db"])
    expiring = GaugeMetricFamily(PREFIX + "db_keys_expiring", "Keys with a TTL", labels=["db"])
    for db, (k, e) in snap.keys.items():
        keys.add_metric([db], k)
        expiring.add_metric([db], e)
    yield keys
    yield expiring
    labels = ["kind", "name"]
    counters = {
        key: CounterMetricFamily(PREFIX + "script_" + metric, doc, labels=labels)
        for key, metric, doc in _SCRIPT_COUNTERS
    }
    run_secs = CounterMetricFamily(
        PREFIX + "script_run_seconds", "Total run time of the script or function", labels=labels
    )
    quantiles = GaugeMetricFamily(
        PREFIX + "script_run_seconds_quantile", "Run time at a quantile", labels=[*labels, "quantile"]
    )
    for kind, sname, f in snap.scripts:
        for key, fam in counters.items():
            v = f[key]
            assert isinstance(v, int)
            fam.add_metric([kind, sname], v)
        total = f[b"total_usec"]
        p50 = f[b"p50_usec"]
        p99 = f[b"p99_usec"]
        assert isinstance(total, int) and isinstance(p50, float) and isinstance(p99, float)
        run_secs.add_metric([kind, sname], total / 1e6)
        quantiles.add_metric([kind, sname, "0.5"], p50 / 1e6)
        quantiles.add_metric([kind, sname, "0.99"], p99 / 1e6)
    yield from counters.values()
    yield run_secs
    yield quantiles


class _Collector(Collector):
    def __init__(self, srv: Server, loop: asyncio.AbstractEventLoop) -> None:
        self.srv = srv
        self.loop = loop

    def collect(self) -> Iterator[Metric]:
        fut: concurrent.futures.Future[Snapshot] = concurrent.futures.Future()

        def take() -> None:
            try:
                fut.set_result(snapshot(self.srv))
            except Exception as e:  # noqa: BLE001 - the scrape reports it, the loop goes on
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(take)
        yield from families(fut.result(timeout=SNAPSHOT_TIMEOUT))


class MetricsEndpoint:
    """prometheus_client's HTTP server on ``host:port``, reading ``srv`` through ``loop``."""

    def __init__(self, srv: Server, loop: asyncio.AbstractEventLoop, host: str, port: int) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(srv, loop))
        self._httpd, self._thread = start_http_server(port, addr=host, registry=registry)
        self.port: int = self._httpd.server_address[1]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
