"""Type stubs for kafkette (the classes are described in kafkette._kafkette)."""

from typing import Iterator, List, Tuple

from . import _kafkette
from ._admin import Admin as Admin
from ._admin import ConfigEntry as ConfigEntry
from ._admin import GroupDescription as GroupDescription
from ._admin import GroupListing as GroupListing
from ._admin import MemberDescription as MemberDescription
from ._admin import OffsetAndTimestamp as OffsetAndTimestamp
from ._admin import PartitionDescription as PartitionDescription
from ._admin import PartitionLag as PartitionLag
from ._admin import TopicDescription as TopicDescription
from ._admin import Watermarks as Watermarks
from ._kafkette import EARLIEST_OFFSET as EARLIEST_OFFSET
from ._kafkette import LATEST_OFFSET as LATEST_OFFSET
from ._kafkette import AuthenticationError as AuthenticationError
from ._kafkette import AuthorizationError as AuthorizationError
from ._kafkette import BrokerIdNotRegistered as BrokerIdNotRegistered
from ._kafkette import BrokerNotAvailable as BrokerNotAvailable
from ._kafkette import CallInterruptedError as CallInterruptedError
from ._kafkette import CertificateVerificationError as CertificateVerificationError
from ._kafkette import ChecksumError as ChecksumError
from ._kafkette import ClosedError as ClosedError
from ._kafkette import ClusterAuthorizationFailed as ClusterAuthorizationFailed
from ._kafkette import CompressionError as CompressionError
from ._kafkette import ConcurrentTransactions as ConcurrentTransactions
from ._kafkette import ConnectionFailedError as ConnectionFailedError
from ._kafkette import ConsumerClosedError as ConsumerClosedError
from ._kafkette import ControllerIdNotRegistered as ControllerIdNotRegistered
from ._kafkette import CoordinatorLoadInProgress as CoordinatorLoadInProgress
from ._kafkette import CoordinatorNotAvailable as CoordinatorNotAvailable
from ._kafkette import CorruptMessage as CorruptMessage
from ._kafkette import DelegationTokenAuthDisabled as DelegationTokenAuthDisabled
from ._kafkette import DelegationTokenAuthorizationFailed as DelegationTokenAuthorizationFailed
from ._kafkette import DelegationTokenExpired as DelegationTokenExpired
from ._kafkette import DelegationTokenNotFound as DelegationTokenNotFound
from ._kafkette import DelegationTokenOwnerMismatch as DelegationTokenOwnerMismatch
from ._kafkette import DelegationTokenRequestNotAllowed as DelegationTokenRequestNotAllowed
from ._kafkette import DuplicateBrokerRegistration as DuplicateBrokerRegistration
from ._kafkette import DuplicateResource as DuplicateResource
from ._kafkette import DuplicateSequenceNumber as DuplicateSequenceNumber
from ._kafkette import DuplicateVoter as DuplicateVoter
from ._kafkette import ElectionNotNeeded as ElectionNotNeeded
from ._kafkette import EligibleLeadersNotAvailable as EligibleLeadersNotAvailable
from ._kafkette import Error as Error
from ._kafkette import FailedToSendMessages as FailedToSendMessages
from ._kafkette import FeatureUpdateFailed as FeatureUpdateFailed
from ._kafkette import FencedInstanceId as FencedInstanceId
from ._kafkette import FencedLeaderEpoch as FencedLeaderEpoch
from ._kafkette import FencedMemberEpoch as FencedMemberEpoch
from ._kafkette import FencedStateEpoch as FencedStateEpoch
from ._kafkette import FetchedMessage as FetchedMessage
from ._kafkette import FetchSessionIdNotFound as FetchSessionIdNotFound
from ._kafkette import FetchSessionTopicIdError as FetchSessionTopicIdError
from ._kafkette import GroupAuthorizationFailed as GroupAuthorizationFailed
from ._kafkette import GroupDeletionFailed as GroupDeletionFailed
from ._kafkette import GroupIdNotFound as GroupIdNotFound
from ._kafkette import GroupMaxSizeReached as GroupMaxSizeReached
from ._kafkette import GroupSubscribedToTopic as GroupSubscribedToTopic
from ._kafkette import IllegalGeneration as IllegalGeneration
from ._kafkette import IllegalSaslState as IllegalSaslState
from ._kafkette import InconsistentClusterId as InconsistentClusterId
from ._kafkette import InconsistentGroupProtocol as InconsistentGroupProtocol
from ._kafkette import InconsistentTopicId as InconsistentTopicId
from ._kafkette import InconsistentVoterSet as InconsistentVoterSet
from ._kafkette import IneligibleReplica as IneligibleReplica
from ._kafkette import InvalidArgumentError as InvalidArgumentError
from ._kafkette import InvalidCommitOffsetSize as InvalidCommitOffsetSize
from ._kafkette import InvalidConfig as InvalidConfig
from ._kafkette import InvalidFetchSessionEpoch as InvalidFetchSessionEpoch
from ._kafkette import InvalidFetchSize as InvalidFetchSize
from ._kafkette import InvalidGroupId as InvalidGroupId
from ._kafkette import InvalidMessage as InvalidMessage
from ._kafkette import InvalidMessageSize as InvalidMessageSize
from ._kafkette import InvalidPartitionError as InvalidPartitionError
from ._kafkette import InvalidPartitions as InvalidPartitions
from ._kafkette import InvalidPrincipalType as InvalidPrincipalType
from ._kafkette import InvalidProducerEpoch as InvalidProducerEpoch
from ._kafkette import InvalidProducerIdMapping as InvalidProducerIdMapping
from ._kafkette import InvalidRecord as InvalidRecord
from ._kafkette import InvalidRecordState as InvalidRecordState
from ._kafkette import InvalidRegistration as InvalidRegistration
from ._kafkette import InvalidRegularExpression as InvalidRegularExpression
from ._kafkette import InvalidReplicaAssignment as InvalidReplicaAssignment
from ._kafkette import InvalidReplicationFactor as InvalidReplicationFactor
from ._kafkette import InvalidRequest as InvalidRequest
from ._kafkette import InvalidRequiredAcks as InvalidRequiredAcks
from ._kafkette import InvalidSessionTimeout as InvalidSessionTimeout
from ._kafkette import InvalidShareSessionEpoch as InvalidShareSessionEpoch
from ._kafkette import InvalidTimestamp as InvalidTimestamp
from ._kafkette import InvalidTopicException as InvalidTopicException
from ._kafkette import InvalidTransactionTimeout as InvalidTransactionTimeout
from ._kafkette import InvalidTxnState as InvalidTxnState
from ._kafkette import InvalidUpdateVersion as InvalidUpdateVersion
from ._kafkette import InvalidVoterKey as InvalidVoterKey
from ._kafkette import KafkaStorageError as KafkaStorageError
from ._kafkette import KafkaTimeoutError as KafkaTimeoutError
from ._kafkette import LeaderNotAvailable as LeaderNotAvailable
from ._kafkette import ListenerNotFound as ListenerNotFound
from ._kafkette import LogDirNotFound as LogDirNotFound
from ._kafkette import MalformedResponseError as MalformedResponseError
from ._kafkette import MemberIdRequired as MemberIdRequired
from ._kafkette import MessageSizeTooLarge as MessageSizeTooLarge
from ._kafkette import MessageTooLarge as MessageTooLarge
from ._kafkette import MessageToSend as MessageToSend
from ._kafkette import MismatchedEndpointType as MismatchedEndpointType
from ._kafkette import NetworkException as NetworkException
from ._kafkette import NewLeaderElected as NewLeaderElected
from ._kafkette import NonEmptyGroup as NonEmptyGroup
from ._kafkette import NoReassignmentInProgress as NoReassignmentInProgress
from ._kafkette import NotAssignedError as NotAssignedError
from ._kafkette import NotController as NotController
from ._kafkette import NotCoordinator as NotCoordinator
from ._kafkette import NotEnoughReplicas as NotEnoughReplicas
from ._kafkette import NotEnoughReplicasAfterAppend as NotEnoughReplicasAfterAppend
from ._kafkette import NotLeaderForPartition as NotLeaderForPartition
from ._kafkette import NotLeaderOrFollower as NotLeaderOrFollower
from ._kafkette import OffsetMetadataTooLarge as OffsetMetadataTooLarge
from ._kafkette import OffsetMetadataTooLargeCode as OffsetMetadataTooLargeCode
from ._kafkette import OffsetMovedToTieredStorage as OffsetMovedToTieredStorage
from ._kafkette import OffsetNotAvailable as OffsetNotAvailable
from ._kafkette import OffsetOutOfRange as OffsetOutOfRange
from ._kafkette import OperationNotAttempted as OperationNotAttempted
from ._kafkette import OutOfMemoryError as OutOfMemoryError
from ._kafkette import OutOfOrderSequenceNumber as OutOfOrderSequenceNumber
from ._kafkette import PolicyViolation as PolicyViolation
from ._kafkette import PositionOutOfRange as PositionOutOfRange
from ._kafkette import PreferredLeaderNotAvailable as PreferredLeaderNotAvailable
from ._kafkette import PrincipalDeserializationFailure as PrincipalDeserializationFailure
from ._kafkette import ProducedMessage as ProducedMessage
from ._kafkette import Producer as Producer
from ._kafkette import ProducerFenced as ProducerFenced
from ._kafkette import ProducerShutdownError as ProducerShutdownError
from ._kafkette import ProtocolError as ProtocolError
from ._kafkette import ReassignmentInProgress as ReassignmentInProgress
from ._kafkette import RebalanceInProgress as RebalanceInProgress
from ._kafkette import RebootstrapRequired as RebootstrapRequired
from ._kafkette import RecordListTooLarge as RecordListTooLarge
from ._kafkette import ReplicaNotAvailable as ReplicaNotAvailable
from ._kafkette import RequestTimedOut as RequestTimedOut
from ._kafkette import ResourceNotFound as ResourceNotFound
from ._kafkette import SaslAuthenticationFailed as SaslAuthenticationFailed
from ._kafkette import SecurityDisabled as SecurityDisabled
from ._kafkette import SendFailure as SendFailure
from ._kafkette import ShareSessionLimitReached as ShareSessionLimitReached
from ._kafkette import ShareSessionNotFound as ShareSessionNotFound
from ._kafkette import SnapshotNotFound as SnapshotNotFound
from ._kafkette import SSLError as SSLError
from ._kafkette import StaleBrokerEpoch as StaleBrokerEpoch
from ._kafkette import StaleControllerEpoch as StaleControllerEpoch
from ._kafkette import StaleControllerEpochCode as StaleControllerEpochCode
from ._kafkette import StaleMemberEpoch as StaleMemberEpoch
from ._kafkette import StreamsInvalidTopology as StreamsInvalidTopology
from ._kafkette import StreamsInvalidTopologyEpoch as StreamsInvalidTopologyEpoch
from ._kafkette import StreamsTopologyDescriptionUpdateFailed as StreamsTopologyDescriptionUpdateFailed
from ._kafkette import StreamsTopologyFenced as StreamsTopologyFenced
from ._kafkette import TelemetryTooLarge as TelemetryTooLarge
from ._kafkette import ThrottlingQuotaExceeded as ThrottlingQuotaExceeded
from ._kafkette import TimedOutError as TimedOutError
from ._kafkette import TopicAlreadyExists as TopicAlreadyExists
from ._kafkette import TopicAuthorizationFailed as TopicAuthorizationFailed
from ._kafkette import TopicDeletionDisabled as TopicDeletionDisabled
from ._kafkette import TopicPartition as TopicPartition
from ._kafkette import TransactionAbortable as TransactionAbortable
from ._kafkette import TransactionalIdAuthorizationFailed as TransactionalIdAuthorizationFailed
from ._kafkette import TransactionalIdNotFound as TransactionalIdNotFound
from ._kafkette import TransactionCoordinatorFenced as TransactionCoordinatorFenced
from ._kafkette import UnableToFetchMetadata as UnableToFetchMetadata
from ._kafkette import UnacceptableCredential as UnacceptableCredential
from ._kafkette import UnknownControllerId as UnknownControllerId
from ._kafkette import UnknownError as UnknownError
from ._kafkette import UnknownLeaderEpoch as UnknownLeaderEpoch
from ._kafkette import UnknownMemberId as UnknownMemberId
from ._kafkette import UnknownProducerId as UnknownProducerId
from ._kafkette import UnknownServerError as UnknownServerError
from ._kafkette import UnknownSubscriptionId as UnknownSubscriptionId
from ._kafkette import UnknownTopicId as UnknownTopicId
from ._kafkette import UnknownTopicOrPartition as UnknownTopicOrPartition
from ._kafkette import UnrecognizedProtocolError as UnrecognizedProtocolError
from ._kafkette import UnreleasedInstanceId as UnreleasedInstanceId
from ._kafkette import UnstableOffsetCommit as UnstableOffsetCommit
from ._kafkette import UnsupportedAssignor as UnsupportedAssignor
from ._kafkette import UnsupportedCompressionType as UnsupportedCompressionType
from ._kafkette import UnsupportedEndpointType as UnsupportedEndpointType
from ._kafkette import UnsupportedForMessageFormat as UnsupportedForMessageFormat
from ._kafkette import UnsupportedSaslMechanism as UnsupportedSaslMechanism
from ._kafkette import UnsupportedVersion as UnsupportedVersion
from ._kafkette import UnsupportedVersionError as UnsupportedVersionError
from ._kafkette import VoterNotFound as VoterNotFound
from ._kafkette import __version__ as __version__
from ._kafkette import create_topic as create_topic
from ._kafkette import delete_topic as delete_topic
from ._kafkette import error_class as error_class

