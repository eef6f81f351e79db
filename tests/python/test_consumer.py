"""PartitionConsumer against the real broker: offset forms, fetch options, iteration, errors."""
import threading
import time

import pytest

import kafkette


def fill(brokers, topic, n, partition=0):
    msgs = [kafkette.MessageToSend(topic, b"m%d" % i, partition=partition) for i in range(n)]
    with kafkette.Producer(brokers, "filler") as p:
        assert p.send_messages(msgs)
    return msgs


def drain(c, n, timeout=10.0):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out.extend(c.fetch())
    return out


@pytest.fixture
def ten(brokers, topic):
    fill(brokers, topic, 10)
    return topic


def test_constructor_and_fetch(brokers, host_port, ten):
    host, port = host_port
    with kafkette.PartitionConsumer("c", host, port, ten, 0, "earliest_offset", max_wait_ms=100) as c:
        assert c.next_offset == 0 and c.highwater_mark is None
        assert c.topic == ten and c.partition == 0 and c.client_id == "c"
        got = drain(c, 10)
        assert [m.offset for m in got] == list(range(10))
        assert [m.value for m in got] == [b"m%d" % i for i in range(10)]
        assert c.next_offset == 10 and c.highwater_mark == 10
        assert c.log_start_offset == 0
        assert c.fetch(max_wait_ms=10) == []
        assert ten in repr(c)
        m = got[3]
        assert m.topic == ten and m.partition == 0 and m.key is None and m.headers == ()
        assert m.timestamp_type == 0 and isinstance(m.timestamp, int)
        assert repr(m).startswith("FetchedMessage(topic='%s', partition=0, offset=3, key=None, value=b'm3'" % ten)


@pytest.mark.parametrize(
    "offset, first",
    [
        (0, 0),
        (7, 7),
        (10, None),
        ("earliest_offset", 0),
        (kafkette.EARLIEST_OFFSET, 0),
        ("latest_offset", None),
        (kafkette.LATEST_OFFSET, None),
        (-1, 9),
        (-3, 7),
        (-100, 0),  # further back than the log start: the log start
    ],
)
def test_offset_forms(brokers, ten, offset, first):
    with kafkette.PartitionConsumer.consumer_for_partition("c", brokers, ten, 0, offset, max_wait_ms=50) as c:
        got = drain(c, 10 if first is None else 10 - first, timeout=1.0 if first is None else 10.0)
        if first is None:
            assert got == [] and c.next_offset == 10
        else:
            assert [m.offset for m in got] == list(range(first, 10))


def test_latest_offset_sees_only_new_messages(brokers, ten):
    c = kafkette.PartitionConsumer.consumer_for_partition("c", brokers, ten, 0, kafkette.LATEST_OFFSET, max_wait_ms=50)
    fill(brokers, ten, 2)
    assert [m.value for m in drain(c, 2)] == [b"m0", b"m1"]
    assert c.next_offset == 12
    c.close()


@pytest.mark.timing
def test_fetch_overrides(brokers, topic):
    with kafkette.Producer(brokers, "p") as p:
        for i in range(5):  # five separate batches of ~10 kB
            assert p.send_messages([kafkette.MessageToSend(topic, bytes([65 + i]) * 10000)])
    with kafkette.PartitionConsumer.consumer_for_partition("c", brokers, topic, 0, 0, max_bytes=1) as c:
        # max_bytes below one batch still returns that batch whole, and only it
        assert [m.offset for m in c.fetch()] == [0]
        assert [m.offset for m in c.fetch(max_bytes=25000)] == [1, 2]
        rest = c.fetch(max_bytes=10_000_000)
        assert [m.offset for m in rest] == [3, 4]
        t = time.monotonic()
        assert c.fetch(max_wait_ms=300, min_bytes=1) == []
        assert 0.2 < time.monotonic() - t < 3.0
        t = time.monotonic()
        assert c.fetch(max_wait_ms=0) == []
        assert time.monotonic() - t < 0.5


@pytest.mark.timing
def test_min_bytes_and_max_wait_options_wait_for_data(brokers, topic):
    with kafkette.PartitionConsumer.consumer_for_partition(
        "c", brokers, topic, 0, 0, min_bytes=1, max_wait_ms=2000, socket_timeout_ms=5000
    ) as c:
        def later():
            time.sleep(0.3)
            fill(brokers, topic, 1)

        threading.Thread(target=later).start()
        t = time.monotonic()
        got = c.fetch()
        assert [m.value for m in got] == [b"m0"]
        assert time.monotonic() - t < 1.8  # returned when data came, not after max_wait_ms


