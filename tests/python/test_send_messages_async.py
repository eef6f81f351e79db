"""Producer(type="async").send_messages against the real broker: it queues through produce's
engine and returns before delivery; flush, poll, close and the next send_messages fill each
MessageToSend's partition and offset, and raise (and log) what was not delivered."""
import logging
import select

import pytest
from conftest import consume_all

import kafkette

PURGED, QUEUE_FULL, INVALID_PARTITION, MESSAGE_TOO_LARGE = -125, -124, -118, 10


def wait_for_reports(p, timeout=30):
    """Waits until reports wait for a drain, without draining them (the event fd)."""
    readable, _, _ = select.select([p.event_fd()], [], [], timeout)
    assert readable, "no report within %s s" % timeout


def test_type_option_is_taken_and_checked(brokers):
    for value in ("async", "ASYNC", "sync", None):
        kafkette.Producer(brokers, "c", type=value).close()
    with pytest.raises(kafkette.InvalidArgumentError, match="option 'type' takes one of 'sync', 'async', not 'fast'"):
        kafkette.Producer(brokers, "c", type="fast")


def test_returns_before_delivery_and_flush_fills_every_offset_in_order(brokers, topic):
    msgs = [kafkette.MessageToSend(topic, b"v%d" % i, b"k%d" % i) for i in range(50)]
    with kafkette.Producer(brokers, "async-send", type="async", linger_ms=600_000, batch_size=10_000_000) as p:
        assert p.send_messages(msgs) is True
        # linger_ms holds the batch: nothing can have been delivered yet
        assert len(p) == 50
        assert all(m.offset is None for m in msgs)
        assert p.flush(30) == 0
        assert len(p) == 0
    assert [m.offset for m in msgs] == list(range(50))
    assert {m.partition for m in msgs} == {0}
    got = consume_all(brokers, topic, expected=50)
    assert [(m.key, m.value) for m in got] == [(b"k%d" % i, b"v%d" % i) for i in range(50)]


def test_a_bad_message_refuses_the_whole_list_before_anything_is_queued(brokers, topic):
    good = kafkette.MessageToSend(topic, b"good")
    with kafkette.Producer(brokers, "async-send", type="async") as p:
        with pytest.raises(TypeError, match="item 1 is str, not MessageToSend"):
            p.send_messages([good, "not a message"])
        with pytest.raises(TypeError):
            p.send_messages(good)
        assert len(p) == 0
        assert p.flush(5) == 0
    assert good.offset is None
    assert consume_all(brokers, topic, timeout=2) == []


