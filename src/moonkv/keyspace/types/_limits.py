"""Encoding thresholds read from the live configuration (Redis's *-max-listpack-* knobs)."""

from __future__ import annotations

from typing import Any

# Defaults match Redis 7.0; ``bind`` points the module at the server config.
_values: dict[str, Any] = {
    "hash-max-listpack-entries": 128,
    "hash-max-listpack-value": 64,
    "set-max-intset-entries": 512,
    "zset-max-listpack-entries": 128,
    "zset-max-listpack-value": 64,
}


def bind(config: Any) -> None:
    """Read thresholds from ``config`` (an engine Config) from now on."""
    global _values
    values = getattr(config, "_values", None)
    if isinstance(values, dict):
        _values = values


def get(name: str) -> int:
    return int(_values.get(name, 0))


def cfg_get(config: Any, name: str) -> int:
    if config is None:
        return get(name)
    try:
        return int(config[name])
    except Exception:  # noqa: BLE001 - a plain mapping or a missing key
        return get(name)
