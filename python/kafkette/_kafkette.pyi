"""Type stubs for kafkette._kafkette, the C extension under kafkette."""

from types import TracebackType
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
    final,
    overload,
)

__version__: str
EARLIEST_OFFSET: str
LATEST_OFFSET: str

_Payload = Union[str, bytes, bytearray, memoryview]
_HeaderValue = Union[str, bytes, bytearray, memoryview, None]
_Headers = Union[Mapping[str, _HeaderValue], Iterable[Tuple[str, _HeaderValue]]]
_Brokers = Union[str, Sequence[str]]
_Offset = Union[int, str]

_P = TypeVar("_P", bound="Producer")
_C = TypeVar("_C", bound="PartitionConsumer")
_A = TypeVar("_A", bound="Admin")
_G = TypeVar("_G", bound="ConsumerGroup")

@final
class MessageToSend:
    """A message for Producer.send_messages."""

    def __new__(
        cls,
        topic: str,
        value: Optional[_Payload],
        key: Optional[_Payload] = None,
        *,
        partition: Optional[int] = None,
        headers: Optional[_Headers] = None,
        timestamp: Optional[int] = None,
    ) -> "MessageToSend": ...
    @property
    def topic(self) -> str: ...
    @property
    def value(self) -> Union[bytes, bytearray, memoryview, None]: ...
    @property
    def key(self) -> Union[bytes, bytearray, memoryview, None]: ...
    @property
    def headers(self) -> Tuple[Tuple[str, Optional[bytes]], ...]: ...
    @property
    def partition(self) -> Optional[int]: ...
    @property
    def offset(self) -> Optional[int]: ...
    @property
    def timestamp(self) -> Optional[int]: ...

