"""Producer round trips against the real broker: codecs, options, partitioning, failures."""
import zlib

import pytest
from conftest import consume_all, murmur2_partition

import kafkette

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_with_every_codec(brokers, topic, codec):
    values = [("value-%d-" % i).encode() * (1 + i % 7) for i in range(300)]
    msgs = [kafkette.MessageToSend(topic, v, key=b"k%d" % i, headers={"i": str(i)}) for i, v in enumerate(values)]
    with kafkette.Producer(brokers, "codec-" + codec, compression_codec=codec) as p:
        assert p.send_messages(msgs) is True
    assert [m.offset for m in msgs] == list(range(300))
    assert {m.partition for m in msgs} == {0}
    got = consume_all(brokers, topic, expected=300)
    assert [m.value for m in got] == values
    assert [m.key for m in got] == [b"k%d" % i for i in range(300)]
    assert [m.headers for m in got] == [(("i", str(i).encode()),) for i in range(300)]
    assert [m.offset for m in got] == list(range(300))


def test_compressed_topics_limits_compression(brokers, new_topic):
    # The broker keeps the producer's batches as they are (compression.type=producer), so a
    # consumer sees the codec the producer chose; both topics must round-trip either way.
    a, b = new_topic(), new_topic()
    with kafkette.Producer(brokers, "ct", compression_codec="gzip", compressed_topics=[a]) as p:
        msgs = [kafkette.MessageToSend(a, b"x" * 1000), kafkette.MessageToSend(b, b"y" * 1000)]
        assert p.send_messages(msgs)
    assert consume_all(brokers, a, expected=1)[0].value == b"x" * 1000
    assert consume_all(brokers, b, expected=1)[0].value == b"y" * 1000


def test_compressed_topics_compresses_only_those_topics(brokers, new_topic):
    """The broker checks max.message.bytes against the batch as sent: 50 kB of one repeated
    byte fits under a 20 kB limit only when compressed."""
    limit = {"max.message.bytes": 20000}
    a, b = new_topic(configs=limit), new_topic(configs=limit)
    payload = b"z" * 50000
    with kafkette.Producer(brokers, "ct2", compression_codec="gzip", compressed_topics=[a]) as p:
        ma, mb = kafkette.MessageToSend(a, payload), kafkette.MessageToSend(b, payload)
        with pytest.raises(kafkette.FailedToSendMessages) as info:
            p.send_messages([ma, mb])
    assert [f.message for f in info.value.failures] == [mb]
    assert isinstance(info.value.failures[0].error, kafkette.MessageSizeTooLarge)
    assert ma.offset == 0
    with kafkette.Producer(brokers, "ct3", compression_codec="gzip") as p:  # all topics
        assert p.send_messages([kafkette.MessageToSend(b, payload)])
    assert consume_all(brokers, b, expected=1)[0].value == payload


@pytest.mark.parametrize("acks", [-1, 0, 1])
def test_required_acks(brokers, topic, acks):
    msgs = [kafkette.MessageToSend(topic, b"v%d" % i) for i in range(5)]
    with kafkette.Producer(brokers, "acks", required_acks=acks, ack_timeout_ms=2000) as p:
        assert p.send_messages(msgs)
    if acks == 0:
        assert all(m.offset is None for m in msgs)  # the broker does not answer
        assert all(m.partition == 0 for m in msgs)
    else:
        assert [m.offset for m in msgs] == [0, 1, 2, 3, 4]
    assert [m.value for m in consume_all(brokers, topic, expected=5)] == [b"v%d" % i for i in range(5)]


def test_every_option_is_accepted(brokers, topic):
    opts = dict(
        type="sync",
        compression_codec="lz4",
        compressed_topics=[topic],
        metadata_refresh_interval_ms=1000,
        partitioner="crc32",
        max_send_retries=2,
        retry_backoff_ms=50,
        required_acks=1,
        ack_timeout_ms=1000,
        socket_timeout_ms=5000,
        connect_timeout_ms=2000,
        max_request_bytes=65536,
        topic_wait_ms=2000,
    )
    with kafkette.Producer(brokers, "all-options", **opts) as p:
        msgs = [kafkette.MessageToSend(topic, b"%d" % i * 100, key=b"%d" % i) for i in range(2000)]
        assert p.send_messages(msgs)
    # 2000 x ~300 bytes is split into several requests under max_request_bytes, in order
    assert [m.offset for m in msgs] == list(range(2000))
    assert len(consume_all(brokers, topic, expected=2000)) == 2000


