"""KIP-848 consumer groups from Python: group_protocol="consumer" goes through the core's option
table like every option, and a kafkette member shares a group with a confluent-kafka member
that speaks the same protocol (group.protocol=consumer)."""
import time
import uuid

import pytest

import kafkette


def produce(brokers, topic, per_partition, partitions):
    msgs = [
        kafkette.MessageToSend(topic, b"%d-%d" % (p, i), partition=p)
        for p in range(partitions)
        for i in range(per_partition)
    ]
    with kafkette.Producer(brokers, "kip848-producer") as producer:
        producer.send_messages(msgs)


def group_name():
    return "py848-" + uuid.uuid4().hex[:12]


def test_options_go_through_the_table(brokers, topic):
    with pytest.raises(kafkette.InvalidArgumentError, match="group_protocol"):
        kafkette.ConsumerGroup(group_name(), brokers, [topic], group_protocol="next")
    with pytest.raises(kafkette.InvalidArgumentError, match="group_remote_assignor"):
        kafkette.ConsumerGroup(group_name(), brokers, [topic], group_protocol="consumer",
                               group_remote_assignor="sticky")


def test_consumer_protocol_consumes_and_commits(brokers, new_topic):
    topic = new_topic(3)
    produce(brokers, topic, 10, 3)
    assigned = []
    seen = set()
    with kafkette.ConsumerGroup(group_name(), brokers, [topic], group_protocol="consumer",
                                group_remote_assignor="uniform", auto_commit_interval_ms=0,
                                on_assign=lambda parts: assigned.extend(parts)) as g:
        deadline = time.monotonic() + 30
        while len(seen) < 30 and time.monotonic() < deadline:
            got = g.poll(timeout_ms=200)
            if got:
                tp, messages = got
                seen.update((tp.partition, m.offset) for m in messages)
                g.commit()
        assert sorted(tp.partition for tp in g.claimed) == [0, 1, 2]
        assert sorted(tp.partition for tp in assigned) == [0, 1, 2]
        assert g.generation >= 1 and g.member_id
        assert [g.committed(topic, p) for p in range(3)] == [10, 10, 10]
    assert seen == {(p, o) for p in range(3) for o in range(10)}


def test_mixed_group_with_confluent_kafka(brokers, new_topic):
    ck = pytest.importorskip("confluent_kafka")
    if ck.libversion()[1] < 0x020C0000:  # group.protocol=consumer is GA from librdkafka 2.12
        pytest.skip("librdkafka %s does not speak KIP-848" % ck.libversion()[0])
    topic = new_topic(4)
    produce(brokers, topic, 30, 4)
    name = group_name()
    seen = []
    with kafkette.ConsumerGroup(name, brokers, [topic], group_protocol="consumer",
                                auto_commit_interval_ms=0) as g:
        deadline = time.monotonic() + 30
        while len(g.claimed) < 4 and time.monotonic() < deadline:
            got = g.poll(timeout_ms=100)
            if got:
                tp, messages = got
                seen.extend(("kafkette", tp.partition, m.offset) for m in messages)
                g.commit()
        other = ck.Consumer({"bootstrap.servers": ",".join(brokers), "group.id": name,
                             "group.protocol": "consumer", "auto.offset.reset": "earliest",
                             "enable.auto.commit": False})
        try:
            other.subscribe([topic])
            deadline = time.monotonic() + 60
            shared = produced = False
            while len(seen) < 240 and time.monotonic() < deadline:
                if shared and not produced:
                    produce(brokers, topic, 30, 4)  # offsets 30..59, for both members
                    produced = True
                got = g.poll(timeout_ms=50)
                if got:
                    tp, messages = got
                    seen.extend(("kafkette", tp.partition, m.offset) for m in messages)
                    g.commit()
                msg = other.poll(0.05)
                if msg is not None and not msg.error():
                    seen.append(("confluent", msg.partition(), msg.offset()))
                    other.commit(message=msg, asynchronous=False)
                mine = {tp.partition for tp in g.claimed}
                theirs = {tp.partition for tp in other.assignment()}
                if mine and theirs and not mine & theirs and len(mine | theirs) == 4:
                    shared = True
            assert shared, "the two members never shared the partitions"
        finally:
            other.close()
    records = [(p, o) for _, p, o in seen]
    assert sorted(records) == [(p, o) for p in range(4) for o in range(60)]  # each exactly once
    assert {who for who, _, _ in seen} == {"kafkette", "confluent"}


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_pause_resume_seek(brokers, new_topic, protocol):
    topic = new_topic(2)
    produce(brokers, topic, 10, 2)
    with kafkette.ConsumerGroup(group_name(), brokers, [topic], group_protocol=protocol,
                                auto_commit_interval_ms=0) as g:
        deadline = time.monotonic() + 30
        seen = 0
        while seen < 20 and time.monotonic() < deadline:
            got = g.poll(timeout_ms=200)
            if got:
                seen += len(got[1])
                g.commit()
        assert seen == 20 and g.paused == []
        g.pause(topic, 0)
        g.seek(topic, 1, offset=3)
        assert g.paused == [(topic, 0)]
        with pytest.raises(kafkette.NotAssignedError):
            g.pause(topic, 5)
        with pytest.raises(ValueError):
            g.seek(topic, 1, -1)
        produce(brokers, topic, 1, 2)  # offset 10 in both partitions
        first = {}
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            got = g.poll(timeout_ms=200)
            if got:
                first.setdefault(got[0].partition, got[1][0].offset)
        assert first == {1: 3}  # the paused partition was not fetched
        g.resume(topic, 0)
        assert g.paused == []
        deadline = time.monotonic() + 10
        while 0 not in first and time.monotonic() < deadline:
            got = g.poll(timeout_ms=200)
            if got:
                first.setdefault(got[0].partition, got[1][0].offset)
        assert first == {0: 10, 1: 3}
