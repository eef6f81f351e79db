"""Shared fixtures for kafkette's Python tests. They run against a real broker: set
KAFKETTE_BOOTSTRAP (script/test and script/test.d/20-python do, from script/kafka start)."""
import os
import signal
import threading
import time
import uuid

import pytest

import kafkette

BOOTSTRAP = os.environ.get("KAFKETTE_BOOTSTRAP", "")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (set KAFKETTE_SLOW=1 to run)")
    config.addinivalue_line("markers", "timing: asserts wall-clock bounds or RSS (skipped under valgrind)")
    if not BOOTSTRAP:
        raise pytest.UsageError(
            "KAFKETTE_BOOTSTRAP is not set: these tests need a real broker. Start one with "
            "`script/kafka start` and export KAFKETTE_BOOTSTRAP=<the list it prints>."
        )


def pytest_collection_modifyitems(config, items):
    if os.environ.get("KAFKETTE_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: set KAFKETTE_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def brokers():
    return [b.strip() for b in BOOTSTRAP.split(",") if b.strip()]


@pytest.fixture(scope="session")
def host_port(brokers):
    host, port = brokers[0].rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def new_topic(brokers):
    """new_topic(partitions=1, **configs) creates a topic with a unique name and returns it."""

    def make(partitions=1, configs=None):
        name = "py-" + uuid.uuid4().hex[:16]
        kafkette.create_topic(brokers, name, partitions, configs=configs)
        return name

    return make


@pytest.fixture
def topic(new_topic):
    return new_topic(1)


@pytest.fixture
def producer(brokers):
    with kafkette.Producer(brokers, "py-test-producer") as p:
        yield p


def sigint_after(delay, stamps):
    """Sends this process SIGINT after delay seconds from a thread (its time goes into stamps);
    returns the thread to join."""

    def fire():
        time.sleep(delay)
        stamps.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=fire)
    t.start()
    return t


def rss_kb():
    """The process's resident memory in KiB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def consume_all(brokers, topic, partition=0, expected=None, offset="earliest_offset", timeout=10.0, **options):
    """Reads a partition from offset until `expected` messages (or the high watermark) arrive."""
    import time

    out = []
    with kafkette.PartitionConsumer.consumer_for_partition(
        "py-test-consumer", brokers, topic, partition, offset, max_wait_ms=100, **options
    ) as c:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out.extend(c.fetch())
            if expected is not None and len(out) >= expected:
                break
            if expected is None and c.highwater_mark is not None and c.next_offset >= c.highwater_mark:
                break
    return out


def murmur2(data: bytes) -> int:
    """The Java client's murmur2 (seed 0x9747b28c), written out independently for the tests."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    i = 0
    while length - i >= 4:
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
        i += 4
    rest = length - i
    if rest == 3:
        h ^= data[i + 2] << 16
    if rest >= 2:
        h ^= data[i + 1] << 8
    if rest >= 1:
        h ^= data[i]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def murmur2_partition(key: bytes, count: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % count
