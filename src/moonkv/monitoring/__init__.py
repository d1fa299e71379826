"""What an operator reads about the running server: the slow log, the latency
monitor and the per-command latency histograms.

The engine owns one :class:`SlowLog` and one :class:`LatencyMonitor` and feeds
them from :meth:`moonkv.engine.Server.call`, which already times every command
for INFO commandstats: one clock reading per command serves all three.  This
package imports nothing of moonkv's but the errors module, so the engine (and
the commands that show the figures) can use it.
"""

from moonkv.monitoring._histogram import cumulative_usec, percentile_usec, record, total
from moonkv.monitoring._latency import LatencyMonitor
from moonkv.monitoring._slowlog import REDACT, SlowLog, SlowLogEntry, redact_migrate

__all__ = [
    "REDACT",
    "LatencyMonitor",
    "SlowLog",
    "SlowLogEntry",
    "cumulative_usec",
    "percentile_usec",
    "record",
    "redact_migrate",
    "total",
]
