/*
 * Error codes and messages. The broker codes and their retriable flags follow the Kafka
 * protocol guide (generated from Kafka 4.x's error table: -1, then 1 to 136 with no gaps);
 * the descriptions are our own. Client-side names start with "_" so they never collide
 * with a broker name.
 */
#include "error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* X(code, NAME, retriable, category, description), ascending by code; the category is a
 * kk_err_category_t without its KK_CAT_ prefix. */
#define KK_BROKER_ERRORS(X) \
    X(-1, UNKNOWN_SERVER_ERROR, false, BROKER, "the broker hit an unexpected internal error") \
    X(1, OFFSET_OUT_OF_RANGE, false, BROKER, \
      "the offset is outside the range the broker holds for the partition") \
    X(2, CORRUPT_MESSAGE, true, BROKER, \
      "the record batch failed its CRC, exceeds the size limit or is otherwise corrupt") \
    X(3, UNKNOWN_TOPIC_OR_PARTITION, true, BROKER, "the broker does not host this topic or partition") \
    X(4, INVALID_FETCH_SIZE, false, BROKER, "the requested fetch size is not valid") \
    X(5, LEADER_NOT_AVAILABLE, true, BROKER, \
      "the partition has no leader right now (an election is under way)") \
    X(6, NOT_LEADER_OR_FOLLOWER, true, BROKER, \
      "the broker is not the leader (or not a replica) for this partition") \
    X(7, REQUEST_TIMED_OUT, true, BROKER, "the broker timed out while handling the request") \
    X(8, BROKER_NOT_AVAILABLE, false, BROKER, "the broker is not available") \
    X(9, REPLICA_NOT_AVAILABLE, true, BROKER, "the requested replica is not available on the broker") \
    X(10, MESSAGE_TOO_LARGE, false, BROKER, "a record is larger than the broker's maximum message size") \
    X(11, STALE_CONTROLLER_EPOCH, false, BROKER, \
      "the controller epoch is stale: the controller moved to another broker") \
    X(12, OFFSET_METADATA_TOO_LARGE, false, BROKER, "the offset commit metadata string is too long") \
    X(13, NETWORK_EXCEPTION, true, BROKER, "the broker closed the connection before sending a response") \
    X(14, COORDINATOR_LOAD_IN_PROGRESS, true, BROKER, "the coordinator is still loading its state") \
    X(15, COORDINATOR_NOT_AVAILABLE, true, BROKER, "the coordinator is not available") \
    X(16, NOT_COORDINATOR, true, BROKER, \
      "this broker is not the coordinator for the group or transaction") \
    X(17, INVALID_TOPIC_EXCEPTION, false, BROKER, \
      "the topic name is not valid, or the operation is not allowed on this topic") \
    X(18, RECORD_LIST_TOO_LARGE, false, BROKER, \
      "the record batch is larger than the broker's log segment size") \
    X(19, NOT_ENOUGH_REPLICAS, true, BROKER, "too few in-sync replicas to accept the write") \
    X(20, NOT_ENOUGH_REPLICAS_AFTER_APPEND, true, BROKER, \
      "the write was stored, but on fewer in-sync replicas than required") \
    X(21, INVALID_REQUIRED_ACKS, false, BROKER, "the produce request has an invalid acks value") \
    X(22, ILLEGAL_GENERATION, false, BROKER, "the group generation id is not valid") \
    X(23, INCONSISTENT_GROUP_PROTOCOL, false, BROKER, \
      "the member's protocols do not match those of the group") \
    X(24, INVALID_GROUP_ID, false, BROKER, "the group id is not valid") \
    X(25, UNKNOWN_MEMBER_ID, false, BROKER, "the coordinator does not know this member id") \
    X(26, INVALID_SESSION_TIMEOUT, false, BROKER, \
      "the session timeout is outside the range the broker allows") \
    X(27, REBALANCE_IN_PROGRESS, false, BROKER, "the group is rebalancing and the member must rejoin") \
    X(28, INVALID_COMMIT_OFFSET_SIZE, false, BROKER, "the size of the committed offset data is not valid") \
    X(29, TOPIC_AUTHORIZATION_FAILED, false, AUTHORIZATION, "not authorized to access the topic") \
    X(30, GROUP_AUTHORIZATION_FAILED, false, AUTHORIZATION, "not authorized to access the group") \
    X(31, CLUSTER_AUTHORIZATION_FAILED, false, AUTHORIZATION, "not authorized to perform this cluster operation") \
    X(32, INVALID_TIMESTAMP, false, BROKER, "a record timestamp is outside the accepted range") \
    X(33, UNSUPPORTED_SASL_MECHANISM, false, AUTHENTICATION, \
      "the broker does not support the requested SASL mechanism") \
    X(34, ILLEGAL_SASL_STATE, false, AUTHENTICATION, "the request is not valid in the current SASL state") \
    X(35, UNSUPPORTED_VERSION, false, BROKER, "the broker does not support this API version") \
    X(36, TOPIC_ALREADY_EXISTS, false, BROKER, "a topic with this name already exists") \
    X(37, INVALID_PARTITIONS, false, BROKER, "the number of partitions is not valid") \
    X(38, INVALID_REPLICATION_FACTOR, false, BROKER, \
      "the replication factor is below 1 or above the number of brokers") \
    X(39, INVALID_REPLICA_ASSIGNMENT, false, BROKER, "the replica assignment is not valid") \
    X(40, INVALID_CONFIG, false, BROKER, "the configuration is not valid") \
    X(41, NOT_CONTROLLER, true, BROKER, "this broker is not the active controller") \
    X(42, INVALID_REQUEST, false, BROKER, "the request is malformed or not understood by this broker") \
    X(43, UNSUPPORTED_FOR_MESSAGE_FORMAT, false, BROKER, \
      "the broker's message format version cannot serve this request") \
    X(44, POLICY_VIOLATION, false, BROKER, "the request violates a policy configured on the broker") \
    X(45, OUT_OF_ORDER_SEQUENCE_NUMBER, false, BROKER, \
      "the broker got a producer sequence number out of order") \
    X(46, DUPLICATE_SEQUENCE_NUMBER, false, BROKER, "the broker got a duplicate producer sequence number") \
    X(47, INVALID_PRODUCER_EPOCH, false, BROKER, "the producer epoch is older than the current one") \
    X(48, INVALID_TXN_STATE, false, BROKER, \
      "the transactional operation is not valid in the current transaction state") \
    X(49, INVALID_PRODUCER_ID_MAPPING, false, BROKER, \
      "the producer id is not the one assigned to this transactional id") \
    X(50, INVALID_TRANSACTION_TIMEOUT, false, BROKER, \
      "the transaction timeout exceeds the broker's maximum") \
    X(51, CONCURRENT_TRANSACTIONS, true, BROKER, \
      "another operation on the same transaction is still in progress") \
    X(52, TRANSACTION_COORDINATOR_FENCED, false, BROKER, \
      "the transaction coordinator sending the marker is no longer current") \
    X(53, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, false, AUTHORIZATION, \
      "not authorized to use the transactional id") \
    X(54, SECURITY_DISABLED, false, BROKER, "security features are disabled on the broker") \
    X(55, OPERATION_NOT_ATTEMPTED, false, BROKER, \
      "the broker skipped this operation because another one in the batch failed") \
    X(56, KAFKA_STORAGE_ERROR, true, BROKER, "the broker had a disk error accessing the log") \
    X(57, LOG_DIR_NOT_FOUND, false, BROKER, "the requested log directory is not configured on the broker") \
    X(58, SASL_AUTHENTICATION_FAILED, false, AUTHENTICATION, "SASL authentication failed") \
    X(59, UNKNOWN_PRODUCER_ID, false, BROKER, "the broker has no state for this producer id") \
    X(60, REASSIGNMENT_IN_PROGRESS, false, BROKER, "a partition reassignment is in progress") \
    X(61, DELEGATION_TOKEN_AUTH_DISABLED, false, BROKER, "delegation tokens are not enabled") \
    X(62, DELEGATION_TOKEN_NOT_FOUND, false, BROKER, "the delegation token does not exist") \
    X(63, DELEGATION_TOKEN_OWNER_MISMATCH, false, BROKER, \
      "the principal is not the owner or renewer of the delegation token") \
    X(64, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, false, BROKER, \
      "delegation token requests are not allowed on this kind of connection") \
    X(65, DELEGATION_TOKEN_AUTHORIZATION_FAILED, false, AUTHORIZATION, \
      "not authorized to use the delegation token") \
    X(66, DELEGATION_TOKEN_EXPIRED, false, BROKER, "the delegation token has expired") \
    X(67, INVALID_PRINCIPAL_TYPE, false, BROKER, "the principal type is not supported") \
    X(68, NON_EMPTY_GROUP, false, BROKER, "the group still has members") \
    X(69, GROUP_ID_NOT_FOUND, false, BROKER, "no group with this id exists") \
    X(70, FETCH_SESSION_ID_NOT_FOUND, true, BROKER, "the fetch session id is not known to the broker") \
    X(71, INVALID_FETCH_SESSION_EPOCH, true, BROKER, "the fetch session epoch is not valid") \
    X(72, LISTENER_NOT_FOUND, true, BROKER, \
      "the leader has no listener matching the one the metadata came from") \
    X(73, TOPIC_DELETION_DISABLED, false, BROKER, "topic deletion is disabled on the broker") \
    X(74, FENCED_LEADER_EPOCH, true, BROKER, "the request's leader epoch is older than the broker's") \
    X(75, UNKNOWN_LEADER_EPOCH, true, BROKER, "the request's leader epoch is newer than the broker's") \
    X(76, UNSUPPORTED_COMPRESSION_TYPE, false, BROKER, \
      "the client does not support the partition's compression type") \
    X(77, STALE_BROKER_EPOCH, false, BROKER, "the broker epoch has changed") \
    X(78, OFFSET_NOT_AVAILABLE, true, BROKER, \
      "the new leader's high watermark has not caught up yet, so no offset can be given") \
    X(79, MEMBER_ID_REQUIRED, false, BROKER, "the member must get a member id before joining the group") \
    X(80, PREFERRED_LEADER_NOT_AVAILABLE, true, BROKER, "the preferred leader is not available") \
    X(81, GROUP_MAX_SIZE_REACHED, false, BROKER, "the group has reached its maximum number of members") \
    X(82, FENCED_INSTANCE_ID, false, BROKER, "another member with the same group.instance.id took over") \
    X(83, ELIGIBLE_LEADERS_NOT_AVAILABLE, true, BROKER, \
      "no eligible leader is available for the partition") \
    X(84, ELECTION_NOT_NEEDED, true, BROKER, "the partition needs no leader election") \
    X(85, NO_REASSIGNMENT_IN_PROGRESS, false, BROKER, "no partition reassignment is in progress") \
    X(86, GROUP_SUBSCRIBED_TO_TOPIC, false, BROKER, \
      "offsets of a topic cannot be deleted while the group is subscribed to it") \
    X(87, INVALID_RECORD, false, BROKER, "the broker rejected a record that failed its validation") \
    X(88, UNSTABLE_OFFSET_COMMIT, true, BROKER, \
      "there are unstable (pending transactional) offsets still to be resolved") \
    X(89, THROTTLING_QUOTA_EXCEEDED, true, BROKER, "the throttling quota was exceeded") \
    X(90, PRODUCER_FENCED, false, BROKER, \
      "a newer producer with the same transactional id has fenced this one") \
    X(91, RESOURCE_NOT_FOUND, false, BROKER, "the request refers to a resource that does not exist") \
    X(92, DUPLICATE_RESOURCE, false, BROKER, "the request refers to the same resource more than once") \
    X(93, UNACCEPTABLE_CREDENTIAL, false, BROKER, "the credential does not meet the acceptance criteria") \
    X(94, INCONSISTENT_VOTER_SET, false, BROKER, \
      "the sender or receiver of a voter request is not an expected voter") \
    X(95, INVALID_UPDATE_VERSION, false, BROKER, "the update version is not valid") \
    X(96, FEATURE_UPDATE_FAILED, false, BROKER, "the finalized features could not be updated") \
    X(97, PRINCIPAL_DESERIALIZATION_FAILURE, false, BROKER, \
      "the broker failed to deserialize the forwarded principal") \
    X(98, SNAPSHOT_NOT_FOUND, false, BROKER, "the requested snapshot does not exist") \
    X(99, POSITION_OUT_OF_RANGE, false, BROKER, \
      "the snapshot position is negative or past the end of the snapshot") \
    X(100, UNKNOWN_TOPIC_ID, true, BROKER, "the broker does not host this topic id") \
    X(101, DUPLICATE_BROKER_REGISTRATION, false, BROKER, "the broker id is already registered") \
    X(102, BROKER_ID_NOT_REGISTERED, false, BROKER, "the broker id is not registered") \
    X(103, INCONSISTENT_TOPIC_ID, true, BROKER, \
      "the topic id in the request does not match the log's topic id") \
    X(104, INCONSISTENT_CLUSTER_ID, false, BROKER, \
      "the cluster id in the request does not match the server's") \
    X(105, TRANSACTIONAL_ID_NOT_FOUND, false, BROKER, "the transactional id does not exist") \
    X(106, FETCH_SESSION_TOPIC_ID_ERROR, true, BROKER, "the fetch session used topic ids inconsistently") \
    X(107, INELIGIBLE_REPLICA, false, BROKER, "the new ISR contains a replica that is not eligible") \
    X(108, NEW_LEADER_ELECTED, false, BROKER, \
      "the partition state was updated, but the leader has changed") \
    X(109, OFFSET_MOVED_TO_TIERED_STORAGE, false, BROKER, \
      "the requested offset has moved to tiered storage") \
    X(110, FENCED_MEMBER_EPOCH, false, BROKER, \
      "the member epoch was fenced; the member must give up its partitions and rejoin") \
    X(111, UNRELEASED_INSTANCE_ID, false, BROKER, "another group member still uses this instance id") \
    X(112, UNSUPPORTED_ASSIGNOR, false, BROKER, "the group does not support this assignor or its version") \
    X(113, STALE_MEMBER_EPOCH, false, BROKER, \
      "the member epoch is stale; retry after the heartbeat updates it") \
    X(114, MISMATCHED_ENDPOINT_TYPE, false, BROKER, "the request went to an endpoint of the wrong type") \
    X(115, UNSUPPORTED_ENDPOINT_TYPE, false, BROKER, "this endpoint type is not supported yet") \
    X(116, UNKNOWN_CONTROLLER_ID, false, BROKER, "the controller id is not known") \
    X(117, UNKNOWN_SUBSCRIPTION_ID, false, BROKER, "the telemetry subscription id is unknown or outdated") \
    X(118, TELEMETRY_TOO_LARGE, false, BROKER, "the telemetry push is larger than the broker accepts") \
    X(119, INVALID_REGISTRATION, false, BROKER, \
      "the controller considers the broker registration invalid") \
    X(120, TRANSACTION_ABORTABLE, false, BROKER, \
      "the transaction hit an error; abort it to keep using the transactional id") \
    X(121, INVALID_RECORD_STATE, false, BROKER, "the record's state does not allow the acknowledgement") \
    X(122, SHARE_SESSION_NOT_FOUND, true, BROKER, "the share session does not exist") \
    X(123, INVALID_SHARE_SESSION_EPOCH, true, BROKER, "the share session epoch is not valid") \
    X(124, FENCED_STATE_EPOCH, false, BROKER, "the state epoch does not match the coordinator's") \
    X(125, INVALID_VOTER_KEY, false, BROKER, "the voter key does not match the receiving replica's") \
    X(126, DUPLICATE_VOTER, false, BROKER, "the voter already belongs to the voter set") \
    X(127, VOTER_NOT_FOUND, false, BROKER, "the voter does not belong to the voter set") \
    X(128, INVALID_REGULAR_EXPRESSION, false, BROKER, "the regular expression is not valid") \
    X(129, REBOOTSTRAP_REQUIRED, false, BROKER, "the client's metadata is stale; it must bootstrap again") \
    X(130, STREAMS_INVALID_TOPOLOGY, false, BROKER, "the streams topology is not valid") \
    X(131, STREAMS_INVALID_TOPOLOGY_EPOCH, false, BROKER, "the streams topology epoch is not valid") \
    X(132, STREAMS_TOPOLOGY_FENCED, false, BROKER, "the streams topology epoch is outdated") \
    X(133, SHARE_SESSION_LIMIT_REACHED, true, BROKER, \
      "the broker has reached its limit of share sessions") \
    X(134, GROUP_DELETION_FAILED, false, BROKER, "the group deletion failed; see the per-group result") \
    X(135, STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED, false, BROKER, \
      "the streams topology description could not be updated") \
    X(136, CONTROLLER_ID_NOT_REGISTERED, false, BROKER, "the controller id is not registered")


