"""MessageToSend and argument checking: conversions and clear errors, no broker round trips."""
import array

import pytest

import kafkette


def test_str_values_and_keys_are_utf8_encoded():
    m = kafkette.MessageToSend("t", "héllo", key="clé")
    assert m.value == "héllo".encode()
    assert m.key == "clé".encode()
    assert m.topic == "t"
    assert m.partition is None and m.offset is None and m.timestamp is None
    assert m.headers == ()


def test_bytes_like_payloads_are_kept_as_given():
    ba = bytearray(b"abc")
    mv = memoryview(b"xyz")
    m = kafkette.MessageToSend("t", ba, key=mv)
    assert m.value is ba
    assert m.key is mv
    b = b"raw"
    assert kafkette.MessageToSend("t", b).value is b


def test_none_value_is_a_null_record_and_none_key_is_no_key():
    m = kafkette.MessageToSend("t", None)
    assert m.value is None and m.key is None


@pytest.mark.parametrize("bad", [5, 1.5, object(), ["x"], {"a": 1}])
def test_other_value_types_raise_type_error(bad):
    with pytest.raises(TypeError, match="value must be str, bytes, bytearray, memoryview or None"):
        kafkette.MessageToSend("t", bad)
    with pytest.raises(TypeError, match="key must be"):
        kafkette.MessageToSend("t", b"v", key=bad)


