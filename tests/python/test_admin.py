"""kafkette.Admin against the real broker: topics (list, describe, create, grow, delete records,
configs), offsets (watermarks, offsets for times), groups (list, describe with members and
assignments, lag without joining), errors through the exception tree, close and the context
manager. tests/ruby/test_admin.rb checks the same in Ruby."""
import threading
import time
import uuid

import pytest
from conftest import rss_kb

import kafkette


@pytest.fixture
def admin(brokers):
    with kafkette.Admin(brokers, "py-test-admin") as a:
        yield a


def fill(brokers, topic, partition, n):
    with kafkette.Producer(brokers, "py-test-admin-producer") as p:
        p.send_messages([kafkette.MessageToSend(topic, b"v%d" % i, partition=partition) for i in range(n)])


def test_topics_round_trip(admin, brokers):
    name = "py-admin-" + uuid.uuid4().hex[:12]
    admin.create_topic(name, 2, configs={"retention.ms": 3600000})
    admin.create_topic(name, 2, exist_ok=True)
    with pytest.raises(kafkette.TopicAlreadyExists):
        admin.create_topic(name, 2)
    assert name in admin.list_topics()
    assert "__consumer_offsets" not in admin.list_topics()
    assert admin.partition_counts([name]) == {name: 2}
    (desc,) = admin.describe_topics([name])
    assert isinstance(desc, kafkette.TopicDescription) and desc.name == name and not desc.internal
    assert [p.partition for p in desc.partitions] == [0, 1]
    assert all(p.leader is not None and p.leader in p.isr and p.high_watermark == 0 for p in desc.partitions)

    admin.create_partitions(name, 3)
    assert admin.partition_count(name) == 3
    with pytest.raises(kafkette.InvalidPartitions):
        admin.create_partitions(name, 3)

    fill(brokers, name, 1, 10)
    assert admin.watermarks(name, 1) == kafkette.Watermarks(0, 10)
    assert admin.delete_records(name, 1, 4) == 4
    assert admin.watermarks(name, 1).low == 4

    admin.delete_topic(name)
    admin.delete_topic(name, missing_ok=True)
    with pytest.raises(kafkette.UnknownTopicOrPartition):
        admin.delete_topic(name)


def test_missing_topic_raises(admin):
    missing = "py-missing-" + uuid.uuid4().hex[:8]
    with pytest.raises(kafkette.UnknownTopicOrPartition):
        admin.describe_topics([missing])
    with pytest.raises(kafkette.UnknownTopicOrPartition):
        admin.partition_count(missing)


def test_offsets_for_times(admin, brokers, new_topic):
    name = new_topic(2)
    before = int(time.time() * 1000) - 1000
    fill(brokers, name, 0, 3)
    found = admin.offsets_for_times(name, before)
    assert set(found) == {0, 1}
    assert found[0].offset == 0 and found[0].timestamp >= before
    assert found[1] == kafkette.OffsetAndTimestamp(None, None)
    assert admin.offsets_for_times(name, int(time.time() * 1000) + 60000, partitions=[0])[0].offset is None


def eventually(check, timeout=10.0):
    """A topic config change reaches every broker a moment after the call returns."""
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert check()


def test_configs(admin, topic):
    admin.alter_configs(topic, {"retention.ms": 1234567, "cleanup.policy": "compact"})
    eventually(lambda: admin.describe_configs(topic)["retention.ms"].value == "1234567")
    configs = admin.describe_configs(topic)
    entry = configs["retention.ms"]
    assert isinstance(entry, kafkette.ConfigEntry)
    assert (entry.value, entry.source, entry.is_default) == ("1234567", "DYNAMIC_TOPIC_CONFIG", False)
    admin.alter_configs(topic, {"retention.ms": None})
    eventually(lambda: admin.describe_configs(topic)["retention.ms"].is_default)
    assert admin.describe_configs(topic)["cleanup.policy"].value == "compact"
    admin.alter_configs(topic, {"retention.ms": 1}, validate_only=True)
    assert admin.describe_configs(topic)["retention.ms"].is_default
    with pytest.raises(ValueError):
        admin.describe_configs(topic, resource="cluster")
    broker = admin.describe_topics([topic])[0].partitions[0].leader
    assert "log.retention.hours" in admin.describe_configs(broker, resource="broker")


def test_groups_describe_and_lag(admin, brokers, new_topic):
    name = new_topic(2)
    fill(brokers, name, 0, 5)
    fill(brokers, name, 1, 2)
    group_id = "py-admin-group-" + uuid.uuid4().hex[:8]
    with kafkette.ConsumerGroup(group_id, brokers, [name], auto_commit_interval_ms=0, max_wait_ms=100) as g:
        seen = 0
        deadline = time.monotonic() + 20
        while seen < 7 and time.monotonic() < deadline:
            batch = g.poll(500)
            if batch:
                tp, msgs = batch
                seen += len(msgs)
                g.commit(tp.topic, tp.partition, msgs[0].offset + 1)  # leaves lag behind
        assert seen == 7
        desc = admin.describe_group(group_id)
        assert (desc.group_id, desc.state, desc.protocol_type) == (group_id, "Stable", "consumer")
        assert desc.protocol == "range"
        (member,) = desc.members
        assert member.client_id and member.client_host
        assert sorted(member.assignment) == [(name, 0), (name, 1)]
        assert all(isinstance(tp, kafkette.TopicPartition) for tp in member.assignment)
        assert group_id in [lg.group_id for lg in admin.list_groups()]
        assert admin.describe_groups([group_id])[0].members[0].member_id == member.member_id
    lags = admin.group_lag(group_id)
    assert [(x.topic, x.partition, x.committed, x.end, x.lag) for x in lags] == [(name, 0, 1, 5, 4), (name, 1, 1, 2, 1)]
    assert admin.describe_group(group_id).state == "Empty"
    assert admin.describe_group("py-no-such-group-" + uuid.uuid4().hex).state == "Dead"


def test_options_errors_and_close(brokers):
    with pytest.raises(kafkette.InvalidArgumentError, match="request_timeout_ms"):
        kafkette.Admin(brokers, request_timeout_ms=-5)
    with pytest.raises(kafkette.InvalidArgumentError):
        kafkette.Admin(brokers, no_such_option=1)
    a = kafkette.Admin(brokers)
    assert a.client_id == "kafkette" and not a.closed
    a.close()
    a.close()
    assert a.closed
    with pytest.raises(kafkette.ClosedError):
        a.list_topics()
    with pytest.raises(kafkette.ConnectionFailedError):
        with kafkette.Admin(["127.0.0.1:1"], connect_timeout_ms=500) as dead:
            dead.list_topics()


@pytest.mark.timing
def test_close_frees_the_client(brokers):
    """close() frees the core client and its connections (it once cleared its pointer to the
    client first and leaked about 15 KiB a time)."""
    for _ in range(50):
        with kafkette.Admin(brokers) as a:
            a.list_topics()
    before = rss_kb()
    for _ in range(400):
        a = kafkette.Admin(brokers)
        a.list_topics()
        a.close()
    assert rss_kb() - before < 2048


def test_shared_between_threads(admin, topic):
    results = []
    threads = [threading.Thread(target=lambda: results.append(admin.partition_count(topic))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1, 1, 1, 1]