/* X(suffix of the KK_ERR_ constant, retriable, category, description). */
#define KK_CLIENT_ERRORS(X) \
    X(TIMED_OUT, true, TIMEOUT, "a connect or I/O deadline passed") \
    X(CONNECTION_REFUSED, true, CONNECTION, "the broker refused the connection") \
    X(RESOLVE, false, CONNECTION, "the host name could not be resolved") \
    X(CONNECTION_CLOSED, true, CONNECTION, "the broker closed the connection") \
    X(IO, true, CONNECTION, "a socket error occurred") \
    X(MALFORMED, false, MALFORMED, "a response could not be decoded") \
    X(CORRELATION, false, MALFORMED, "a response did not match the request sent") \
    X(RESPONSE_TOO_LARGE, false, MALFORMED, "a response is larger than the configured limit") \
    X(INTERRUPTED, false, INTERRUPTED, "the call was interrupted") \
    X(NO_MEMORY, false, NO_MEMORY, "out of memory") \
    X(INVALID_ARG, false, INVALID_ARGUMENT, "an argument is not valid") \
    X(UNSUPPORTED_VERSION, false, UNSUPPORTED_VERSION, "the broker supports no version of the API that we speak") \
    X(NO_BROKERS, true, METADATA, "no seed broker could be reached") \
    X(NOT_CONNECTED, true, CONNECTION, "the connection is not open") \
    X(CRC, false, CHECKSUM, "fetched data failed its checksum") \
    X(COMPRESSION, false, COMPRESSION, "a compression codec failed or is not available") \
    X(UNKNOWN_BROKER, true, METADATA, "the broker id is not in the cluster metadata") \
    X(STATE, false, CLOSED, "the object was used after close or out of order") \
    X(INVALID_PARTITION, false, INVALID_PARTITION, "the partition does not exist or the partitioner chose none") \
    X(PARTIAL_FAILURE, false, DELIVERY, "some messages of the batch were not delivered") \
    X(NOT_ASSIGNED, false, NOT_ASSIGNED, "the partition is not (or no longer) assigned to this group member") \
    X(AUTHENTICATION, false, AUTHENTICATION, \
      "the broker did not accept the client's credentials, or could not prove its own") \
    X(SSL, false, SSL, "the TLS handshake or a TLS record failed") \
    X(CERTIFICATE, false, CERTIFICATE, "the broker's certificate failed verification") \
    X(QUEUE_FULL, true, TIMEOUT, "the producer's buffer stayed full for max_block_ms") \
    X(PURGED, false, CLOSED, "the message was dropped unsent when the producer closed or purged")