class PartitionConsumer(_kafkette.PartitionConsumer):
    def __iter__(self) -> Iterator[FetchedMessage]: ...

class ConsumerGroup(_kafkette.ConsumerGroup):
    def __iter__(self) -> Iterator[Tuple[TopicPartition, List[FetchedMessage]]]: ...

__all__ = [
    "Admin",
    "AuthenticationError",
    "AuthorizationError",
    "BrokerIdNotRegistered",
    "BrokerNotAvailable",
    "CallInterruptedError",
    "CertificateVerificationError",
    "ChecksumError",
    "ClosedError",
    "ClusterAuthorizationFailed",
    "CompressionError",
    "ConcurrentTransactions",
    "ConfigEntry",
    "ConnectionFailedError",
    "ConsumerClosedError",
    "ConsumerGroup",
    "ControllerIdNotRegistered",
    "CoordinatorLoadInProgress",
    "CoordinatorNotAvailable",
    "CorruptMessage",
    "DelegationTokenAuthDisabled",
    "DelegationTokenAuthorizationFailed",
    "DelegationTokenExpired",
    "DelegationTokenNotFound",
    "DelegationTokenOwnerMismatch",
    "DelegationTokenRequestNotAllowed",
    "DuplicateBrokerRegistration",
    "DuplicateResource",
    "DuplicateSequenceNumber",
    "DuplicateVoter",
    "EARLIEST_OFFSET",
    "ElectionNotNeeded",
    "EligibleLeadersNotAvailable",
    "Error",
    "FailedToSendMessages",
    "FeatureUpdateFailed",
    "FencedInstanceId",
    "FencedLeaderEpoch",
    "FencedMemberEpoch",
    "FencedStateEpoch",
    "FetchSessionIdNotFound",
    "FetchSessionTopicIdError",
    "FetchedMessage",
    "GroupAuthorizationFailed",
    "GroupDeletionFailed",
    "GroupDescription",
    "GroupIdNotFound",
    "GroupListing",
    "GroupMaxSizeReached",
    "GroupSubscribedToTopic",
    "IllegalGeneration",
    "IllegalSaslState",
    "InconsistentClusterId",
    "InconsistentGroupProtocol",
    "InconsistentTopicId",
    "InconsistentVoterSet",
    "IneligibleReplica",
    "InvalidArgumentError",
    "InvalidCommitOffsetSize",
    "InvalidConfig",
    "InvalidFetchSessionEpoch",
    "InvalidFetchSize",
    "InvalidGroupId",
    "InvalidMessage",
    "InvalidMessageSize",
    "InvalidPartitionError",
    "InvalidPartitions",
    "InvalidPrincipalType",
    "InvalidProducerEpoch",
    "InvalidProducerIdMapping",
    "InvalidRecord",
    "InvalidRecordState",
    "InvalidRegistration",
    "InvalidRegularExpression",
    "InvalidReplicaAssignment",
    "InvalidReplicationFactor",
    "InvalidRequest",
    "InvalidRequiredAcks",
    "InvalidSessionTimeout",
    "InvalidShareSessionEpoch",
    "InvalidTimestamp",
    "InvalidTopicException",
    "InvalidTransactionTimeout",
    "InvalidTxnState",
    "InvalidUpdateVersion",
    "InvalidVoterKey",
    "KafkaStorageError",
    "KafkaTimeoutError",
    "LATEST_OFFSET",
    "LeaderNotAvailable",
    "ListenerNotFound",
    "LogDirNotFound",
    "MalformedResponseError",
    "MemberDescription",
    "MemberIdRequired",
    "MessageSizeTooLarge",
    "MessageToSend",
    "MessageTooLarge",
    "MismatchedEndpointType",
    "NetworkException",
    "NewLeaderElected",
    "NoReassignmentInProgress",
    "NonEmptyGroup",
    "NotAssignedError",
    "NotController",
    "NotCoordinator",
    "NotEnoughReplicas",
    "NotEnoughReplicasAfterAppend",
    "NotLeaderForPartition",
    "NotLeaderOrFollower",
    "OffsetAndTimestamp",
    "OffsetMetadataTooLarge",
    "OffsetMetadataTooLargeCode",
    "OffsetMovedToTieredStorage",
    "OffsetNotAvailable",
    "OffsetOutOfRange",
    "OperationNotAttempted",
    "OutOfMemoryError",
    "OutOfOrderSequenceNumber",
    "PartitionConsumer",
    "PartitionDescription",
    "PartitionLag",
    "PolicyViolation",
    "PositionOutOfRange",
    "PreferredLeaderNotAvailable",
    "PrincipalDeserializationFailure",
    "ProducedMessage",
    "Producer",
    "ProducerFenced",
    "ProducerShutdownError",
    "ProtocolError",
    "ReassignmentInProgress",
    "RebalanceInProgress",
    "RebootstrapRequired",
    "RecordListTooLarge",
    "ReplicaNotAvailable",
    "RequestTimedOut",
    "ResourceNotFound",
    "SSLError",
    "SaslAuthenticationFailed",
    "SecurityDisabled",
    "SendFailure",
    "ShareSessionLimitReached",
    "ShareSessionNotFound",
    "SnapshotNotFound",
    "StaleBrokerEpoch",
    "StaleControllerEpoch",
    "StaleControllerEpochCode",
    "StaleMemberEpoch",
    "StreamsInvalidTopology",
    "StreamsInvalidTopologyEpoch",
    "StreamsTopologyDescriptionUpdateFailed",
    "StreamsTopologyFenced",
    "TelemetryTooLarge",
    "ThrottlingQuotaExceeded",
    "TimedOutError",
    "TopicAlreadyExists",
    "TopicAuthorizationFailed",
    "TopicDeletionDisabled",
    "TopicDescription",
    "TopicPartition",
    "TransactionAbortable",
    "TransactionCoordinatorFenced",
    "TransactionalIdAuthorizationFailed",
    "TransactionalIdNotFound",
    "UnableToFetchMetadata",
    "UnacceptableCredential",
    "UnknownControllerId",
    "UnknownError",
    "UnknownLeaderEpoch",
    "UnknownMemberId",
    "UnknownProducerId",
    "UnknownServerError",
    "UnknownSubscriptionId",
    "UnknownTopicId",
    "UnknownTopicOrPartition",
    "UnrecognizedProtocolError",
    "UnreleasedInstanceId",
    "UnstableOffsetCommit",
    "UnsupportedAssignor",
    "UnsupportedCompressionType",
    "UnsupportedEndpointType",
    "UnsupportedForMessageFormat",
    "UnsupportedSaslMechanism",
    "UnsupportedVersion",
    "UnsupportedVersionError",
    "VoterNotFound",
    "Watermarks",
    "__version__",
    "create_topic",
    "delete_topic",
    "error_class",
]
