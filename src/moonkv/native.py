"""The optional native build: the request path compiled with mypyc.

moonkv is Python, and runs as Python.  ``moonkv native build``
(scripts/serve.sh and scripts/test.sh run it when mypy and a C compiler are
present) compiles the modules in :data:`MODULES` with mypyc, the compiler
for type-annotated Python that mypy ships, into ``_native/`` beside this
file, with a manifest naming the sources they were built from.  The same
source, checked by ``mypy --strict``, then runs about 40 % fewer CPU
instructions per request (docs/performance.md).

:func:`install`, called when the ``moonkv`` package is imported, makes Python
load those extension modules instead of the ``.py`` files, but only when the
manifest matches the current sources, all of them (compiled code is bound to
the classes and signatures of what it imports): an edited checkout runs its
Python until it is built again, never stale code.  ``MOONKV_PURE_PYTHON=1``
turns the native build off.  Either way the behaviour is the same; the test
suite runs in both modes.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

# The modules a request goes through, and the common data types: compiled.
# The rest (ACL, persistence, the CLI, set/zset containers that subclass
# builtins, which mypyc cannot compile as native classes) stays Python.
MODULES = (
    "moonkv.clock",
    "moonkv.commands._util",
    "moonkv.commands.bitmaps",
    "moonkv.commands.connection",
    "moonkv.commands.hashes",
    "moonkv.commands.keys",
    "moonkv.commands.lists",
    "moonkv.commands.scripting",
    "moonkv.commands.server",
    "moonkv.commands.sets",
    "moonkv.commands.strings",
    "moonkv.commands.table",
    "moonkv.commands.transactions",
    "moonkv.commands.zsets",
    "moonkv.engine._client",
    "moonkv.engine._config",
    "moonkv.engine._server",
    "moonkv.keyspace.codec",
    "moonkv.keyspace.db",
    "moonkv.keyspace.hyperloglog",
    "moonkv.keyspace.types.hash",
    "moonkv.keyspace.types.list",
    "moonkv.monitoring._histogram",
    "moonkv.protocol._encoder",
    "moonkv.protocol._parser",
    "moonkv.protocol._types",
    "moonkv.scripting._engine",
    "moonkv.server._connection",
)

PACKAGE_DIR = Path(__file__).resolve().parent
NATIVE_DIR = PACKAGE_DIR / "_native"
MANIFEST = "manifest.json"
GROUP = "moonkv_native"  # the shared library holding all compiled code
OFF_ENV = "MOONKV_PURE_PYTHON"

# What install() decided, for INFO and the server log.
state = "python (not built: moonkv native build)"


def sources_digest() -> str:
    """SHA-256 over every Python source of the package, by relative path."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(PACKAGE_DIR).as_posix()
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _read_manifest() -> dict[str, object] | None:
    try:
        with open(NATIVE_DIR / MANIFEST, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class _NativeFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules (and their shared library) in ``_native/``."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, file)
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


def install() -> None:
    """Load the native build for the modules it covers, if it matches the sources."""
    global state
    if os.environ.get(OFF_ENV, "") not in ("", "0"):
        state = f"python ({OFF_ENV} is set)"
        return
    manifest = _read_manifest()
    if manifest is None:
        return
    stale = _stale(manifest)
    if stale is not None:
        state = f"python ({stale})"
        return
    files = manifest.get("files")
    if not isinstance(files, dict) or any(m not in files for m in MODULES):
        state = "python (the native build is incomplete)"
        return
    # A module imported before this point would already be Python; mixing the
    # two for one module would break compiled callers.
    if any(m in sys.modules for m in MODULES):
        state = "python (modules were imported before the native build could load)"
        return
    paths = {name: str(NATIVE_DIR / rel) for name, rel in files.items()}
    if not all(os.path.exists(p) for p in paths.values()):
        state = "python (the native build is incomplete)"
        return
    sys.meta_path.insert(0, _NativeFinder(paths))
    state = "native"


def build() -> None:
    """Compile :data:`MODULES` with mypyc into ``_native/`` (replacing any old build)."""
    from mypyc.build import mypycify
    from setuptools import setup

    src_root = PACKAGE_DIR.parent
    digest = sources_digest()
    rel_paths = [m.replace(".", "/") + ".py" for m in MODULES]
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="moonkv-native-") as tmp:
        lib = os.path.join(tmp, "lib")
        os.chdir(src_root)
        try:
            exts = mypycify(rel_paths, opt_level="3", target_dir=os.path.join(tmp, "c"), group_name=GROUP)
            setup(
                name="moonkv-native",
                ext_modules=exts,
                script_args=["-q", "build_ext", "--build-lib", lib, "--build-temp", os.path.join(tmp, "o"), "-j", str(os.cpu_count() or 1)],
            )
        finally:
            os.chdir(cwd)
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        files: dict[str, str] = {}
        for name in (*MODULES, GROUP + "__mypyc"):
            rel = name.replace(".", "/") + suffix
            if not os.path.exists(os.path.join(lib, rel)):
                raise RuntimeError(f"the native build produced no {rel}")
            files[name] = rel
        manifest = {"digest": digest, "cache_tag": sys.implementation.cache_tag, "files": files}
        with open(os.path.join(lib, MANIFEST), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1)
        # Replace the old build whole: a reader sees the old one or the new one.
        staging = NATIVE_DIR.with_name("_native.new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(lib, staging)
        old = NATIVE_DIR.with_name("_native.old")
        shutil.rmtree(old, ignore_errors=True)
        if NATIVE_DIR.exists():
            NATIVE_DIR.rename(old)
        staging.rename(NATIVE_DIR)
        shutil.rmtree(old, ignore_errors=True)


def _stale(manifest: dict[str, object]) -> str | None:
    """Why a build with this manifest does not fit this Python and these sources, if it does not."""
    if manifest.get("cache_tag") != sys.implementation.cache_tag:
        return "the native build is for another Python"
    if manifest.get("digest") != sources_digest():
        return "sources changed since the native build: moonkv native build"
    return None


def is_current() -> bool:
    """Whether ``_native/`` holds a build of the current sources for this Python."""
    m = _read_manifest()
    return m is not None and _stale(m) is None


def main(args: Sequence[str]) -> int:
    """``moonkv native build`` (if the build is not current) / ``moonkv native status``."""
    if list(args) == ["build"]:
        if is_current():
            print("moonkv native: up to date")
            return 0
        build()
        print(f"moonkv native: compiled {len(MODULES)} modules into {NATIVE_DIR}")
        return 0
    if list(args) == ["status"]:
        print(state)
        return 0
    print("usage: moonkv native build|status", file=sys.stderr)
    return 2