typedef struct kk_err_info {
    const char *name;
    const char *description;
    bool retriable;
    kk_err_category_t category;
} kk_err_info_t;

/* Indexed by code + 1. Designated initializers: a duplicate code fails to compile under
 * -Wextra (-Woverride-init), a gap fails the assertion below. */
#define BROKER_ENTRY(code, name, retriable, category, desc) \
    [(code) + 1] = {#name, desc, retriable, KK_CAT_##category},
static const kk_err_info_t broker_errors[] = {
    [1] = {"NONE", "success", false, KK_CAT_NONE},
    KK_BROKER_ERRORS(BROKER_ENTRY)
};

#define BROKER_CODE(code, name, retriable, category, desc) (code),
static const int16_t broker_codes[] = {KK_BROKER_ERRORS(BROKER_CODE)};

_Static_assert(COUNT(broker_errors) == COUNT(broker_codes) + 1,
               "the broker error list must be dense from -1 up");

/* Indexed by -code - 100. */
#define CLIENT_ENTRY(suffix, retriable, category, desc) \
    [-(KK_ERR_##suffix) - 100] = {"_" #suffix, desc, retriable, KK_CAT_##category},
static const kk_err_info_t client_errors[] = {KK_CLIENT_ERRORS(CLIENT_ENTRY)};

#define CLIENT_ONE(suffix, retriable, category, desc) +1
_Static_assert(COUNT(client_errors) == 0 KK_CLIENT_ERRORS(CLIENT_ONE),
               "client error codes must be dense from -100 down");

#define CLIENT_CODE(suffix, retriable, category, desc) KK_ERR_##suffix,
static const int client_codes[] = {KK_CLIENT_ERRORS(CLIENT_CODE)};

/* Poseidon's class names where they differ from the protocol's: X(code, alias). */
#define KK_POSEIDON_ALIASES(X) \
    X(-1, UnknownError) \
    X(2, InvalidMessage) \
    X(4, InvalidMessageSize) \
    X(6, NotLeaderForPartition) \
    X(10, MessageSizeTooLarge) \
    X(11, StaleControllerEpochCode) \
    X(12, OffsetMetadataTooLargeCode)

/* The classes that are not a broker code's own, parents first: X(name, parent, category,
 * alias, doc). A category appears at most once; NONE marks classes raised for no code of their
 * own (the root, ProtocolError's fallback, and the closed-object kinds bindings raise). */
#define KK_ERROR_CLASSES(X) \
    X(Error, NULL, NONE, NULL, "every error kafkette raises") \
    X(ProtocolError, "Error", BROKER, NULL, "an error code a Kafka broker returned") \
    X(UnrecognizedProtocolError, "ProtocolError", NONE, NULL, \
      "a broker error code this version of kafkette does not know") \
    X(AuthorizationError, "ProtocolError", AUTHORIZATION, NULL, \
      "the broker does not allow this principal the operation") \
    X(AuthenticationError, "Error", AUTHENTICATION, NULL, \
      "the broker did not accept the client's credentials") \
    X(ConnectionFailedError, "Error", CONNECTION, NULL, \
      "connecting to or talking with a broker failed") \
    X(SSLError, "ConnectionFailedError", SSL, NULL, \
      "the TLS handshake or a TLS record failed, or only one side spoke TLS") \
    X(CertificateVerificationError, "SSLError", CERTIFICATE, NULL, \
      "the broker's certificate failed verification (unknown CA, expired, wrong host name)") \
    X(TimedOutError, "ConnectionFailedError", TIMEOUT, "KafkaTimeoutError", \
      "a connect or request deadline passed") \
    X(UnableToFetchMetadata, "ConnectionFailedError", METADATA, NULL, \
      "no seed broker could be reached, or a broker is missing from the metadata") \
    X(MalformedResponseError, "Error", MALFORMED, NULL, \
      "a response that does not decode, does not match its request, or is too large") \
    X(ChecksumError, "Error", CHECKSUM, NULL, "fetched data failed its checksum") \
    X(CompressionError, "Error", COMPRESSION, NULL, "a compression codec failed") \
    X(UnsupportedVersionError, "Error", UNSUPPORTED_VERSION, NULL, \
      "the broker speaks no version of an API that kafkette speaks") \
    X(ClosedError, "Error", CLOSED, NULL, "an object was used after close") \
    X(ProducerShutdownError, "ClosedError", NONE, NULL, "a producer was used after close") \
    X(ConsumerClosedError, "ClosedError", NONE, NULL, \
      "a consumer or consumer group was used after close") \
    X(CallInterruptedError, "Error", INTERRUPTED, NULL, \
      "a blocking call was interrupted (by close from another thread, or an interrupt)") \
    X(InvalidPartitionError, "Error", INVALID_PARTITION, NULL, \
      "the partition does not exist, or the partitioner chose none") \
    X(NotAssignedError, "Error", NOT_ASSIGNED, NULL, \
      "the group member does not (or no longer) own the partition") \
    X(InvalidArgumentError, "Error", INVALID_ARGUMENT, NULL, \
      "an option or argument is not valid") \
    X(OutOfMemoryError, "Error", NO_MEMORY, NULL, "an allocation failed") \
    X(FailedToSendMessages, "Error", DELIVERY, NULL, \
      "some messages of a send were not delivered")

#define CLASS_ENTRY(name, parent, category, alias, doc) \
    {#name, parent, KK_CAT_##category, alias, doc},
static const kk_error_class_t error_classes[] = {KK_ERROR_CLASSES(CLASS_ENTRY)};

static const char *const category_names[KK_CAT__COUNT] = {
    [KK_CAT_NONE] = "none",
    [KK_CAT_BROKER] = "broker",
    [KK_CAT_CONNECTION] = "connection",
    [KK_CAT_TIMEOUT] = "timeout",
    [KK_CAT_METADATA] = "metadata",
    [KK_CAT_MALFORMED] = "malformed",
    [KK_CAT_CHECKSUM] = "checksum",
    [KK_CAT_COMPRESSION] = "compression",
    [KK_CAT_UNSUPPORTED_VERSION] = "unsupported_version",
    [KK_CAT_CLOSED] = "closed",
    [KK_CAT_INTERRUPTED] = "interrupted",
    [KK_CAT_INVALID_PARTITION] = "invalid_partition",
    [KK_CAT_NOT_ASSIGNED] = "not_assigned",
    [KK_CAT_INVALID_ARGUMENT] = "invalid_argument",
    [KK_CAT_NO_MEMORY] = "no_memory",
    [KK_CAT_DELIVERY] = "delivery",
    [KK_CAT_AUTHENTICATION] = "authentication",
    [KK_CAT_AUTHORIZATION] = "authorization",
    [KK_CAT_SSL] = "ssl",
    [KK_CAT_CERTIFICATE] = "certificate",
    [KK_CAT_UNKNOWN] = "unknown",
};

/* Room for "..." and the terminator when a message is cut. */
_Static_assert(KK_ERROR_MESSAGE_SIZE >= 8, "KK_ERROR_MESSAGE_SIZE is too small");

static const kk_err_info_t unknown_error = {"UNKNOWN_CODE", "unknown error code", false,
                                            KK_CAT_UNKNOWN};

static const kk_err_info_t *err_info(int code)
{
    const kk_err_info_t *e = NULL;
    if (code >= -1 && code < (int)COUNT(broker_errors) - 1)
        e = &broker_errors[code + 1];
    else if (code <= -100 && code > -100 - (int)COUNT(client_errors))
        e = &client_errors[-code - 100];
    return e && e->name ? e : &unknown_error;
}

const char *kk_err_name(int code)
{
    return err_info(code)->name;
}

const char *kk_err_description(int code)
{
    return err_info(code)->description;
}

bool kk_err_is_retriable(int code)
{
    return err_info(code)->retriable;
}

size_t kk_err_broker_code_list(const int16_t **out)
{
    if (out)
        *out = broker_codes;
    return COUNT(broker_codes);
}

size_t kk_err_client_code_list(const int **out)
{
    if (out)
        *out = client_codes;
    return COUNT(client_codes);
}

kk_err_category_t kk_err_category(int code)
{
    return err_info(code)->category;
}

const char *kk_err_category_name(kk_err_category_t category)
{
    if ((int)category < 0 || category >= KK_CAT__COUNT)
        return "unknown";
    return category_names[category];
}

size_t kk_error_class_list(const kk_error_class_t **out)
{
    if (out)
        *out = error_classes;
    return COUNT(error_classes);
}

static const kk_error_class_t *class_of_category(kk_err_category_t category)
{
    for (size_t i = 0; i < COUNT(error_classes); i++)
        if (error_classes[i].category == category)
            return &error_classes[i];
    return &error_classes[0]; /* KK_CAT_UNKNOWN: the root */
}

static bool is_known_broker_code(int code)
{
    return code != 0 && code >= -1 && code < (int)COUNT(broker_errors) - 1;
}

/* Copies src into buf (size bytes, terminated when size > 0); returns strlen(src) as
 * snprintf does, so a caller can see the name was cut. */
static size_t copy_name(char *buf, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (size > 0) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(buf, src, k);
        buf[k] = '\0';
    }
    return n;
}

size_t kk_err_class_name(int code, char *buf, size_t size)
{
    if (!is_known_broker_code(code)) {
        const char *name = code > 0 ? "UnrecognizedProtocolError"
                                    : class_of_category(kk_err_category(code))->name;
        return copy_name(buf, size, name);
    }
    /* NOT_LEADER_OR_FOLLOWER -> NotLeaderOrFollower */
    size_t n = 0;
    bool upper = true;
    for (const char *p = kk_err_name(code); *p; p++) {
        if (*p == '_') {
            upper = true;
            continue;
        }
        char c = upper ? *p : (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        if (size > 0 && n + 1 < size)
            buf[n] = c;
        n++;
        upper = false;
    }
    if (size > 0)
        buf[n < size ? n : size - 1] = '\0';
    return n;
}

const char *kk_err_class_parent(int code)
{
    if (is_known_broker_code(code))
        return class_of_category(kk_err_category(code))->name;
    if (code > 0)
        return "ProtocolError";
    return class_of_category(kk_err_category(code))->parent;
}

const char *kk_err_poseidon_alias(int code)
{
#define ALIAS_CASE(c, alias) \
    case c:                  \
        return #alias;
    switch (code) {
        KK_POSEIDON_ALIASES(ALIAS_CASE)
    default:
        return NULL;
    }
#undef ALIAS_CASE
}

void kk_error_clear(kk_error_t *err)
{
    if (!err)
        return;
    err->code = KK_OK;
    err->message[0] = '\0';
}

/* Ends a message that was cut to fill buf (size bytes) with "...". Backs up to the start of
 * a UTF-8 sequence so that bindings never see half a character. */
static void mark_cut(char *buf, size_t size)
{
    size_t pos = size - 4;
    while (pos > 0 && ((unsigned char)buf[pos] & 0xC0) == 0x80)
        pos--;
    memcpy(buf + pos, "...", 4);
}

/* Formats into buf (KK_ERROR_MESSAGE_SIZE bytes) and returns the length written. Formatting
 * into a local buffer first lets the arguments point into err->message. */
static size_t format_message(char *buf, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, KK_ERROR_MESSAGE_SIZE, fmt, ap);
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    if ((size_t)n >= KK_ERROR_MESSAGE_SIZE) {
        mark_cut(buf, KK_ERROR_MESSAGE_SIZE);
        return strlen(buf);
    }
    return (size_t)n;
}

int kk_error_set(kk_error_t *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    char buf[KK_ERROR_MESSAGE_SIZE];
    size_t len;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        len = format_message(buf, fmt, ap);
        va_end(ap);
    } else {
        len = (size_t)snprintf(buf, sizeof(buf), "%s", kk_err_description(code));
    }
    memcpy(err->message, buf, len + 1);
    err->code = code;
    return code;
}

int16_t kk_err_from_broker(int16_t code)
{
    if (code < -1 || code >= (int)COUNT(broker_errors) - 1 || !broker_errors[code + 1].name)
        return KK_ERR_UNKNOWN_SERVER_ERROR;
    return code;
}

int kk_error_set_broker(kk_error_t *err, int16_t code, const char *context)
{
    if (context && context[0])
        return kk_error_set(err, code, "%s: %s (%d): %s", context, kk_err_name(code), code,
                            kk_err_description(code));
    return kk_error_set(err, code, "%s (%d): %s", kk_err_name(code), code,
                        kk_err_description(code));
}

int kk_error_prefix(kk_error_t *err, const char *fmt, ...)
{
    if (!err)
        return KK_ERR_INVALID_ARG;
    if (!fmt)
        return err->code;
    char buf[KK_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    size_t used = format_message(buf, fmt, ap);
    va_end(ap);
    size_t room = sizeof(buf) - 1 - used;
    const char *end = memchr(err->message, '\0', sizeof(err->message));
    size_t old = end ? (size_t)(end - err->message) : sizeof(err->message) - 1;
    if (old <= room) {
        memcpy(buf + used, err->message, old);
        buf[used + old] = '\0';
    } else {
        memcpy(buf + used, err->message, room);
        buf[sizeof(buf) - 1] = '\0';
        mark_cut(buf, sizeof(buf));
    }
    memcpy(err->message, buf, strlen(buf) + 1);
    return err->code;
}
