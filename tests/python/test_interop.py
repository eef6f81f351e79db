"""Interoperability: confluent-kafka (librdkafka) and kafka-python read what kafkette wrote,
and kafkette reads what they wrote; keyed messages land where their partitioners say."""
import time

import pytest
from conftest import consume_all

import kafkette

confluent_kafka = pytest.importorskip("confluent_kafka")

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def confluent_read(brokers, topic, n, partition=0, timeout=20.0):
    c = confluent_kafka.Consumer(
        {
            "bootstrap.servers": ",".join(brokers),
            "group.id": "kafkette-interop",
            "enable.auto.commit": False,
        }
    )
    c.assign([confluent_kafka.TopicPartition(topic, partition, confluent_kafka.OFFSET_BEGINNING)])
    out = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            assert m.error() is None, m.error()
            out.append(m)
    finally:
        c.close()
    return out


@pytest.mark.parametrize("codec", CODECS)
def test_confluent_reads_what_kafkette_wrote(brokers, topic, codec):
    msgs = [
        kafkette.MessageToSend(topic, b"value-%d" % i, key=b"key-%d" % i, headers={"n": b"%d" % i})
        for i in range(50)
    ]
    msgs.append(kafkette.MessageToSend(topic, None, key=b"tombstone"))
    with kafkette.Producer(brokers, "interop", compression_codec=codec) as p:
        assert p.send_messages(msgs)
    got = confluent_read(brokers, topic, 51)
    assert [m.value() for m in got] == [b"value-%d" % i for i in range(50)] + [None]
    assert [m.key() for m in got] == [b"key-%d" % i for i in range(50)] + [b"tombstone"]
    assert [m.headers() for m in got[:3]] == [[("n", b"0")], [("n", b"1")], [("n", b"2")]]
    assert [m.offset() for m in got] == [m.offset for m in msgs]


@pytest.mark.parametrize("codec", CODECS)
def test_kafkette_reads_what_confluent_wrote(brokers, topic, codec):
    p = confluent_kafka.Producer({"bootstrap.servers": ",".join(brokers), "compression.codec": codec, "linger.ms": 5})
    for i in range(50):
        p.produce(topic, value=b"cf-%d" % i, key=b"k%d" % i, partition=0, headers=[("h", b"%d" % i)])
    p.produce(topic, value=None, key=b"null", partition=0)
    assert p.flush(20) == 0
    got = consume_all(brokers, topic, expected=51)
    assert [m.value for m in got] == [b"cf-%d" % i for i in range(50)] + [None]
    assert [m.key for m in got] == [b"k%d" % i for i in range(50)] + [b"null"]
    assert got[7].headers == (("h", b"7"),)


@pytest.mark.parametrize("ours, theirs", [("murmur2", "murmur2_random"), ("crc32", "consistent_random")])
def test_key_placement_agrees_with_librdkafka(brokers, new_topic, ours, theirs):
    topic = new_topic(6)
    keys = [b"user-%d" % i for i in range(60)]
    p = confluent_kafka.Producer({"bootstrap.servers": ",".join(brokers), "partitioner": theirs})
    placed = {}

    def report(err, msg):
        assert err is None
        placed[msg.key()] = msg.partition()

    for k in keys:
        p.produce(topic, value=b"v", key=k, on_delivery=report)
    assert p.flush(20) == 0
    msgs = [kafkette.MessageToSend(topic, b"v", key=k) for k in keys]
    with kafkette.Producer(brokers, "placement", partitioner=ours) as kp:
        assert kp.send_messages(msgs)
    assert {m.key: m.partition for m in msgs} == placed


def test_kafka_python_reads_what_kafkette_wrote(brokers, topic):
    kafka = pytest.importorskip("kafka")
    msgs = [kafkette.MessageToSend(topic, b"kp-%d" % i, key=b"%d" % i) for i in range(20)]
    with kafkette.Producer(brokers, "interop-kp", compression_codec="gzip") as p:
        assert p.send_messages(msgs)
    c = kafka.KafkaConsumer(
        bootstrap_servers=brokers, auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=10000
    )
    c.assign([kafka.TopicPartition(topic, 0)])
    c.seek_to_beginning()
    got = []
    for m in c:
        got.append(m)
        if len(got) == 20:
            break
    c.close()
    assert [(m.key, m.value) for m in got] == [(b"%d" % i, b"kp-%d" % i) for i in range(20)]


def test_kafkette_reads_what_kafka_python_wrote(brokers, topic):
    kafka = pytest.importorskip("kafka")
    p = kafka.KafkaProducer(bootstrap_servers=brokers, compression_type="gzip")
    for i in range(20):
        p.send(topic, value=b"from-kp-%d" % i, key=b"%d" % i, partition=0)
    p.flush(20)
    p.close()
    got = consume_all(brokers, topic, expected=20)
    assert [(m.key, m.value) for m in got] == [(b"%d" % i, b"from-kp-%d" % i) for i in range(20)]
