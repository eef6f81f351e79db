"""docs/BINDINGS.md's close rules: close() from another thread interrupts a waiting call, which
raises the object's ClosedError subclass; close returns once the object is closed; closing twice
is fine and every later call raises the same class."""

import socket
import threading
import time
import uuid

import pytest

import kafkette


def in_thread(fn):
    """Runs fn in a thread; returns (thread, box) where box gets the result or the exception."""
    box = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: B036 (the test inspects it)
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, box


def close_while_waiting(obj, wait=0.4):
    time.sleep(wait)
    started = time.monotonic()
    obj.close()
    took = time.monotonic() - started
    assert obj.closed
    return took


@pytest.fixture
def silent_broker():
    """A port that accepts connections and never answers: a call to it waits on the network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield "127.0.0.1:%d" % s.getsockname()[1]


def test_close_interrupts_a_waiting_send(silent_broker):
    p = kafkette.Producer([silent_broker], "c", request_timeout_ms=20000, connect_timeout_ms=20000)
    t, box = in_thread(lambda: p.send_messages([kafkette.MessageToSend("t", b"v")]))
    took = close_while_waiting(p)
    t.join(5)
    assert not t.is_alive() and took < 2
    assert isinstance(box.get("error"), kafkette.ProducerShutdownError), box
    assert isinstance(box["error"], kafkette.ClosedError) and box["error"].code == -117
    p.close()  # closing twice is fine
    with pytest.raises(kafkette.ProducerShutdownError, match="send_messages: the producer is closed"):
        p.send_messages([kafkette.MessageToSend("t", b"v")])


def test_close_interrupts_a_waiting_fetch(brokers, topic):
    c = kafkette.PartitionConsumer.consumer_for_partition("c", brokers, topic, 0, 0, max_wait_ms=10000)
    t, box = in_thread(lambda: c.fetch(min_bytes=1 << 20))
    took = close_while_waiting(c)
    t.join(5)
    assert not t.is_alive() and took < 2
    assert isinstance(box.get("error"), kafkette.ConsumerClosedError), box
    c.close()
    with pytest.raises(kafkette.ConsumerClosedError, match="fetch: the consumer is closed"):
        c.fetch()


def test_close_interrupts_a_waiting_poll(brokers, topic):
    g = kafkette.ConsumerGroup("g-" + uuid.uuid4().hex[:8], brokers, [topic], session_timeout_ms=6000,
                               max_wait_ms=5000)
    t, box = in_thread(lambda: g.poll(timeout_ms=20000))
    took = close_while_waiting(g)
    t.join(5)
    assert not t.is_alive() and took < 3  # the wake-up, then the leave itself
    assert isinstance(box.get("error"), kafkette.ConsumerClosedError), box
    g.close()
    with pytest.raises(kafkette.ConsumerClosedError, match="poll: the group is closed"):
        g.poll()
    with pytest.raises(kafkette.ConsumerClosedError):
        g.commit()


def test_a_second_thread_waits_for_the_first(brokers, topic):
    c = kafkette.PartitionConsumer.consumer_for_partition("c", brokers, topic, 0, 0, max_wait_ms=300)
    results = []
    threads = [threading.Thread(target=lambda: results.append(c.fetch())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [[], [], []]
    c.close()
