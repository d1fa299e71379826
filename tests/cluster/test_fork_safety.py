"""A node that talks to etcd forks for snapshots and full syncs: its children must live.

gRPC (under aetcd) aborts a forked child while another thread is inside gRPC unless its fork
handlers are off; importing moonkv's cluster package turns them off.  The check runs in a
fresh interpreter whose environment does not carry the setting, so only the import can.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.cluster.etcd_harness import Etcd

CHILDREN = 120

SCRIPT = textwrap.dedent("""
    import asyncio, os, sys, time
    from moonkv.cluster.etcd import connect

    async def main(port, children):
        c = await connect([("127.0.0.1", port)], timeout=5.0)
        await c.put(b"fork-k", b"0")
        events = await c.watch(b"fork-k")

        async def watch():
            async for _ in events:
                pass

        async def write():
            i = 0
            while True:
                i += 1
                await c.put(b"fork-k", str(i).encode())
                await asyncio.sleep(0.001)

        tasks = [asyncio.create_task(watch()), asyncio.create_task(write())]
        died = 0
        for _ in range(children):
            pid = os.fork()
            if pid == 0:  # a snapshot child: it never uses gRPC
                time.sleep(0.005)
                os._exit(0)
            await asyncio.sleep(0.01)
            _, status = os.waitpid(pid, 0)
            died += status != 0
        print("died", died, flush=True)
        os._exit(0)

    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
""")


def test_forked_children_of_an_etcd_client_survive() -> None:
    etcd = Etcd()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(etcd.port), str(CHILDREN)],
            env=env, capture_output=True, timeout=120, check=False,
        )
        lines = [ln for ln in out.stdout.decode().splitlines() if ln.startswith("died ")]
        assert lines, out.stderr.decode()[-2000:]
        assert lines[-1] == "died 0", out.stderr.decode()[-2000:]
    finally:
        etcd.close()
