#!/usr/bin/env python3
"""Python client throughput: kafkette beside confluent-kafka (librdkafka) and kafka-python,
measured in the same run against the same broker, plus kafkette's C core for the binding's
overhead.

    python3 bench/python_bench.py                      # 1,000,000 records of 100 bytes, median of 3
    python3 bench/python_bench.py --records 200000 --runs 3 --codec lz4
    KAFKETTE_BOOTSTRAP=127.0.0.1:9092 python3 bench/python_bench.py   # a broker of yours

Without KAFKETTE_BOOTSTRAP (or --bootstrap) it starts its own single-node broker with
script/kafka (state in tests/.kafka-pybench) and stops it at the end. kafkette must be
importable (pip install . or setup.py build_ext --inplace; python/ is put on sys.path).
Every measurement runs in a fresh child process and prints one RESULT line; the parent
prints the table. A run that loses or reorders records fails the benchmark (exit 1).
"""
import argparse
import os
import resource
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = ("kafkette", "kafkette-loop", "confluent-kafka", "kafka-python")
# kafkette-loop: Producer.produce() per record with poll(), the same loop as confluent-kafka's
# (kafkette: send_messages in batches of --batch). It has no consume side.
PRODUCE_ONLY = ("kafkette-loop",)


# ---- one measurement (child process) -------------------------------------------------------


def values(size, count=1024):
    """count distinct values of size bytes, cut from one pool of text so codecs have work."""
    pool = (b"kafkette benchmark payload: the quick brown fox jumps over the lazy dog 0123456789 " * 2000)
    return [pool[(i * 97) % (len(pool) - size) :][:size] for i in range(count)]


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def produce_kafkette(a, topic, vals):
    import kafkette

    n, batch = a.records, a.batch
    start = time.perf_counter()
    with kafkette.Producer(a.bootstrap.split(","), "bench-kafkette", required_acks=1, compression_codec=a.codec) as p:
        done = 0
        while done < n:
            k = min(batch, n - done)
            msgs = [kafkette.MessageToSend(topic, vals[(done + i) & 1023]) for i in range(k)]
            p.send_messages(msgs)
            if msgs[0].offset != done or msgs[-1].offset != done + k - 1:
                raise SystemExit("kafkette: offsets %s..%s, expected %d.." % (msgs[0].offset, msgs[-1].offset, done))
            done += k
    return time.perf_counter() - start


def produce_loop_kafkette(a, topic, vals):
    import kafkette

    n = a.records
    last = []

    def report(err, msg):
        last.append((err, msg.offset))

    start = time.perf_counter()
    p = kafkette.Producer(a.bootstrap.split(","), "bench-kafkette-loop", required_acks=1, compression_codec=a.codec,
                          linger_ms=5)
    produce, poll = p.produce, p.poll
    for i in range(n):
        produce(topic, vals[i & 1023], partition=0, on_delivery=report if i == n - 1 else None)
        if i & 1023 == 0:
            poll(0)
    left = p.flush(60)
    wall = time.perf_counter() - start
    p.close()
    if left or last != [(None, n - 1)]:
        raise SystemExit("kafkette-loop: %d not flushed, last report %s, expected offset %d" % (left, last, n - 1))
    return wall


def produce_confluent(a, topic, vals):
    import confluent_kafka

    n = a.records
    conf = {
        "bootstrap.servers": a.bootstrap,
        "acks": 1,
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 1000000,
        "queue.buffering.max.kbytes": 1048576,
        "compression.type": a.codec,
    }
    failed = []

    def report(err, msg):
        if err is not None:
            failed.append(err)

    start = time.perf_counter()
    p = confluent_kafka.Producer(conf)
    produce, poll = p.produce, p.poll
    for i in range(n):
        while True:
            try:
                produce(topic, vals[i & 1023], partition=0, on_delivery=report if i == n - 1 else None)
                break
            except BufferError:
                poll(0.01)
        if i & 1023 == 0:
            poll(0)
    left = p.flush(60)
    wall = time.perf_counter() - start
    if left or failed:
        raise SystemExit("confluent-kafka: %d not flushed, errors %s" % (left, failed[:3]))
    # delivery reports were asked for the last record only: check the log end instead
    c = confluent_kafka.Consumer({"bootstrap.servers": a.bootstrap, "group.id": "bench-check"})
    low, high = c.get_watermark_offsets(confluent_kafka.TopicPartition(topic, 0), timeout=10)
    c.close()
    if (low, high) != (0, n):
        raise SystemExit("confluent-kafka: the topic holds offsets %d..%d, expected 0..%d" % (low, high, n))
    return wall


