#!/usr/bin/env python3
"""The page-visits example: visits "<epoch_ms>,www.example.com,<ip>" keyed by the visitor's IP
(192.168.2.N) go to a 5-partition topic through a custom partitioner (the last octet modulo the
partition count, so one IP's visits share a partition); a group of three consumer processes
shares the partitions and counts visits per IP; the parent merges their counts, prints the
table and checks that every visit was counted exactly once.

    PYTHONPATH=python python3 examples/page_visits.py [--visits 100000] [--bootstrap host:port]

The broker comes from --bootstrap, else KAFKA_BOOTSTRAP, else localhost:9092. Each run uses a
new topic and group (both printed), so earlier runs never count. The consumers join first, so
the group has settled when the visits arrive and they count while the producer writes.
Progress goes to stderr, the results to stdout; the exit status is 1 when the check fails.
"""
import argparse
import collections
import multiprocessing
import os
import queue
import random
import sys
import time
import uuid

import kafkette

PARTITIONS = 5
CONSUMERS = 3


def simple_partitioner(key: bytes, partition_count: int) -> int:
    """The original example's SimplePartitioner: the number after the key's last dot, modulo
    the partition count (0 when there is no dot)."""
    _, dot, last = key.rpartition(b".")
    return int(last) % partition_count if dot else 0


# ---- a consumer process --------------------------------------------------------------------


def consume(index, bootstrap, group_name, topic, events, stop):
    """Counts visits per IP for whatever partitions the group gives this member, committing
    after each batch. Reports claims and progress on `events`; when `stop` is set it leaves
    the group and sends its counts and the (partition, offset) pairs it saw."""
    counts = collections.defaultdict(collections.Counter)  # partition -> IP -> visits
    offsets = collections.defaultdict(list)  # partition -> offsets seen
    group = None
    try:
        group = kafkette.ConsumerGroup(
            group_name,
            bootstrap,
            [topic],
            client_id="page-visits-%d" % index,
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
            auto_commit_interval_ms=0,  # we commit each batch ourselves, once it is counted
        )
        reported = None
        while not stop.is_set():
            batch = group.poll(timeout_ms=200)
            if batch is not None:
                tp, messages = batch
                per_ip = counts[tp.partition]
                for m in messages:
                    per_ip[m.value.rpartition(b",")[2].decode()] += 1
                offsets[tp.partition].extend(m.offset for m in messages)
                group.commit(tp, messages[-1].offset + 1)
                events.put(("counted", index, len(messages), tp.partition, messages[-1].offset + 1))
            claim = (group.generation, [tp.partition for tp in group.claimed])
            if claim != reported:
                events.put(("claimed", index) + claim)
                reported = claim
        group.close()
        events.put(("result", index, {p: dict(c) for p, c in counts.items()}, dict(offsets)))
    except KeyboardInterrupt:
        pass  # the parent tells the story
    except BaseException as e:  # noqa: BLE001  (reported to the parent, which exits non-zero)
        events.put(("error", index, "%s: %s" % (type(e).__name__, e)))
    finally:
        if group is not None:
            try:
                group.close()
            except kafkette.Error:
                pass


# ---- the parent ------------------------------------------------------------------------------


class Progress:
    """One status line on stderr: rewritten in place on a terminal, else printed now and then."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.shown = ""
        self.last_print = 0.0

    def update(self, text, force=False):
        if self.tty:
            sys.stderr.write("\r\033[K" + text)
            sys.stderr.flush()
            self.shown = text
        elif force or time.monotonic() - self.last_print >= 1.0:
            print(text, file=sys.stderr, flush=True)
            self.last_print = time.monotonic()

    def say(self, text):
        if self.tty and self.shown:
            sys.stderr.write("\r\033[K")
        print(text, file=sys.stderr, flush=True)
        if self.tty and self.shown:
            sys.stderr.write(self.shown)
            sys.stderr.flush()

    def done(self, text):
        self.update(text, force=True)
        if self.tty:
            sys.stderr.write("\n")
            self.shown = ""


def note(text):
    print("page_visits: " + text, file=sys.stderr, flush=True)


class Run:
    """The parent's view of the consumers, fed by their events."""

    def __init__(self, progress):
        self.progress = progress
        self.claims = {}  # consumer -> (generation, [partitions])
        self.counted = collections.Counter()  # consumer -> visits counted so far
        self.positions = collections.Counter()  # partition -> the furthest offset counted + 1
        self.results = {}  # consumer -> (counts, offsets)

    def drain(self, events, wait=0.0):
        deadline = time.monotonic() + wait
        while True:
            try:
                event = events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            kind, index = event[0], event[1]
            if kind == "counted":
                self.counted[index] += event[2]
                self.positions[event[3]] = max(self.positions[event[3]], event[4])
            elif kind == "claimed":
                self.claims[index] = (event[2], event[3])
                parts = ", ".join(map(str, event[3])) or "none"
                self.progress.say("page_visits: consumer %d claims partition(s) %s (generation %s)"
                                  % (index + 1, parts, event[2]))
            elif kind == "result":
                self.results[index] = (event[2], event[3])
            elif kind == "error":
                raise SystemExit("page_visits: consumer %d failed: %s" % (index + 1, event[2]))
            wait = 0.0

    def settled(self):
        """Every consumer claims partitions of one generation, and together all of them."""
        if len(self.claims) < CONSUMERS or len({g for g, _ in self.claims.values()}) != 1:
            return False
        parts = sorted(p for _, ps in self.claims.values() for p in ps)
        return parts == list(range(PARTITIONS))


