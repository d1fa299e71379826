"""Run units of Redis 7.0's own TCL test suite against moonkv (or a real redis-server).

One command, no arguments needed: `python3 tests/redis_suite/runner.py` runs the units CI
requires (tests/redis_suite/ci.tsv), each in the profile its row names, and fails unless every
unit passes at least as many tests as real Redis 7.0.15 does in the same profile
(tests/redis_suite/expected.tsv) minus the unit's documented allowance, with no failed test
but the allowed ones, no exception, no timeout and no harness error. moonkv runs with $PYTHON
(default: .venv/bin/python).

Two ways to run a unit. External profiles (minimal, full): the runner starts a fresh server
(free port, fresh data directory) and runtest talks to it (--host/--port), so units tagged
external:skip run nothing. Spawned profiles (spawned, spawned-full: the tags of minimal and
full): runtest starts every server itself from its config file, as upstream's own CI does, in
a private copy of the suite whose src/redis-server is a launcher for moonkv (or, with
--server redis, Debian's redis-server).

The test sources are Debian's `redis` source package (7.0.x), fetched with `apt-get source`
through a private apt configuration whose deb-src entries are derived from the machine's own
apt sources (/etc/apt is not touched), unpacked once with dpkg-source into
${XDG_CACHE_HOME:-~/.cache}/moonkv/redis-suite and reused while its manifest still matches.

Re-measuring Redis's counts (see docs/compatibility.md, "Redis's own test suite"):

    python3 tests/redis_suite/runner.py --server redis --profile minimal all --record
    python3 tests/redis_suite/runner.py --server redis --profile full all --record
    python3 tests/redis_suite/runner.py --server redis --profile spawned-full all --record

--target HOST:PORT runs the units against a server that is already running (never one holding
data: the suite runs FLUSHALL). Exit code: 0 all units ok, 1 some unit not ok, 2 setup problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent
EXPECTED = DATA / "expected.tsv"
CI_UNITS = DATA / "ci.tsv"
MANIFEST = ".moonkv-suite-manifest"
VERSION_RE = re.compile(rb'#define REDIS_VERSION "(7\.0\.\d+)"')

# runtest options per profile. "full" is what upstream's external CI runs (--tags -slow); both
# servers then run with debug commands and protected configs enabled. "minimal" also leaves
# out what needs DEBUG/OBJECT, replication, SAVE, RESET of stats, HLL debugging, maxmemory,
# latency monitoring or a local server process, and ignores encodings and digests.
PROFILE_TAGS = {
    "minimal": "-slow -needs:debug -needs:repl -needs:save -needs:reset -needs:pfdebug"
    " -needs:config-maxmemory -needs:config-resetstat -needs:latency -needs:local-process",
    "full": "-slow",
}
PROFILE_ARGS = {"minimal": ["--ignore-encoding", "--ignore-digest"], "full": []}
PROFILE_SERVER = {
    "minimal": ["--save", "", "--enable-debug-command", "no"],
    "full": ["--save", "", "--enable-debug-command", "yes", "--enable-protected-configs", "yes"],
}
# Spawned profiles: runtest starts the servers itself (no --host/--port), each from its own
# config file (tests/assets/default.conf plus the unit's overrides, which enable debug commands
# and protected configs), so the units tagged external:skip run too. They take the tags and
# options of the external profile they name.
SPAWNED = {"spawned": "minimal", "spawned-full": "full"}
PROFILES = sorted([*PROFILE_TAGS, *SPAWNED])
LAUNCHER = "src/redis-server"
RESULT_RE = re.compile(r"^\[(ok|err|exception|skip|ignore|TIMEOUT)\]: ?(.*)$")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
ERR_WHERE_RE = re.compile(r" in tests/\S+\.tcl$")


class SetupError(Exception):
    """The suite cannot run at all (no sources, no tclsh, no server): exit code 2."""


def say(msg: str) -> None:
    print(f"redis-suite: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ data files ---


@dataclasses.dataclass(frozen=True)
class Allowance:
    missing: int  # tests Redis passes that may not run at all
    failures: frozenset[str]  # names of tests that may fail
    reason: str


NO_ALLOWANCE = Allowance(0, frozenset(), "")


def read_tsv(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                yield line.rstrip("\n").split("\t")


def read_expected(path: Path = EXPECTED) -> dict[tuple[str, str], int]:
    """(unit, profile) -> tests real Redis 7.0.15 passes."""
    return {(row[0], row[1]): int(row[2]) for row in read_tsv(path)}


def read_ci(path: Path = CI_UNITS) -> dict[tuple[str, str], Allowance]:
    """The (unit, profile) runs CI requires, in order, with their allowances."""
    return {(row[0], row[1]): Allowance(int(row[2]), frozenset(n for n in row[3].split(";") if n),
                                        row[4])
            for row in read_tsv(path)}


def write_expected(counts: dict[tuple[str, str], int], notes: dict[tuple[str, str], str],
                   path: Path = EXPECTED) -> None:
    """Rewrite the data rows of expected.tsv, keeping its comment header."""
    header = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
              if line.startswith("#")] if path.exists() else []
    rows = [f"{u}\t{p}\t{n}\t{notes[(u, p)]}\n" for (u, p), n in sorted(counts.items())]
    path.write_text("".join(header) + "".join(rows), encoding="utf-8")


# ------------------------------------------------------------- the test sources ---


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "moonkv" / "redis-suite"


def tree_manifest(tree: Path) -> str:
    """SHA-256 over every file the harness reads (runtest and tests/, except tests/tmp where
    it writes), names included."""
    h = hashlib.sha256()
    tmp = tree / "tests" / "tmp"
    files = [tree / "runtest", *sorted(p for p in (tree / "tests").rglob("*")
                                       if p.is_file() and tmp not in p.parents)]
    for p in files:
        h.update(str(p.relative_to(tree)).encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def tree_version(tree: Path) -> str | None:
    try:
        m = VERSION_RE.search((tree / "src" / "version.h").read_bytes())
    except OSError:
        return None
    return m.group(1).decode() if m else None


def intact(tree: Path) -> bool:
    try:
        recorded = (tree / MANIFEST).read_text().strip()
    except OSError:
        return False
    return tree_version(tree) is not None and recorded == tree_manifest(tree)


def need_tools(tools: dict[str, str]) -> None:
    """Install the Debian packages of missing tools (tool -> package) when we may."""
    missing = sorted({pkg for tool, pkg in tools.items() if not shutil.which(tool)})
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise SetupError(f"needs the Debian packages {' '.join(missing)} "
                             f"(apt-get install -y {' '.join(missing)})")
        say(f"installing {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-qq", *missing]
        if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env)
            if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
                raise SetupError(f"apt-get could not install {' '.join(missing)}")


def private_apt(work: Path, etc: Path = Path("/etc/apt")) -> list[str]:
    """apt-get options for a private configuration holding deb-src twins of the machine's
    deb entries (one-line .list files and deb822 .sources files)."""
    parts = work / "parts"
    for d in (parts, work / "lists" / "partial", work / "cache" / "archives" / "partial"):
        d.mkdir(parents=True, exist_ok=True)
    for old in parts.iterdir():
        old.unlink()
    one_line = []
    for f in [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]:
        if f.is_file():
            one_line += [re.sub(r"^deb\s+", "deb-src ", line)
                         for line in f.read_text().splitlines() if re.match(r"^deb\s", line)]
    for f in sorted((etc / "sources.list.d").glob("*.sources")):
        text = re.sub(r"(?m)^Types:.*$", "Types: deb-src", f.read_text())
        (parts / f.name).write_text(text)
    (work / "src.list").write_text("".join(line + "\n" for line in one_line))
    opts = {"Dir::Etc::SourceList": work / "src.list", "Dir::Etc::SourceParts": parts,
            "Dir::State::Lists": work / "lists", "Dir::Cache": work / "cache",
            "Debug::NoLocking": "1"}
    return [arg for k, v in opts.items() for arg in ("-o", f"{k}={v}")]


def fetch(cache: Path) -> Path:
    """Download Debian's redis source package and unpack it (patches applied) into cache.
    Everything happens in a private temporary directory; the tree is moved into place last, so
    a concurrent or interrupted fetch never leaves a half tree under its final name."""
    if not shutil.which("apt-get"):
        raise SetupError("apt-get not found: cannot fetch Debian's redis source package")
    need_tools({"dpkg-source": "dpkg-dev"})
    say(f"fetching Debian's redis source package into {cache}")
    with tempfile.TemporaryDirectory(prefix="fetch-", dir=cache) as tmp:
        dl = Path(tmp)
        opts = private_apt(dl / "apt")
        for cmd in (["apt-get", *opts, "-qq", "update"],
                    ["apt-get", *opts, "-qq", "source", "--download-only", "redis"]):
            what = " ".join(cmd[:1] + cmd[-2:])
            try:
                r = subprocess.run(cmd, cwd=dl, timeout=300, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
            except subprocess.TimeoutExpired as e:
                raise SetupError(f"{what} timed out") from e
            if r.returncode != 0:
                raise SetupError(f"{what} failed:\n{r.stderr.strip()}")
        dscs = sorted(dl.glob("redis_*.dsc"))
        if not dscs:
            raise SetupError("apt-get source redis downloaded no .dsc")
        dsc = dscs[-1].name
        if not dsc.startswith("redis_7.0."):
            raise SetupError(f"Debian's redis source package is {dsc}, not 7.0.x; "
                             "pass a Redis 7.0.x source tree with --suite DIR")
        r = subprocess.run(["dpkg-source", "-x", dsc, "tree"], cwd=dl,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise SetupError(f"dpkg-source -x {dsc} failed:\n{r.stderr.strip()}")
        unpacked = dl / "tree"
        version = tree_version(unpacked)
        if version is None:
            raise SetupError(f"{dsc} does not hold a Redis 7.0.x tree")
        (unpacked / MANIFEST).write_text(tree_manifest(unpacked) + "\n")
        tree = cache / f"redis-{version}"
        if tree.exists():  # the broken one find_tree() rejected: out of the way first
            tree.rename(dl / "old")
        try:
            unpacked.rename(tree)
        except OSError:
            if not intact(tree):  # else another run has just put an intact tree there
                raise
    return tree


def find_tree(cache: Path) -> Path:
    """The cached 7.0.x tree when intact, else a freshly fetched one."""
    for tree in cache.glob("redis-7.0.*"):
        if intact(tree):
            return tree
        say(f"{tree} is incomplete or was modified: fetching it again")
    return fetch(cache)


def link_tools(tree: Path) -> None:
    """The suite runs src/redis-cli and src/redis-benchmark (integration/redis-cli,
    integration/redis-benchmark): the source tree is not built, so use the installed 7.0 ones."""
    for name in ("redis-cli", "redis-benchmark"):
        found = shutil.which(name)
        dest = tree / "src" / name
        if found is None or dest.exists():
            continue
        ver = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
        if " 7.0." in ver:
            dest.symlink_to(found)


# ----------------------------------------------------------------------- servers ---





def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def harness_base_port() -> int:
    """A --baseport for runtest. Its test server listens on the first port of
    [baseport - 32, baseport) whose probe succeeds, but the probe also binds IPv6 and so misses
    another run's test server on 127.0.0.1: concurrent runs on the default base (21111)
    collide. Pick a random base below the kernel's ephemeral ports whose first port, and the
    port 10000 above it that the probe also tries, are free on 127.0.0.1."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(12000, 22000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port + 32
    raise SetupError("no free port for runtest's test server")