def test_keys_go_where_murmur2_says_by_default(brokers, new_topic):
    topic = new_topic(7)
    keys = [b"key-%d" % i for i in range(200)] + [b"", "ünïcode".encode()]
    msgs = [kafkette.MessageToSend(topic, b"v", key=k) for k in keys]
    with kafkette.Producer(brokers, "murmur") as p:
        assert p.send_messages(msgs)
    assert [m.partition for m in msgs] == [murmur2_partition(k, 7) for k in keys]
    assert len({m.partition for m in msgs}) == 7
    # and the broker really stored them there
    stored = {m.offset: m.key for m in consume_all(brokers, topic, msgs[0].partition, expected=None)}
    for m in msgs:
        if m.partition == msgs[0].partition:
            assert stored[m.offset] == m.key


def test_crc32_partitioner_is_poseidons(brokers, new_topic):
    topic = new_topic(5)
    keys = [b"user-%d" % i for i in range(100)]
    msgs = [kafkette.MessageToSend(topic, b"v", key=k) for k in keys]
    with kafkette.Producer(brokers, "crc", partitioner="crc32") as p:
        assert p.send_messages(msgs)
    assert [m.partition for m in msgs] == [zlib.crc32(k) % 5 for k in keys]


def test_unkeyed_messages_spread_round_robin(brokers, new_topic):
    topic = new_topic(4)
    msgs = [kafkette.MessageToSend(topic, b"v") for _ in range(40)]
    with kafkette.Producer(brokers, "rr") as p:
        assert p.send_messages(msgs)
    counts = [sum(1 for m in msgs if m.partition == i) for i in range(4)]
    assert counts == [10, 10, 10, 10]


def test_custom_partitioner_callable(brokers, new_topic):
    topic = new_topic(3)
    seen = []

    def last_byte(key, count):
        seen.append((key, count))
        return key[-1] % count

    msgs = [kafkette.MessageToSend(topic, b"v", key=bytes([i])) for i in range(9)]
    msgs.append(kafkette.MessageToSend(topic, b"pinned", key=b"\x01", partition=2))
    msgs.append(kafkette.MessageToSend(topic, b"nokey"))
    with kafkette.Producer(brokers, "custom", partitioner=last_byte) as p:
        assert p.send_messages(msgs)
    assert [m.partition for m in msgs[:9]] == [i % 3 for i in range(9)]
    assert msgs[9].partition == 2  # an explicit partition wins
    assert msgs[10].partition in (0, 1, 2)
    # called once per keyed message without a partition, with bytes and the partition count
    assert seen == [(bytes([i]), 3) for i in range(9)]


def test_partitioner_exception_propagates_and_others_are_delivered(brokers, new_topic):
    topic = new_topic(2)

    def picky(key, count):
        if key == b"bad":
            raise ZeroDivisionError("no partition for you")
        return 1

    msgs = [kafkette.MessageToSend(topic, b"a", key=b"good"), kafkette.MessageToSend(topic, b"b", key=b"bad")]
    with kafkette.Producer(brokers, "raising", partitioner=picky) as p:
        with pytest.raises(ZeroDivisionError, match="no partition for you"):
            p.send_messages(msgs)
        assert msgs[0].partition == 1 and msgs[0].offset == 0
        assert msgs[1].offset is None
        # the producer stays usable
        assert p.send_messages([kafkette.MessageToSend(topic, b"c", key=b"good")])


def test_partitioner_returning_nonsense_fails_those_messages(brokers, new_topic):
    topic = new_topic(2)
    with kafkette.Producer(brokers, "nonsense", partitioner=lambda k, n: 7) as p:
        # none delivered: the error's own class (as in Ruby), still listing the failures
        with pytest.raises(kafkette.InvalidPartitionError) as info:
            p.send_messages([kafkette.MessageToSend(topic, b"v", key=b"k")])
    (failure,) = info.value.failures
    assert isinstance(failure.error, kafkette.InvalidPartitionError)
    with kafkette.Producer(brokers, "nonsense", partitioner=lambda k, n: "0") as p:
        with pytest.raises(TypeError, match="partitioner must return an int, not str"):
            p.send_messages([kafkette.MessageToSend(topic, b"v", key=b"k")])


def test_explicit_partition_headers_timestamp_and_null_value(brokers, new_topic):
    topic = new_topic(3)
    msgs = [
        kafkette.MessageToSend(topic, None, key=b"tombstone", partition=1),
        kafkette.MessageToSend(topic, b"", key=b"", partition=1, timestamp=1_600_000_000_000),
        kafkette.MessageToSend(topic, "text", partition=1, headers=[("a", b"1"), ("a", None), ("b", "two")]),
        kafkette.MessageToSend(topic, bytearray(b"ba"), key=memoryview(b"mv"), partition=1),
    ]
    with kafkette.Producer(brokers, "fields") as p:
        assert p.send_messages(msgs)
    assert [m.partition for m in msgs] == [1, 1, 1, 1]
    got = consume_all(brokers, topic, 1, expected=4)
    assert got[0].value is None and got[0].key == b"tombstone"
    assert got[1].value == b"" and got[1].key == b"" and got[1].timestamp == 1_600_000_000_000
    assert got[2].value == b"text" and got[2].key is None
    assert got[2].headers == (("a", b"1"), ("a", None), ("b", b"two"))
    assert got[3].value == b"ba" and got[3].key == b"mv"
    assert all(m.topic == topic and m.partition == 1 for m in got)
    assert got[2].timestamp is not None and got[2].timestamp > 1_600_000_000_000