def test_a_failure_is_raised_by_the_next_flush_and_logged(brokers, new_topic, caplog):
    small = new_topic(1, configs={"max.message.bytes": "2000"})
    big = kafkette.MessageToSend(small, b"big" * 10_000)
    with caplog.at_level(logging.WARNING, logger="kafkette"):
        with kafkette.Producer(brokers, "async-send", type="async", max_send_retries=0) as p:
            assert p.send_messages([big]) is True
            with pytest.raises(kafkette.error_class(MESSAGE_TOO_LARGE)) as info:
                p.flush(30)
            assert p.flush(30) == 0  # raised once, not again
    (failure,) = info.value.failures
    assert failure.index == 0 and failure.message is big and failure.topic == small
    assert failure.error.code == MESSAGE_TOO_LARGE and info.value.__cause__ is failure.error
    assert big.offset is None
    assert "1 of 1 messages sent asynchronously not delivered" in str(info.value)
    logged = [r for r in caplog.records if r.name == "kafkette" and "send_messages (type async)" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING and small in logged[0].getMessage()


def test_a_partial_failure_raises_failed_to_send_messages_listing_the_failed_one(brokers, topic):
    ok = kafkette.MessageToSend(topic, b"ok", partition=0)
    nowhere = kafkette.MessageToSend(topic, b"x", partition=7)
    with kafkette.Producer(brokers, "async-send", type="async") as p:
        assert p.send_messages([ok, nowhere]) is True
        with pytest.raises(kafkette.FailedToSendMessages) as info:
            p.flush(30)
    assert [(f.index, f.message) for f in info.value.failures] == [(1, nowhere)]
    assert info.value.failures[0].error.code == INVALID_PARTITION
    assert ok.offset == 0 and nowhere.offset is None


def test_the_next_send_messages_raises_an_earlier_failure_and_queues_nothing(brokers, topic):
    nowhere = kafkette.MessageToSend(topic, b"x", partition=7)
    later = kafkette.MessageToSend(topic, b"later")
    with kafkette.Producer(brokers, "async-send", type="async") as p:
        p.send_messages([nowhere])
        wait_for_reports(p)
        with pytest.raises(kafkette.InvalidPartitionError) as info:
            p.send_messages([later])
        assert [f.message for f in info.value.failures] == [nowhere]
        assert len(p) == 0  # `later` was not queued
        assert p.send_messages([later]) is True  # the failure was raised once
        assert p.flush(30) == 0
    assert later.offset == 0
    assert [m.value for m in consume_all(brokers, topic, expected=1)] == [b"later"]


def test_poll_raises_a_failure_it_drains(brokers, topic):
    with kafkette.Producer(brokers, "async-send", type="async") as p:
        p.send_messages([kafkette.MessageToSend(topic, b"x", partition=7)])
        wait_for_reports(p)
        with pytest.raises(kafkette.InvalidPartitionError):
            p.poll(0)
        assert p.poll(0) == 0


def test_close_flushes_so_every_message_gets_its_offset(brokers, topic):
    msgs = [kafkette.MessageToSend(topic, b"%d" % i) for i in range(20)]
    p = kafkette.Producer(brokers, "async-send", type="async", linger_ms=600_000, batch_size=10_000_000)
    p.send_messages(msgs)
    assert len(p) == 20
    p.close()
    assert [m.offset for m in msgs] == list(range(20))


def test_close_raises_the_messages_it_purged(brokers, topic):
    msgs = [kafkette.MessageToSend(topic, b"%d" % i) for i in range(5)]
    p = kafkette.Producer(["127.0.0.1:1"], "async-send", type="async", connect_timeout_ms=200)
    p.send_messages(msgs)
    with pytest.raises(kafkette.error_class(PURGED)) as info:
        p.close(timeout=0)
    assert p.closed
    assert [f.message for f in info.value.failures] == msgs
    assert all(m.offset is None for m in msgs)
    p.close()  # raised once


def test_a_full_buffer_refuses_the_rest_of_the_list(brokers):
    p = kafkette.Producer(["127.0.0.1:1"], "async-send", type="async", buffer_memory=1024, max_block_ms=0,
                          connect_timeout_ms=200)
    msgs = [kafkette.MessageToSend("nowhere", b"x" * 200) for _ in range(20)]
    with pytest.raises(kafkette.error_class(QUEUE_FULL)) as info:
        p.send_messages(msgs)
    queued = len(p)
    assert 0 < queued < 20
    assert [f.index for f in info.value.failures] == list(range(queued, 20))
    assert [f.message for f in info.value.failures] == msgs[queued:]
    with pytest.raises(kafkette.error_class(PURGED)) as info:
        p.close(timeout=0)
    assert [f.message for f in info.value.failures] == msgs[:queued]


def test_a_dropped_producer_logs_what_it_could_not_deliver(caplog):
    with caplog.at_level(logging.WARNING, logger="kafkette"):
        p = kafkette.Producer(["127.0.0.1:1"], "async-send", type="async", connect_timeout_ms=200)
        p.send_messages([kafkette.MessageToSend("nowhere", b"x") for _ in range(3)])
        del p
    logged = [r for r in caplog.records if "send_messages (type async)" in r.getMessage()]
    assert len(logged) == 3 and all("_PURGED" in r.getMessage() for r in logged)