def wait_for(what, timeout, run, events, procs, done):
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("page_visits: timed out after %d s waiting for %s" % (timeout, what))
        dead = [i + 1 for i, p in enumerate(procs) if p.exitcode not in (None, 0)]
        if dead:
            raise SystemExit("page_visits: consumer(s) %s died" % ", ".join(map(str, dead)))
        run.drain(events, wait=0.1)


def produce(bootstrap, topic, visits, run, events, progress, rng):
    """Sends the visits in chunks, with the counting consumers' progress alongside. Returns
    the visits produced per IP and the number of records per partition."""
    per_ip = collections.Counter()
    per_partition = collections.Counter()
    sent = 0
    with kafkette.Producer(bootstrap, "page-visits", partitioner=simple_partitioner) as producer:
        while sent < visits:
            chunk = []
            for _ in range(min(5000, visits - sent)):
                ip = "192.168.2.%d" % rng.randrange(255)
                value = "%d,www.example.com,%s" % (time.time() * 1000, ip)
                chunk.append(kafkette.MessageToSend(topic, value, key=ip))
                per_ip[ip] += 1
            producer.send_messages(chunk)
            for m in chunk:
                per_partition[m.partition] += 1
            sent += len(chunk)
            run.drain(events)
            progress.update("page_visits: producing %s / %s visits (%d%%), counted %s so far"
                            % (f"{sent:,}", f"{visits:,}", sent * 100 // visits, f"{sum(run.counted.values()):,}"))
    return per_ip, per_partition


def octet(ip):
    return int(ip.rpartition(".")[2])


def report(visits, per_ip_sent, per_partition_sent, run, topic, group_name):
    """Merges the consumers' results, prints the tables and returns whether the check held."""
    per_ip = collections.Counter()
    per_partition = collections.Counter()
    ips_in_partition = collections.defaultdict(set)
    seen = collections.Counter()  # (partition, offset) -> times counted
    by_consumer = []
    for index in sorted(run.results):
        counts, offsets = run.results[index]
        total = 0
        for partition, ips in counts.items():
            for ip, n in ips.items():
                per_ip[ip] += n
                per_partition[partition] += n
                ips_in_partition[partition].add(ip)
                total += n
        for partition, offs in offsets.items():
            seen.update((partition, o) for o in offs)
        by_consumer.append((index, sorted(counts), total))
    counted = sum(per_ip.values())
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    expected = {(p, o) for p, n in per_partition_sent.items() for o in range(n)}
    missing = len(expected - set(seen))
    misplaced = sum(1 for p, ips in ips_in_partition.items() for ip in ips if octet(ip) % PARTITIONS != p)

    print("page visits: topic %s (%d partitions), group %s (%d consumers)"
          % (topic, PARTITIONS, group_name, len(run.results)))
    print()
    top = sorted(per_ip.items(), key=lambda kv: (-kv[1], octet(kv[0])))
    print("Visits per IP (top 20 of %d IPs)" % len(per_ip))
    print("  %-15s %9s" % ("IP", "visits"))
    for ip, n in top[:20]:
        print("  %-15s %9s" % (ip, f"{n:,}"))
    rest = top[20:]
    if rest:
        print("  %-15s %9s" % ("%d other IPs" % len(rest), f"{sum(n for _, n in rest):,}"))
        least = min(rest, key=lambda kv: (kv[1], octet(kv[0])))
        print("  (fewest: %s with %s)" % (least[0], f"{least[1]:,}"))
    print("  %-15s %9s" % ("total", f"{counted:,}"))
    print()
    print("Per consumer")
    print("  %-9s %-12s %9s" % ("consumer", "partitions", "visits"))
    for index, partitions, total in by_consumer:
        print("  %-9d %-12s %9s" % (index + 1, ", ".join(map(str, partitions)) or "-", f"{total:,}"))
    print()
    print("Per partition (an IP's visits all go to partition <last octet> %% %d)" % PARTITIONS)
    print("  %-9s %9s %9s %5s" % ("partition", "produced", "counted", "IPs"))
    for p in range(PARTITIONS):
        print("  %-9d %9s %9s %5d"
              % (p, f"{per_partition_sent[p]:,}", f"{per_partition[p]:,}", len(ips_in_partition[p])))
    print()
    ok = counted == visits and duplicates == 0 and missing == 0 and misplaced == 0 and per_ip == per_ip_sent
    print("Check: produced %s, counted %s, %d counted twice, %d missed, %d IP(s) in the wrong partition, "
          "per-IP counts %s the producer's"
          % (f"{visits:,}", f"{counted:,}", duplicates, missing, misplaced,
             "match" if per_ip == per_ip_sent else "DIFFER from"))
    print("every visit counted exactly once" if ok else "MISMATCH: the counts do not add up")
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description="Kafka's page-visits example on kafkette: produce visits, count them "
                                     "per IP with a group of %d consumers." % CONSUMERS)
    parser.add_argument("--visits", type=int, default=100000, help="visits to produce (100000)")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP") or "localhost:9092",
                        help="brokers, host:port[,host:port] (KAFKA_BOOTSTRAP, else localhost:9092)")
    parser.add_argument("--seed", type=int, help="seed for the random IPs (default: random)")
    args = parser.parse_args(argv)
    if args.visits <= 0:
        parser.error("--visits must be positive")
    bootstrap = [b.strip() for b in args.bootstrap.split(",") if b.strip()]
    run_id = uuid.uuid4().hex[:8]
    topic = "page_visits_" + run_id
    group_name = "page_visits_counter_" + run_id
    progress = Progress()

    note("creating topic %s with %d partitions on %s" % (topic, PARTITIONS, ",".join(bootstrap)))
    kafkette.create_topic(bootstrap, topic, PARTITIONS)

    # spawn, not fork: each consumer starts with a fresh interpreter and its own connections
    ctx = multiprocessing.get_context("spawn")
    events = ctx.Queue()
    stop = ctx.Event()
    procs = [ctx.Process(target=consume, args=(i, bootstrap, group_name, topic, events, stop), daemon=True)
             for i in range(CONSUMERS)]
    run = Run(progress)
    started = time.monotonic()
    try:
        note("starting %d consumers in group %s" % (CONSUMERS, group_name))
        for p in procs:
            p.start()
        wait_for("the consumers to share the partitions", 60, run, events, procs, run.settled)
        note("the group has settled in %.1f s" % (time.monotonic() - started))

        started = time.monotonic()
        per_ip_sent, per_partition_sent = produce(bootstrap, topic, args.visits, run, events, progress,
                                                  random.Random(args.seed))
        produced_in = time.monotonic() - started
        progress.done("page_visits: produced %s visits in %.1f s (%s/s), counted %s so far"
                      % (f"{args.visits:,}", produced_in, f"{args.visits / max(produced_in, 1e-3):,.0f}",
                         f"{sum(run.counted.values()):,}"))

        def all_counted():
            n = sum(run.counted.values())
            progress.update("page_visits: counted %s / %s visits" % (f"{n:,}", f"{args.visits:,}"))
            return all(run.positions[p] >= per_partition_sent[p] for p in range(PARTITIONS))

        wait_for("every visit to be counted", 60, run, events, procs, all_counted)
        progress.done("page_visits: counted %s visits in %.1f s"
                      % (f"{sum(run.counted.values()):,}", time.monotonic() - started))
        stop.set()
        wait_for("the consumers' results", 30, run, events, procs, lambda: len(run.results) == CONSUMERS)
        for p in procs:
            p.join(10)
    finally:
        stop.set()
        for p in procs:
            if p.is_alive():
                p.join(5)
            if p.is_alive():
                p.terminate()
    ok = report(args.visits, per_ip_sent, per_partition_sent, run, topic, group_name)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\npage_visits: interrupted", file=sys.stderr)
        sys.exit(130)