def pings(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.settimeout(2)
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def stop_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group `proc` leads, SIGKILL it after `grace` seconds, reap it."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; children it left in its group still get the signal.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break
    proc.wait()


@dataclasses.dataclass(frozen=True)
class ServerKind:
    name: str  # "moonkv" or "redis"
    python: str  # interpreter for moonkv

    @staticmethod
    def redis_server() -> str:
        exe = shutil.which("redis-server")
        if exe is None:
            raise SetupError("redis-server not found (apt-get install -y redis-server)")
        return exe

    def command(self, port: int, data: Path, profile: str) -> list[str]:
        if self.name == "redis":
            return [self.redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
                    "--daemonize", "no", "--appendonly", "no", *PROFILE_SERVER[profile]]
        return [self.python, "-m", "moonkv", "server", "--port", str(port), "--dir", str(data),
                "--appendonly", "no", *PROFILE_SERVER[profile]]


def launcher_script(kind: ServerKind) -> str:
    """The src/redis-server of a spawned run: it replaces itself (exec, so the harness's pid
    is the server's) with moonkv or Debian's redis-server, given the harness's arguments (a
    config file, options). moonkv logs to stderr; the harness reads the server's log from its
    stdout (where Redis logs with `logfile ""`), so stderr joins it."""
    if kind.name == "redis":
        return f"#!/bin/sh\nexec {shlex.quote(kind.redis_server())} \"$@\"\n"
    # The harness runs it from the suite's copy: a relative interpreter path would not hold.
    python = os.path.abspath(kind.python) if os.sep in kind.python else kind.python
    return f"#!/bin/sh\nexec {shlex.quote(python)} -m moonkv server \"$@\" 2>&1\n"


def spawn_tree(tree: Path, kind: ServerKind, dest: Path) -> Path:
    """A private copy of the suite for a spawned run: runtest and tests/ copied (runtest clears
    tests/tmp of earlier servers when it starts, so runs must not share it), src/ holding only
    the version, the installed 7.0 tools and the launcher. The cached tree is not touched."""
    copy = dest / tree.name
    (copy / "src").mkdir(parents=True)
    shutil.copy2(tree / "runtest", copy / "runtest")
    shutil.copy2(tree / "src" / "version.h", copy / "src" / "version.h")
    shutil.copytree(tree / "tests", copy / "tests", symlinks=True,
                    ignore=lambda d, names: names if Path(d) == tree / "tests" / "tmp" else [])
    link_tools(copy)
    launcher = copy / LAUNCHER
    launcher.write_text(launcher_script(kind))
    launcher.chmod(0o755)
    return copy


@contextmanager
def fresh_server(kind: ServerKind, profile: str, log: Path) -> Iterator[tuple[str, int]]:
    """A fresh server on a free loopback port with an empty data directory, stopped after."""
    with tempfile.TemporaryDirectory(prefix=f"redis-suite-{kind.name}-") as tmp:
        port = free_port()
        data = Path(tmp)
        with log.open("wb") as lf:
            proc = subprocess.Popen(kind.command(port, data, profile), stdout=lf,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=tmp, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while not pings("127.0.0.1", port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SetupError(f"{kind.name} did not start (log: {log}):\n"
                                     + log.read_text(errors="replace")[-2000:])
                time.sleep(0.1)
            yield "127.0.0.1", port
        finally:
            stop_group(proc, 15.0)


# ------------------------------------------------------------------------- units ---


@dataclasses.dataclass
class Result:
    unit: str
    passed: int = 0
    failed: int = 0
    exceptions: int = 0
    timed_out: bool = False
    finished: bool = False  # the harness printed its closing line
    seconds: float = 0.0
    failures: list[str] = dataclasses.field(default_factory=list)  # names of [err] tests


def parse_log(unit: str, text: str) -> Result:
    res = Result(unit)
    for raw in text.splitlines():
        line = ANSI_RE.sub("", raw)
        m = RESULT_RE.match(line)
        if m is None:
            if "All tests passed" in line or re.match(r"^\[\d+/\d+ done\]", line):
                res.finished = True
            continue
        kind, what = m.groups()
        if kind == "ok":
            res.passed += 1
        elif kind == "err":
            res.failed += 1
            res.failures.append(ERR_WHERE_RE.sub("", what))
        elif kind == "exception":
            res.exceptions += 1
        elif kind == "TIMEOUT":
            res.timed_out = True
    return res


def runtest_command(tclsh: str, unit: str, target: tuple[str, int] | None, profile: str,
                    stall_timeout: int) -> list[str]:
    """runtest's command line: against `target`, or (None: a spawned profile) with the
    harness starting its own servers."""
    base = SPAWNED.get(profile, profile)
    # Spawned: the harness deletes its servers' directories (their logs) when it ends, so a
    # failed test's server log goes into the unit's log (--dump-logs).
    where = ["--dump-logs"] if target is None else ["--host", target[0], "--port", str(target[1])]
    return [tclsh, "tests/test_helper.tcl", *where, "--clients", "1",
            "--baseport", str(harness_base_port()), "--portcount", "64",
            "--timeout", str(stall_timeout), "--durable", "--tags", PROFILE_TAGS[base],
            *PROFILE_ARGS[base], "--single", unit]


def run_unit(tree: Path, tclsh: str, unit: str, target: tuple[str, int] | None, profile: str,
             unit_timeout: float, stall_timeout: int, log: Path) -> Result:
    cmd = runtest_command(tclsh, unit, target, profile, stall_timeout)
    start = time.monotonic()
    with log.open("wb") as lf:
        # Its own process group: the test clients tclsh spawns, and the redis-cli or
        # redis-benchmark they run, are stopped with it.
        proc = subprocess.Popen(cmd, cwd=tree, stdout=lf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env=dict(os.environ, TERM="dumb"))
    timed_out = False
    try:
        proc.wait(timeout=unit_timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        stop_group(proc, 5.0)
    res = parse_log(unit, log.read_text(errors="replace"))
    res.timed_out = res.timed_out or timed_out
    res.seconds = time.monotonic() - start
    return res


def verdict(res: Result, expected: int | None, allow: Allowance) -> str:
    if res.timed_out:
        return "timeout"
    if res.exceptions:
        return "exception"
    if not res.finished:
        return "harness-error"
    if not allow.failures.issuperset(res.failures):
        return "failed"
    if expected is None:
        return "no-expected-count"
    if res.passed < expected - allow.missing:
        return "short"
    return "ok"


# -------------------------------------------------------------------------- main ---


def default_python() -> str:
    return os.environ.get("PYTHON") or str(ROOT / ".venv" / "bin" / "python")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Run units of Redis 7.0's TCL test suite against moonkv or redis-server.")
    ap.add_argument("units", nargs="*", help="units such as unit/type/string; 'all' for every "
                    "unit in expected.tsv for the profile; default: the units CI requires "
                    "(ci.tsv), each in its profile")
    ap.add_argument("--profile", choices=PROFILES,
                    help="runtest tags and how servers start (default: minimal, or with no "
                    "units each ci.tsv row's own; spawned*: the harness starts them)")
    ap.add_argument("--server", choices=("moonkv", "redis"), default="moonkv",
                    help="what to start for each unit (default moonkv)")
    ap.add_argument("--target", metavar="HOST:PORT",
                    help="an already running server instead (it is not restarted per unit)")
    ap.add_argument("--python", default=default_python(),
                    help="interpreter running moonkv (default $PYTHON, else .venv/bin/python)")
    ap.add_argument("--suite", type=Path, help="a Redis 7.0.x source tree to use instead")
    ap.add_argument("--cache", type=Path, default=cache_dir())
    ap.add_argument("--logdir", type=Path, help="per-unit logs (default: a new temp dir)")
    ap.add_argument("--unit-timeout", type=float, default=300.0)
    ap.add_argument("--stall-timeout", type=int, default=120)
    ap.add_argument("--record", action="store_true",
                    help="with --server redis: store the passed counts in expected.tsv")
    args = ap.parse_args(argv)
    if args.record and (args.server != "redis" or args.target):
        ap.error("--record measures real Redis: use it with --server redis and no --target")
    if args.target and args.profile in SPAWNED:
        ap.error(f"--profile {args.profile} starts its own servers: no --target")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except SetupError as e:
        say(str(e))
        return 2


def plan(units: list[str], profile: str | None, expected: dict[tuple[str, str], int],
         ci: dict[tuple[str, str], Allowance]) -> list[tuple[str, str]]:
    """The (unit, profile) runs asked for: the named units (or 'all' measured) in `profile`
    (default minimal), else the CI rows (of `profile` only, when given)."""
    if units == ["all"]:
        chosen = profile or "minimal"
        return [(u, chosen) for u in sorted({u for u, p in expected if p == chosen})]
    if units:
        return [(u.removeprefix("tests/").removesuffix(".tcl"), profile or "minimal")
                for u in units]
    return [(u, p) for u, p in ci if profile is None or p == profile]


def run(args: argparse.Namespace) -> int:
    need_tools({"tclsh8.6": "tcl"})
    tclsh = shutil.which("tclsh8.6") or "tclsh8.6"
    if args.suite is not None:
        tree = args.suite.resolve()
        if tree_version(tree) is None or not (tree / "tests" / "test_helper.tcl").exists():
            raise SetupError(f"{tree} is not a Redis 7.0.x source tree")
    else:
        args.cache.mkdir(parents=True, exist_ok=True)
        tree = find_tree(args.cache)
    link_tools(tree)
    expected = read_expected()
    ci = read_ci()
    jobs = plan(args.units, args.profile, expected, ci)
    for u, _ in jobs:
        if not (tree / "tests" / f"{u}.tcl").is_file():
            raise SetupError(f"no such unit: {u}")
    target = None
    if args.target:
        host, _, port_s = args.target.rpartition(":")
        if not host or not port_s.isdigit() or not pings(host, int(port_s)):
            raise SetupError(f"no PONG from {args.target}")
        target = (host, int(port_s))
    kind = ServerKind(args.server, args.python)
    logdir = args.logdir or Path(tempfile.mkdtemp(prefix="redis-suite-logs-"))
    logdir.mkdir(parents=True, exist_ok=True)
    profiles = " ".join(sorted({p for _, p in jobs}))
    say(f"{tree_version(tree)} suite in {tree}, profile {profiles}, "
        f"server {args.target or kind.name}, logs in {logdir}")

    measured: dict[tuple[str, str], tuple[int, int, str]] = {}
    redis_version = ""
    if args.record:
        ver = subprocess.run([kind.redis_server(), "--version"],
                             capture_output=True, text=True).stdout
        m = re.search(r"v=(7\.0\.\d+)", ver)
        if m is None:
            raise SetupError(f"--record measures redis-server 7.0.x, this is: {ver.strip()}")
        redis_version = m.group(1)
    bad = total_passed = total_failed = total_expected = 0
    with tempfile.TemporaryDirectory(prefix="redis-suite-spawned-") as spawn_dir:
        spawned_tree: Path | None = None
        for unit, profile in jobs:
            safe = f"{unit.replace('/', '_')}.{profile}"
            log = logdir / f"{safe}.log"
            if args.target:
                res = run_unit(tree, tclsh, unit, target, profile, args.unit_timeout,
                               args.stall_timeout, log)
            elif profile in SPAWNED:
                if spawned_tree is None:
                    spawned_tree = spawn_tree(tree, kind, Path(spawn_dir))
                res = run_unit(spawned_tree, tclsh, unit, None, profile, args.unit_timeout,
                               args.stall_timeout, log)
            else:
                with fresh_server(kind, profile, logdir / f"{safe}.server.log") as addr:
                    res = run_unit(tree, tclsh, unit, addr, profile, args.unit_timeout,
                                   args.stall_timeout, log)
            exp = expected.get((unit, profile))
            allow = ci.get((unit, profile), NO_ALLOWANCE)
            if args.record:
                # Measuring Redis: its count is the yardstick, whatever it is.
                status = verdict(res, None, Allowance(0, frozenset(res.failures), ""))
                status = "ok" if status == "no-expected-count" else status
                if res.passed + res.failed:  # else the unit runs nothing against this server
                    measured[(unit, profile)] = (res.passed, res.failed, status)
            else:
                status = verdict(res, exp, allow)
            bad += status != "ok"
            total_passed += res.passed
            total_failed += res.failed
            total_expected += exp or 0
            print(f"{unit:<36} {profile:<12} passed={res.passed:<4} failed={res.failed:<3} "
                  f"expected={'-' if exp is None else exp:<4} "
                  f"allowed_missing={allow.missing} allowed_err={len(allow.failures)} "
                  f"time={res.seconds:.0f}s status={status}", flush=True)
            if status != "ok" or res.failed:
                for name in res.failures:
                    print(f"    [err] {name[:200]}"
                          + (" (allowed)" if name in allow.failures else ""))
                if status in ("harness-error", "timeout", "exception"):
                    tail = log.read_text(errors="replace").splitlines()[-8:]
                    print("".join(f"    | {ANSI_RE.sub('', t)[:200]}\n" for t in tail), end="")
    print(f"TOTAL units={len(jobs)} passed={total_passed} failed={total_failed} "
          f"expected={total_expected} bad_units={bad} profile={profiles} logs={logdir}")
    if measured:
        record(measured, redis_version)
    return 1 if bad else 0


def record(measured: dict[tuple[str, str], tuple[int, int, str]], redis_version: str) -> None:
    """Store Redis's passed counts ((unit, profile) -> passed, failed, status) in expected.tsv."""
    counts = read_expected()
    notes = {(row[0], row[1]): row[3] for row in read_tsv(EXPECTED)}
    day = datetime.date.today().isoformat()
    for key, (n, failed, status) in measured.items():
        counts[key] = n
        notes[key] = f"redis-server {redis_version}, measured {day}" + (
            f"; Redis itself: failed={failed} status={status}"
            if failed or status != "ok" else "")
    write_expected(counts, notes)
    say(f"recorded {len(measured)} counts in {EXPECTED}")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
