"""A replica follows its primary: every data type, databases, scripts, transactions,
chains; the stream is what `redis-cli --replica` shows."""

from __future__ import annotations

import subprocess
import time

import redis

from tests.replication.util import caught_up, client, dataset, info, nodes, replica_args, wait_until

SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('INCRBYFLOAT', KEYS[2], '1.5')
redis.call('SPOP', KEYS[3])
return redis.call('TIME')[1]
"""


def write_everything(r: redis.Redis) -> None:
    r.delete("st")
    r.set("s", "v")
    r.set("ttl", "x", px=600_000)
    r.incr("n")
    r.append("s", "more")
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.hincrbyfloat("h", "f", 0.25)
    r.rpush("l", *[str(i) for i in range(50)])
    r.lpop("l")
    r.sadd("set", *[str(i) for i in range(20)])
    r.spop("set")
    r.zadd("z", {"a": 1, "b": 2.5, "c": -3})
    r.zincrby("z", 2, "a")
    r.xadd("st", {"f": "v"})
    r.xgroup_create("st", "g", id="0")
    r.xreadgroup("g", "c1", {"st": ">"})
    r.expire("h", 1000)
    r.pexpireat("n", int(time.time() * 1000) + 500_000)
    r.setbit("bits", 77, 1)
    r.geoadd("geo", (13.36, 38.11, "Palermo"))
    r.sadd("pool", "x", "y", "z")
    r.eval(SCRIPT, 3, "es", "ef", "pool", "val")
    p = r.pipeline(transaction=True)
    p.set("t1", "1").incr("t2").lpush("t3", "a", "b").execute()
    r.execute_command("SELECT", 3)
    r.set("in3", "yes")
    r.lpush("list3", "q")
    r.execute_command("SELECT", 1)
    r.set("in1", "one")
    r.flushdb()
    r.set("after-flush", "1")
    r.execute_command("SELECT", 0)
    r.delete("s")
    r.set("s", "again")
    r.execute_command("SWAPDB", 0, 3)
    r.execute_command("SWAPDB", 0, 3)


def test_a_replica_follows_every_type() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        write_everything(primary)  # before the replica: goes in the full sync's snapshot
        with nodes(replica_args(ph)) as (rh,):
            replica = client(rh)
            caught_up(primary, replica)
            write_everything(primary)  # after: through the stream
            primary.set("last", "1")
            caught_up(primary, replica)
            assert dataset(primary) == dataset(replica)
            assert replica.get("last") == b"1"
            assert info(primary, "stats")["sync_full"] == "1"


def test_chain_and_many_replicas() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        with nodes(replica_args(ph), replica_args(ph)) as (r1h, r2h):
            r1 = client(r1h)
            caught_up(primary, r1)
            with nodes(replica_args(r1h)) as (r3h,):  # a replica of a replica
                r3 = client(r3h)
                write_everything(primary)
                caught_up(primary, client(r2h))
                caught_up(primary, r1)
                caught_up(r1, r3)
                want = dataset(primary)
                assert dataset(r1) == want
                assert dataset(client(r2h)) == want
                assert dataset(r3) == want
                # The chain carries the primary's id and offsets unchanged.
                assert info(r3)["master_replid"] == info(primary)["master_replid"]
                assert info(r3)["master_repl_offset"] == info(primary)["master_repl_offset"]
                assert info(primary)["connected_slaves"] == "2"


def test_full_sync_under_load() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        pipe = primary.pipeline(transaction=False)
        for i in range(20000):
            pipe.set(f"k{i}", "x" * (i % 50))
        pipe.execute()
        writer = subprocess.Popen(
            ["redis-benchmark", "-p", str(ph.port), "-t", "set,lpush,incr", "-n", "200000", "-r", "5000", "-c", "8", "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.3)
            with nodes(replica_args(ph)) as (rh,):
                replica = client(rh)
                wait_until(lambda: info(replica)["master_link_status"] == "up", 60, "the sync")
                time.sleep(0.5)  # the stream keeps flowing after the snapshot
                writer.terminate()
                writer.wait(timeout=10)
                # The benchmark's last commands may still be in the primary's input: compare
                # once its connections are gone, not at the first moment the offsets matched.
                wait_until(lambda: len(primary.client_list(_type="normal")) == 1, 30, "the benchmark's clients to go")
                caught_up(primary, replica, 60)
                assert dataset(primary, (0,)) == dataset(replica, (0,))
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()


def test_redis_cli_replica_shows_the_stream() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        primary.set("before", "1")
        cli = subprocess.Popen(
            ["redis-cli", "-p", str(ph.port), "--replica"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            wait_until(lambda: info(primary)["connected_slaves"] == "1", what="redis-cli to attach")
            time.sleep(0.2)
            primary.set("shown", "hello")
            primary.eval("redis.call('SET', 'm1', '1') redis.call('SET', 'm2', '2')", 0)
            time.sleep(0.5)
        finally:
            cli.terminate()
            out, _ = cli.communicate(timeout=10)
        text = out.decode().lower()
        assert "sync done" in text
        lines = text[text.index("sync done"):].splitlines()[1:]
        assert lines[:2] == ['"select","0"', '"set","shown","hello"']
        # The new script's body first, on its own (the cache travels too), then the unit of
        # several writes framed.
        assert lines[2].startswith('"script","load","redis.call(')
        assert lines[3:] == ['"multi"', '"set","m1","1"', '"set","m2","2"', '"exec"']
