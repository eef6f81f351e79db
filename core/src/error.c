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

/* X(code, NAME, retriable, description), ascending by code. */
#define KK_BROKER_ERRORS(X) \
    X(-1, UNKNOWN_SERVER_ERROR, false, "the broker hit an unexpected internal error") \
    X(1, OFFSET_OUT_OF_RANGE, false, \
      "the offset is outside the range the broker holds for the partition") \
    X(2, CORRUPT_MESSAGE, true, \
      "the record batch failed its CRC, exceeds the size limit or is otherwise corrupt") \
    X(3, UNKNOWN_TOPIC_OR_PARTITION, true, "the broker does not host this topic or partition") \
    X(4, INVALID_FETCH_SIZE, false, "the requested fetch size is not valid") \
    X(5, LEADER_NOT_AVAILABLE, true, \
      "the partition has no leader right now (an election is under way)") \
    X(6, NOT_LEADER_OR_FOLLOWER, true, \
      "the broker is not the leader (or not a replica) for this partition") \
    X(7, REQUEST_TIMED_OUT, true, "the broker timed out while handling the request") \
    X(8, BROKER_NOT_AVAILABLE, false, "the broker is not available") \
    X(9, REPLICA_NOT_AVAILABLE, true, "the requested replica is not available on the broker") \
    X(10, MESSAGE_TOO_LARGE, false, "a record is larger than the broker's maximum message size") \
    X(11, STALE_CONTROLLER_EPOCH, false, \
      "the controller epoch is stale: the controller moved to another broker") \
    X(12, OFFSET_METADATA_TOO_LARGE, false, "the offset commit metadata string is too long") \
    X(13, NETWORK_EXCEPTION, true, "the broker closed the connection before sending a response") \
    X(14, COORDINATOR_LOAD_IN_PROGRESS, true, "the coordinator is still loading its state") \
    X(15, COORDINATOR_NOT_AVAILABLE, true, "the coordinator is not available") \
    X(16, NOT_COORDINATOR, true, \
      "this broker is not the coordinator for the group or transaction") \
    X(17, INVALID_TOPIC_EXCEPTION, false, \
      "the topic name is not valid, or the operation is not allowed on this topic") \
    X(18, RECORD_LIST_TOO_LARGE, false, \
      "the record batch is larger than the broker's log segment size") \
    X(19, NOT_ENOUGH_REPLICAS, true, "too few in-sync replicas to accept the write") \
    X(20, NOT_ENOUGH_REPLICAS_AFTER_APPEND, true, \
      "the write was stored, but on fewer in-sync replicas than required") \
    X(21, INVALID_REQUIRED_ACKS, false, "the produce request has an invalid acks value") \
    X(22, ILLEGAL_GENERATION, false, "the group generation id is not valid") \
    X(23, INCONSISTENT_GROUP_PROTOCOL, false, \
      "the member's protocols do not match those of the group") \
    X(24, INVALID_GROUP_ID, false, "the group id is not valid") \
    X(25, UNKNOWN_MEMBER_ID, false, "the coordinator does not know this member id") \
    X(26, INVALID_SESSION_TIMEOUT, false, \
      "the session timeout is outside the range the broker allows") \
    X(27, REBALANCE_IN_PROGRESS, false, "the group is rebalancing and the member must rejoin") \
    X(28, INVALID_COMMIT_OFFSET_SIZE, false, "the size of the committed offset data is not valid") \
    X(29, TOPIC_AUTHORIZATION_FAILED, false, "not authorized to access the topic") \
    X(30, GROUP_AUTHORIZATION_FAILED, false, "not authorized to access the group") \
    X(31, CLUSTER_AUTHORIZATION_FAILED, false, "not authorized to perform this cluster operation") \
    X(32, INVALID_TIMESTAMP, false, "a record timestamp is outside the accepted range") \
    X(33, UNSUPPORTED_SASL_MECHANISM, false, \
      "the broker does not support the requested SASL mechanism") \
    X(34, ILLEGAL_SASL_STATE, false, "the request is not valid in the current SASL state") \
    X(35, UNSUPPORTED_VERSION, false, "the broker does not support this API version") \
    X(36, TOPIC_ALREADY_EXISTS, false, "a topic with this name already exists") \
    X(37, INVALID_PARTITIONS, false, "the number of partitions is not valid") \
    X(38, INVALID_REPLICATION_FACTOR, false, \
      "the replication factor is below 1 or above the number of brokers") \
    X(39, INVALID_REPLICA_ASSIGNMENT, false, "the replica assignment is not valid") \
    X(40, INVALID_CONFIG, false, "the configuration is not valid") \
    X(41, NOT_CONTROLLER, true, "this broker is not the active controller") \
    X(42, INVALID_REQUEST, false, "the request is malformed or not understood by this broker") \
    X(43, UNSUPPORTED_FOR_MESSAGE_FORMAT, false, \
      "the broker's message format version cannot serve this request") \
    X(44, POLICY_VIOLATION, false, "the request violates a policy configured on the broker") \
    X(45, OUT_OF_ORDER_SEQUENCE_NUMBER, false, \
      "the broker got a producer sequence number out of order") \
    X(46, DUPLICATE_SEQUENCE_NUMBER, false, "the broker got a duplicate producer sequence number") \
    X(47, INVALID_PRODUCER_EPOCH, false, "the producer epoch is older than the current one") \
    X(48, INVALID_TXN_STATE, false, \
      "the transactional operation is not valid in the current transaction state") \
    X(49, INVALID_PRODUCER_ID_MAPPING, false, \
      "the producer id is not the one assigned to this transactional id") \
    X(50, INVALID_TRANSACTION_TIMEOUT, false, \
      "the transaction timeout exceeds the broker's maximum") \
    X(51, CONCURRENT_TRANSACTIONS, true, \
      "another operation on the same transaction is still in progress") \
    X(52, TRANSACTION_COORDINATOR_FENCED, false, \
      "the transaction coordinator sending the marker is no longer current") \
    X(53, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, false, \
      "not authorized to use the transactional id") \
    X(54, SECURITY_DISABLED, false, "security features are disabled on the broker") \
    X(55, OPERATION_NOT_ATTEMPTED, false, \
      "the broker skipped this operation because another one in the batch failed") \
    X(56, KAFKA_STORAGE_ERROR, true, "the broker had a disk error accessing the log") \
    X(57, LOG_DIR_NOT_FOUND, false, "the requested log directory is not configured on the broker") \
    X(58, SASL_AUTHENTICATION_FAILED, false, "SASL authentication failed") \
    X(59, UNKNOWN_PRODUCER_ID, false, "the broker has no state for this producer id") \
    X(60, REASSIGNMENT_IN_PROGRESS, false, "a partition reassignment is in progress") \
    X(61, DELEGATION_TOKEN_AUTH_DISABLED, false, "delegation tokens are not enabled") \
    X(62, DELEGATION_TOKEN_NOT_FOUND, false, "the delegation token does not exist") \
    X(63, DELEGATION_TOKEN_OWNER_MISMATCH, false, \
      "the principal is not the owner or renewer of the delegation token") \
    X(64, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, false, \
      "delegation token requests are not allowed on this kind of connection") \
    X(65, DELEGATION_TOKEN_AUTHORIZATION_FAILED, false, \
      "not authorized to use the delegation token") \
    X(66, DELEGATION_TOKEN_EXPIRED, false, "the delegation token has expired") \
    X(67, INVALID_PRINCIPAL_TYPE, false, "the principal type is not supported") \
    X(68, NON_EMPTY_GROUP, false, "the group still has members") \
    X(69, GROUP_ID_NOT_FOUND, false, "no group with this id exists") \
    X(70, FETCH_SESSION_ID_NOT_FOUND, true, "the fetch session id is not known to the broker") \
    X(71, INVALID_FETCH_SESSION_EPOCH, true, "the fetch session epoch is not valid") \
    X(72, LISTENER_NOT_FOUND, true, \
      "the leader has no listener matching the one the metadata came from") \
    X(73, TOPIC_DELETION_DISABLED, false, "topic deletion is disabled on the broker") \
    X(74, FENCED_LEADER_EPOCH, true, "the request's leader epoch is older than the broker's") \
    X(75, UNKNOWN_LEADER_EPOCH, true, "the request's leader epoch is newer than the broker's") \
    X(76, UNSUPPORTED_COMPRESSION_TYPE, false, \
      "the client does not support the partition's compression type") \
    X(77, STALE_BROKER_EPOCH, false, "the broker epoch has changed") \
    X(78, OFFSET_NOT_AVAILABLE, true, \
      "the new leader's high watermark has not caught up yet, so no offset can be given") \
    X(79, MEMBER_ID_REQUIRED, false, "the member must get a member id before joining the group") \
    X(80, PREFERRED_LEADER_NOT_AVAILABLE, true, "the preferred leader is not available") \
    X(81, GROUP_MAX_SIZE_REACHED, false, "the group has reached its maximum number of members") \
    X(82, FENCED_INSTANCE_ID, false, "another member with the same group.instance.id took over") \
    X(83, ELIGIBLE_LEADERS_NOT_AVAILABLE, true, \
      "no eligible leader is available for the partition") \
    X(84, ELECTION_NOT_NEEDED, true, "the partition needs no leader election") \
    X(85, NO_REASSIGNMENT_IN_PROGRESS, false, "no partition reassignment is in progress") \
    X(86, GROUP_SUBSCRIBED_TO_TOPIC, false, \
      "offsets of a topic cannot be deleted while the group is subscribed to it") \
    X(87, INVALID_RECORD, false, "the broker rejected a record that failed its validation") \
    X(88, UNSTABLE_OFFSET_COMMIT, true, \
      "there are unstable (pending transactional) offsets still to be resolved") \
    X(89, THROTTLING_QUOTA_EXCEEDED, true, "the throttling quota was exceeded") \
    X(90, PRODUCER_FENCED, false, \
      "a newer producer with the same transactional id has fenced this one") \
    X(91, RESOURCE_NOT_FOUND, false, "the request refers to a resource that does not exist") \
    X(92, DUPLICATE_RESOURCE, false, "the request refers to the same resource more than once") \
    X(93, UNACCEPTABLE_CREDENTIAL, false, "the credential does not meet the acceptance criteria") \
    X(94, INCONSISTENT_VOTER_SET, false, \
      "the sender or receiver of a voter request is not an expected voter") \
    X(95, INVALID_UPDATE_VERSION, false, "the update version is not valid") \
    X(96, FEATURE_UPDATE_FAILED, false, "the finalized features could not be updated") \
    X(97, PRINCIPAL_DESERIALIZATION_FAILURE, false, \
      "the broker failed to deserialize the forwarded principal") \
    X(98, SNAPSHOT_NOT_FOUND, false, "the requested snapshot does not exist") \
    X(99, POSITION_OUT_OF_RANGE, false, \
      "the snapshot position is negative or past the end of the snapshot") \
    X(100, UNKNOWN_TOPIC_ID, true, "the broker does not host this topic id") \
    X(101, DUPLICATE_BROKER_REGISTRATION, false, "the broker id is already registered") \
    X(102, BROKER_ID_NOT_REGISTERED, false, "the broker id is not registered") \
    X(103, INCONSISTENT_TOPIC_ID, true, \
      "the topic id in the request does not match the log's topic id") \
    X(104, INCONSISTENT_CLUSTER_ID, false, \
      "the cluster id in the request does not match the server's") \
    X(105, TRANSACTIONAL_ID_NOT_FOUND, false, "the transactional id does not exist") \
    X(106, FETCH_SESSION_TOPIC_ID_ERROR, true, "the fetch session used topic ids inconsistently") \
    X(107, INELIGIBLE_REPLICA, false, "the new ISR contains a replica that is not eligible") \
    X(108, NEW_LEADER_ELECTED, false, \
      "the partition state was updated, but the leader has changed") \
    X(109, OFFSET_MOVED_TO_TIERED_STORAGE, false, \
      "the requested offset has moved to tiered storage") \
    X(110, FENCED_MEMBER_EPOCH, false, \
      "the member epoch was fenced; the member must give up its partitions and rejoin") \
    X(111, UNRELEASED_INSTANCE_ID, false, "another group member still uses this instance id") \
    X(112, UNSUPPORTED_ASSIGNOR, false, "the group does not support this assignor or its version") \
    X(113, STALE_MEMBER_EPOCH, false, \
      "the member epoch is stale; retry after the heartbeat updates it") \
    X(114, MISMATCHED_ENDPOINT_TYPE, false, "the request went to an endpoint of the wrong type") \
    X(115, UNSUPPORTED_ENDPOINT_TYPE, false, "this endpoint type is not supported yet") \
    X(116, UNKNOWN_CONTROLLER_ID, false, "the controller id is not known") \
    X(117, UNKNOWN_SUBSCRIPTION_ID, false, "the telemetry subscription id is unknown or outdated") \
    X(118, TELEMETRY_TOO_LARGE, false, "the telemetry push is larger than the broker accepts") \
    X(119, INVALID_REGISTRATION, false, \
      "the controller considers the broker registration invalid") \
    X(120, TRANSACTION_ABORTABLE, false, \
      "the transaction hit an error; abort it to keep using the transactional id") \
    X(121, INVALID_RECORD_STATE, false, "the record's state does not allow the acknowledgement") \
    X(122, SHARE_SESSION_NOT_FOUND, true, "the share session does not exist") \
    X(123, INVALID_SHARE_SESSION_EPOCH, true, "the share session epoch is not valid") \
    X(124, FENCED_STATE_EPOCH, false, "the state epoch does not match the coordinator's") \
    X(125, INVALID_VOTER_KEY, false, "the voter key does not match the receiving replica's") \
    X(126, DUPLICATE_VOTER, false, "the voter already belongs to the voter set") \
    X(127, VOTER_NOT_FOUND, false, "the voter does not belong to the voter set") \
    X(128, INVALID_REGULAR_EXPRESSION, false, "the regular expression is not valid") \
    X(129, REBOOTSTRAP_REQUIRED, false, "the client's metadata is stale; it must bootstrap again") \
    X(130, STREAMS_INVALID_TOPOLOGY, false, "the streams topology is not valid") \
    X(131, STREAMS_INVALID_TOPOLOGY_EPOCH, false, "the streams topology epoch is not valid") \
    X(132, STREAMS_TOPOLOGY_FENCED, false, "the streams topology epoch is outdated") \
    X(133, SHARE_SESSION_LIMIT_REACHED, true, \
      "the broker has reached its limit of share sessions") \
    X(134, GROUP_DELETION_FAILED, false, "the group deletion failed; see the per-group result") \
    X(135, STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED, false, \
      "the streams topology description could not be updated") \
    X(136, CONTROLLER_ID_NOT_REGISTERED, false, "the controller id is not registered")


