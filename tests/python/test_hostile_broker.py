"""A fake broker on loopback answers the binding's first request with hostile bytes: a 100 MiB
length prefix followed by nothing, a reply dripped a byte at a time, a reply to a request that
was never sent. Each must end in a clear error of the right class, promptly, with bounded
memory (the C core's own tests cover the same inputs at the protocol level)."""
import socket
import struct
import threading
import time

import pytest

import kafkette


def data_kb():
    """The process's data segment (VmData): counts memory allocated even before it is touched,
    which RSS would not."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1])
    return 0


class PeakData:
    """Samples VmData every 10 ms while the block runs; .growth is the peak over the start."""

    def __enter__(self):
        self.before = data_kb()
        self.peak = self.before
        self.done = threading.Event()

        def sample():
            while not self.done.wait(0.01):
                self.peak = max(self.peak, data_kb())

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.growth = self.peak - self.before
        return False


class FakeBroker:
    """Accepts connections; for each request frame calls reply(sock, correlation_id)."""

    def __init__(self, reply):
        self.reply = reply
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.requests = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        try:
            conn.settimeout(10)
            size = struct.unpack(">i", self.read(conn, 4))[0]
            body = self.read(conn, size)
            self.requests += 1
            correlation_id = struct.unpack(">i", body[4:8])[0]
            self.reply(conn, correlation_id, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def close(self):
        self.stop.set()
        self.server.close()


@pytest.fixture
def fake_broker():
    brokers = []

    def start(reply):
        b = FakeBroker(reply)
        brokers.append(b)
        return b

    yield start
    for b in brokers:
        b.close()


def consumer_of(broker, timeout_ms=1000):
    return kafkette.PartitionConsumer(
        "hostile", "127.0.0.1", broker.port, "t", 0, kafkette.EARLIEST_OFFSET,
        socket_timeout_ms=timeout_ms, connect_timeout_ms=timeout_ms)


def prefix_then_nothing(size):
    def reply(conn, correlation_id, stop):
        conn.sendall(struct.pack(">ii", size, correlation_id))
        stop.wait(15)

    return reply


def drip(conn, correlation_id, stop):
    frame = struct.pack(">ii", 1000, correlation_id) + b"\0" * 996
    for byte in frame:
        if stop.wait(0.05):
            return
        conn.sendall(bytes([byte]))


def wrong_correlation(conn, correlation_id, stop):
    conn.sendall(struct.pack(">ii", 8, correlation_id + 12345) + b"\0" * 4)
    stop.wait(5)


@pytest.mark.timing
def test_a_100_mib_length_prefix_followed_by_nothing_times_out_with_bounded_memory(fake_broker):
    # the same wait with a 1 KiB prefix first: threads, stacks and malloc arenas count in VmData
    control = fake_broker(prefix_then_nothing(1024))
    with PeakData() as baseline, pytest.raises(kafkette.TimedOutError):
        with consumer_of(control) as c:
            c.fetch()
    broker = fake_broker(prefix_then_nothing(100 * 1024 * 1024))
    started = time.monotonic()
    with PeakData() as memory, pytest.raises(kafkette.TimedOutError) as info:
        with consumer_of(broker) as c:
            c.fetch()
    elapsed = time.monotonic() - started
    assert broker.requests >= 1
    assert "127.0.0.1:%d" % broker.port in str(info.value)
    assert elapsed < 10, "gave up after %.1f s with a 1 s request timeout" % elapsed
    # the client must not allocate what the prefix announces before the bytes arrive
    extra = memory.growth - baseline.growth
    assert extra < 32 * 1024, "%d kB more than for a 1 KiB prefix while waiting" % extra


@pytest.mark.timing
def test_a_reply_dripped_a_byte_at_a_time_ends_at_the_deadline(fake_broker):
    broker = fake_broker(drip)
    started = time.monotonic()
    with pytest.raises(kafkette.TimedOutError):
        with consumer_of(broker) as c:
            c.fetch()
    assert time.monotonic() - started < 10


def test_a_reply_to_a_request_never_sent_is_malformed(fake_broker):
    broker = fake_broker(wrong_correlation)
    with pytest.raises(kafkette.MalformedResponseError) as info:
        with consumer_of(broker) as c:
            c.fetch()
    assert info.value.code == -106  # KK_ERR_CORRELATION
    assert "correlation" in str(info.value)


def test_the_producer_reports_the_same_errors(fake_broker):
    broker = fake_broker(wrong_correlation)
    with kafkette.Producer(["127.0.0.1:%d" % broker.port], "hostile", socket_timeout_ms=1000,
                           connect_timeout_ms=1000, max_send_retries=0) as p:
        with pytest.raises(kafkette.Error) as info:
            p.send_messages([kafkette.MessageToSend("t", b"v")])
    # no seed could be used: the reason names the correlation mismatch
    assert "correlation" in str(info.value)
