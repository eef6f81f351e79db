#!/usr/bin/env python3
"""The other end of kafkette's interop test: confluent-kafka (librdkafka) over SASL_SSL with
SCRAM-SHA-512, producing or consuming N records of partition 0.

    confluent_peer.py produce BOOTSTRAP TOPIC N   writes key k<i>, value from-confluent-<i>
    confluent_peer.py consume BOOTSTRAP TOPIC N   expects key k<i>, value from-kafkette-<i>

Credentials come from KAFKETTE_SASL_USERNAME, KAFKETTE_SASL_PASSWORD and KAFKETTE_CA_FILE.
Exit 0 when every record was delivered / read back exactly; 1 otherwise; 77 without
confluent-kafka.
"""
import os
import sys
import time

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
except ImportError:
    print("confluent-kafka is not installed", file=sys.stderr)
    sys.exit(77)


def main():
    mode, bootstrap, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    conf = {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": os.environ["KAFKETTE_SASL_USERNAME"],
        "sasl.password": os.environ["KAFKETTE_SASL_PASSWORD"],
        "ssl.ca.location": os.environ["KAFKETTE_CA_FILE"],
    }
    if mode == "produce":
        producer = Producer(conf)
        failed = []
        for i in range(n):
            producer.produce(topic, key=b"k%d" % i, value=b"from-confluent-%d" % i, partition=0,
                             on_delivery=lambda e, m: failed.append(str(e)) if e else None)
        left = producer.flush(30)
        if left or failed:
            print(f"produce: {left} undelivered, errors {failed[:3]}", file=sys.stderr)
            return 1
        return 0
    consumer = Consumer({**conf, "group.id": "kafkette-interop-" + topic,
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = 0
    deadline = time.monotonic() + 30
    while got < n and time.monotonic() < deadline:
        m = consumer.poll(1.0)
        if m is None:
            continue
        if m.error():
            print(f"consume: {m.error()}", file=sys.stderr)
            return 1
        if (m.offset(), m.key(), m.value()) != (got, b"k%d" % got, b"from-kafkette-%d" % got):
            print(f"consume: record {got} is {m.offset()} {m.key()} {m.value()}", file=sys.stderr)
            return 1
        got += 1
    consumer.close()
    if got != n:
        print(f"consume: {got} of {n} records", file=sys.stderr)
        return 1
    return 0


sys.exit(main())