/* X(suffix of the KK_ERR_ constant, retriable, description). */
#define KK_CLIENT_ERRORS(X) \
    X(TIMED_OUT, true, "a connect or I/O deadline passed") \
    X(CONNECTION_REFUSED, true, "the broker refused the connection") \
    X(RESOLVE, false, "the host name could not be resolved") \
    X(CONNECTION_CLOSED, true, "the broker closed the connection") \
    X(IO, true, "a socket error occurred") \
    X(MALFORMED, false, "a response could not be decoded") \
    X(CORRELATION, false, "a response did not match the request sent") \
    X(RESPONSE_TOO_LARGE, false, "a response is larger than the configured limit") \
    X(INTERRUPTED, false, "the call was interrupted") \
    X(NO_MEMORY, false, "out of memory") \
    X(INVALID_ARG, false, "an argument is not valid") \
    X(UNSUPPORTED_VERSION, false, "the broker supports no version of the API that we speak") \
    X(NO_BROKERS, true, "no seed broker could be reached") \
    X(NOT_CONNECTED, true, "the connection is not open") \
    X(CRC, false, "fetched data failed its checksum") \
    X(COMPRESSION, false, "a compression codec failed or is not available") \
    X(UNKNOWN_BROKER, true, "the broker id is not in the cluster metadata") \
    X(STATE, false, "the object was used after close or out of order") \
    X(INVALID_PARTITION, false, "the partition does not exist or the partitioner chose none") \
    X(PARTIAL_FAILURE, false, "some messages of the batch were not delivered") \
    X(NOT_ASSIGNED, false, "the partition is not (or no longer) assigned to this group member")

