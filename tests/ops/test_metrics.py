"""The Prometheus endpoint: scraped over HTTP and parsed with prometheus_client's parser."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request

import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import free_port, start_moonkv


def _scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_metrics_endpoint_serves_info_and_script_stats() -> None:
    mport = free_port()
    h = start_moonkv(["--appendonly", "no", "--save", "", "--metrics-port", str(mport)])
    try:
        r = redis.Redis(port=h.port)
        r.set("a", "1")
        r.expire("a", 100)
        sha = r.script_load("return redis.call('incr', KEYS[1])")
        for _ in range(3):
            r.evalsha(sha, 1, "n")
        m = _scrape(mport)
        assert m["moonkv_connected_clients"][0][1] >= 1
        assert m["moonkv_uptime_in_seconds"][0][1] >= 0
        assert m["moonkv_aof_last_write_status"][0][1] == 1.0  # ok
        assert ({"db": "db0"}, 2.0) in m["moonkv_db_keys"]
        assert ({"db": "db0"}, 1.0) in m["moonkv_db_keys_expiring"]
        calls = dict((s["cmd"], v) for s, v in m["moonkv_commands_total"])
        assert calls["evalsha"] == 3
        script = {"kind": "script", "name": sha}
        assert (script, 3.0) in m["moonkv_script_calls_total"]
        assert (script, 3.0) in m["moonkv_script_keys_written_total"]
        assert (script, 0.0) in m["moonkv_script_rollbacks_total"]
        r.close()
    finally:
        h.stop()


def test_metrics_off_by_default_loads_no_client_library() -> None:
    # The default server never opens a metrics port nor imports prometheus_client.
    code = (
        "import sys; from moonkv.engine import Config; from moonkv.server._assemble import assemble;"
        "assemble(Config(), with_persistence=False);"
        "print('prometheus_client' in sys.modules, Config()['metrics-port'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "0"], out.stderr


def test_metrics_port_is_bound_to_the_bind_address() -> None:
    mport = free_port()
    h = start_moonkv(["--appendonly", "no", "--save", "", "--metrics-port", str(mport)])
    try:
        _scrape(mport)
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
            s.settimeout(2)
            assert s.connect_ex(("127.0.0.2", mport)) != 0  # not on another loopback address
    finally:
        h.stop()


def test_config_set_metrics_port_opens_moves_and_closes_the_endpoint() -> None:
    h = start_moonkv(["--appendonly", "no", "--save", ""])
    try:
        r = redis.Redis(port=h.port)
        first, second = free_port(), free_port()
        assert r.config_set("metrics-port", first)
        assert _scrape(first)["moonkv_connected_clients"][0][1] >= 1
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", second))
            taken.listen(1)
            try:
                r.config_set("metrics-port", second)
                raise AssertionError("a port in use was accepted")
            except redis.ResponseError as e:
                assert "possibly related to argument 'metrics-port'" in str(e)
        assert r.config_get("metrics-port") == {"metrics-port": str(first)}  # rolled back
        _scrape(first)
        assert r.config_set("metrics-port", second)
        _scrape(second)
        assert r.config_set("metrics-port", 0)
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex(("127.0.0.1", second)) != 0
        r.close()
    finally:
        h.stop()
