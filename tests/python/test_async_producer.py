"""Producer.produce / poll / flush / close on the core's asynchronous engine, against the real
broker: exactly one on_delivery per message (delivered, failed, purged), flush's remainder,
back-pressure (buffer_memory, max_block_ms), Ctrl-C, fork and a flat RSS."""
import gc
import os
import signal
import time

import pytest
from conftest import consume_all, rss_kb, sigint_after

import kafkette

PURGED, QUEUE_FULL = -125, -124


class Reports:
    """on_delivery that records every call, to check each message is served exactly once."""

    def __init__(self):
        self.calls = []

    def __call__(self, err, msg):
        self.calls.append((err, msg))

    def by_value(self):
        out = {}
        for err, msg in self.calls:
            out.setdefault(msg.value, []).append(err)
        return out


def test_produce_poll_flush_deliver_each_message_once(brokers, topic):
    r = Reports()
    with kafkette.Producer(brokers, "async-ok") as p:
        for i in range(500):
            p.produce(topic, b"v%d" % i, b"k", headers={"i": b"%d" % i}, on_delivery=r)
        assert 0 < len(p) <= 500
        served = 0
        deadline = time.monotonic() + 30
        while served < 500 and time.monotonic() < deadline:
            served += p.poll(0.1)
        assert served == 500 and len(p) == 0
        assert p.flush() == 0 and p.poll(0) == 0
    assert len(r.calls) == 500
    assert all(err is None for err, _ in r.calls)
    msgs = [m for _, m in r.calls]
    assert [m.offset for m in msgs] == list(range(500))  # one partition, in order
    assert {(m.topic, m.partition, m.key) for m in msgs} == {(topic, 0, b"k")}
    assert all(m.timestamp > 1_600_000_000_000 for m in msgs)
    assert msgs[7].value == b"v7" and msgs[7].headers == (("i", b"7"),)
    got = consume_all(brokers, topic, expected=500)
    assert [m.value for m in got] == [b"v%d" % i for i in range(500)]


def test_produce_arguments(brokers, topic, producer):
    r = Reports()
    producer.produce(topic, bytearray(b"ba"), key=memoryview(b"mv"), partition=0, timestamp_ms=1_700_000_000_000,
                     on_delivery=r)
    producer.produce(topic, None)  # a null value, no callback
    producer.produce(topic, value="kw \u00e9", key="k", on_delivery=r)
    assert producer.flush(10) == 0
    assert r.calls[-1][1].value == "kw \u00e9"
    assert [m.value for m in consume_all(brokers, topic, expected=3)] == [b"ba", None, "kw \u00e9".encode()]
    assert [m.timestamp for _, m in r.calls][0] == 1_700_000_000_000
    assert [m.key for _, m in r.calls] == [memoryview(b"mv"), "k"]
    bad_calls = [
        dict(topic=1, value=b"x"),
        dict(topic=topic, value=1),
        dict(topic=topic, value=b"x", key=2.0),
        dict(topic=topic, value=b"x", partition=-1),
        dict(topic=topic, value=b"x", on_delivery=3),
        dict(topic=topic, value=b"x", headers=5),
    ]
    for bad in bad_calls:
        with pytest.raises((TypeError, ValueError)):
            producer.produce(**bad)
    with pytest.raises(TypeError):
        producer.produce(topic, b"x", b"k", 0)  # partition is keyword-only
    with pytest.raises(TypeError):
        producer.produce(topic, b"x", value=b"y")
    with pytest.raises(TypeError):
        producer.produce(topic, b"x", bogus=1)
    with pytest.raises(TypeError):
        producer.produce(value=b"x")
    assert len(producer) == 0 and bool(producer)


def test_batch_over_the_topics_limit_is_split_not_lost(brokers, new_topic):
    """A batch larger than the topic's max.message.bytes (MESSAGE_TOO_LARGE) is split in halves
    and sent again until each fits: every message delivered once, in produce order, through
    produce() and send_messages alike."""
    small = new_topic(1, configs={"max.message.bytes": "20000"})
    r = Reports()
    values = [b"%05d" % i + b"x" * 95 for i in range(2000)]  # ~250 kB: at least 13 splits
    with kafkette.Producer(brokers, "async-split", linger_ms=200) as p:
        for v in values[:1000]:
            p.produce(small, v, on_delivery=r)
        assert p.flush(30) == 0
        later = [kafkette.MessageToSend(small, v) for v in values[1000:]]
        assert p.send_messages(later)
    assert [err for err, _ in r.calls] == [None] * 1000
    assert sorted(m.offset for _, m in r.calls) == list(range(1000))
    assert [m.offset for m in later] == list(range(1000, 2000))
    assert [m.value for m in consume_all(brokers, small, expected=2000)] == values


