"""Differential checks of the foundation: same commands, byte-identical replies."""

from tests.conftest import Differ


def test_ping_echo_select(diff: Differ) -> None:
    diff("PING")
    diff("PING", "hello")
    diff("PING", "a", "b")
    diff("ECHO", "x")
    diff("ECHO")
    diff("SELECT", "1")
    diff("SELECT", "99")
    diff("SELECT", "x")
    diff("SELECT", "0")


def test_unknown_and_arity(diff: Differ) -> None:
    diff("NOSUCHCOMMAND", "a", "b")
    diff("NOSUCHCOMMAND")
    diff("GET")
    diff("GET", "a", "b")
    diff("CONFIG")
    diff("CONFIG", "NOPE")
    diff("CLIENT", "NOPE")


def test_set_get_options(diff: Differ) -> None:
    diff("SET", "k", "v")
    diff("GET", "k")
    diff("SET", "k", "v2", "NX")
    diff("SET", "k", "v2", "XX", "GET")
    diff("SET", "k", "v", "EX", "0")
    diff("SET", "k", "v", "EX", "10", "PX", "10")
    diff("SET", "k", "v", "KEEPTTL", "EX", "10")
    diff("SET", "k", "v", "FOO")
    diff("GET", "missing")
