"""ConsumerGroup against the real broker: members in separate processes share a topic's
partitions and hand them over, commits survive restarts, rebalance callbacks (and commits
inside them), a librdkafka member in the same group, bad input, Ctrl-C and close() wake-ups."""
import ast
import gc
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
import weakref

import pytest
from conftest import sigint_after

import kafkette

# Short sessions keep hand-overs quick: 6000 ms is the broker's default minimum.
FAST = dict(session_timeout_ms=6000, heartbeat_interval_ms=500, max_wait_ms=100)

# One member in its own process. It reports dicts (one repr per line) on stdout (assign/revoke/got/closed)
# and closes the group from a second thread when "close" arrives on stdin.
MEMBER = r"""
import sys, threading
import kafkette

bootstrap, group_name, topic = sys.argv[1:4]
out_lock = threading.Lock()

def say(**event):
    with out_lock:
        sys.stdout.write(repr(event) + "\n")
        sys.stdout.flush()

group = None

def on_assign(parts):
    say(assign=sorted(p.partition for p in parts), gen=group.generation if group else None)

def on_revoke(parts):
    group.commit()  # everything handed out so far: the last chance before the partitions go
    say(revoke=sorted(p.partition for p in parts))

group = kafkette.ConsumerGroup(group_name, bootstrap, [topic], session_timeout_ms=6000,
                               heartbeat_interval_ms=500, max_wait_ms=100, auto_commit_interval_ms=0,
                               on_assign=on_assign, on_revoke=on_revoke, client_id="member")
say(ready=True, claimed=sorted(p.partition for p in group.claimed), gen=group.generation)

def closer():
    for line in sys.stdin:
        if line.strip() == "close":
            group.close()
            return

closing = threading.Thread(target=closer, daemon=True)
closing.start()
for tp, messages in group:
    say(got=[[tp.partition, m.offset] for m in messages])
    group.commit(tp, messages[-1].offset + 1)
closing.join()  # the loop ends as soon as close() wakes it; the leave is still under way
say(closed=True)
"""


class Member:
    """A group member in a child process, with its events collected by a reader thread."""

    def __init__(self, brokers, group_name, topic):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", MEMBER, ",".join(brokers), group_name, topic],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line)

    @property
    def events(self):
        # literal_eval rather than json: CPython's _json scanner upsets valgrind
        # (script/valgrind-python runs these tests under it)
        with self.lock:
            lines = list(self.lines)
        return [ast.literal_eval(line) for line in lines]

    def assignment(self):
        """The partitions of the last on_assign, and its generation (None, None between a revoke
        and the next assign). The constructor's on_assign has no group to ask for the generation
        yet: the "ready" event that follows it has."""
        parts = gen = None
        for e in self.events:
            if "revoke" in e:
                parts = gen = None
            elif "assign" in e:
                parts, gen = e["assign"], e["gen"]
            elif "ready" in e:
                parts, gen = e["claimed"], e["gen"]
        return parts, gen

    def seen(self):
        return [tuple(x) for e in self.events if "got" in e for x in e["got"]]

    def close(self):
        self.proc.stdin.write("close\n")
        self.proc.stdin.flush()

    def finish(self, timeout=15):
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.reader.join(5)
        return self.proc.returncode

    def stderr(self):
        return self.proc.stderr.read() if self.proc.poll() is not None else ""


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def settled(members, sizes):
    """True when every member's last assignment has the expected size, all from one generation,
    and together they cover every partition exactly once."""
    views = [m.assignment() for m in members]
    if any(parts is None or gen is None for parts, gen in views):
        return False
    if len({gen for _, gen in views}) != 1:
        return False
    parts = [p for ps, _ in views for p in ps]
    return sorted(len(ps) for ps, _ in views) == sorted(sizes) and sorted(parts) == list(range(sum(sizes)))


def produce(brokers, topic, per_partition, partitions, tag):
    msgs = [
        kafkette.MessageToSend(topic, b"%s-%d-%d" % (tag, p, i), partition=p)
        for p in range(partitions)
        for i in range(per_partition)
    ]
    with kafkette.Producer(brokers, "group-filler") as producer:
        assert producer.send_messages(msgs)
    return msgs


def group_name():
    return "pyg-" + uuid.uuid4().hex[:12]


@pytest.fixture
def six(brokers, new_topic):
    topic = new_topic(6)
    produce(brokers, topic, 50, 6, b"a")
    return topic


