"""``moonkv cluster up``: a local cluster comes up, ``status`` and ``failover`` work on
it, Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from tests.cluster.etcd_harness import call
from tests.helpers import free_port

pytestmark = pytest.mark.timeout(180)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone for our purpose
        return f.read().split(") ")[1][0] != "Z"


def _moonkv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moonkv", "cluster", *args],
                          capture_output=True, text=True, timeout=60)


def test_up_status_failover_and_ctrl_c_cleans_up() -> None:
    d = tempfile.mkdtemp(prefix="moonkv-up-")
    base = free_port() // 10 * 10 % 50000 + 10000
    out_path, err_path = os.path.join(d, "up.out"), os.path.join(d, "up.err")
    with open(out_path, "w") as out_f, open(err_path, "w") as err_f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moonkv", "cluster", "up", "--primaries", "3", "--replicas", "1",
             "--dir", d, "--port-base", str(base)],
            stdout=out_f, stderr=err_f,
        )
    pids: list[int] = []
    try:
        out = ""
        deadline = time.monotonic() + 90
        while "Ctrl-C" not in out:
            assert proc.poll() is None, open(err_path).read()
            assert time.monotonic() < deadline, out
            time.sleep(0.1)
            with open(out_path) as f:
                out = f.read()
        assert f"redis-cli -c -p {base + 1}" in out
        ports = [base + i for i in range(1, 7)]
        pids = _children(proc.pid)
        assert len(pids) == 8  # etcd, 6 nodes, the controller
        roles = [call(p, "ROLE").split(b"\r\n")[2] for p in ports]
        assert roles.count(b"master") == 3 and roles.count(b"slave") == 3
        status = _moonkv("status", "--dir", d)
        assert status.returncode == 0, status.stderr
        assert "topology version 1" in status.stdout and "slots assigned: 16384/16384" in status.stdout
        assert status.stdout.count("primary") == 3 and status.stdout.count("replica of") == 3
        # A planned failover of the first primary: its replica takes over.
        fo = _moonkv("failover", "--dir", d, "--node", _first_id(ports[0]))
        assert fo.returncode == 0, fo.stderr
        assert "topology version 2" in fo.stdout
        assert call(ports[0], "ROLE").split(b"\r\n")[2] == b"slave"
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        assert proc.returncode == 0
        gone = [pid for pid in pids if _alive(pid)]
        assert not gone, f"left running: {gone}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(d, ignore_errors=True)


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().split(") ")[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _first_id(port: int) -> str:
    return call(port, "CLUSTER", "MYID").split(b"\r\n")[1].decode()


def test_cluster_cli_bad_input_gets_a_clear_error() -> None:
    cases = [
        (("status", "--etcd", "bad"), "bad etcd endpoint 'bad' (expected host:port)"),
        (("status",), "give --etcd HOST:PORT or --dir D"),
        (("status", "--etcd", f"127.0.0.1:{free_port()}"), "no etcd endpoint answered"),
        (("up", "--primaries", "0", "--dir", tempfile.gettempdir()), "--primaries must be at least 1"),
    ]
    for args, message in cases:
        done = _moonkv(*args)
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
