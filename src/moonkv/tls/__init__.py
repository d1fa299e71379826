"""TLS contexts built from Redis's ``tls-*`` directives (docs/tls.md).

Standalone: it reads the directives through any mapping of names to values
(``moonkv.engine.Config`` is one) and imports only the standard library's
``ssl``.  The server's TLS listener uses :func:`server_context`; the links
moonkv opens itself (replication, cluster) use :func:`client_context`.
"""

from moonkv.tls._context import (
    TlsConfigError,
    client_context,
    reason,
    server_context,
    tls_wanted,
)

__all__ = ["TlsConfigError", "client_context", "reason", "server_context", "tls_wanted"]
