"""Soak through the Python binding: a producer and a consumer group run for --minutes while the
process samples its RSS and open file descriptors every --every seconds. Prints the curve and
fails (exit 1) when either grows after the warm-up: RSS by more than --rss-slack-kb between the
first sample after warm-up and the last, or the fd count at all. Run by script/soak."""
import argparse
import os
import sys
import threading
import time
import uuid

import kafkette


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def fd_count():
    return len(os.listdir("/proc/self/fd"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", default=os.environ.get("KAFKETTE_BOOTSTRAP", ""))
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds before the baseline sample")
    ap.add_argument("--rss-slack-kb", type=int, default=4096)
    ap.add_argument("--rate", type=int, default=5000, help="messages per second to produce")
    args = ap.parse_args()
    brokers = args.bootstrap.split(",")
    topic = "soak-py-" + uuid.uuid4().hex[:12]
    kafkette.create_topic(brokers, topic, 3)
    stop = threading.Event()
    counts = {"sent": 0, "received": 0, "errors": 0}

    def produce():
        n = 0
        started = time.monotonic()
        with kafkette.Producer(brokers, "soak-producer", compression_codec="lz4") as p:
            while not stop.is_set():
                msgs = [kafkette.MessageToSend(topic, b"x" * 200, key=str(n + i).encode()) for i in range(500)]
                try:
                    p.send_messages(msgs)
                    counts["sent"] += len(msgs)
                except kafkette.Error as e:
                    counts["errors"] += 1
                    print("soak: send:", e, file=sys.stderr)
                n += len(msgs)
                # a steady load, not a throughput test: the disk fills otherwise
                time.sleep(max(0.0, n / args.rate - (time.monotonic() - started)))

    def consume():
        with kafkette.ConsumerGroup("soak-" + topic, brokers, [topic]) as group:
            while not stop.is_set():
                try:
                    batch = group.poll(500)
                except kafkette.Error as e:
                    counts["errors"] += 1
                    print("soak: poll:", e, file=sys.stderr)
                    continue
                if batch is not None:
                    counts["received"] += len(batch[1])

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    start = time.monotonic()
    samples = []
    print("python soak: %.1f min on %s" % (args.minutes, topic))
    print("%8s %10s %6s %12s %12s" % ("seconds", "rss_kb", "fds", "sent", "received"))
    try:
        while time.monotonic() - start < args.minutes * 60:
            time.sleep(args.every)
            s = (time.monotonic() - start, rss_kb(), fd_count(), counts["sent"], counts["received"])
            samples.append(s)
            print("%8.0f %10d %6d %12d %12d" % s, flush=True)
    finally:
        stop.set()
        for t in threads:
            t.join()
    after_warmup = [s for s in samples if s[0] >= args.warmup] or samples
    base, last = after_warmup[0], after_warmup[-1]
    rss_growth = last[1] - base[1]
    fd_growth = max(s[2] for s in after_warmup) - base[2]
    ok = rss_growth <= args.rss_slack_kb and fd_growth <= 0 and counts["received"] > 0
    print("python soak: RSS %d -> %d kB (%+d), fds %d -> %d, sent %d, received %d, errors %d: %s"
          % (base[1], last[1], rss_growth, base[2], last[2], counts["sent"], counts["received"],
             counts["errors"], "flat" if ok else "GROWING"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
