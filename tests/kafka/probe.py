#!/usr/bin/env python3
"""Wait until Kafka brokers answer a Metadata request (stdlib only).

    probe.py 127.0.0.1:9092[,127.0.0.1:9093] [--brokers N] [--timeout S]

Each listed address must answer a raw Metadata v1 request whose broker list
holds N brokers (default: as many as addresses were given). Retries until the
deadline. Exit 0 when all answered, 1 when the deadline passed, 2 on bad usage.
Metadata v1 is accepted by every broker from 0.10 to 4.x, so one request
shape covers all the versions script/kafka runs.
"""

import argparse
import socket
import struct
import sys
import time

API_METADATA = 3
CLIENT_ID = b"kafkette-probe"


class ProbeError(Exception):
    pass


def metadata_v1_request(correlation_id):
    # Request header v1: api key, api version, correlation id, client id.
    header = struct.pack(">hhih", API_METADATA, 1, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    # Body: an empty topic array asks for brokers only (v1+; -1 would mean all topics).
    body = struct.pack(">i", 0)
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def recv_exact(sock, n):
    chunks = []
    while n > 0:
        chunk = sock.recv(n)
        if not chunk:
            raise ProbeError("connection closed by broker")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, fmt):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ProbeError("truncated Metadata response")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self):
        length = self.take(">h")
        if length < 0:
            return None
        if self.pos + length > len(self.data):
            raise ProbeError("truncated Metadata response")
        value = self.data[self.pos:self.pos + length].decode("utf-8", "replace")
        self.pos += length
        return value


def fetch_brokers(host, port, timeout):
    """Returns [(node_id, host, port)] as one broker reports them."""
    correlation_id = 0x6B6B  # any value; checked on the way back
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(metadata_v1_request(correlation_id))
        (size,) = struct.unpack(">i", recv_exact(sock, 4))
        if size < 4 or size > 64 * 1024 * 1024:
            raise ProbeError("implausible response size %d" % size)
        reader = Reader(recv_exact(sock, size))
    if reader.take(">i") != correlation_id:
        raise ProbeError("correlation id mismatch")
    brokers = []
    for _ in range(reader.take(">i")):
        node_id = reader.take(">i")
        broker_host = reader.string()
        broker_port = reader.take(">i")
        reader.string()  # rack
        brokers.append((node_id, broker_host, broker_port))
    return brokers


def parse_address(text):
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError("bad address %r (want host:port)" % text)
    return host.strip("[]"), int(port)


def main(argv):
    parser = argparse.ArgumentParser(description="Wait until Kafka brokers answer Metadata.")
    parser.add_argument("addresses", help="host:port[,host:port...]")
    parser.add_argument("--brokers", type=int, default=None,
                        help="brokers each answer must list (default: number of addresses)")
    parser.add_argument("--timeout", type=float, default=30.0, help="overall deadline in seconds")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)

    try:
        addresses = [parse_address(a) for a in args.addresses.split(",") if a.strip()]
    except ValueError as exc:
        parser.error(str(exc))
    if not addresses:
        parser.error("no address given")
    expected = args.brokers if args.brokers is not None else len(addresses)

    deadline = time.monotonic() + args.timeout
    pending = list(addresses)
    last_problem = {}
    while True:
        still_pending = []
        for host, port in pending:
            remaining = max(0.1, min(2.0, deadline - time.monotonic()))
            try:
                brokers = fetch_brokers(host, port, remaining)
            except (OSError, ProbeError) as exc:
                last_problem[(host, port)] = str(exc) or exc.__class__.__name__
                still_pending.append((host, port))
                continue
            if len(brokers) != expected:
                last_problem[(host, port)] = "lists %d of %d brokers" % (len(brokers), expected)
                still_pending.append((host, port))
                continue
            if not args.quiet:
                listed = " ".join("%d=%s:%d" % b for b in sorted(brokers))
                print("%s:%d ok: %s" % (host, port, listed), file=sys.stderr)
        pending = still_pending
        if not pending:
            return 0
        if time.monotonic() >= deadline:
            for host, port in pending:
                print("%s:%d not ready: %s" % (host, port, last_problem.get((host, port), "?")),
                      file=sys.stderr)
            return 1
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
