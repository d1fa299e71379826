#!/usr/bin/env python3
"""moonkv vs redis-server over TLS, driven by ``redis-benchmark --tls``.

    .venv-wheel/bin/python bench/tls.py [--rounds N] [--requests N] [--no-pin]

Makes a throwaway CA and a server and a client certificate (trustme, from the
test extra), starts moonkv and Debian's redis-server each with a plaintext port
(for set-up) and a TLS port requiring client certificates, then runs
``redis-benchmark -c 50 --tls --cacert ... --cert ... --key ...`` for SET and GET,
non-pipelined and ``-P 16``, against each server in turn, round after round
(servers interleaved), and reports the median server CPU per request from
/proc/PID/stat, as bench/run.py does (its helpers run both).  Target: moonkv at
most 1.5x Redis's CPU per request.  Results go to
``bench/results/tls-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable

import trustme

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402 - bench/run.py, beside this file

TARGET = 1.5


def make_certs(d: str) -> dict[str, str]:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("benchmark-client")
    paths = {name: os.path.join(d, name) for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}
    ca.cert_pem.write_to_path(paths["ca.crt"])
    server.cert_chain_pems[0].write_to_path(paths["server.crt"])
    server.private_key_pem.write_to_path(paths["server.key"])
    client.cert_chain_pems[0].write_to_path(paths["client.crt"])
    client.private_key_pem.write_to_path(paths["client.key"])
    return paths


def tls_server(name: str, argv: Callable[[int, str], list[str]], certs: dict[str, str]) -> bench.Server:
    """A bench.Server that also listens with TLS, where redis-benchmark connects."""
    srv = bench.Server(name, argv)

    def with_tls(port: int, d: str) -> list[str]:
        srv.bench_port = bench.free_port()
        return [
            *argv(port, d),
            "--tls-port", str(srv.bench_port),
            "--tls-cert-file", certs["server.crt"],
            "--tls-key-file", certs["server.key"],
            "--tls-ca-cert-file", certs["ca.crt"],
        ]

    srv.argv_fn = with_tls
    srv.bench_options = [
        "--tls", "--cacert", certs["ca.crt"], "--cert", certs["client.crt"], "--key", certs["client.key"],
    ]
    return srv


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="runs per test and server (medians)")
    ap.add_argument("--requests", type=int, default=100_000,
                    help="requests per non-pipelined run (-P 16 runs do 5x more)")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin the servers and redis-benchmark to separate CPUs")
    args = ap.parse_args(argv)
    bench.pin_cpus(not args.no_pin)
    if shutil.which("redis-benchmark") is None:
        print("bench: redis-benchmark not found (apt-get install redis-tools)", file=sys.stderr)
        return 2
    cert_dir = tempfile.mkdtemp(prefix="bench-tls-certs-")
    certs = make_certs(cert_dir)
    tests = [
        bench.Test("tls", "SET", ["-t", "set"], args.requests, bench.prep_flush, TARGET, TARGET),
        bench.Test("tls", "GET", ["-t", "get"], args.requests, None, TARGET, TARGET),
    ]
    pipelines = [1, 16]
    servers = [tls_server("moonkv", bench.moonkv_argv, certs), tls_server("redis", bench.redis_argv, certs)]
    started = _dt.datetime.now(_dt.UTC)
    results: list[bench.Result] = []
    load_before = os.getloadavg()
    try:
        for s in servers:
            s.start()
        print(f"moonkv pid {servers[0].pid} tls port {servers[0].bench_port} build {servers[0].build or '?'} | "
              f"redis {servers[1].version} pid {servers[1].pid} tls port {servers[1].bench_port} | "
              f"-c {bench.CLIENTS} | servers on CPU {sorted(bench.PIN.server) if bench.PIN.server else 'any'} | "
              f"load average {load_before[0]:.1f}", flush=True)
        for test in tests:
            setup_err = {s.name: bench.prepare(s, test) for s in servers}
            for pl in pipelines:
                n = test.n * (bench.PIPE_SCALE if pl > 1 else 1)
                for rnd in range(args.rounds):
                    for s in servers:
                        if setup_err[s.name]:
                            r = bench.Result(test.name, test.group, pl, s.name, n, error=setup_err[s.name])
                        else:
                            r = bench.run_one(s, test, pl, n)
                        r.round = rnd
                        results.append(r)
                        status = r.error or f"{r.rps:>9.0f} req/s  cpu {r.cpu_us_per_op:6.2f} us/op"
                        print(f"  [tls] {test.name:<4} P{pl:<2} {s.name:<6} {status}", flush=True)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(cert_dir, ignore_errors=True)

    load_after = os.getloadavg()
    rows, verdicts = bench.summarize(tests, pipelines, results)
    print()
    bench.print_table(rows)
    print("\ntargets (moonkv/redis server CPU per request over TLS):")
    for v in verdicts:
        print(f"  {v['test']:<4} P{v['pipeline']:<2} ratio {bench.fmt(v['ratio'], '.2f'):>6} "
              f"<= {v['target']:.1f}x  {'MET' if v['met'] else 'NOT MET'}")
    os.makedirs(bench.RESULTS_DIR, exist_ok=True)
    path = os.path.join(bench.RESULTS_DIR, f"tls-{started.strftime('%Y%m%dT%H%M%SZ')}.json")
    doc = {
        "started": started.isoformat(),
        "command": " ".join(["bench/tls.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": bench.machine_info(),
        "servers": {s.name: {"version": s.version, "build": s.build, "restarts": s.restarts} for s in servers},
        "clients": bench.CLIENTS,
        "load_average": {"before": load_before, "after": load_after},
        "results": [r.__dict__ for r in results],
        "summary": rows,
        "targets": verdicts,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    print(f"\nload average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
          f"({os.cpu_count()} CPUs): other work on the machine inflates CPU per request")
    print(f"results: {os.path.relpath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