def test_iteration_yields_messages_as_they_arrive(brokers, ten):
    c = kafkette.PartitionConsumer.consumer_for_partition("c", brokers, ten, 0, 0, max_wait_ms=50)
    seen = []
    for m in c:
        seen.append(m.offset)
        if m.offset == 9:
            break
    assert seen == list(range(10))
    fill(brokers, ten, 1)
    assert next(iter(c)).offset == 10
    c.close()
    assert list(c) == []  # a closed consumer just ends iteration


def test_out_of_range_policies(brokers, ten):
    with pytest.raises(kafkette.OffsetOutOfRange) as info:
        with kafkette.PartitionConsumer.consumer_for_partition("c", brokers, ten, 0, 50, offset_reset="error") as c:
            c.fetch()
    assert info.value.code == 1 and isinstance(info.value, kafkette.ProtocolError)
    assert kafkette.OffsetOutOfRange.name == "OFFSET_OUT_OF_RANGE"
    with kafkette.PartitionConsumer.consumer_for_partition("c", brokers, ten, 0, 50, max_wait_ms=10) as c:
        assert [m.offset for m in drain(c, 10)] == list(range(10))  # default: earliest
    with kafkette.PartitionConsumer.consumer_for_partition(
        "c", brokers, ten, 0, 50, offset_reset="latest", max_wait_ms=10
    ) as c:
        assert c.fetch() == [] and c.next_offset == 10


def test_reset_is_logged_to_the_kafkette_logger(brokers, ten, caplog):
    with caplog.at_level("WARNING", logger="kafkette"):
        with kafkette.PartitionConsumer.consumer_for_partition("c", brokers, ten, 0, 99, max_wait_ms=10) as c:
            c.fetch()
    records = [r for r in caplog.records if r.name == "kafkette"]
    assert any("out of range" in r.getMessage() and r.levelname == "WARNING" for r in records)


def test_unknown_topic_raises_unknown_topic_or_partition(brokers):
    with pytest.raises(kafkette.UnknownTopicOrPartition) as info:
        kafkette.PartitionConsumer.consumer_for_partition(
            "c", brokers, "py-no-such-topic", 0, 0, failover_tries=1, retry_backoff_ms=10
        )
    assert info.value.code == 3
    assert "py-no-such-topic" in str(info.value)


def test_missing_partition_raises_invalid_partition(brokers, topic):
    with pytest.raises(kafkette.InvalidPartitionError, match="no partition 4"):
        kafkette.PartitionConsumer.consumer_for_partition("c", brokers, topic, 4, 0)


def test_unreachable_broker_raises_connection_failed(topic):
    with pytest.raises(kafkette.ConnectionFailedError) as info:
        kafkette.PartitionConsumer("c", "127.0.0.1", 1, topic, 0, 0)
    assert isinstance(info.value, ConnectionError) and info.value.code == -101
    with pytest.raises(kafkette.UnableToFetchMetadata):
        kafkette.PartitionConsumer.consumer_for_partition("c", ["127.0.0.1:1", "127.0.0.1:2"], topic, 0, 0)


def test_fetch_after_close(brokers, ten):
    c = kafkette.PartitionConsumer.consumer_for_partition("c", brokers, ten, 0, 0)
    c.close()
    c.close()
    assert c.closed
    with pytest.raises(kafkette.ConsumerClosedError):
        c.fetch()
    with pytest.raises(kafkette.ConsumerClosedError):
        with c:
            pass


def test_consumer_for_partition_accepts_a_comma_separated_string(brokers, ten):
    with kafkette.PartitionConsumer.consumer_for_partition("c", ",".join(brokers), ten, 0, -2) as c:
        assert isinstance(c, kafkette.PartitionConsumer)
        assert [m.offset for m in drain(c, 2)] == [8, 9]


def test_ipv6_style_host_is_bracketed(topic):
    with pytest.raises(kafkette.ConnectionFailedError) as info:
        kafkette.PartitionConsumer("c", "::1", 1, topic, 0, 0, connect_timeout_ms=500)
    assert "[::1]:1" in str(info.value) or "::1" in str(info.value)


def test_large_values_and_many_records(brokers, topic):
    big = bytes(range(256)) * 2048  # 512 KiB
    with kafkette.Producer(brokers, "p", max_request_bytes=4 * 1024 * 1024) as p:
        assert p.send_messages([kafkette.MessageToSend(topic, big)])
        assert p.send_messages([kafkette.MessageToSend(topic, b"%06d" % i) for i in range(20000)])
    with kafkette.PartitionConsumer.consumer_for_partition("c", brokers, topic, 0, 0, max_bytes=65536) as c:
        first = c.fetch()
        assert first[0].value == big  # a batch over max_bytes still comes whole
        got = first[1:] + drain(c, 20000 - len(first) + 1)
    assert [m.value for m in got] == [b"%06d" % i for i in range(20000)]
