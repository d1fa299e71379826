"""The latency monitor and histogram, in process."""

from __future__ import annotations

import time

from moonkv.monitoring import LatencyMonitor, cumulative_usec, percentile_usec, record, total


def test_graph_draws_two_samples_as_redis_does() -> None:
    # Redis 7.0.15 answered this for a 200 ms then a 150 ms spike one second apart.
    m = LatencyMonitor()
    m.add("command", 200)
    s = m.events["command"]
    t, ms = s.samples[-1]
    s.samples[-1] = (t - 1, ms)
    m.add("command", 150)
    text = m.graph("command")
    assert text is not None
    assert text.split("\n")[2:] == ["# ", "| ", "| ", "|_", "  ", "10", "ss", ""]
    assert text.startswith("command - high 200 ms, low 150 ms (all time high 200 ms)\n" + "-" * 80)


def test_one_sample_per_second_keeps_the_worst() -> None:
    m = LatencyMonitor()
    m.add("command", 10)
    m.add("command", 30)
    m.add("command", 20)
    assert [ms for _, ms in m.events["command"].samples] == [30]
    (latest,) = m.latest()
    assert isinstance(latest, list) and latest[0] == b"command" and latest[2:] == [30, 30]
    assert abs(latest[1] - time.time()) < 5


def test_histogram_percentiles_within_a_bucket() -> None:
    h: list[int] = []
    for us in range(1, 1001):  # 1 µs .. 1 ms, uniform
        record(h, us * 1000)
    p50, p99, p100 = percentile_usec(h, [50.0, 99.0, 100.0])
    assert 500 <= p50 <= 500 * 1.0625
    assert 990 <= p99 <= 990 * 1.0625
    assert 1000 <= p100 <= 1000 * 1.0625
    cdf = cumulative_usec(h)
    assert list(cdf) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    assert cdf[1024] == 1000
    assert sorted(cdf.values()) == list(cdf.values())


def test_histogram_counts_past_the_small_int_carry() -> None:
    # A bucket's count carries into a second counter every 256 samples (_histogram's doc).
    h: list[int] = []
    for _ in range(1000):
        record(h, 5000)
    for _ in range(300):
        record(h, 2_000_000)
    record(h, 7)
    assert total(h) == 1301
    assert cumulative_usec(h) == {1: 1, 8: 1001, 2048: 1301}
    p50, p99 = percentile_usec(h, [50.0, 99.0])
    assert 5.0 <= p50 <= 5.0 * 1.0625
    assert 2000.0 <= p99 <= 2000.0 * 1.0625