def produce_kafka_python(a, topic, vals):
    import kafka

    n = a.records
    start = time.perf_counter()
    p = kafka.KafkaProducer(
        bootstrap_servers=a.bootstrap.split(","),
        acks=1,
        linger_ms=5,
        batch_size=1 << 20,
        max_request_size=4 << 20,
        compression_type=None if a.codec == "none" else a.codec,
    )
    send = p.send
    last = None
    for i in range(n):
        last = send(topic, vals[i & 1023], partition=0)
    p.flush(120)
    meta = last.get(timeout=60)
    p.close()
    wall = time.perf_counter() - start
    if meta.offset != n - 1:
        raise SystemExit("kafka-python: last offset %d, expected %d" % (meta.offset, n - 1))
    return wall


def consume_kafkette(a, topic, vals):
    import kafkette

    n = a.records
    start = time.perf_counter()
    got = 0
    last = -1
    with kafkette.PartitionConsumer.consumer_for_partition(
        "bench-kafkette", a.bootstrap.split(","), topic, 0, 0, max_bytes=4 << 20, max_wait_ms=100
    ) as c:
        while got < n:
            batch = c.fetch()
            for m in batch:
                if m.offset != last + 1 or len(m.value) != a.size:
                    raise SystemExit("kafkette: offset %d after %d" % (m.offset, last))
                last = m.offset
            got += len(batch)
    return time.perf_counter() - start


def consume_confluent(a, topic, vals):
    import confluent_kafka

    n = a.records
    start = time.perf_counter()
    c = confluent_kafka.Consumer(
        {
            "bootstrap.servers": a.bootstrap,
            "group.id": "bench-" + uuid.uuid4().hex[:8],
            "enable.auto.commit": False,
            "fetch.message.max.bytes": 4 << 20,
            "fetch.max.bytes": 50 << 20,
            "queued.min.messages": 1000000,
            "queued.max.messages.kbytes": 262144,
        }
    )
    c.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
    got = 0
    last = -1
    while got < n:
        for m in c.consume(10000, 1.0):
            if m.error() is not None:
                raise SystemExit("confluent-kafka: %s" % m.error())
            if m.offset() != last + 1 or len(m.value()) != a.size:
                raise SystemExit("confluent-kafka: offset %d after %d" % (m.offset(), last))
            last = m.offset()
            got += 1
    c.close()
    return time.perf_counter() - start


def consume_kafka_python(a, topic, vals):
    import kafka

    n = a.records
    start = time.perf_counter()
    c = kafka.KafkaConsumer(
        bootstrap_servers=a.bootstrap.split(","),
        enable_auto_commit=False,
        fetch_max_bytes=50 << 20,
        max_partition_fetch_bytes=4 << 20,
        max_poll_records=10000,
    )
    tp = kafka.TopicPartition(topic, 0)
    c.assign([tp])
    c.seek(tp, 0)
    got = 0
    last = -1
    while got < n:
        for records in c.poll(timeout_ms=1000, max_records=10000).values():
            for m in records:
                if m.offset != last + 1 or len(m.value) != a.size:
                    raise SystemExit("kafka-python: offset %d after %d" % (m.offset, last))
                last = m.offset
                got += 1
    c.close()
    return time.perf_counter() - start


def one(a):
    """Child: one (peer, op) measurement; prints a RESULT line."""
    if a.peer.startswith("kafkette"):
        sys.path.insert(0, os.path.join(ROOT, "python"))
    vals = values(a.size)
    fn = {
        ("kafkette", "produce"): produce_kafkette,
        ("kafkette-loop", "produce"): produce_loop_kafkette,
        ("confluent-kafka", "produce"): produce_confluent,
        ("kafka-python", "produce"): produce_kafka_python,
        ("kafkette", "consume"): consume_kafkette,
        ("confluent-kafka", "consume"): consume_confluent,
        ("kafka-python", "consume"): consume_kafka_python,
    }[(a.peer, a.op)]
    cpu = cpu_seconds()
    wall = fn(a, a.topic, vals)
    cpu = cpu_seconds() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RESULT peer=%s op=%s records=%d wall_s=%.6f cpu_s=%.6f maxrss_kb=%d"
          % (a.peer, a.op, a.records, wall, cpu, rss))