@final
class FetchedMessage:
    """A record read by PartitionConsumer.fetch."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> Optional[bytes]: ...
    @property
    def value(self) -> Optional[bytes]: ...
    @property
    def headers(self) -> Tuple[Tuple[str, Optional[bytes]], ...]: ...
    @property
    def timestamp(self) -> Optional[int]: ...
    @property
    def timestamp_type(self) -> int: ...

@final
class SendFailure(Tuple[int, str, Optional[int], "Error", MessageToSend]):
    """One undelivered message of a FailedToSendMessages error."""

    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[Tuple[str, str, str, str, str]]

    @property
    def index(self) -> int: ...  # type: ignore[override]  # the field shadows tuple.index
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> Optional[int]: ...
    @property
    def error(self) -> "Error": ...
    @property
    def message(self) -> MessageToSend: ...

@final
class ProducedMessage:
    """A message Producer.produce queued, as its on_delivery(err, msg) callback sees it."""

    @property
    def topic(self) -> str: ...
    @property
    def key(self) -> Optional[_Payload]: ...
    @property
    def value(self) -> Optional[_Payload]: ...
    @property
    def headers(self) -> Tuple[Tuple[str, Optional[bytes]], ...]: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...

_OnDelivery = Callable[[Optional["Error"], ProducedMessage], object]

class Producer:
    """A Kafka producer: send_messages (synchronous; with type="async" it queues and returns) and
    produce/poll/flush (asynchronous)."""

    def __new__(
        cls,
        brokers: _Brokers,
        client_id: str,
        *,
        type: Optional[Literal["sync", "async"]] = ...,
        compression_codec: Optional[str] = ...,
        compressed_topics: Optional[Iterable[str]] = ...,
        metadata_refresh_interval_ms: int = ...,
        partitioner: Union[None, str, Callable[[bytes, int], int]] = ...,
        max_send_retries: int = ...,
        retry_backoff_ms: int = ...,
        required_acks: int = ...,
        ack_timeout_ms: int = ...,
        socket_timeout_ms: int = ...,
        connect_timeout_ms: int = ...,
        max_request_bytes: int = ...,
        topic_wait_ms: int = ...,
        linger_ms: int = ...,
        batch_size: int = ...,
        max_in_flight_requests_per_connection: int = ...,
        buffer_memory: int = ...,
        max_block_ms: int = ...,
        enable_idempotence: bool = ...,
        delivery_timeout_ms: int = ...,
        **options: object,
    ) -> "Producer": ...
    @property
    def client_id(self) -> str: ...
    @property
    def brokers(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    # sync: True once every message was delivered; type="async": True once every one is queued
    # (offsets come with poll/flush/close, which raise what was not delivered)
    def send_messages(self, msgs: Iterable[MessageToSend], /) -> bool: ...
    def produce(
        self,
        topic: str,
        value: Optional[_Payload] = ...,
        key: Optional[_Payload] = ...,
        *,
        partition: Optional[int] = ...,
        headers: _Headers = ...,
        timestamp_ms: Optional[int] = ...,
        on_delivery: Optional[_OnDelivery] = ...,
    ) -> None: ...
    def poll(self, timeout: Optional[float] = ...) -> int: ...
    def flush(self, timeout: Optional[float] = ...) -> int: ...
    def event_fd(self) -> int: ...
    def __len__(self) -> int: ...
    def __bool__(self) -> bool: ...
    def stats(self) -> Dict[str, Any]: ...
    def close(self, timeout: Optional[float] = ...) -> None: ...
    def __enter__(self: _P) -> _P: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class PartitionConsumer:
    """Reads one partition of one topic, following its leader."""

    def __init__(
        self,
        client_id: str,
        host: str,
        port: int,
        topic: str,
        partition: int,
        offset: _Offset,
        *,
        max_bytes: int = ...,
        min_bytes: int = ...,
        max_wait_ms: int = ...,
        socket_timeout_ms: int = ...,
        connect_timeout_ms: int = ...,
        offset_reset: str = ...,
        read_committed: bool = ...,
        failover_tries: int = ...,
        retry_backoff_ms: int = ...,
        **options: object,
    ) -> None: ...
    @classmethod
    def consumer_for_partition(
        cls: Type[_C],
        client_id: str,
        brokers: _Brokers,
        topic: str,
        partition: int,
        offset: _Offset,
        *,
        max_bytes: int = ...,
        min_bytes: int = ...,
        max_wait_ms: int = ...,
        socket_timeout_ms: int = ...,
        connect_timeout_ms: int = ...,
        offset_reset: str = ...,
        read_committed: bool = ...,
        failover_tries: int = ...,
        retry_backoff_ms: int = ...,
        **options: object,
    ) -> _C: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def client_id(self) -> str: ...
    @property
    def brokers(self) -> str: ...
    @property
    def next_offset(self) -> Optional[int]: ...
    @property
    def highwater_mark(self) -> Optional[int]: ...
    @property
    def last_stable_offset(self) -> Optional[int]: ...
    @property
    def log_start_offset(self) -> Optional[int]: ...
    @property
    def closed(self) -> bool: ...
    def fetch(
        self, *, max_bytes: Optional[int] = ..., min_bytes: Optional[int] = ..., max_wait_ms: Optional[int] = ...
    ) -> list[FetchedMessage]: ...
    def stats(self) -> Dict[str, Any]: ...
    def close(self) -> None: ...
    def __enter__(self: _C) -> _C: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

@final
class TopicPartition(Tuple[str, int]):
    """A (topic, partition) tuple with named fields."""

    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[Tuple[str, str]]

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...

_RebalanceCallback = Callable[[list[TopicPartition]], Any]

class ConsumerGroup:
    """A member of a consumer group."""

    def __init__(
        self,
        group_name: str,
        brokers: _Brokers,
        topics: Union[str, Sequence[str]],
        *,
        assignor: str = ...,
        session_timeout_ms: int = ...,
        rebalance_timeout_ms: int = ...,
        heartbeat_interval_ms: int = ...,
        auto_commit_interval_ms: int = ...,
        trail: bool = ...,
        offset_reset: str = ...,
        max_bytes: int = ...,
        max_wait_ms: int = ...,
        on_assign: Optional[_RebalanceCallback] = ...,
        on_revoke: Optional[_RebalanceCallback] = ...,
        client_id: str = ...,
        socket_timeout_ms: int = ...,
        connect_timeout_ms: int = ...,
        metadata_refresh_interval_ms: int = ...,
        retry_backoff_ms: int = ...,
        **options: object,
    ) -> None: ...
    @property
    def group_name(self) -> str: ...
    @property
    def topics(self) -> Tuple[str, ...]: ...
    @property
    def client_id(self) -> str: ...
    @property
    def brokers(self) -> str: ...
    @property
    def claimed(self) -> list[TopicPartition]: ...
    @property
    def paused(self) -> list[TopicPartition]: ...
    @property
    def generation(self) -> Optional[int]: ...
    @property
    def member_id(self) -> str: ...
    @property
    def is_leader(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    def poll(self, timeout_ms: Optional[int] = 1000) -> Optional[Tuple[TopicPartition, list[FetchedMessage]]]: ...
    @overload
    def commit(self) -> None: ...
    @overload
    def commit(self, partition: Tuple[str, int], offset: int, /) -> None: ...
    @overload
    def commit(self, topic: str, partition: int, offset: int, /) -> None: ...
    def committed(self, topic: str, partition: int) -> Optional[int]: ...
    def pause(self, topic: str, partition: int) -> None: ...
    def resume(self, topic: str, partition: int) -> None: ...
    def seek(self, topic: str, partition: int, offset: int) -> None: ...
    def stats(self) -> Dict[str, Any]: ...
    def close(self) -> None: ...
    def __enter__(self: _G) -> _G: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class Admin:
    """The native half of kafkette.Admin (kafkette/_admin.py names the results)."""

    brokers: str
    client_id: str
    @property
    def closed(self) -> bool: ...
    def __init__(self, brokers: _Brokers, client_id: str = "kafkette", **options: object) -> None: ...
    def _list_topics(self, include_internal: bool, /) -> List[str]: ...
    def _describe_topics(self, topics: Optional[List[str]], /) -> Tuple[Optional[str], int, list, list]: ...
    def _partition_counts(self, topics: List[str], /) -> Dict[str, Tuple[int, int]]: ...
    def _create_topic(
        self, topic: str, partitions: int, replication_factor: int, configs: Optional[Mapping[str, object]],
        timeout_ms: int, /,
    ) -> None: ...
    def _delete_topic(self, topic: str, timeout_ms: int, /) -> None: ...
    def _create_partitions(self, topic: str, total_count: int, timeout_ms: int, /) -> None: ...
    def _delete_records(self, topic: str, partition: int, before_offset: int, timeout_ms: int, /) -> int: ...
    def _watermarks(self, topic: str, partition: int, /) -> Tuple[int, int]: ...
    def _offset_for_time(self, topic: str, partition: int, timestamp_ms: int, /) -> Tuple[int, int]: ...
    def _list_groups(self) -> List[Tuple[str, str, Optional[str], Optional[str], int]]: ...
    def _describe_group(self, group_id: str, /) -> Tuple[str, str, str, str, int, list]: ...
    def _group_lag(self, group_id: str, /) -> List[Tuple[str, int, int, int, int, int]]: ...
    def _describe_configs(
        self, resource_type: int, name: str, /
    ) -> List[Tuple[str, Optional[str], str, bool, bool, bool]]: ...
    def _alter_configs(
        self, resource_type: int, name: str, changes: List[Tuple[str, int, Optional[str]]], validate_only: bool, /
    ) -> None: ...
    def close(self) -> None: ...
    def __enter__(self: _A) -> _A: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

def create_topic(
    brokers: _Brokers,
    topic: str,
    partitions: int,
    replication_factor: int = 1,
    configs: Optional[Mapping[str, Union[str, int, bool]]] = None,
    *,
    timeout_ms: int = 30000,
    exist_ok: bool = False,
    client_id: str = "kafkette-admin",
    **options: object,
) -> None: ...
def delete_topic(
    brokers: _Brokers,
    topic: str,
    *,
    timeout_ms: int = 30000,
    missing_ok: bool = False,
    client_id: str = "kafkette-admin",
    **options: object,
) -> None: ...
def error_class(code: int) -> Type["Error"]: ...
def _error_code_info(code: int) -> Tuple[str, Optional[str], Optional[str], str, bool]: ...
def _error_taxonomy() -> Dict[str, list]: ...
def _cli_main(argv: Sequence[str], /) -> int: ...

# The exception tree, built at import from the C core's taxonomy (kk_error_class_list), then one
# class per Kafka error code, then Poseidon's aliases. Regenerate this part when the core's
# taxonomy changes (tests/python/test_packaging.py compares the names with the module).
class Error(Exception):
    code: Optional[int]
    retriable: bool

class ProtocolError(Error):
    name: ClassVar[str]

class UnrecognizedProtocolError(ProtocolError): ...
class AuthorizationError(ProtocolError): ...
class AuthenticationError(Error):
    name: ClassVar[str]

class ConnectionFailedError(Error, ConnectionError): ...
class SSLError(ConnectionFailedError): ...
class CertificateVerificationError(SSLError): ...
class TimedOutError(ConnectionFailedError, TimeoutError): ...
class UnableToFetchMetadata(ConnectionFailedError): ...
class MalformedResponseError(Error): ...
class ChecksumError(Error): ...
class CompressionError(Error): ...
class UnsupportedVersionError(Error): ...
class ClosedError(Error): ...
class ProducerShutdownError(ClosedError): ...
class ConsumerClosedError(ClosedError): ...
class CallInterruptedError(Error): ...
class InvalidPartitionError(Error): ...
class NotAssignedError(Error): ...
class InvalidArgumentError(Error, ValueError, TypeError): ...
class OutOfMemoryError(Error, MemoryError): ...
class FailedToSendMessages(Error):
    failures: list[SendFailure]


class UnknownServerError(ProtocolError): ...  # -1
class OffsetOutOfRange(ProtocolError): ...  # 1
class CorruptMessage(ProtocolError): ...  # 2
class UnknownTopicOrPartition(ProtocolError): ...  # 3
class InvalidFetchSize(ProtocolError): ...  # 4
class LeaderNotAvailable(ProtocolError): ...  # 5
class NotLeaderOrFollower(ProtocolError): ...  # 6
class RequestTimedOut(ProtocolError): ...  # 7
class BrokerNotAvailable(ProtocolError): ...  # 8
class ReplicaNotAvailable(ProtocolError): ...  # 9
class MessageTooLarge(ProtocolError): ...  # 10
class StaleControllerEpoch(ProtocolError): ...  # 11
class OffsetMetadataTooLarge(ProtocolError): ...  # 12
class NetworkException(ProtocolError): ...  # 13
class CoordinatorLoadInProgress(ProtocolError): ...  # 14
class CoordinatorNotAvailable(ProtocolError): ...  # 15
class NotCoordinator(ProtocolError): ...  # 16
class InvalidTopicException(ProtocolError): ...  # 17
class RecordListTooLarge(ProtocolError): ...  # 18
class NotEnoughReplicas(ProtocolError): ...  # 19
class NotEnoughReplicasAfterAppend(ProtocolError): ...  # 20
class InvalidRequiredAcks(ProtocolError): ...  # 21
class IllegalGeneration(ProtocolError): ...  # 22
class InconsistentGroupProtocol(ProtocolError): ...  # 23
class InvalidGroupId(ProtocolError): ...  # 24
class UnknownMemberId(ProtocolError): ...  # 25
class InvalidSessionTimeout(ProtocolError): ...  # 26
class RebalanceInProgress(ProtocolError): ...  # 27
class InvalidCommitOffsetSize(ProtocolError): ...  # 28
class TopicAuthorizationFailed(AuthorizationError): ...  # 29
class GroupAuthorizationFailed(AuthorizationError): ...  # 30
class ClusterAuthorizationFailed(AuthorizationError): ...  # 31
class InvalidTimestamp(ProtocolError): ...  # 32
class UnsupportedSaslMechanism(AuthenticationError): ...  # 33
class IllegalSaslState(AuthenticationError): ...  # 34
class UnsupportedVersion(ProtocolError): ...  # 35
class TopicAlreadyExists(ProtocolError): ...  # 36
class InvalidPartitions(ProtocolError): ...  # 37
class InvalidReplicationFactor(ProtocolError): ...  # 38
class InvalidReplicaAssignment(ProtocolError): ...  # 39
class InvalidConfig(ProtocolError): ...  # 40
class NotController(ProtocolError): ...  # 41
class InvalidRequest(ProtocolError): ...  # 42
class UnsupportedForMessageFormat(ProtocolError): ...  # 43
class PolicyViolation(ProtocolError): ...  # 44
class OutOfOrderSequenceNumber(ProtocolError): ...  # 45
class DuplicateSequenceNumber(ProtocolError): ...  # 46
class InvalidProducerEpoch(ProtocolError): ...  # 47
class InvalidTxnState(ProtocolError): ...  # 48
class InvalidProducerIdMapping(ProtocolError): ...  # 49
class InvalidTransactionTimeout(ProtocolError): ...  # 50
class ConcurrentTransactions(ProtocolError): ...  # 51
class TransactionCoordinatorFenced(ProtocolError): ...  # 52
class TransactionalIdAuthorizationFailed(AuthorizationError): ...  # 53
class SecurityDisabled(ProtocolError): ...  # 54
class OperationNotAttempted(ProtocolError): ...  # 55
class KafkaStorageError(ProtocolError): ...  # 56
class LogDirNotFound(ProtocolError): ...  # 57
class SaslAuthenticationFailed(AuthenticationError): ...  # 58
class UnknownProducerId(ProtocolError): ...  # 59
class ReassignmentInProgress(ProtocolError): ...  # 60
class DelegationTokenAuthDisabled(ProtocolError): ...  # 61
class DelegationTokenNotFound(ProtocolError): ...  # 62
class DelegationTokenOwnerMismatch(ProtocolError): ...  # 63
class DelegationTokenRequestNotAllowed(ProtocolError): ...  # 64
class DelegationTokenAuthorizationFailed(AuthorizationError): ...  # 65
class DelegationTokenExpired(ProtocolError): ...  # 66
class InvalidPrincipalType(ProtocolError): ...  # 67
class NonEmptyGroup(ProtocolError): ...  # 68
class GroupIdNotFound(ProtocolError): ...  # 69
class FetchSessionIdNotFound(ProtocolError): ...  # 70
class InvalidFetchSessionEpoch(ProtocolError): ...  # 71
class ListenerNotFound(ProtocolError): ...  # 72
class TopicDeletionDisabled(ProtocolError): ...  # 73
class FencedLeaderEpoch(ProtocolError): ...  # 74
class UnknownLeaderEpoch(ProtocolError): ...  # 75
class UnsupportedCompressionType(ProtocolError): ...  # 76
class StaleBrokerEpoch(ProtocolError): ...  # 77
class OffsetNotAvailable(ProtocolError): ...  # 78
class MemberIdRequired(ProtocolError): ...  # 79
class PreferredLeaderNotAvailable(ProtocolError): ...  # 80
class GroupMaxSizeReached(ProtocolError): ...  # 81
class FencedInstanceId(ProtocolError): ...  # 82
class EligibleLeadersNotAvailable(ProtocolError): ...  # 83
class ElectionNotNeeded(ProtocolError): ...  # 84
class NoReassignmentInProgress(ProtocolError): ...  # 85
class GroupSubscribedToTopic(ProtocolError): ...  # 86
class InvalidRecord(ProtocolError): ...  # 87
class UnstableOffsetCommit(ProtocolError): ...  # 88
class ThrottlingQuotaExceeded(ProtocolError): ...  # 89
class ProducerFenced(ProtocolError): ...  # 90
class ResourceNotFound(ProtocolError): ...  # 91
class DuplicateResource(ProtocolError): ...  # 92
class UnacceptableCredential(ProtocolError): ...  # 93
class InconsistentVoterSet(ProtocolError): ...  # 94
class InvalidUpdateVersion(ProtocolError): ...  # 95
class FeatureUpdateFailed(ProtocolError): ...  # 96
class PrincipalDeserializationFailure(ProtocolError): ...  # 97
class SnapshotNotFound(ProtocolError): ...  # 98
class PositionOutOfRange(ProtocolError): ...  # 99
class UnknownTopicId(ProtocolError): ...  # 100
class DuplicateBrokerRegistration(ProtocolError): ...  # 101
class BrokerIdNotRegistered(ProtocolError): ...  # 102
class InconsistentTopicId(ProtocolError): ...  # 103
class InconsistentClusterId(ProtocolError): ...  # 104
class TransactionalIdNotFound(ProtocolError): ...  # 105
class FetchSessionTopicIdError(ProtocolError): ...  # 106
class IneligibleReplica(ProtocolError): ...  # 107
class NewLeaderElected(ProtocolError): ...  # 108
class OffsetMovedToTieredStorage(ProtocolError): ...  # 109
class FencedMemberEpoch(ProtocolError): ...  # 110
class UnreleasedInstanceId(ProtocolError): ...  # 111
class UnsupportedAssignor(ProtocolError): ...  # 112
class StaleMemberEpoch(ProtocolError): ...  # 113
class MismatchedEndpointType(ProtocolError): ...  # 114
class UnsupportedEndpointType(ProtocolError): ...  # 115
class UnknownControllerId(ProtocolError): ...  # 116
class UnknownSubscriptionId(ProtocolError): ...  # 117
class TelemetryTooLarge(ProtocolError): ...  # 118
class InvalidRegistration(ProtocolError): ...  # 119
class TransactionAbortable(ProtocolError): ...  # 120
class InvalidRecordState(ProtocolError): ...  # 121
class ShareSessionNotFound(ProtocolError): ...  # 122
class InvalidShareSessionEpoch(ProtocolError): ...  # 123
class FencedStateEpoch(ProtocolError): ...  # 124
class InvalidVoterKey(ProtocolError): ...  # 125
class DuplicateVoter(ProtocolError): ...  # 126
class VoterNotFound(ProtocolError): ...  # 127
class InvalidRegularExpression(ProtocolError): ...  # 128
class RebootstrapRequired(ProtocolError): ...  # 129
class StreamsInvalidTopology(ProtocolError): ...  # 130
class StreamsInvalidTopologyEpoch(ProtocolError): ...  # 131
class StreamsTopologyFenced(ProtocolError): ...  # 132
class ShareSessionLimitReached(ProtocolError): ...  # 133
class GroupDeletionFailed(ProtocolError): ...  # 134
class StreamsTopologyDescriptionUpdateFailed(ProtocolError): ...  # 135
class ControllerIdNotRegistered(ProtocolError): ...  # 136

KafkaTimeoutError = TimedOutError
UnknownError = UnknownServerError
InvalidMessage = CorruptMessage
InvalidMessageSize = InvalidFetchSize
NotLeaderForPartition = NotLeaderOrFollower
MessageSizeTooLarge = MessageTooLarge
StaleControllerEpochCode = StaleControllerEpoch
OffsetMetadataTooLargeCode = OffsetMetadataTooLarge