def test_unknown_partition_and_oversized_message_fail_in_their_report(brokers, new_topic):
    small = new_topic(1, configs={"max.message.bytes": "2000"})
    r = Reports()
    with kafkette.Producer(brokers, "async-fail", max_send_retries=0) as p:
        # each in its own batch: the broker refuses a whole batch holding an oversized record
        p.produce(small, b"ok", on_delivery=r)
        assert p.flush(30) == 0
        p.produce(small, b"x", partition=7, on_delivery=r)
        assert p.flush(30) == 0
        p.produce(small, b"big" * 10_000, on_delivery=r)
        assert p.flush(30) == 0
    fates = r.by_value()
    assert len(r.calls) == 3
    assert fates[b"ok"] == [None]
    (err,) = fates[b"x"]
    assert isinstance(err, kafkette.Error) and err.code != 0
    assert isinstance(err, kafkette.error_class(err.code))
    (err,) = fates[b"big" * 10_000]
    assert isinstance(err, kafkette.error_class(10)) and err.code == 10  # MESSAGE_TOO_LARGE
    assert [m.offset for _, m in r.calls if m.value != b"ok"] == [-1, -1]


@pytest.mark.parametrize("how", ["huge_linger", "unreachable"])
def test_close_purges_what_is_left_with_one_callback_each(brokers, topic, how):
    if how == "huge_linger":
        p = kafkette.Producer(brokers, "async-purge", linger_ms=600_000, batch_size=10_000_000)
    else:
        p = kafkette.Producer(["127.0.0.1:1"], "async-purge", connect_timeout_ms=200)
    r = Reports()
    for i in range(100):
        p.produce(topic, b"%d" % i, on_delivery=r)
    if how == "unreachable":  # (flush would send a lingering batch at once)
        start = time.monotonic()
        assert p.flush(0.3) == 100  # nothing can finish: flush's timeout returns what is left
        assert 0.25 < time.monotonic() - start < 3
    assert p.poll(0.1) == 0
    assert r.calls == [] and len(p) == 100
    p.close(timeout=0)
    assert p.closed and len(p) == 0
    assert sorted(m.value for _, m in r.calls) == sorted(b"%d" % i for i in range(100))
    assert {e.code for e, _ in r.calls} == {PURGED}
    assert all(isinstance(e, kafkette.error_class(PURGED)) for e, _ in r.calls)
    p.close()  # idempotent, serves nothing twice
    assert len(r.calls) == 100
    with pytest.raises(kafkette.ProducerShutdownError):
        p.produce(topic, b"late", on_delivery=r)
    assert len(r.calls) == 100


def test_close_flushes_first(brokers, topic):
    r = Reports()
    p = kafkette.Producer(brokers, "async-close")
    for i in range(50):
        p.produce(topic, b"%d" % i, on_delivery=r)
    p.close()
    assert len(r.calls) == 50 and all(e is None for e, _ in r.calls)


def test_dealloc_releases_every_message(brokers, topic):
    import weakref

    class Payload(bytearray):
        pass

    refs = []
    p = kafkette.Producer(brokers, "async-dealloc", linger_ms=600_000)
    for _ in range(20):
        v = Payload(b"x")
        refs.append(weakref.ref(v))
        p.produce(topic, v, on_delivery=lambda e, m: None)
    del v, p
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_callback_exception_is_raised_after_all_are_served(brokers, topic, producer):
    seen = []

    def cb(err, msg):
        seen.append(msg.value)
        if msg.value == b"1":
            raise ValueError("boom")

    for i in range(3):
        producer.produce(topic, b"%d" % i, on_delivery=cb)
    with pytest.raises(ValueError, match="boom"):
        producer.flush(10)
    assert seen == [b"0", b"1", b"2"] and len(producer) == 0


def test_produce_from_a_callback(brokers, topic, producer):
    r = Reports()

    def cb(err, msg):
        if msg.value == b"first":
            producer.produce(topic, b"second", on_delivery=r)

    producer.produce(topic, b"first", on_delivery=cb)
    assert producer.flush(10) == 0
    assert [m.value for _, m in r.calls] == [b"second"]


@pytest.mark.timing
def test_full_buffer_raises_at_once_or_after_max_block_ms(brokers, topic):
    # an unreachable broker: the buffer cannot drain (a full buffer is sent without lingering)
    opts = dict(buffer_memory=4096, connect_timeout_ms=200)
    for block_ms in (0, 400):
        r = Reports()
        with kafkette.Producer(["127.0.0.1:1"], "async-full", max_block_ms=block_ms, **opts) as p:
            with pytest.raises(kafkette.Error) as info:
                for _ in range(1000):
                    start = time.monotonic()
                    p.produce(topic, b"x" * 500, on_delivery=r)
            took = time.monotonic() - start
            assert info.value.code == QUEUE_FULL
            assert isinstance(info.value, kafkette.error_class(QUEUE_FULL))
            queued = len(p)
            assert 0 < queued < 1000
            p.close(timeout=0)
        # the refused messages got no callback, the queued ones one each (purged)
        assert len(r.calls) == queued and {e.code for e, _ in r.calls} == {PURGED}
        assert 0.35 < took < 2.0 if block_ms else took < 0.1


