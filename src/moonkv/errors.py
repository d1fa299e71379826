"""Error replies.

Every error a command can produce is an exception whose class carries Redis's
prefix.  Only the executor turns them into ``-PREFIX message`` replies, so
handlers, types and scripting raise and never format wire bytes.

    RespError                 ERR ...            (generic)
     ├── WrongTypeError       WRONGTYPE ...
     ├── NoScriptError        NOSCRIPT ...
     ├── BusyError            BUSY ...
     ├── NotBusyError         NOTBUSY ...
     ├── UnkillableError      UNKILLABLE ...
     ├── ExecAbortError       EXECABORT ...
     ├── LoadingError         LOADING ...
     ├── MisconfError         MISCONF ...
     ├── NoAuthError          NOAUTH ...
     ├── WrongPassError       WRONGPASS ...
     ├── NoPermError          NOPERM ...
     ├── OomError             OOM ...
     ├── UnblockedError       UNBLOCKED ...
     ├── BusyKeyError         BUSYKEY ...
     ├── NoProtoError         NOPROTO ...
     └── CorruptedHllError    INVALIDOBJ Corrupted HLL object detected
    ProtocolError             malformed request: reply then close the connection
"""

from __future__ import annotations


class RespError(Exception):
    """An error reply. ``str(exc)`` is the full text after the ``-``."""

    prefix = "ERR"

    def __init__(self, message: str = "", *, full: str | None = None) -> None:
        # ``full`` is a complete error line that already carries its prefix
        # (errors coming back from scripts keep whatever prefix they chose).
        self.text = full if full is not None else f"{self.prefix} {message}"
        super().__init__(self.text)

    def __str__(self) -> str:
        return self.text

    @property
    def code(self) -> str:
        """The first word of the text, as INFO errorstats counts it."""
        return self.text.split(" ", 1)[0]


class WrongTypeError(RespError):
    prefix = "WRONGTYPE"

    def __init__(self) -> None:
        super().__init__("Operation against a key holding the wrong kind of value")


class NoScriptError(RespError):
    prefix = "NOSCRIPT"

    def __init__(self, message: str = "No matching script. Please use EVAL.") -> None:
        super().__init__(message)


class BusyError(RespError):
    prefix = "BUSY"


class NotBusyError(RespError):
    prefix = "NOTBUSY"


class UnkillableError(RespError):
    prefix = "UNKILLABLE"


class ExecAbortError(RespError):
    prefix = "EXECABORT"


class LoadingError(RespError):
    prefix = "LOADING"

    def __init__(self) -> None:
        super().__init__("Redis is loading the dataset in memory")


class MisconfError(RespError):
    prefix = "MISCONF"


class NoAuthError(RespError):
    prefix = "NOAUTH"


class WrongPassError(RespError):
    prefix = "WRONGPASS"


class NoPermError(RespError):
    prefix = "NOPERM"


class OomError(RespError):
    prefix = "OOM"


class UnblockedError(RespError):
    prefix = "UNBLOCKED"


class BusyKeyError(RespError):
    prefix = "BUSYKEY"


class NoProtoError(RespError):
    prefix = "NOPROTO"


class CorruptedHllError(RespError):
    prefix = "INVALIDOBJ"

    def __init__(self) -> None:
        super().__init__("Corrupted HLL object detected")


class ProtocolError(Exception):
    """The client sent bytes that are not a valid request.

    The server replies ``-ERR Protocol error: <message>`` and closes the
    connection after the reply, as Redis does.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Texts shared by many commands (Redis's shared.* objects).
SYNTAX = "syntax error"
NOT_INTEGER = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
OVERFLOW = "increment or decrement would overflow"
NO_SUCH_KEY = "no such key"
OUT_OF_RANGE = "index out of range"
NAN_OR_INF = "increment would produce NaN or Infinity"


def syntax_error() -> RespError:
    return RespError(SYNTAX)


def not_integer() -> RespError:
    return RespError(NOT_INTEGER)


def not_float() -> RespError:
    return RespError(NOT_FLOAT)


def wrong_arity(name: str) -> RespError:
    return RespError(f"wrong number of arguments for '{name}' command")
