"""The optional Prometheus endpoint (``metrics-port``, off by default).

Imported only when the directive is set, so the default server never loads
``prometheus_client``.  prometheus_client's HTTP server answers scrapes from
its own thread; the figures belong to the event loop, so each scrape asks the
loop for a snapshot (:func:`snapshot`, scheduled with
``call_soon_threadsafe``) and turns that into metric families in the HTTP
thread: one consistent reading per scrape, nothing touched off the loop.
"""

from moonkv.metrics._endpoint import MetricsEndpoint, snapshot

__all__ = ["MetricsEndpoint", "snapshot"]