def test_every_queued_message_gets_one_callback_when_the_buffer_fills(brokers, topic):
    r = Reports()
    refused = 0
    with kafkette.Producer(["127.0.0.1:1"], "async-full2", buffer_memory=4096, max_block_ms=0,
                           connect_timeout_ms=200) as p:
        for i in range(200):
            try:
                p.produce(topic, b"%d" % i + b"x" * 300, on_delivery=r)
            except kafkette.Error as e:
                assert e.code == QUEUE_FULL
                refused += 1
        p.close(timeout=0)
    assert refused > 0 and len(r.calls) == 200 - refused
    assert len({m.value for _, m in r.calls}) == len(r.calls)


@pytest.fixture
def default_sigint_handler():
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.mark.timing
@pytest.mark.parametrize("call", ["flush", "poll", "produce"])
def test_ctrl_c_interrupts_a_waiting_call(brokers, topic, default_sigint_handler, call):
    r = Reports()
    # an unreachable broker: flush cannot finish, a full buffer cannot drain; poll has nothing
    opts = dict(connect_timeout_ms=200)
    if call == "produce":
        opts.update(buffer_memory=4096, max_block_ms=60_000)
    p = kafkette.Producer(["127.0.0.1:1"], "async-int", **opts)
    try:
        p.produce(topic, b"queued" * 100, on_delivery=r)
        stamps = []
        t = sigint_after(0.3, stamps)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            if call == "flush":
                p.flush(10)
            elif call == "poll":
                p.poll(10)
            else:
                for _ in range(100):
                    p.produce(topic, b"x" * 500, on_delivery=r)
        end = time.monotonic()
        t.join()
        assert end - stamps[0] < 0.5, "KeyboardInterrupt came %.3f s after SIGINT" % (end - stamps[0])
        assert end - start < 2
        assert not p.closed and len(p) > 0  # still usable
    finally:
        p.close(timeout=0)
    assert len(r.calls) == len({id(m) for _, m in r.calls})  # each served once


def produce_poll_cycles(p, topic, n):
    def cb(err, msg):
        assert err is None

    for i in range(n):
        p.produce(topic, b"v" * 100, key=b"k%d" % (i % 10), headers={"h": b"x"}, on_delivery=cb)
        p.poll(0)
    assert p.flush(30) == 0


def rss_flat(brokers, topic, cycles):
    """RSS after each round of 5,000 cycles: the reports queue's depth varies with poll(0)'s
    cadence, so RSS moves up and down by a few MB; a leak shows as the later rounds' peak
    above the earlier rounds' peak, and as Python objects piling up."""
    p = kafkette.Producer(brokers, "async-leak", required_acks=1)
    produce_poll_cycles(p, topic, 5000)
    rss, objects = [], []
    for _ in range(max(cycles // 5000, 4)):
        produce_poll_cycles(p, topic, 5000)
        gc.collect()
        rss.append(rss_kb())
        objects.append(len(gc.get_objects()))
    p.close()
    half = len(rss) // 2
    assert max(rss[half:]) - max(rss[:half]) < 1024, "RSS per round (kB): %s" % rss
    assert max(objects) - min(objects) < 100, objects


@pytest.mark.timing
def test_produce_poll_cycles_keep_rss_flat(brokers, topic):
    rss_flat(brokers, topic, 20_000)


@pytest.mark.slow
@pytest.mark.timing
def test_produce_poll_100k_cycles_keep_rss_flat(brokers, topic):
    rss_flat(brokers, topic, 100_000)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_with_messages_in_flight(brokers, topic):
    parent = Reports()
    p = kafkette.Producer(brokers, "async-fork", linger_ms=300)
    for i in range(10):
        p.produce(topic, b"parent-%d" % i, on_delivery=parent)
    assert len(p) == 10
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports on the pipe (its exit status is valgrind's under script/valgrind-python)
        try:
            os.close(read_end)
            try:
                child = Reports()
                steps = [len(p), p.poll(0)]
                p.produce(topic, b"child", on_delivery=child)
                steps += [p.flush(20), [e for e, _ in child.calls], len(parent.calls), p.poll(0)]
                p.close()
                report = repr(steps)
            except BaseException as e:  # noqa: B036 (everything goes to the parent)
                report = repr("%s: %s" % (type(e).__name__, e))
            os.write(write_end, report.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as r:
        report = r.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status)
    # the child: an empty queue, its own message delivered, none of the parent's served
    assert report == repr([0, 0, 0, [None], 0, 0])
    assert p.flush(20) == 0
    assert sorted(m.value for _, m in parent.calls) == sorted(b"parent-%d" % i for i in range(10))
    p.close()
    values = sorted(m.value for m in consume_all(brokers, topic, expected=11))
    assert values == sorted([b"child"] + [b"parent-%d" % i for i in range(10)])
