"""Build ``ssl.SSLContext`` objects from the ``tls-*`` directives, as Redis 7.0 does.

A bad setting raises :class:`TlsConfigError` carrying the lines Redis logs
for it ("Failed to load certificate: ..."); the caller logs them and refuses
the start or the CONFIG SET, keeping the context it had.
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Callable
from typing import Any, Final, Protocol

log = logging.getLogger("moonkv")


class Settings(Protocol):
    """Where the directives are read: ``settings["tls-cert-file"]``."""

    def __getitem__(self, name: str, /) -> Any: ...


class TlsConfigError(Exception):
    """The TLS directives do not make a usable context; the message says why."""


_VERSIONS: Final = {
    "tlsv1": ssl.TLSVersion.TLSv1,
    "tlsv1.1": ssl.TLSVersion.TLSv1_1,
    "tlsv1.2": ssl.TLSVersion.TLSv1_2,
    "tlsv1.3": ssl.TLSVersion.TLSv1_3,
}
_VERIFY: Final = {"yes": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "no": ssl.CERT_NONE}
# What OpenSSL keeps by default, and Redis too (tls-session-cache-size/-timeout).
_CACHE_SIZE: Final = 20 * 1024
_CACHE_TIMEOUT: Final = 300


def tls_wanted(s: Settings) -> bool:
    """Whether anything uses TLS: a TLS port, or TLS on the replication or cluster links.
    Redis configures (and checks) the contexts only then."""
    return bool(s["tls-port"]) or bool(s["tls-replication"]) or bool(s["tls-cluster"])


def server_context(s: Settings) -> ssl.SSLContext:
    """The context of the TLS port: moonkv's certificate, and the clients' certificates
    checked against the CA as ``tls-auth-clients`` says."""
    if s["tls-auth-clients"] != "no" or s["tls-replication"] or s["tls-cluster"]:
        _need_ca(s)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _common(ctx, s)
    _load_pair(ctx, s["tls-cert-file"], s["tls-key-file"], s["tls-key-file-pass"], "tls-cert-file", "tls-key-file")
    ctx.verify_mode = _VERIFY[s["tls-auth-clients"]]
    dh = s["tls-dh-params-file"]
    if dh:
        try:
            ctx.load_dh_params(dh)
        except (OSError, ValueError) as e:
            raise TlsConfigError(f"Failed to load {dh}: {reason(e)}") from None
    # Python's server contexts prefer the server's cipher order; Redis's do only when asked.
    if s["tls-prefer-server-ciphers"]:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if not s["tls-session-caching"]:
        # No resumption by ticket (TLS 1.2 tickets, TLS 1.3 session tickets).
        ctx.options |= ssl.OP_NO_TICKET
        ctx.num_tickets = 0
    elif s["tls-session-cache-size"] != _CACHE_SIZE or s["tls-session-cache-timeout"] != _CACHE_TIMEOUT:
        log.warning(
            "tls-session-cache-size and tls-session-cache-timeout keep OpenSSL's defaults "
            "(%d sessions, %d s): Python's ssl module cannot change them",
            _CACHE_SIZE,
            _CACHE_TIMEOUT,
        )
    return ctx


def client_context(s: Settings) -> ssl.SSLContext:
    """The context of the links moonkv opens (replication, cluster): the peer's
    certificate must chain to the CA (host names are not checked, as in Redis), and
    moonkv presents ``tls-client-cert-file`` (``tls-cert-file`` when unset)."""
    _need_ca(s)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    _common(ctx, s)
    if s["tls-client-cert-file"] and s["tls-client-key-file"]:
        _load_pair(
            ctx,
            s["tls-client-cert-file"],
            s["tls-client-key-file"],
            s["tls-client-key-file-pass"],
            "tls-client-cert-file",
            "tls-client-key-file",
        )
    else:
        _load_pair(ctx, s["tls-cert-file"], s["tls-key-file"], s["tls-key-file-pass"], "tls-cert-file", "tls-key-file")
    return ctx


# -- parts ------------------------------------------------------------------------


def _need_ca(s: Settings) -> None:
    if not s["tls-ca-cert-file"] and not s["tls-ca-cert-dir"]:
        raise TlsConfigError(
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, "
            "tls-replication or tls-auth-clients are enabled!"
        )


def _common(ctx: ssl.SSLContext, s: Settings) -> None:
    """Protocol versions, ciphers and the CA, shared by both sides."""
    ctx.options |= ssl.OP_NO_COMPRESSION
    ctx.minimum_version, ctx.maximum_version = _versions(s["tls-protocols"])
    ciphers = s["tls-ciphers"]
    if ciphers:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise TlsConfigError(f"Failed to configure ciphers: {ciphers}") from None
    suites = s["tls-ciphersuites"]
    if suites:
        _check_suites(ctx, suites)
    cafile, capath = s["tls-ca-cert-file"], s["tls-ca-cert-dir"]
    if cafile or capath:
        try:
            ctx.load_verify_locations(cafile=cafile or None, capath=capath or None)
        except (OSError, ValueError) as e:
            raise TlsConfigError(f"Failed to configure CA certificate(s) file/directory: {reason(e)}") from None


def _versions(text: str) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    if not text.strip():
        return ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    chosen = []
    for word in text.split():
        v = _VERSIONS.get(word.lower())
        if v is None:
            raise TlsConfigError(
                "Invalid tls-protocols specified. Use a combination of "
                "'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."
            )
        chosen.append(v)
    return min(chosen), max(chosen)


def _check_suites(ctx: ssl.SSLContext, suites: str) -> None:
    """``tls-ciphersuites`` names TLS 1.3 suites; Python's ssl module has no call to
    narrow them, so every suite OpenSSL enables stays on.  A list naming none of
    them is refused, as OpenSSL refuses it for Redis; a narrower one is warned about."""
    known = {c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.3"}
    named = [n for n in suites.split(":") if n]
    if not any(n in known for n in named):
        raise TlsConfigError(f"Failed to configure ciphersuites: {suites}")
    if not known.issubset(named):
        log.warning(
            "tls-ciphersuites cannot narrow the TLS 1.3 suites (Python's ssl module has no "
            "such setting): %s stay enabled",
            ":".join(sorted(known)),
        )


def _load_pair(
    ctx: ssl.SSLContext, cert: str, key: str, password: str, cert_name: str, key_name: str
) -> None:
    if not cert:
        raise TlsConfigError(f"No {cert_name} configured!")
    if not key:
        raise TlsConfigError(f"No {key_name} configured!")
    try:
        # Parse the certificate file alone first, to tell its errors from the key's.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=cert)
    except (OSError, ValueError) as e:
        raise TlsConfigError(f"Failed to load certificate: {cert}: {reason(e)}") from None
    # Never let OpenSSL prompt on the terminal for a pass phrase: no pass is an empty one.
    secret: str | Callable[[], str] = password or _no_password
    try:
        ctx.load_cert_chain(cert, key, secret)
    except (OSError, ValueError) as e:
        raise TlsConfigError(f"Failed to load private key: {key}: {reason(e)}") from None


def _no_password() -> str:
    return ""


_SSL_LOCATION: Final = re.compile(r"\s*\(_ssl\.c:\d+\)$")


def reason(e: Exception) -> str:
    """An error as a log line shows it: OpenSSL's words without the source location."""
    if isinstance(e, ssl.SSLError):
        return _SSL_LOCATION.sub("", str(e))
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e)