def test_non_contiguous_memoryview_is_refused():
    mv = memoryview(b"abcdef")[::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        kafkette.MessageToSend("t", mv)


def test_topic_must_be_a_non_empty_str():
    with pytest.raises(TypeError, match="topic must be a str, not None"):
        kafkette.MessageToSend(None, b"v")
    with pytest.raises(TypeError, match="topic must be a str, not bytes"):
        kafkette.MessageToSend(b"t", b"v")
    with pytest.raises(ValueError, match="topic must not be empty"):
        kafkette.MessageToSend("", b"v")
    with pytest.raises(ValueError, match="NUL"):
        kafkette.MessageToSend("a\0b", b"v")


def test_partition_and_timestamp_checks():
    assert kafkette.MessageToSend("t", b"v", partition=3).partition == 3
    with pytest.raises(ValueError, match="partition must be between 0 and"):
        kafkette.MessageToSend("t", b"v", partition=-1)
    with pytest.raises(TypeError, match="partition must be an int, not str"):
        kafkette.MessageToSend("t", b"v", partition="1")
    with pytest.raises(TypeError, match="partition must be an int, not bool"):
        kafkette.MessageToSend("t", b"v", partition=True)
    assert kafkette.MessageToSend("t", b"v", timestamp=1234).timestamp == 1234
    with pytest.raises(ValueError, match="timestamp"):
        kafkette.MessageToSend("t", b"v", timestamp=-5)


def test_partition_is_keyword_only():
    with pytest.raises(TypeError):
        kafkette.MessageToSend("t", b"v", None, 3)


def test_headers_forms():
    m = kafkette.MessageToSend("t", b"v", headers={"a": "x", "b": b"y", "c": None, "d": bytearray(b"z")})
    assert m.headers == (("a", b"x"), ("b", b"y"), ("c", None), ("d", b"z"))
    m = kafkette.MessageToSend("t", b"v", headers=[("k", b"1"), ("k", b"2")])
    assert m.headers == (("k", b"1"), ("k", b"2"))
    with pytest.raises(TypeError, match="header keys must be str"):
        kafkette.MessageToSend("t", b"v", headers={b"k": b"v"})
    with pytest.raises(TypeError, match="header values"):
        kafkette.MessageToSend("t", b"v", headers={"k": 1})
    with pytest.raises(TypeError, match="headers must be a dict"):
        kafkette.MessageToSend("t", b"v", headers="k=v")
    with pytest.raises(TypeError, match="headers must be a dict"):
        kafkette.MessageToSend("t", b"v", headers=5)
    with pytest.raises(TypeError, match="pair"):
        kafkette.MessageToSend("t", b"v", headers=[("k", b"v", b"extra")])


def test_repr_is_readable_and_cuts_long_values():
    r = repr(kafkette.MessageToSend("topic1", b"x" * 100, key=b"k", partition=2))
    assert r.startswith("MessageToSend(topic='topic1', value=b'xxxx")
    assert "(100 bytes)" in r and "key=b'k'" in r and "partition=2" in r
    assert "headers" in repr(kafkette.MessageToSend("t", b"v", headers={"h": b"1"}))


def test_fetched_message_cannot_be_made_by_hand():
    with pytest.raises(TypeError):
        kafkette.FetchedMessage()


def test_memoryview_of_wider_items_is_sent_as_its_bytes():
    arr = array.array("i", [1, 2, 3])
    m = kafkette.MessageToSend("t", memoryview(arr))
    assert bytes(m.value) == arr.tobytes()


def test_producer_argument_checks(brokers):
    # options are the core's (tests/python/test_error_taxonomy.py checks the messages)
    with pytest.raises(kafkette.InvalidArgumentError, match="unknown option 'compresion_codec'"):
        kafkette.Producer(brokers, "c", compresion_codec="gzip")
    with pytest.raises(ValueError, match="option 'type' takes one of 'sync', 'async', not 'fast'"):
        kafkette.Producer(brokers, "c", type="fast")
    with pytest.raises(TypeError, match="option 'compression_codec' takes one of .*, not an integer"):
        kafkette.Producer(brokers, "c", compression_codec=1)
    with pytest.raises(ValueError, match="option 'required_acks' takes an integer from -1 to 1 or 'all', not 2"):
        kafkette.Producer(brokers, "c", required_acks=2)
    with pytest.raises(kafkette.InvalidArgumentError, match="option 'max_send_retries' .*, not 'x'"):
        kafkette.Producer(brokers, "c", max_send_retries="x")
    with pytest.raises(ValueError, match="option 'retry_backoff_ms' takes an integer from 0"):
        kafkette.Producer(brokers, "c", retry_backoff_ms=-1)
    with pytest.raises(ValueError, match="option 'partitioner' takes one of 'murmur2', 'crc32', not 'random'"):
        kafkette.Producer(brokers, "c", partitioner="random")
    with pytest.raises(TypeError, match="option 'compressed_topics' .* not a list holding int"):
        kafkette.Producer(brokers, "c", compressed_topics=["t1", 2])
    with pytest.raises(TypeError, match="option 'bootstrap_servers' takes a list of strings .*, not an int"):
        kafkette.Producer(5, "c")
    with pytest.raises(TypeError, match="option 'bootstrap_servers' .* not a list holding int"):
        kafkette.Producer([9092], "c")
    with pytest.raises(ValueError, match="option 'bootstrap_servers' .* not an empty list"):
        kafkette.Producer([], "c")
    with pytest.raises(TypeError, match="missing required argument 'client_id'"):
        kafkette.Producer(brokers)
    with pytest.raises(TypeError, match="multiple values for argument 'brokers'"):
        kafkette.Producer(brokers, "c", brokers=brokers)
    with pytest.raises(kafkette.InvalidArgumentError, match="bad broker address"):
        kafkette.Producer(["no-port-here"], "c")
    assert kafkette.Producer(brokers, "c", compressed_topics="t1,t2", max_send_retries="3").client_id == "c"


def test_send_messages_argument_checks(producer):
    with pytest.raises(TypeError, match="msgs must be a list of MessageToSend, not int"):
        producer.send_messages(5)
    with pytest.raises(TypeError, match="must be a list of MessageToSend, not kafkette.MessageToSend"):
        producer.send_messages(kafkette.MessageToSend("t", b"v"))
    with pytest.raises(TypeError, match="item 1 is str, not MessageToSend"):
        producer.send_messages([kafkette.MessageToSend("t", b"v"), "oops"])
    assert producer.send_messages([]) is True


def test_consumer_argument_checks(brokers, host_port, topic):
    host, port = host_port
    P = kafkette.PartitionConsumer
    with pytest.raises(ValueError, match="port must be between 1 and 65535, got 70000"):
        P("c", host, 70000, topic, 0, 0)
    with pytest.raises(ValueError, match="port must be between 1 and 65535, got 0"):
        P("c", host, 0, topic, 0, 0)
    with pytest.raises(TypeError, match="port must be an int, not str"):
        P("c", host, str(port), topic, 0, 0)
    with pytest.raises(TypeError, match="topic must be a str, not None"):
        P("c", host, port, None, 0, 0)
    with pytest.raises(ValueError, match="partition must be between 0 and 2147483647, got -1"):
        P("c", host, port, topic, -1, 0)
    with pytest.raises(TypeError, match="partition must be an int, not float"):
        P("c", host, port, topic, 0.0, 0)
    with pytest.raises(ValueError, match="offset must be an int, 'earliest_offset' or 'latest_offset', got 'first'"):
        P("c", host, port, topic, 0, "first")
    with pytest.raises(TypeError, match="offset must be an int"):
        P("c", host, port, topic, 0, None)
    with pytest.raises(TypeError, match="host must be a str, not None"):
        P("c", None, port, topic, 0, 0)
    with pytest.raises(kafkette.InvalidArgumentError, match="unknown option 'max_wait' for a consumer"):
        P("c", host, port, topic, 0, 0, max_wait=5)
    with pytest.raises(ValueError, match="option 'offset_reset' takes one of 'earliest', 'latest', 'error'"):
        P("c", host, port, topic, 0, 0, offset_reset="smallest")
    with pytest.raises(ValueError, match="option 'max_bytes' takes an integer from 1"):
        P("c", host, port, topic, 0, 0, max_bytes=0)
    with pytest.raises(TypeError, match="takes 6 positional arguments but 7 were given"):
        P("c", host, port, topic, 0, 0, 1)
    with pytest.raises(TypeError, match="missing required argument 'offset'"):
        P("c", host, port, topic, 0)
    with pytest.raises(TypeError, match="option 'bootstrap_servers' takes a list of strings"):
        P.consumer_for_partition("c", 5, topic, 0, 0)
    with pytest.raises(ValueError, match="partition must be between 0"):
        P.consumer_for_partition("c", brokers, topic, -3, 0)
    with P("c", host, port, topic, 0, 0) as c:
        with pytest.raises(TypeError, match="keyword arguments only"):
            c.fetch(100)
        with pytest.raises(kafkette.InvalidArgumentError, match="unknown option 'wait' for a consumer"):
            c.fetch(wait=1)
        with pytest.raises(ValueError, match="option 'max_wait_ms' takes an integer from 0"):
            c.fetch(max_wait_ms=-1)
        with pytest.raises(RuntimeError, match="already initialised"):
            c.__init__("c", host, port, topic, 0, 0)


def test_admin_argument_checks(brokers):
    with pytest.raises(ValueError, match="partitions must be between 1"):
        kafkette.create_topic(brokers, "x", 0)
    with pytest.raises(TypeError, match="configs must be a dict"):
        kafkette.create_topic(brokers, "x", 1, 1, [("a", "b")])
    with pytest.raises(TypeError, match="topic must be a str"):
        kafkette.delete_topic(brokers, None)