def test_three_processes_split_six_partitions_and_hand_them_over(brokers, six):
    name = group_name()
    members = [Member(brokers, name, six) for _ in range(3)]
    try:
        wait_until(lambda: settled(members, [2, 2, 2]), 30, "three members with two partitions each")
        a, b, c = members
        # a leaves cleanly (LeaveGroup): the others split its partitions at once
        started = time.monotonic()
        a.close()
        assert a.finish() == 0, a.stderr()
        assert any(e.get("closed") for e in a.events)
        wait_until(lambda: settled([b, c], [3, 3]), 15, "the two survivors with three partitions each")
        assert time.monotonic() - started < 6, "a clean leave should not wait for the session timeout"
        # c dies without leaving: after the session timeout, b owns all six
        c.proc.kill()
        c.finish()
        started = time.monotonic()
        wait_until(lambda: settled([b], [6]), 20, "the last member owning all six partitions")
        assert time.monotonic() - started < 6 + 6, "took longer than the session timeout plus a rebalance"
        # new records reach the last member; no record of any partition was skipped
        produce(brokers, six, 10, 6, b"b")
        wait_until(lambda: len({x for x in b.seen()} | {x for m in (a, c) for x in m.seen()}) >= 360, 20,
                   "every record consumed")
        b.close()
        assert b.finish() == 0, b.stderr()
        seen = {x for m in members for x in m.seen()}
        assert seen == {(p, o) for p in range(6) for o in range(60)}
        # each member saw only partitions it had claimed; the first three saw disjoint sets
        for m in members:
            claimed = {p for e in m.events if "assign" in e for p in e["assign"]}
            assert {p for p, _ in m.seen()} <= claimed
        # a restart resumes at the committed offsets: everything was committed, nothing comes back
        with kafkette.ConsumerGroup(name, brokers, [six], auto_commit_interval_ms=0, **FAST) as g:
            assert sorted(tp.partition for tp in g.claimed) == list(range(6))
            assert [g.committed(six, p) for p in range(6)] == [60] * 6
            assert g.poll(timeout_ms=1000) is None
    finally:
        for m in members:
            if m.proc.poll() is None:
                m.proc.kill()
            m.finish()


def test_restart_resumes_at_the_committed_offset(brokers, topic):
    produce(brokers, topic, 20, 1, b"r")
    name = group_name()
    with kafkette.ConsumerGroup(name, brokers, topic, auto_commit_interval_ms=0, **FAST) as g:
        assert g.claimed == [(topic, 0)]
        assert isinstance(g.claimed[0], kafkette.TopicPartition) and g.claimed[0].topic == topic
        assert g.generation >= 1 and g.member_id and g.is_leader
        assert g.committed(topic, 0) is None
        tp, messages = g.poll(timeout_ms=5000)
        assert tp == (topic, 0) and tp.partition == 0 and messages[0].offset == 0
        g.commit(tp, 7)
        g.commit(topic, 0, 5)  # backwards: ignored
        assert g.committed(topic, 0) == 7
    # auto-commit was off: close committed nothing more
    with kafkette.ConsumerGroup(name, brokers, [topic], auto_commit_interval_ms=0, **FAST) as g:
        assert g.committed(topic, 0) == 7
        tp, messages = g.poll(timeout_ms=5000)
        assert [m.offset for m in messages][:1] == [7]
        g.commit()  # everything poll handed out
        assert g.committed(topic, 0) == 7 + len(messages)


def test_auto_commit_commits_on_its_interval_and_on_close(brokers, topic):
    produce(brokers, topic, 10, 1, b"c")
    name = group_name()
    g = kafkette.ConsumerGroup(name, brokers, [topic], auto_commit_interval_ms=300, **FAST)
    tp, messages = g.poll(timeout_ms=5000)
    assert len(messages) == 10
    assert g.committed(topic, 0) is None  # not yet due
    deadline = time.monotonic() + 5
    while g.committed(topic, 0) != 10 and time.monotonic() < deadline:
        assert g.poll(timeout_ms=200) is None
    assert g.committed(topic, 0) == 10
    produce(brokers, topic, 3, 1, b"d")
    tp, messages = g.poll(timeout_ms=5000)
    assert [m.offset for m in messages] == [10, 11, 12]
    g.close()  # commits what was handed out
    with kafkette.ConsumerGroup(name, brokers, [topic], auto_commit_interval_ms=0, **FAST) as g2:
        assert g2.committed(topic, 0) == 13


