"""stats() on Producer, PartitionConsumer and ConsumerGroup: one dict from the core's kk_stats_t
(docs/STATISTICS.md). tests/ruby/test_stats.rb checks the same keys in Ruby."""
import time

import pytest

import kafkette

COUNTERS = {"messages_sent", "bytes_sent", "messages_received", "bytes_received", "requests", "request_bytes",
            "response_bytes", "retries", "errors", "reconnects", "in_flight_requests", "queued_bytes",
            "partitions_total"}


def check_shape(s):
    assert COUNTERS | {"errors_by_code", "brokers", "partitions"} == set(s)
    assert all(isinstance(s[k], int) and s[k] >= 0 for k in COUNTERS)
    for name, b in s["brokers"].items():
        assert ":" in name and set(b) == {"requests", "rtt_p50_ms", "rtt_p99_ms"}
        if b["requests"]:
            assert 0 < b["rtt_p50_ms"] <= b["rtt_p99_ms"] < 30000


def test_producer_counts_messages_bytes_and_requests(brokers, topic):
    with kafkette.Producer(brokers, "py-stats") as p:
        before = p.stats()
        assert before["messages_sent"] == 0 and before["requests"] == 0
        p.send_messages([kafkette.MessageToSend(topic, b"x" * 100, key=b"key") for _ in range(50)])
        s = p.stats()
    check_shape(s)
    assert s["messages_sent"] == 50 and s["bytes_sent"] == 50 * 103
    assert s["requests"] >= 3 and s["request_bytes"] > 5000 and s["response_bytes"] > 0
    with kafkette.Producer(brokers, "py-stats-produce") as q:
        for _ in range(20):  # key 3 + value 10 + header "h" (1) + b"vv" (2)
            q.produce(topic, b"v" * 10, key=b"key", headers=[("h", b"vv")])
        assert q.flush(30) == 0
        counted = q.stats()
    assert counted["messages_sent"] == 20 and counted["bytes_sent"] == 20 * 16
    assert sum(b["requests"] for b in s["brokers"].values()) == s["requests"]  # every request answered
    assert s["in_flight_requests"] == 0 and s["queued_bytes"] == 0 and s["errors"] == 0
    assert s["partitions"] == [] and s["partitions_total"] == 0
    with pytest.raises(kafkette.ProducerShutdownError):
        p.stats()


def test_errors_by_code(topic):
    with kafkette.Producer(["127.0.0.1:1"], "py-stats", connect_timeout_ms=500, max_send_retries=0) as p:
        with pytest.raises(kafkette.Error):
            p.send_messages([kafkette.MessageToSend(topic, b"lost")])
        s = p.stats()
    assert s["messages_sent"] == 0 and s["errors"] >= 2
    assert s["errors_by_code"].get("_CONNECTION_REFUSED", 0) >= 1
    assert sum(s["errors_by_code"].values()) == s["errors"]


def test_consumer_lag_and_received(brokers, topic, producer):
    producer.send_messages([kafkette.MessageToSend(topic, b"v%d" % i) for i in range(10)])
    with kafkette.PartitionConsumer.consumer_for_partition("py-stats", brokers, topic, 0, 3, max_wait_ms=100) as c:
        got = c.fetch()
        s = c.stats()
    check_shape(s)
    assert s["messages_received"] == len(got) == 7
    assert s["bytes_received"] == sum(len(m.value) for m in got)
    assert s["partitions"] == [{"topic": topic, "partition": 0, "position": 10, "high_watermark": 10, "lag": 0}]


def test_group_lists_claimed_partitions(brokers, new_topic, producer):
    name = new_topic(2)
    producer.send_messages([kafkette.MessageToSend(name, b"v", partition=p) for p in (0, 1, 1)])
    with kafkette.ConsumerGroup("py-stats-" + name, brokers, [name], max_wait_ms=100) as g:
        got, deadline = 0, time.monotonic() + 20
        while got < 3 and time.monotonic() < deadline:
            batch = g.poll(500)
            got += len(batch[1]) if batch else 0
        s = g.stats()
    check_shape(s)
    assert s["messages_received"] == 3 and s["partitions_total"] == 2
    assert [(p["partition"], p["position"], p["lag"]) for p in s["partitions"]] == [(0, 1, 0), (1, 2, 0)]
    assert s["requests"] > 5  # joins, syncs, offsets, fetches and heartbeats all count


@pytest.mark.timing
def test_cheap_enough_to_call_often(brokers, topic):
    with kafkette.Producer(brokers, "py-stats") as p:
        start = time.perf_counter()
        for _ in range(1000):
            p.stats()
        assert time.perf_counter() - start < 1.0
