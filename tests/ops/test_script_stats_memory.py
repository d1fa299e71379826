"""Per-script statistics keep no reference to a run's data (in process)."""

from __future__ import annotations

import weakref

from moonkv.engine import Config
from moonkv.server import assemble


def test_last_run_keeps_no_undo_log_alive() -> None:
    # The slow log's note remembers the last run; its undo log (closures over
    # the values the script changed) must not outlive the run.
    srv = assemble(Config(), with_persistence=False)
    c = srv.new_client()
    srv.add_client(c)
    srv.execute(c, [b"EVAL", b"for i = 1, 1000 do redis.call('sadd', KEYS[1], i) end", b"1", b"s"])
    ref = weakref.ref(c.db.data[b"s"])
    srv.execute(c, [b"DEL", b"s"])
    assert ref() is None
    assert srv.scripting.slowlog_note().startswith(b"script=")
