"""moonkv's difference from Redis: a failing script's writes are rolled back, for every type."""

from __future__ import annotations

import pytest
import redis

from tests.helpers import read_back

FAIL = "redis.call('nosuchcommand')"


def _prepare(r: redis.Redis) -> None:
    r.set("s", "v")
    r.set("n", "10")
    r.set("vol", "x", ex=1000)
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.rpush("l", "a", "b", "c")
    r.sadd("st", "x", "y")
    r.zadd("z", {"m1": 1, "m2": 2})


@pytest.mark.parametrize(
    "body",
    [
        "redis.call('set','s','changed'); redis.call('set','new','1')",
        "redis.call('incrby','n',5); redis.call('append','s','more')",
        "redis.call('del','s','h','l'); redis.call('unlink','st')",
        "redis.call('expire','s',100); redis.call('persist','vol'); redis.call('pexpire','n',1)",
        "redis.call('rename','s','s2'); redis.call('renamenx','n','n2')",
        "redis.call('hset','h','a','X','c','3'); redis.call('hdel','h','b'); redis.call('hincrby','h','z',1)",
        "redis.call('lpush','l','0'); redis.call('rpop','l'); redis.call('lset','l',1,'B'); redis.call('ltrim','l',0,0)",
        "redis.call('linsert','l','before','b','ab'); redis.call('lrem','l',0,'a'); redis.call('lmove','l','l2','left','right')",
        "redis.call('sadd','st','z'); redis.call('srem','st','x'); redis.call('spop','st'); redis.call('smove','st','st2','y')",
        "redis.call('zadd','z',5,'m3'); redis.call('zincrby','z',10,'m1'); redis.call('zrem','z','m2'); redis.call('zpopmin','z')",
        "redis.call('zunionstore','z2',1,'z'); redis.call('sunionstore','st3','st'); redis.call('copy','h','h2')",
        "redis.call('flushdb')",
        "redis.call('rpop','l'); redis.call('rpop','l'); redis.call('rpop','l')",
        "redis.call('set','vol','y','keepttl'); redis.call('getdel','s'); redis.call('setrange','n',5,'zz')",
    ],
)
def test_failing_script_leaves_no_trace(r: redis.Redis, body: str) -> None:
    _prepare(r)
    before = read_back(r)
    with pytest.raises(redis.ResponseError, match="Unknown Redis command"):
        r.eval(f"{body}; {FAIL}", 0)
    assert read_back(r) == before
    # The same body without the failure does change the data (the test can fail).
    r.eval(body, 0)
    assert read_back(r) != before


def test_reads_see_own_writes_before_rollback(r: redis.Redis) -> None:
    r.set("k", "1")
    script = "redis.call('incr','k'); local v = redis.call('get','k'); error('stop at ' .. v)"
    with pytest.raises(redis.ResponseError, match="stop at 2"):
        r.eval(script, 0)
    assert r.get("k") == b"1"


def test_pcall_errors_do_not_abort(r: redis.Redis) -> None:
    r.set("s", "text")
    res = r.eval("redis.call('set','a','1'); local e = redis.pcall('incr','s'); return {e['err'], redis.call('get','a')}", 0)
    assert res == [b"ERR value is not an integer or out of range", b"1"]
    assert r.get("a") == b"1"


def test_error_reply_return_keeps_writes(r: redis.Redis) -> None:
    # Returning an error table is a normal completion (as in Redis): writes stay.
    with pytest.raises(redis.ResponseError, match="MYERR"):
        r.eval("redis.call('set','kept','1'); return redis.error_reply('MYERR boom')", 0)
    assert r.get("kept") == b"1"


def test_rollback_in_selected_db_and_select_inside(r: redis.Redis) -> None:
    r.execute_command("SELECT", 3)
    r.set("k", "db3")
    with pytest.raises(redis.ResponseError):
        r.eval("redis.call('set','k','x'); redis.call('select', 4); redis.call('set','k','y'); error('x')", 0)
    assert r.get("k") == b"db3"
    r.execute_command("SELECT", 4)
    assert r.get("k") is None
    r.execute_command("SELECT", 0)


def test_failed_script_does_not_fire_watch(r: redis.Redis) -> None:
    r.set("w", "1")
    p = r.pipeline(transaction=True)
    p.watch("w")
    with pytest.raises(redis.ResponseError):
        r.eval("redis.call('set','w','2'); error('no')", 0)
    p.multi()
    p.get("w")
    assert p.execute() == [b"1"]  # the WATCH saw no change


def test_successful_script_fires_watch(r: redis.Redis) -> None:
    r.set("w", "1")
    p = r.pipeline(transaction=True)
    p.watch("w")
    r.eval("redis.call('set','w','2')", 0)
    p.multi()
    p.get("w")
    with pytest.raises(redis.WatchError):
        p.execute()


def test_rollback_inside_multi_keeps_other_commands(r: redis.Redis) -> None:
    p = r.pipeline(transaction=True)
    p.set("before", "1")
    p.eval("redis.call('set','inside','1'); error('fail')", 0)
    p.set("after", "1")
    res = p.execute(raise_on_error=False)
    assert res[0] is True and isinstance(res[1], redis.ResponseError) and res[2] is True
    assert r.get("before") == b"1" and r.get("after") == b"1" and r.get("inside") is None
