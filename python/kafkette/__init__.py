"""kafkette: an Apache Kafka client with a C core, in the shape of Poseidon.

    import kafkette

    with kafkette.Producer(["127.0.0.1:9092"], "my_producer", compression_codec="gzip") as p:
        msgs = [kafkette.MessageToSend("topic1", b"value1"),
                kafkette.MessageToSend("topic1", "value2", key="k", headers={"h": b"v"})]
        p.send_messages(msgs)        # True, or raises; then msgs[i].partition / .offset

    with kafkette.PartitionConsumer("my_consumer", "127.0.0.1", 9092, "topic1", 0,
                                    kafkette.EARLIEST_OFFSET, max_wait_ms=100) as c:
        for m in c.fetch():
            print(m.offset, m.key, m.value)

    # a member of a consumer group: partitions shared with the group's other processes
    with kafkette.ConsumerGroup("my_group", ["127.0.0.1:9092"], ["topic1"]) as group:
        for partition, messages in group:     # partition: TopicPartition(topic, partition)
            for m in messages:
                print(partition.partition, m.offset, m.value)

Every network wait runs with the GIL released and is interrupted by Ctrl-C. Producers,
consumers and groups may be shared between threads: their calls are serialised by an internal lock.
The C core's log lines go to the ``logging`` logger named ``"kafkette"``.

Errors derive from :class:`kafkette.Error`; the tree (names, parents, aliases) comes from the
C core, the same as the Ruby binding's. Broker error codes raise subclasses of
:class:`kafkette.ProtocolError` (one per code, e.g. ``NotLeaderOrFollower``, also reachable
under Poseidon's names such as ``NotLeaderForPartition`` and ``MessageSizeTooLarge``).
Options are checked by the core's option table (docs/CONFIGURATION.md); a bad one raises
:class:`kafkette.InvalidArgumentError`, which is also a ``ValueError`` and a ``TypeError``.
"""

import logging as _logging
from typing import Iterator as _Iterator
from typing import List as _List
from typing import Tuple as _Tuple

from . import _kafkette
from ._admin import (  # noqa: E402,F401  (re-exported)
    Admin,
    ConfigEntry,
    GroupDescription,
    GroupListing,
    MemberDescription,
    OffsetAndTimestamp,
    PartitionDescription,
    PartitionLag,
    TopicDescription,
    Watermarks,
)
from ._kafkette import (  # noqa: F401  (re-exported)
    EARLIEST_OFFSET,
    LATEST_OFFSET,
    AuthenticationError,
    AuthorizationError,
    CallInterruptedError,
    ChecksumError,
    ClosedError,
    CompressionError,
    ConnectionFailedError,
    ConsumerClosedError,
    Error,
    FailedToSendMessages,
    FetchedMessage,
    InvalidArgumentError,
    InvalidPartitionError,
    KafkaTimeoutError,
    MalformedResponseError,
    MessageToSend,
    NotAssignedError,
    OutOfMemoryError,
    ProducedMessage,
    Producer,
    ProducerShutdownError,
    ProtocolError,
    SendFailure,
    TimedOutError,
    TopicPartition,
    UnableToFetchMetadata,
    UnrecognizedProtocolError,
    UnsupportedVersionError,
    __version__,
    create_topic,
    delete_topic,
    error_class,
)

# A library leaves logging configuration to the application.
_logging.getLogger("kafkette").addHandler(_logging.NullHandler())


class PartitionConsumer(_kafkette.PartitionConsumer):
    __doc__ = _kafkette.PartitionConsumer.__doc__

    def __iter__(self) -> _Iterator[FetchedMessage]:
        """Yield messages as they arrive, fetching again whenever a batch is used up, until
        the consumer is closed (from another thread, or after the loop). Ctrl-C raises
        KeyboardInterrupt out of a waiting fetch."""
        while True:
            try:
                batch = self.fetch()
            except ConsumerClosedError:
                return
            yield from batch


class ConsumerGroup(_kafkette.ConsumerGroup):
    __doc__ = _kafkette.ConsumerGroup.__doc__

    def __iter__(self) -> _Iterator[_Tuple[TopicPartition, _List[FetchedMessage]]]:
        """Yield (TopicPartition, [FetchedMessage, ...]) for each batch as it arrives, polling
        again in between (which also rejoins after a rebalance and auto-commits what earlier
        batches delivered), until the group is closed (from another thread, or after the loop).
        Ctrl-C raises KeyboardInterrupt out of a waiting poll."""
        while True:
            try:
                batch = self.poll(1000)
            except ConsumerClosedError:
                return
            if batch is not None:
                yield batch


def _export_errors() -> list:
    """Every exception class the extension built from the C core's taxonomy (the named classes,
    one per Kafka error code, and Poseidon's aliases) becomes a name of this package."""
    names = []
    for name in dir(_kafkette):
        value = getattr(_kafkette, name)
        if isinstance(value, type) and issubclass(value, Error):
            globals()[name] = value
            names.append(name)
    return names


_error_names = _export_errors()

__all__ = sorted(
    {
        "EARLIEST_OFFSET",
        "LATEST_OFFSET",
        "Admin",
        "ConfigEntry",
        "GroupDescription",
        "GroupListing",
        "MemberDescription",
        "OffsetAndTimestamp",
        "PartitionDescription",
        "PartitionLag",
        "TopicDescription",
        "Watermarks",
        "ConsumerGroup",
        "FetchedMessage",
        "MessageToSend",
        "PartitionConsumer",
        "ProducedMessage",
        "Producer",
        "SendFailure",
        "TopicPartition",
        "__version__",
        "create_topic",
        "delete_topic",
        "error_class",
    }
    | set(_error_names)
)
