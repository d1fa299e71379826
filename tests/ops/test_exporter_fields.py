"""moonkv's INFO carries what oliver006/redis_exporter reads, so the exporter
works against it unchanged.

The list is the exporter's ``metricMapGauges`` and ``metricMapCounters`` (its
exporter/exporter.go; the INFO field names, the map keys), keeping the fields
a standalone Redis 7.0 without an AOF reports: left out are Tile38 and KeyDB
fields, the Redis 2-4 names (client_longest_output_list, client_biggest_input_buf),
cloud-only maxmemory reservations, cluster-bus counters (cluster mode only),
replica-only fields (slave_priority), fields that appear only with
appendonly yes (aof_current_size, aof_base_size, aof_pending_rewrite,
aof_buffer_length, aof_rewrite_buffer_length, aof_pending_bio_fsync,
aof_delayed_fsync) and the opt-in total_system_memory.  The same list is
checked against real Redis 7.0.15, so the list itself stays honest.
"""

from __future__ import annotations

import pytest
import redis

EXPORTER_FIELDS = """
uptime_in_seconds process_id connected_clients blocked_clients tracking_clients
client_recent_max_output_buffer client_recent_max_input_buffer
allocator_active allocator_allocated allocator_resident allocator_frag_ratio allocator_frag_bytes
allocator_rss_ratio allocator_rss_bytes used_memory used_memory_rss used_memory_peak used_memory_lua
used_memory_overhead used_memory_startup used_memory_dataset used_memory_scripts maxmemory
mem_fragmentation_ratio mem_fragmentation_bytes mem_clients_slaves mem_clients_normal
expired_stale_perc mem_not_counted_for_evict lazyfree_pending_objects active_defrag_running
migrate_cached_sockets active_defrag_hits active_defrag_misses active_defrag_key_hits
active_defrag_key_misses expired_time_cap_reached_count
loading rdb_changes_since_last_save rdb_bgsave_in_progress rdb_last_save_time rdb_last_bgsave_status
rdb_last_bgsave_time_sec rdb_current_bgsave_time_sec rdb_last_cow_size aof_enabled
aof_rewrite_in_progress aof_rewrite_scheduled aof_last_rewrite_time_sec aof_current_rewrite_time_sec
aof_last_cow_size aof_last_bgrewrite_status aof_last_write_status module_fork_in_progress
module_fork_last_cow_size
pubsub_channels pubsub_patterns latest_fork_usec
connected_slaves repl_backlog_size repl_backlog_active repl_backlog_first_byte_offset
repl_backlog_histlen master_repl_offset second_repl_offset slave_expires_tracked_keys
sync_full sync_partial_ok sync_partial_err
total_connections_received total_commands_processed rejected_connections total_net_input_bytes
total_net_output_bytes expired_keys evicted_keys keyspace_hits keyspace_misses
used_cpu_sys used_cpu_user used_cpu_sys_children used_cpu_user_children
""".split()


def _fields(client: redis.Redis) -> dict[str, str]:
    """INFO ALL as field -> text (redis-py's own parse turns numbers into numbers)."""
    return {k: str(v) for k, v in client.info("all").items()}


@pytest.mark.parametrize("which", ["moonkv", "redis"])
def test_info_has_every_exporter_field(r: redis.Redis, rr: redis.Redis, which: str) -> None:
    info = _fields(r if which == "moonkv" else rr)
    missing = [f for f in EXPORTER_FIELDS if f not in info]
    assert missing == []
    # the exporter parses gauges and counters as numbers, statuses as ok/err
    for f in EXPORTER_FIELDS:
        v = info[f]
        if f.endswith("_status"):
            assert v in ("ok", "err"), f
        else:
            float(v)