def test_trail_starts_at_the_end_without_a_commit(brokers, topic):
    produce(brokers, topic, 5, 1, b"old")
    with kafkette.ConsumerGroup(group_name(), brokers, [topic], trail=True, **FAST) as g:
        assert g.poll(timeout_ms=500) is None
        produce(brokers, topic, 2, 1, b"new")
        got = []
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            batch = g.poll(timeout_ms=500)
            got += batch[1] if batch else []
        assert [m.value for m in got] == [b"new-0-0", b"new-0-1"]


def test_rebalance_callbacks_and_commit_inside_on_revoke(brokers, new_topic):
    topic = new_topic(4)
    produce(brokers, topic, 5, 4, b"cb")
    events = []
    holder = {}

    def on_assign(parts):
        events.append(("assign", sorted(p.partition for p in parts), holder["g"].claimed if "g" in holder else None))

    def on_revoke(parts):
        g = holder["g"]
        g.commit()  # what was handed out on every partition still claimed
        if 0 in [p.partition for p in parts]:
            g.commit(topic, 0, 5)  # per partition: already at 5, so nothing is sent
        events.append(("revoke", sorted(p.partition for p in parts)))

    g = kafkette.ConsumerGroup(group_name(), brokers, [topic], auto_commit_interval_ms=0,
                               on_assign=on_assign, on_revoke=on_revoke, **FAST)
    holder["g"] = g
    try:
        assert events == [("assign", [0, 1, 2, 3], None)]
        seen = set()
        deadline = time.monotonic() + 10
        while len(seen) < 20 and time.monotonic() < deadline:
            batch = g.poll(timeout_ms=500)
            if batch:
                seen |= {(batch[0].partition, m.offset) for m in batch[1]}
        assert len(seen) == 20
        assert [g.committed(topic, p) for p in range(4)] == [None] * 4  # auto-commit is off
        # a second member (another process) joins: ours gives up all four, then takes two back
        other = Member(brokers, g.group_name, topic)
        try:
            # (our member rejoins only inside poll, so poll while waiting)
            wait_until(lambda: (g.poll(timeout_ms=100) or True) and other.assignment()[0] is not None
                       and len(g.claimed) == 2, 30, "the second member's share")
            assert events[1] == ("revoke", [0, 1, 2, 3])
            assert events[2][0] == "assign" and len(events[2][1]) == 2
            assert events[2][2] == [(topic, p) for p in events[2][1]]  # claimed, seen from inside on_assign
            assert sorted(events[2][1] + other.assignment()[0]) == [0, 1, 2, 3]
            # the commit inside on_revoke went through for all four partitions
            assert [g.committed(topic, p) for p in range(4)] == [5] * 4
            # the other member started at those commits: it gets nothing old
            time.sleep(1.0)
            assert other.seen() == []
            other.close()
            assert other.finish() == 0, other.stderr()
        finally:
            if other.proc.poll() is None:
                other.proc.kill()
            other.finish()
        wait_until(lambda: (g.poll(timeout_ms=100) or True) and len(g.claimed) == 4, 15, "all four back")
        assert events[3] == ("revoke", events[2][1])
        assert events[4][:2] == ("assign", [0, 1, 2, 3])
        g.close()
        assert events[5] == ("revoke", [0, 1, 2, 3]) and len(events) == 6
    finally:
        g.close()


def test_a_callback_error_surfaces_from_poll_and_the_group_goes_on(brokers, new_topic):
    topic = new_topic(2)
    produce(brokers, topic, 3, 2, b"e")
    calls = []

    def on_revoke(parts):
        calls.append(len(parts))
        if len(calls) == 1:
            raise LookupError("revoke failed")

    g = kafkette.ConsumerGroup(group_name(), brokers, [topic], on_revoke=on_revoke, **FAST)
    other = Member(brokers, g.group_name, topic)
    try:
        with pytest.raises(LookupError, match="revoke failed"):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                g.poll(timeout_ms=200)
        wait_until(lambda: (g.poll(timeout_ms=100) or True) and len(g.claimed) == 1, 20, "the group settles")
        other.close()
        assert other.finish() == 0, other.stderr()
    finally:
        if other.proc.poll() is None:
            other.proc.kill()
        other.finish()
        g.close()
    assert calls[0] == 2 and calls[-1] == 1


def test_an_on_assign_error_fails_the_constructor(brokers, topic):
    def boom(parts):
        raise RuntimeError("assign failed: %d" % len(parts))

    with pytest.raises(RuntimeError, match="assign failed: 1"):
        kafkette.ConsumerGroup(group_name(), brokers, [topic], on_assign=boom, **FAST)