def test_send_after_close_raises_producer_shutdown(brokers, topic):
    p = kafkette.Producer(brokers, "closed")
    assert not p.closed
    p.close()
    p.close()  # idempotent
    assert p.closed
    with pytest.raises(kafkette.ProducerShutdownError):
        p.send_messages([kafkette.MessageToSend(topic, b"v")])
    with pytest.raises(kafkette.ProducerShutdownError):
        with p:
            pass
    assert "closed" in repr(p)


def test_oversized_message_is_listed_as_message_size_too_large(brokers, topic):
    good = kafkette.MessageToSend(topic, b"fine")
    big = kafkette.MessageToSend(topic, b"x" * 2_000_000)
    with kafkette.Producer(brokers, "big") as p:
        with pytest.raises(kafkette.FailedToSendMessages) as info:
            p.send_messages([good, big])
    err = info.value
    assert isinstance(err, kafkette.Error)
    assert len(err.failures) == 1
    f = err.failures[0]
    assert f.index == 1 and f.topic == topic and f.partition == 0 and f.message is big
    assert isinstance(f.error, kafkette.MessageSizeTooLarge)
    assert isinstance(f.error, kafkette.MessageTooLarge) and f.error.code == 10
    assert isinstance(err.__cause__, kafkette.MessageSizeTooLarge)
    assert "1 of 2 messages not delivered" in str(err)
    # the good one was delivered and keeps its offset
    assert good.offset == 0 and big.offset is None
    assert [m.value for m in consume_all(brokers, topic, expected=1)] == [b"fine"]


def test_partition_out_of_range_is_an_invalid_partition_failure(brokers, topic):
    with kafkette.Producer(brokers, "badpart") as p:
        with pytest.raises(kafkette.InvalidPartitionError) as info:
            p.send_messages([kafkette.MessageToSend(topic, b"v", partition=5)])
    assert isinstance(info.value.failures[0].error, kafkette.InvalidPartitionError)


def test_invalid_topic_name_is_listed(brokers):
    with kafkette.Producer(brokers, "badtopic") as p:
        with pytest.raises(kafkette.InvalidTopicException) as info:
            p.send_messages([kafkette.MessageToSend("no spaces allowed", b"v")])
    assert isinstance(info.value.failures[0].error, kafkette.InvalidTopicException)


def test_unreachable_broker_fails_with_connection_error(topic):
    with kafkette.Producer(["127.0.0.1:1"], "nobody", max_send_retries=1, retry_backoff_ms=10) as p:
        msgs = [kafkette.MessageToSend(topic, b"v")]
        with pytest.raises(kafkette.ConnectionFailedError) as info:
            p.send_messages(msgs)
    assert not isinstance(info.value, kafkette.FailedToSendMessages)  # none was delivered
    assert isinstance(info.value.__cause__, kafkette.ConnectionFailedError)
    assert isinstance(info.value.failures[0].error, ConnectionError)
    assert msgs[0].offset is None


def test_unknown_topic_is_auto_created_by_the_broker(brokers):
    import uuid

    name = "py-auto-" + uuid.uuid4().hex[:8]
    with kafkette.Producer(brokers, "auto") as p:
        assert p.send_messages([kafkette.MessageToSend(name, b"first")])
    assert consume_all(brokers, name, expected=1)[0].value == b"first"


def test_messages_to_many_topics_in_one_call(brokers, new_topic):
    topics = [new_topic(2) for _ in range(3)]
    msgs = [kafkette.MessageToSend(t, b"%s-%d" % (t.encode(), i), key=b"%d" % i) for i in range(30) for t in topics]
    with kafkette.Producer(brokers, "multi") as p:
        assert p.send_messages(msgs)
    for t in topics:
        mine = [m for m in msgs if m.topic == t]
        for part in (0, 1):
            offsets = [m.offset for m in mine if m.partition == part]
            assert offsets == list(range(len(offsets)))


def test_a_message_can_be_sent_again(brokers, topic):
    m = kafkette.MessageToSend(topic, b"again")
    with kafkette.Producer(brokers, "again") as p:
        assert p.send_messages([m]) and m.offset == 0
        assert p.send_messages([m, m]) and m.offset == 2