# ---- the driver ------------------------------------------------------------------------------


def run_child(a, peer, op, topic, records):
    cmd = [sys.executable, os.path.abspath(__file__), "--one", peer, op, "--topic", topic, "--bootstrap", a.bootstrap,
           "--records", str(records), "--size", str(a.size), "--batch", str(a.batch), "--codec", a.codec]
    os.sync()  # what earlier runs wrote is written back now, not during this run (see bench/README.md)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit("python_bench: %s %s failed" % (peer, op))
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    raise SystemExit("python_bench: no result from %s %s" % (peer, op))


def run_c(a, prog, *args):
    os.sync()
    out = subprocess.run([prog, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit("python_bench: %s failed" % prog)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    raise SystemExit("python_bench: no result from %s" % prog)


def create_topic(a, name):
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import kafkette

    kafkette.create_topic(a.bootstrap.split(","), name, 1, 1)


def say(text):
    print("==> " + text, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", default=os.environ.get("KAFKETTE_BOOTSTRAP", ""))
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--batch", type=int, default=10_000, help="messages per send_messages call")
    ap.add_argument("--runs", type=int, default=3, help="runs per peer and op, alternating; the median counts")
    ap.add_argument("--codec", default="none", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--kafka-python-records", type=int, default=0,
                    help="fewer records for kafka-python (it is slow); default: --records")
    ap.add_argument("--c-bench-dir", default=os.path.join(ROOT, "build-bench", "bench"),
                    help="where bench/run built kafkette-producer_bench / consumer_bench (skipped if absent)")
    ap.add_argument("--one", nargs=2, metavar=("PEER", "OP"), help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        a.peer, a.op = a.one
        return one(a)

    peers = [p for p in a.peers.split(",") if p]
    for p in peers:
        if p not in PEERS:
            ap.error("unknown peer %s" % p)
    started = False
    state = os.path.join(ROOT, "tests", ".kafka-pybench")
    if not a.bootstrap:
        say("starting a broker (state in tests/.kafka-pybench)")
        env = dict(os.environ, KAFKETTE_KAFKA_DIR=state)
        out = subprocess.run([os.path.join(ROOT, "script", "kafka"), "start", "--restart"], env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            raise SystemExit("python_bench: the broker did not start")
        a.bootstrap = out.stdout.strip().splitlines()[-1]
        started = True
    try:
        return drive(a, peers)
    finally:
        if started:
            say("stopping the broker")
            subprocess.run([os.path.join(ROOT, "script", "kafka"), "stop"],
                           env=dict(os.environ, KAFKETTE_KAFKA_DIR=state), capture_output=True)


def median_run(rs):
    """The run with the median wall time (the lower middle one for an even count)."""
    ordered = sorted(rs, key=lambda r: float(r["wall_s"]))
    return ordered[(len(ordered) - 1) // 2]


def drive(a, peers):
    stamp = uuid.uuid4().hex[:8]
    counts = {p: (a.kafka_python_records or a.records) if p == "kafka-python" else a.records for p in peers}
    runs = {}

    def keep(peer, op, r):
        runs.setdefault((peer, op), []).append(r)

    # Every producer run writes a fresh topic; every consumer reads the one kafkette's first
    # run wrote (the same bytes for all). A warm-up round lets the broker JVM compile first.
    say("warm-up (not counted)")
    warm = "pybench-warm-" + stamp
    create_topic(a, warm)
    run_child(a, "kafkette", "produce", warm, a.records)
    run_child(a, "kafkette", "consume", warm, a.records)
    source = None
    for r in range(1, a.runs + 1):
        for peer in peers:
            topic = "pybench-%s-%s-%d" % (peer, stamp, r)
            create_topic(a, topic)
            say("produce, run %d: %s" % (r, peer))
            keep(peer, "produce", run_child(a, peer, "produce", topic, counts[peer]))
            if peer == "kafkette" and source is None:
                source = topic
    if source is None:
        source = "pybench-source-" + stamp
        create_topic(a, source)
        run_child(a, "kafkette", "produce", source, a.records)
    for r in range(1, a.runs + 1):
        for peer in peers:
            if peer in PRODUCE_ONLY:
                continue
            say("consume, run %d: %s" % (r, peer))
            keep(peer, "consume", run_child(a, peer, "consume", source, counts[peer]))

    c_runs = {}
    prod = os.path.join(a.c_bench_dir, "kafkette-producer_bench")
    cons = os.path.join(a.c_bench_dir, "kafkette-consumer_bench")
    if os.access(prod, os.X_OK) and os.access(cons, os.X_OK):
        common = ["-b", a.bootstrap, "-n", str(a.records), "-s", str(a.size)]
        for r in range(1, a.runs + 1):
            say("C core, run %d" % r)
            t = "pybench-c-%s-%d" % (stamp, r)
            # the C consumer checks values against the C producer's, so it reads that topic
            for op, res in (("produce", run_c(a, prod, *common, "-t", t, "-B", str(a.batch), "-c", a.codec, "-a", "1")),
                            ("consume", run_c(a, cons, *common, "-t", t, "-m", str(4 << 20), "-c", a.codec,
                                              "-o", "earliest"))):
                c_runs.setdefault(op, []).append(res)

    results = {key: median_run(rs) for key, rs in runs.items()}
    c_results = {op: median_run(rs) for op, rs in c_runs.items()}
    print()
    print("Python clients: %s records of %d bytes, one partition, acks=1, codec %s, median of %d run(s)"
          % (format(a.records, ","), a.size, a.codec, a.runs))
    versions = {}
    try:
        import confluent_kafka

        v = confluent_kafka.version()
        versions["confluent-kafka"] = "%s (librdkafka %s)" % (v if isinstance(v, str) else v[0],
                                                             confluent_kafka.libversion()[0])
    except ImportError:
        pass
    try:
        import kafka

        versions["kafka-python"] = kafka.__version__
    except ImportError:
        pass
    print("Python %s; %s" % (sys.version.split()[0], "; ".join("%s %s" % kv for kv in versions.items())))
    print()
    print("%-8s %-16s %8s %11s %9s %9s %12s  %s"
          % ("op", "client", "wall s", "records/s", "CPU s/M", "RSS MiB", "vs confluent", "every run's wall s"))
    for op in ("produce", "consume"):
        base = results.get(("confluent-kafka", op))
        base_rate = int(base["records"]) / float(base["wall_s"]) if base else None
        for peer in peers:
            r = results.get((peer, op))
            if not r:
                continue
            n, wall = int(r["records"]), float(r["wall_s"])
            rate = n / wall
            ratio = "%.2fx" % (rate / base_rate) if base_rate else "-"
            print("%-8s %-16s %8.3f %11s %9.3f %9.1f %12s  (%s)"
                  % (op, peer, wall, format(int(rate), ","), float(r["cpu_s"]) / n * 1e6,
                     int(r["maxrss_kb"]) / 1024, ratio,
                     " ".join("%.3f" % float(x["wall_s"]) for x in runs[(peer, op)])))
        c = c_results.get(op)
        k = results.get(("kafkette", op))
        if c and k:
            c_rate = int(c["records"]) / float(c["wall_s"])
            print("%-8s %-16s %8.3f %11s %9.3f %9.1f %10s" % (op, "kafkette C core", float(c["wall_s"]),
                                                               format(int(c_rate), ","),
                                                               float(c["cpu_s"]) / int(c["records"]) * 1e6,
                                                               int(c["maxrss_kb"]) / 1024, "-"))
            k_rate = int(k["records"]) / float(k["wall_s"])
            print("%-8s binding overhead: Python %.2fx the C core's wall time (%.0f ns per record more)"
                  % (op, c_rate / k_rate,
                     (float(k["wall_s"]) / int(k["records"]) - float(c["wall_s"]) / int(c["records"])) * 1e9))
        print()
    print("vs confluent = records/s over confluent-kafka's (the target is >= 1.5x). CPU s/M = CPU seconds")
    print("per million records of the client process (all threads). Producers include building the")
    print("message objects (MessageToSend lists of %d for kafkette); consumers touch every record." % a.batch)
    if not c_results:
        print("(C core not measured: build it with bench/run, or pass --c-bench-dir)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