def test_poll_close_and_committed_are_refused_inside_a_callback(brokers, topic):
    errors = []
    holder = {}

    def on_revoke(parts):
        g = holder["g"]
        for call in (lambda: g.poll(timeout_ms=10), g.close, lambda: g.committed(topic, 0)):
            try:
                call()
            except RuntimeError as e:
                errors.append(str(e))

    g = kafkette.ConsumerGroup(group_name(), brokers, [topic], on_revoke=on_revoke, **FAST)
    holder["g"] = g
    g.close()
    assert len(errors) == 3 and all("not allowed inside a callback of this group" in e for e in errors)


def test_a_kafkette_member_and_a_confluent_consumer_share_a_group(brokers, new_topic):
    confluent_kafka = pytest.importorskip("confluent_kafka")
    topic = new_topic(6)
    produce(brokers, topic, 5, 6, b"x")
    name = group_name()
    g = kafkette.ConsumerGroup(name, brokers, [topic], **FAST)
    seen = []

    def run():
        for tp, messages in g:
            seen.extend((tp.partition, m.offset) for m in messages)

    t = threading.Thread(target=run)
    t.start()
    c = confluent_kafka.Consumer({
        "bootstrap.servers": ",".join(brokers),
        "group.id": name,
        "partition.assignment.strategy": "range",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
    })
    theirs = []
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = c.poll(0.1)
            if m is not None and m.error() is None:
                theirs.append((m.partition(), m.offset()))
            ours = {tp.partition for tp in g.claimed}
            assigned = {tp.partition for tp in c.assignment()}
            if len(ours) == 3 and len(assigned) == 3 and ours | assigned == set(range(6)):
                break
        assert {tp.partition for tp in g.claimed} | {tp.partition for tp in c.assignment()} == set(range(6))
        assert len(g.claimed) == 3 and len(c.assignment()) == 3
        assert all(tp.topic == topic for tp in c.assignment())
    finally:
        c.close()
        g.close()  # wakes the iterating thread
        t.join(10)
    assert not t.is_alive()
    assert {p for p, _ in seen} <= set(range(6))


@pytest.mark.parametrize(
    "args, options, exc, match",
    [
        (("", None, None), {}, ValueError, "group id must not be empty"),
        (("g", None, []), {}, ValueError, "topic list is empty"),
        (("g", None, None), {"assignor": "sticky"}, kafkette.InvalidArgumentError,
         "option 'assignor' takes one of 'range', 'roundrobin', not 'sticky'"),
        (("g", None, None), {"bogus": 1}, kafkette.InvalidArgumentError, "unknown option 'bogus' for a group"),
        (("g", None, None), {"on_assign": 5}, TypeError, "option 'on_assign' takes a callable, not an int"),
        (("g", None, None), {"session_timeout_ms": 1.5}, TypeError, "session_timeout_ms' takes an integer"),
        (("g", None, None), {"offset_reset": "middle"}, ValueError, "option 'offset_reset' takes one of"),
        (("g", None, None), {"heartbeat_interval_ms": 7000, "session_timeout_ms": 6000}, ValueError,
         "must be below session_timeout_ms"),
        (("g", None, 42), {}, TypeError, "topics must be a list of str"),
        (("g", [], None), {}, ValueError, "option 'bootstrap_servers' takes a list of strings"),
    ],
)
def test_bad_arguments_are_refused_clearly(brokers, topic, args, options, exc, match):
    name, b, topics = args
    with pytest.raises(exc, match=match):
        kafkette.ConsumerGroup(name, brokers if b is None else b, [topic] if topics is None else topics, **options)


def test_invalid_arguments_from_the_core_are_invalid_argument_errors(brokers, topic):
    with pytest.raises(kafkette.InvalidArgumentError) as info:
        kafkette.ConsumerGroup("g", brokers, [topic], assignor="sticky")
    assert info.value.code == -110 and isinstance(info.value, kafkette.Error)


def test_a_missing_topic_is_named(brokers, topic):
    missing = "py-missing-" + uuid.uuid4().hex[:8]
    with pytest.raises(kafkette.UnknownTopicOrPartition, match=missing):
        kafkette.ConsumerGroup(group_name(), brokers, [topic, missing], **FAST)


