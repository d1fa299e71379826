"""The native build's loader: it runs compiled modules only for the sources they were built from."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

import moonkv
from moonkv import native


def test_the_expected_build_runs() -> None:
    # scripts/test.sh runs the suite twice and says which build each pass must
    # run; run directly, the state must follow from the build and the sources.
    expected = os.environ.get("MOONKV_EXPECT_BUILD")
    if expected is None:
        off = os.environ.get(native.OFF_ENV, "") not in ("", "0")
        expected = "native" if native.is_current() and not off else "python"
    assert native.state.split()[0] == expected, native.state
    import moonkv.scripting._engine as engine

    compiled = not str(engine.__file__).endswith(".py")
    assert compiled == (expected == "native")


def test_info_reports_the_build() -> None:
    from moonkv.commands.server import _section_server
    from moonkv.engine import Server

    assert f"moonkv_build:{native.state}" in _section_server(Server())


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the package's sources, with native's paths pointed at it."""
    pkg = tmp_path / "moonkv"
    shutil.copytree(
        Path(moonkv.__file__).parent, pkg, ignore=shutil.ignore_patterns("_native*", "__pycache__")
    )
    monkeypatch.setattr(native, "PACKAGE_DIR", pkg)
    monkeypatch.setattr(native, "NATIVE_DIR", pkg / "_native")
    monkeypatch.delenv(native.OFF_ENV, raising=False)
    return pkg


def _write_manifest(pkg: Path, **fields: object) -> None:
    (pkg / "_native").mkdir(exist_ok=True)
    manifest = {
        "digest": native.sources_digest(),
        "cache_tag": sys.implementation.cache_tag,
        "files": {m: "missing.so" for m in native.MODULES},
    }
    manifest.update(fields)
    (pkg / "_native" / native.MANIFEST).write_text(json.dumps(manifest))


def _install_state(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(native, "state", "python (not built: moonkv native build)")
    finders = list(sys.meta_path)
    try:
        native.install()
        assert sys.meta_path == finders, "install() added a finder in a test"
    finally:
        sys.meta_path[:] = finders
    return native.state


def test_digest_covers_every_source(fake_package: Path) -> None:
    before = native.sources_digest()
    (fake_package / "keyspace" / "db.py").write_text("# edited\n", encoding="utf-8")
    assert native.sources_digest() != before
    (fake_package / "new_module.py").write_text("", encoding="utf-8")
    assert len({before, native.sources_digest()}) == 2


def test_no_build_runs_python(fake_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _install_state(monkeypatch).startswith("python (not built")
    assert not native.is_current()


def test_edited_sources_run_python(fake_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_manifest(fake_package)
    assert native.is_current()
    (fake_package / "engine" / "_server.py").write_text("# edited\n", encoding="utf-8")
    assert not native.is_current()
    assert "sources changed" in _install_state(monkeypatch)


def test_other_python_or_missing_files_run_python(
    fake_package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_manifest(fake_package, cache_tag="cpython-0")
    assert "another Python" in _install_state(monkeypatch)
    _write_manifest(fake_package)  # files named but not there
    # The package's real modules are imported in this process, so install()
    # refuses on that ground first; without them, on the missing files.
    state = _install_state(monkeypatch)
    assert "imported before" in state or "incomplete" in state
    files = {m: "x.so" for m in native.MODULES[1:]}
    _write_manifest(fake_package, files=files)
    assert "incomplete" in _install_state(monkeypatch)


def test_the_switch_turns_it_off(fake_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_manifest(fake_package)
    monkeypatch.setenv(native.OFF_ENV, "1")
    assert native.OFF_ENV in _install_state(monkeypatch)