typedef struct kk_err_info {
    const char *name;
    const char *description;
    bool retriable;
} kk_err_info_t;

/* Indexed by code + 1. Designated initializers: a duplicate code fails to compile under
 * -Wextra (-Woverride-init), a gap fails the assertion below. */
#define BROKER_ENTRY(code, name, retriable, desc) [(code) + 1] = {#name, desc, retriable},
static const kk_err_info_t broker_errors[] = {
    [1] = {"NONE", "success", false},
    KK_BROKER_ERRORS(BROKER_ENTRY)
};

#define BROKER_CODE(code, name, retriable, desc) (code),
static const int16_t broker_codes[] = {KK_BROKER_ERRORS(BROKER_CODE)};

_Static_assert(COUNT(broker_errors) == COUNT(broker_codes) + 1,
               "the broker error list must be dense from -1 up");

/* Indexed by -code - 100. */
#define CLIENT_ENTRY(suffix, retriable, desc) \
    [-(KK_ERR_##suffix) - 100] = {"_" #suffix, desc, retriable},
static const kk_err_info_t client_errors[] = {KK_CLIENT_ERRORS(CLIENT_ENTRY)};

#define CLIENT_ONE(suffix, retriable, desc) +1
_Static_assert(COUNT(client_errors) == 0 KK_CLIENT_ERRORS(CLIENT_ONE),
               "client error codes must be dense from -100 down");

/* Room for "..." and the terminator when a message is cut. */
_Static_assert(KK_ERROR_MESSAGE_SIZE >= 8, "KK_ERROR_MESSAGE_SIZE is too small");

static const kk_err_info_t unknown_error = {"UNKNOWN_CODE", "unknown error code", false};

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
