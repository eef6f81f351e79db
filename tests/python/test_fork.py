"""Objects made before os.fork() and used in both processes at once (docs/BINDINGS.md, "After
fork()"): a connected Producer and PartitionConsumer, and a ConsumerGroup member. Without the
core's fork handling parent and child would share TCP streams and read each other's responses
(correlation errors, malformed responses, lost messages), and the child would pose as the
parent's group member."""

import ast
import logging
import os
import time
import uuid

import pytest

import kafkette

PER_PROCESS = 1000
BATCH = 50

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


class Lines(logging.Handler):
    """Keeps the kafkette logger's lines that would mean crossed streams."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.bad = []

    def emit(self, record):
        text = record.getMessage()
        if "correlation" in text or "malformed" in text.lower():
            self.bad.append(text)


def send_all(producer, topic, who):
    for base in range(0, PER_PROCESS, BATCH):
        msgs = [kafkette.MessageToSend(topic, b"%s-%d" % (who, base + i), partition=0) for i in range(BATCH)]
        assert producer.send_messages(msgs)


def read_all(consumer):
    """Reads partition 0 from the start until both processes' messages are there, each once."""
    seen = {b"parent": set(), b"child": set()}
    deadline = time.monotonic() + 60
    while sum(len(s) for s in seen.values()) < 2 * PER_PROCESS and time.monotonic() < deadline:
        for m in consumer.fetch(max_wait_ms=200):
            who, _, i = m.value.partition(b"-")
            if who not in seen:
                continue  # the warm-up message
            assert int(i) not in seen[who], "%r read twice" % m.value
            seen[who].add(int(i))
    return {who.decode(): len(s) for who, s in seen.items()}


def use_everything(producer, consumer, group, topic, who):
    """What both processes do at the same time; returns a report (a dict)."""
    lines = Lines()
    logging.getLogger("kafkette").addHandler(lines)
    try:
        send_all(producer, topic, who)
        counts = read_all(consumer)
        claimed = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            group.poll(timeout_ms=200)
            claimed = [tuple(tp) for tp in group.claimed]
            # the child waits for its own claim, the parent for the rebalance the child caused
            if claimed and (who == b"child" or len(claimed) == 1):
                break
        report = dict(counts=counts, member_id=group.member_id, claimed=claimed, generation=group.generation)
        group.commit()
        return report
    finally:
        logging.getLogger("kafkette").removeHandler(lines)
        if lines.bad:
            raise AssertionError("crossed streams: %r" % lines.bad[:5])


def test_objects_made_before_fork_work_in_parent_and_child(brokers, new_topic):
    topic, group_topic = new_topic(1), new_topic(2)
    producer = kafkette.Producer(brokers, "fork")
    assert producer.send_messages([kafkette.MessageToSend(topic, b"warm-up", partition=0)])  # connected
    consumer = kafkette.PartitionConsumer.consumer_for_partition("fork", brokers, topic, 0, 0, max_wait_ms=200)
    assert [m.value for m in consumer.fetch()] == [b"warm-up"]  # connected to the leader
    group = kafkette.ConsumerGroup("fork-" + uuid.uuid4().hex[:8], brokers, [group_topic], session_timeout_ms=6000,
                                   heartbeat_interval_ms=500, max_wait_ms=100)
    parent_member = group.member_id
    assert parent_member and len(group.claimed) == 2

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report as a repr on the pipe, never return into pytest
        status = 1
        try:
            os.close(read_end)
            try:
                report = use_everything(producer, consumer, group, topic, b"child")
                group.close()
            except BaseException as e:  # noqa: B036 (everything goes to the parent)
                report = dict(error="%s: %s" % (type(e).__name__, e))
            os.write(write_end, repr(report).encode())
            status = 0
        finally:
            os._exit(status)

    os.close(write_end)
    try:
        mine = use_everything(producer, consumer, group, topic, b"parent")
    finally:
        with os.fdopen(read_end, "rb") as r:
            child = ast.literal_eval(r.read().decode() or "{}")
        _, status = os.waitpid(pid, 0)
    # the report says how the child did (its exit status is valgrind's under script/valgrind-python)
    assert os.WIFEXITED(status) and child, "the child died (wait status %d)" % status
    assert "error" not in child, child["error"]

    # nothing lost, nothing read twice, in either process
    assert mine["counts"] == child["counts"] == {"parent": PER_PROCESS, "child": PER_PROCESS}
    # the child joined as a new member; the parent's membership stayed the parent's
    assert child["member_id"] and child["member_id"] != parent_member
    assert mine["member_id"] == parent_member
    assert child["claimed"] and mine["claimed"]
    if child["generation"] == mine["generation"]:  # one assignment shared between the two members
        theirs = {tuple(tp) for tp in child["claimed"]}
        assert not theirs & set(mine["claimed"]) and len(theirs | set(mine["claimed"])) == 2
    # and the parent goes on using all three
    assert producer.send_messages([kafkette.MessageToSend(topic, b"after", partition=0)])
    assert [m.value for m in consumer.fetch()] == [b"after"]
    group.poll(timeout_ms=100)
    assert group.member_id == parent_member
    group.close()
    consumer.close()
    producer.close()
