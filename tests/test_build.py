"""Which build runs: the request path compiled with mypyc (a wheel built where a C
compiler is) or plain Python (an editable install, or a pure wheel), as the
server, INFO and ``moonkv --version`` report it.

scripts/test.sh runs the suite on both, and says which one each pass must run
(MOONKV_EXPECT_BUILD); run directly, the expected build follows from the
installed distribution: a wheel that is not pure ships extension modules."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import pytest

import moonkv
from moonkv import native
from tests.helpers import RawClient, ServerHandle


def _expected() -> str:
    expected = os.environ.get("MOONKV_EXPECT_BUILD")
    if expected is not None:
        return expected
    wheel = importlib.metadata.distribution("moonkv").read_text("WHEEL") or ""
    return "python" if "Root-Is-Purelib: true" in wheel else "native"


def test_every_request_path_module_is_of_the_expected_build() -> None:
    expected = _expected()
    assert native.build_kind() == expected
    for module in native.MODULES:
        assert native.is_compiled(module) == (expected == "native"), module


def test_no_other_module_is_compiled() -> None:
    # An extension module beside a .py shadows it: only the listed ones may be
    # compiled (and the shared library holding their code).
    compiled = {
        name
        for name in list(sys.modules)
        if name.startswith("moonkv.") and native.is_compiled(name)
    }
    assert compiled <= {*native.MODULES, "moonkv._compiled__mypyc"}


def test_build_kind_names_what_was_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    # hiredis.hiredis is an extension module in either build, moonkv.errors
    # is never compiled: together they are neither build.
    def kind(*modules: str) -> str:
        monkeypatch.setattr(native, "MODULES", modules)
        native.build_kind.cache_clear()
        return native.build_kind()

    try:
        assert kind("hiredis.hiredis") == "native"
        assert kind("moonkv.errors") == "python"
        assert kind("hiredis.hiredis", "moonkv.errors").startswith("mixed (1 of 2 ")
    finally:
        native.build_kind.cache_clear()


def test_info_and_log_report_the_build(moonkv_server: ServerHandle) -> None:
    from moonkv.commands.server import _section_server
    from moonkv.engine import Server

    assert f"moonkv_build:{_expected()}" in _section_server(Server())
    # The servers the tests start run the same build as this process.
    c = RawClient(moonkv_server.port)
    try:
        info = c.call("INFO", "server").decode()
    finally:
        c.close()
    assert f"\r\nmoonkv_build:{_expected()}\r\n" in info
    assert f"Build: {_expected()}\n" in moonkv_server.read_log()


def test_version_reports_the_build() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "moonkv", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"moonkv {moonkv.__version__} ")
    assert out.stdout.endswith(f" build {_expected()})\n")
