"""Redis 7 script shebang: ``#!lua flags=no-writes,allow-oom`` and ``#!lua name=lib``."""

from __future__ import annotations

from moonkv.errors import RespError

SCRIPT_FLAGS = frozenset(
    {"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"}
)


def parse_shebang(body: bytes, *, for_library: bool = False) -> tuple[bool, set[str], dict[str, str], bytes]:
    """Returns (has_shebang, flags, options, body to compile).

    The shebang line is turned into a Lua comment so line numbers stay the same.
    """
    if not body.startswith(b"#!"):
        return False, set(), {}, body
    nl = body.find(b"\n")
    line = body[2:] if nl < 0 else body[2:nl]
    if for_library:
        return _parse_library_shebang(body, line, nl)
    parts = line.decode("utf-8", "replace").split()
    engine = parts[0] if parts else ""
    # FUNCTION LOAD matches the engine name case-insensitively; EVAL wants "#!lua".
    if (engine.lower() if for_library else engine) != "lua":
        if for_library:
            raise RespError(f"Engine '{engine}' not found")
        raise RespError(f"Unexpected engine in script shebang: #!{line.decode('utf-8', 'replace')}")
    flags: set[str] = set()
    options: dict[str, str] = {}
    for part in parts[1:]:
        if part.startswith("flags=") and not for_library:
            for f in part[6:].split(","):
                if not f:
                    continue
                if f not in SCRIPT_FLAGS:
                    raise RespError(f"Unexpected flag in script shebang: {f}")
                flags.add(f)
        elif for_library and "=" in part:
            k, v = part.split("=", 1)
            if k != "name":
                raise RespError(f"Invalid metadata value given: {part}")
            options[k] = v
        else:
            if for_library:
                raise RespError(f"Invalid metadata value given: {part}")
            raise RespError(f"Unknown lua shebang option: {part}")
    rest = b"" if nl < 0 else body[nl:]
    return True, flags, options, b"--" + body[2 : len(body) - len(rest)] + rest


def _parse_library_shebang(
    body: bytes, line: bytes, nl: int
) -> tuple[bool, set[str], dict[str, str], bytes]:
    """FUNCTION LOAD's ``#!<engine> name=<library>`` (values may be quoted, as in Redis)."""
    from moonkv.protocol import split_args

    engine, _, rest = line.partition(b" ")
    if engine.decode("utf-8", "replace").lower() != "lua":
        raise RespError(f"Engine '{engine.decode('utf-8', 'replace')}' not found")
    args = split_args(rest)
    if args is None:
        raise RespError("Invalid library metadata")
    options: dict[str, str] = {}
    for arg in args:
        text = arg.decode("utf-8", "replace")
        key, eq, value = text.partition("=")
        if not eq or key != "name":
            raise RespError(f"Invalid metadata value given: {text}")
        if "name" in options:
            raise RespError("Invalid metadata value, name argument was given multiple times")
        options["name"] = value
    rest_body = b"" if nl < 0 else body[nl:]
    return True, set(), options, b"--" + body[2 : len(body) - len(rest_body)] + rest_body