def test_an_unreachable_broker_fails_the_constructor_quickly():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens once it is closed
    started = time.monotonic()
    with pytest.raises(kafkette.ConnectionFailedError, match="connection refused"):
        kafkette.ConsumerGroup("g", ["127.0.0.1:%d" % port], ["t"], **FAST)
    assert time.monotonic() - started < 5


def test_topic_partition_is_a_plain_tuple_with_names():
    import pickle

    tp = kafkette.TopicPartition(("t", 3))
    assert tp == ("t", 3) and hash(tp) == hash(("t", 3)) and (tp.topic, tp.partition) == ("t", 3)
    assert pickle.loads(pickle.dumps(tp)) == tp  # crosses multiprocessing queues
    assert repr(tp) == "kafkette.TopicPartition(topic='t', partition=3)"


def test_commit_of_a_partition_not_owned_is_not_assigned(brokers, topic):
    with kafkette.ConsumerGroup(group_name(), brokers, [topic], **FAST) as g:
        with pytest.raises(kafkette.NotAssignedError, match=r"\[3\] is not claimed by this member") as info:
            g.commit(topic, 3, 10)
        assert info.value.code == -120 and isinstance(info.value, kafkette.Error)
        assert kafkette.error_class(-120) is kafkette.NotAssignedError
        with pytest.raises(kafkette.NotAssignedError):
            g.commit(("some-other-topic", 0), 1)
        with pytest.raises(TypeError):
            g.commit(topic, 0)
        with pytest.raises(TypeError):
            g.commit(topic, 0, 1, 2)
        with pytest.raises(ValueError):
            g.commit(topic, 0, -1)
    with pytest.raises(kafkette.ConsumerClosedError):
        g.commit(topic, 0, 1)
    with pytest.raises(kafkette.ConsumerClosedError):
        g.poll()
    assert g.closed and g.claimed == [] and g.generation is None
    g.close()  # idempotent
    assert "closed" in repr(g)


@pytest.fixture
def default_sigint_handler():
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.mark.timing
def test_ctrl_c_interrupts_a_waiting_poll(brokers, topic, default_sigint_handler):
    with kafkette.ConsumerGroup(group_name(), brokers, [topic], **FAST) as g:
        stamps = []
        t = sigint_after(0.3, stamps)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            g.poll(timeout_ms=10000)
        end = time.monotonic()
        t.join()
        assert end - stamps[0] < 0.5, "KeyboardInterrupt came %.3f s after SIGINT" % (end - stamps[0])
        assert end - start < 1.5
        # still a member, and nothing lost
        produce(brokers, topic, 1, 1, b"after")
        batch = None
        deadline = time.monotonic() + 5
        while batch is None and time.monotonic() < deadline:
            batch = g.poll(timeout_ms=500)
        assert [m.value for m in batch[1]] == [b"after-0-0"]


@pytest.mark.timing
def test_close_from_another_thread_ends_the_iteration(brokers, topic):
    g = kafkette.ConsumerGroup(group_name(), brokers, [topic], **FAST)
    done = queue.Queue()

    def run():
        for _ in g:
            pass
        done.put(time.monotonic())

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    start = time.monotonic()
    g.close()
    ended = done.get(timeout=5)
    t.join(5)
    assert ended - start < 0.5 + 0.5  # the wake-up, then the leave itself
    assert g.closed


def test_a_group_in_a_reference_cycle_is_collected(brokers, topic):
    class App:
        def __init__(self):
            self.group = kafkette.ConsumerGroup(group_name(), brokers, [topic], on_revoke=self.revoked, **FAST)

        def revoked(self, parts):
            pass

    app = App()
    ref = weakref.ref(app.group)
    app.group.close()
    del app
    gc.collect()
    assert ref() is None


def test_stub_members_match_the_runtime():
    from pathlib import Path

    stub = Path(kafkette.__file__).with_name("_kafkette.pyi")
    tree = ast.parse(stub.read_text())
    for cls in ("ConsumerGroup", "TopicPartition"):
        (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
        stubbed = {i.name for i in node.body if isinstance(i, ast.FunctionDef)}
        stubbed |= {i.target.id for i in node.body if isinstance(i, ast.AnnAssign)}
        stubbed = {m for m in stubbed if not m.startswith("_") or m in ("__enter__", "__exit__")}
        klass = getattr(kafkette._kafkette, cls)
        runtime = {m for m in dir(klass) if not m.startswith("_") or m in ("__enter__", "__exit__")}
        runtime -= {"count", "index"} if cls == "TopicPartition" else set()  # tuple's own methods
        assert stubbed == runtime, cls
