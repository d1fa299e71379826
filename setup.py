"""Builds moonkv's request path with mypyc when a wheel is built (pyproject.toml holds the metadata).

The modules listed in src/moonkv/native.py (MODULES) are compiled to extension
modules that ship beside their .py files; Python imports an extension module
before a .py of the same name. When to compile:

- an editable install (``pip install -e .``) never compiles: it runs the
  sources it points at, so no compiled module can be stale against them;
- MOONKV_PURE_PYTHON=1 at build time: a pure-Python wheel, on purpose;
- no C compiler or no Python headers: a pure-Python wheel (it says why on
  stderr, which pip shows with -v; the server reports its build at start);
- otherwise compile, and a failure fails the build: a wheel about 40 % slower
  than the one asked for is not shipped silently (docs/architecture.md).
"""

from __future__ import annotations

import glob
import os
import runpy
import shutil
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_ext import build_ext

OPT_OUT = "MOONKV_PURE_PYTHON"
SRC = "src"


class BuildExt(build_ext):  # type: ignore[misc]  # setuptools' command classes are untyped
    """build_ext that never writes extension modules into the source tree."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.extensions and (self.inplace or getattr(self, "editable_mode", False)):
            raise SystemExit(
                "moonkv: extension modules are never built in place: they would shadow the "
                ".py files of src/ (build a wheel, or set MOONKV_PURE_PYTHON=1)"
            )


# The setup.py commands that build code. The others (egg_info and dist_info for
# metadata, sdist, and editable_wheel/develop, whose install runs the sources)
# compile nothing.
BUILDING = ("bdist_wheel", "build", "build_ext")


def _why_pure() -> str | None:
    """Why this build is pure Python, or None when it compiles."""
    if os.environ.get(OPT_OUT, "") not in ("", "0"):
        return f"{OPT_OUT} is set"
    headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
    if not os.path.exists(headers):
        return f"no Python headers ({headers})"
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc})"
    return None


def _ext_modules() -> list[object]:
    if not any(cmd in sys.argv[1:] for cmd in BUILDING):
        return []
    # What a wheel packs is made anew: an extension module of an earlier build
    # (of a module since removed from MODULES, say) must not ship beside a .py.
    for lib in glob.glob(os.path.join("build", "lib*")):
        shutil.rmtree(lib)
    why = _why_pure()
    if why is not None:
        print(f"moonkv: building pure Python ({why})", file=sys.stderr)
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        raise SystemExit(
            "moonkv: a C compiler and Python's headers are here but mypyc is not (it ships with "
            f"mypy, a build requirement); install mypy, or set {OPT_OUT}=1 for a pure-Python build"
        ) from None

    modules = runpy.run_path(os.path.join(SRC, "moonkv", "native.py"))["MODULES"]
    paths = [os.path.join(SRC, *m.split(".")) + ".py" for m in modules]
    print(f"moonkv: compiling {len(paths)} modules with mypyc", file=sys.stderr)
    return list(
        mypycify(paths, opt_level="3", group_name="moonkv._compiled", target_dir="build/mypyc")
    )


setup(
    ext_modules=_ext_modules(),
    cmdclass={"build_ext": BuildExt},
    options={"build_ext": {"parallel": os.cpu_count() or 1}},
)
