/*
 * The option table: every option of every object, with its type, range, default, unit and a
 * line of documentation, and where its value lives in the typed config structs. config.c sets
 * and checks values against it; docs/CONFIGURATION.md is generated from it.
 */
#include <stddef.h>
#include <string.h>

#include "config.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Every typed struct starts with its client part, so a client option's offset is the same in
 * all of them. */
_Static_assert(offsetof(kk_producer_config_t, client) == 0, "client part first");
_Static_assert(offsetof(kk_consumer_config_t, client) == 0, "client part first");
_Static_assert(offsetof(kk_group_config_t, client) == 0, "client part first");
_Static_assert(sizeof(kk_codec_t) == sizeof(int) && sizeof(kk_partitioner_kind_t) == sizeof(int) &&
                   sizeof(kk_offset_reset_t) == sizeof(int) &&
                   sizeof(kk_security_protocol_t) == sizeof(int) &&
                   sizeof(kk_sasl_mechanism_t) == sizeof(int) &&
                   sizeof(kk_group_protocol_t) == sizeof(int),
               "enum options are stored as int");

#define ALL_KINDS (KK_CONFIG_CLIENT | KK_CONFIG_PRODUCER | KK_CONFIG_CONSUMER | KK_CONFIG_GROUP)
#define MS "ms"
#define BYTES "bytes"
#define I32_MAX INT32_MAX

static const char *const acks_names[] = {"all", NULL};
static const int64_t acks_values[] = {-1};
static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
static const int64_t codec_values[] = {KK_CODEC_NONE, KK_CODEC_GZIP, KK_CODEC_SNAPPY, KK_CODEC_LZ4,
                                       KK_CODEC_ZSTD};
static const char *const partitioner_names[] = {"murmur2", "crc32", NULL};
static const int64_t partitioner_values[] = {KK_PARTITIONER_MURMUR2, KK_PARTITIONER_CRC32};
static const char *const reset_names[] = {"earliest", "latest", "error", NULL};
static const char *const group_reset_names[] = {"earliest", "latest", NULL};
static const int64_t reset_values[] = {KK_RESET_EARLIEST, KK_RESET_LATEST, KK_RESET_ERROR};
static const char *const assignor_names[] = {"range", "roundrobin", NULL};
static const char *const group_protocol_names[] = {"classic", "consumer", NULL};
static const int64_t group_protocol_values[] = {KK_GROUP_PROTOCOL_CLASSIC,
                                                KK_GROUP_PROTOCOL_CONSUMER};
static const char *const producer_type_names[] = {"sync", "async", NULL};
static const char *const security_names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL",
                                             NULL};
static const int64_t security_values[] = {KK_SECURITY_PLAINTEXT, KK_SECURITY_SSL,
                                          KK_SECURITY_SASL_PLAINTEXT, KK_SECURITY_SASL_SSL};
static const char *const mechanism_names[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512",
                                              "OAUTHBEARER", NULL};
static const int64_t mechanism_values[] = {KK_SASL_PLAIN, KK_SASL_SCRAM_SHA_256,
                                           KK_SASL_SCRAM_SHA_512, KK_SASL_OAUTHBEARER};
#define PATH_MAX_BYTES 4096

#define CLIENT_FIELD(f) offsetof(kk_client_config_t, f)
#define PRODUCER_FIELD(f) offsetof(kk_producer_config_t, f)
#define CONSUMER_FIELD(f) offsetof(kk_consumer_config_t, f)
#define GROUP_FIELD(f) offsetof(kk_group_config_t, f)

/* An entry: name, alias_of, type, kinds, min, max, names, default (text), unit, doc, then where
 * it is kept. Aliases repeat their option's storage. */
#define OPT(name, alias, type, kinds, min, max, names, dflt, unit, doc, storage, offset, count, \
            values)                                                                             \
    {                                                                                           \
        {name, alias, KK_OPTION_##type, kinds, min, max, names, dflt, unit, doc, false},        \
            STORE_##storage, offset, count, values                                              \
    }
/* A password or token: never shown by kk_config_get() or in a message. */
#define SECRET(name, doc, offset)                                                       \
    {                                                                                   \
        {name, NULL, KK_OPTION_STRING, ALL_KINDS, 0, 65535, NULL, "", NULL, doc, true}, \
            STORE_STRING, offset, 0, NULL                                               \
    }

/* The decompression-bomb bounds of one fetch, for the partition consumer and the group. */
#define FETCH_BOUNDS(kind, FIELD)                                                                \
    OPT("max_decompressed_bytes", NULL, INT, kind, 0, I32_MAX, NULL, "0", BYTES,                 \
        "the most one fetch decompresses: it stops there and the next fetch goes on (its first " \
        "batch is always taken, up to this or 256 MiB); 0: 32 x max_bytes",                      \
        I32, FIELD(max_decompressed_bytes), 0, NULL),                                            \
        OPT("max_records", NULL, INT, kind, 0, I32_MAX, NULL, "0", NULL,                         \
            "the most records one fetch returns (the next fetch goes on); 0: max_bytes / 4, at " \
            "least 1",                                                                           \
            I32, FIELD(max_records), 0, NULL)

static const option_t options[] = {
    /* every kind */
    OPT("bootstrap_servers", NULL, LIST, ALL_KINDS, 1, 1024, NULL, "", NULL,
        "the seed brokers, \"host:port\" each; any one that answers is enough", JOINED,
        CLIENT_FIELD(bootstrap_servers), 0, NULL),
    OPT("client_id", NULL, STRING, ALL_KINDS, 0, INT16_MAX, NULL, "kafkette", NULL,
        "the name brokers log and apply quotas to", STRING, CLIENT_FIELD(client_id), 0, NULL),
    OPT("connect_timeout_ms", NULL, INT, ALL_KINDS, 1, I32_MAX, NULL, "10000", MS,
        "how long a TCP connect may take", INT, CLIENT_FIELD(connect_timeout_ms), 0, NULL),
    OPT("request_timeout_ms", NULL, INT, ALL_KINDS, 1, I32_MAX, NULL, "30000", MS,
        "how long one request may wait for its response", INT, CLIENT_FIELD(request_timeout_ms), 0,
        NULL),
    OPT("socket_timeout_ms", "request_timeout_ms", INT, ALL_KINDS, 1, I32_MAX, NULL, "30000", MS,
        "Poseidon's name for request_timeout_ms", INT, CLIENT_FIELD(request_timeout_ms), 0, NULL),
    OPT("max_response_bytes", NULL, INT, ALL_KINDS, 1, I32_MAX, NULL, "104857600", BYTES,
        "a response whose length prefix is larger is refused as malformed", I32,
        CLIENT_FIELD(max_response_bytes), 0, NULL),
    OPT("allow_auto_topic_creation", NULL, BOOL, KK_CONFIG_CLIENT | KK_CONFIG_PRODUCER, 0, 1, NULL,
        "true", NULL,
        "let a metadata request create a missing topic (the broker must allow it too)", BOOL,
        CLIENT_FIELD(allow_auto_topic_creation), 0, NULL),
    OPT("allow_auto_topic_creation", NULL, BOOL, KK_CONFIG_CONSUMER | KK_CONFIG_GROUP, 0, 1, NULL,
        "false", NULL, "let a metadata request create a missing topic (reading never needs it)",
        BOOL, CLIENT_FIELD(allow_auto_topic_creation), 0, NULL),
    OPT("max_api_versions", NULL, MAP, ALL_KINDS, -1, INT16_MAX, NULL, "", NULL,
        "caps on the version used per API key (key=version); for testing old brokers' paths",
        API_CAPS, CLIENT_FIELD(max_api_version), 0, NULL),
    OPT("security_protocol", NULL, ENUM, ALL_KINDS, 0, 0, security_names, "PLAINTEXT", NULL,
        "PLAINTEXT, SSL (TLS 1.2/1.3), SASL_PLAINTEXT (SASL without encryption) or SASL_SSL", ENUM,
        CLIENT_FIELD(security_protocol), 0, security_values),
    OPT("ssl_cafile", NULL, STRING, ALL_KINDS, 0, PATH_MAX_BYTES, NULL, "", NULL,
        "PEM file of the CAs that may sign the broker's certificate (empty: the system's store)",
        STRING, CLIENT_FIELD(ssl_cafile), 0, NULL),
    OPT("ssl_certfile", NULL, STRING, ALL_KINDS, 0, PATH_MAX_BYTES, NULL, "", NULL,
        "PEM file of the client certificate (and its chain) for mutual TLS", STRING,
        CLIENT_FIELD(ssl_certfile), 0, NULL),
    OPT("ssl_keyfile", NULL, STRING, ALL_KINDS, 0, PATH_MAX_BYTES, NULL, "", NULL,
        "PEM file of the client certificate's private key (empty: it is in ssl_certfile)", STRING,
        CLIENT_FIELD(ssl_keyfile), 0, NULL),
    SECRET("ssl_password", "the password of an encrypted ssl_keyfile", CLIENT_FIELD(ssl_password)),
    OPT("ssl_check_hostname", NULL, BOOL, ALL_KINDS, 0, 1, NULL, "true", NULL,
        "the broker's certificate must name the host connected to (DNS or IP address SAN)", BOOL,
        CLIENT_FIELD(ssl_check_hostname), 0, NULL),
    OPT("sasl_mechanism", NULL, ENUM, ALL_KINDS, 0, 0, mechanism_names, "PLAIN", NULL,
        "how SASL_PLAINTEXT and SASL_SSL authenticate: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or "
        "OAUTHBEARER (sasl_oauth_token or sasl_oauth_token_provider)",
        ENUM, CLIENT_FIELD(sasl_mechanism), 0, mechanism_values),
    OPT("sasl_username", NULL, STRING, ALL_KINDS, 0, 65535, NULL, "", NULL,
        "the user name for PLAIN and SCRAM", STRING, CLIENT_FIELD(sasl_username), 0, NULL),
    SECRET("sasl_password", "the password for PLAIN and SCRAM", CLIENT_FIELD(sasl_password)),
    SECRET("sasl_oauth_token", "the token OAUTHBEARER sends (or see sasl_oauth_token_provider)",
           CLIENT_FIELD(sasl_oauth_token)),
    OPT("sasl_oauth_token_provider", NULL, CALLBACK, ALL_KINDS, 0, 0, NULL, "", NULL,
        "OAUTHBEARER: a callable returning a token, or (token, expiry in seconds since the epoch); "
        "called on the caller's thread as a connection authenticates and again before the token "
        "expires",
        CALLBACK, CLIENT_FIELD(sasl_oauth_token_provider), 0, NULL),

    /* producer */
    OPT("type", NULL, ENUM, KK_CONFIG_PRODUCER, 0, 0, producer_type_names, "sync", NULL,
        "Poseidon's producer type for the bindings' send_messages: sync waits for every "
        "message's delivery; async queues them and returns at once (their fates come with "
        "poll, flush or close, and failures are raised there)",
        ENUM_NAME, PRODUCER_FIELD(type), 0, NULL),
    OPT("required_acks", NULL, INT, KK_CONFIG_PRODUCER, -1, 1, acks_names, "all", NULL,
        "replicas that must have a write before it is acknowledged: 0 (no response), 1 (the "
        "leader) or all (-1)",
        I16, PRODUCER_FIELD(required_acks), 0, acks_values),
    OPT("ack_timeout_ms", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "1500", MS,
        "how long the broker may wait for replicas before answering", I32,
        PRODUCER_FIELD(ack_timeout_ms), 0, NULL),
    OPT("max_send_retries", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "3", NULL,
        "retries of a retriable failure after the first try", INT, PRODUCER_FIELD(max_send_retries),
        0, NULL),
    OPT("retry_backoff_ms", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "100", MS,
        "pause before each retry", INT, PRODUCER_FIELD(retry_backoff_ms), 0, NULL),
    OPT("metadata_refresh_interval_ms", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "600000",
        MS, "metadata older than this is fetched again before a send", INT,
        PRODUCER_FIELD(metadata_refresh_interval_ms), 0, NULL),
    OPT("compression_codec", NULL, ENUM, KK_CONFIG_PRODUCER, 0, 0, codec_names, "none", NULL,
        "how batches are compressed", ENUM, PRODUCER_FIELD(compression), 0, codec_values),
    OPT("compressed_topics", NULL, LIST, KK_CONFIG_PRODUCER, 1, 249, NULL, "", NULL,
        "compress only these topics (empty: every topic, when a codec is set)", STRING_LIST,
        PRODUCER_FIELD(compressed_topics), PRODUCER_FIELD(compressed_topic_count), NULL),
    OPT("partitioner", NULL, ENUM, KK_CONFIG_PRODUCER, 0, 0, partitioner_names, "murmur2", NULL,
        "where keyed messages go: murmur2 (the Java client's rule), crc32 (Poseidon's), or a "
        "callable (key, partition_count) -> partition",
        ENUM, PRODUCER_FIELD(partitioner), 0, partitioner_values),
    OPT("max_request_bytes", NULL, INT, KK_CONFIG_PRODUCER, 1024, I32_MAX, NULL, "1048576", BYTES,
        "a larger send is split into several requests", I32, PRODUCER_FIELD(max_request_bytes), 0,
        NULL),
    OPT("topic_wait_ms", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "10000", MS,
        "how long to wait for an auto-created topic's leader before failing its messages", INT,
        PRODUCER_FIELD(topic_wait_ms), 0, NULL),
    OPT("linger_ms", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "5", MS,
        "kk_producer_produce: how long a partition's batch may wait to fill before it is sent", INT,
        PRODUCER_FIELD(linger_ms), 0, NULL),
    OPT("batch_size", NULL, INT, KK_CONFIG_PRODUCER, 1, I32_MAX, NULL, "1000000", BYTES,
        "kk_producer_produce: a partition's batch is sent once its records take this many bytes "
        "(a larger record makes a batch of its own)",
        I32, PRODUCER_FIELD(batch_size), 0, NULL),
    OPT("max_in_flight_requests_per_connection", NULL, INT, KK_CONFIG_PRODUCER, 1, 1000, NULL, "5",
        NULL,
        "Produce requests sent to one broker and not yet answered (at most 5 are used with "
        "idempotence, which keeps order through retries)",
        INT, PRODUCER_FIELD(max_in_flight), 0, NULL),
    OPT("buffer_memory", NULL, INT, KK_CONFIG_PRODUCER, 1024, I32_MAX, NULL, "67108864", BYTES,
        "kk_producer_produce: bytes of messages (with their bookkeeping) waiting for their "
        "reports at most; more waits max_block_ms",
        I32, PRODUCER_FIELD(buffer_memory), 0, NULL),
    OPT("max_block_ms", NULL, INT, KK_CONFIG_PRODUCER, 0, I32_MAX, NULL, "60000", MS,
        "how long kk_producer_produce waits for room in buffer_memory before failing with "
        "QUEUE_FULL (0: fail at once)",
        INT, PRODUCER_FIELD(max_block_ms), 0, NULL),
    OPT("enable_idempotence", NULL, BOOL, KK_CONFIG_PRODUCER, 0, 1, NULL, "true", NULL,
        "producer id and per-partition sequence numbers, so retries never duplicate or reorder; "
        "in effect with required_acks all on brokers that support InitProducerId",
        BOOL, PRODUCER_FIELD(enable_idempotence), 0, NULL),
    OPT("delivery_timeout_ms", NULL, INT, KK_CONFIG_PRODUCER, 1, I32_MAX, NULL, "120000", MS,
        "a message not acknowledged this long after kk_producer_produce fails (retries "
        "included)",
        INT, PRODUCER_FIELD(delivery_timeout_ms), 0, NULL),

    /* partition consumer */
    OPT("max_bytes", NULL, INT, KK_CONFIG_CONSUMER, 1, I32_MAX, NULL, "1048576", BYTES,
        "the most one fetch returns (a larger record is still fetched whole)", I32,
        CONSUMER_FIELD(max_bytes), 0, NULL),
    OPT("min_bytes", NULL, INT, KK_CONFIG_CONSUMER, 0, I32_MAX, NULL, "1", BYTES,
        "the broker waits (up to max_wait_ms) until it has this much", I32,
        CONSUMER_FIELD(min_bytes), 0, NULL),
    OPT("max_wait_ms", NULL, INT, KK_CONFIG_CONSUMER, 0, I32_MAX, NULL, "100", MS,
        "how long the broker may wait for min_bytes", I32, CONSUMER_FIELD(max_wait_ms), 0, NULL),
    OPT("read_committed", NULL, BOOL, KK_CONFIG_CONSUMER, 0, 1, NULL, "false", NULL,
        "skip records of aborted and open transactions", BOOL, CONSUMER_FIELD(read_committed), 0,
        NULL),
    OPT("offset_reset", NULL, ENUM, KK_CONFIG_CONSUMER, 0, 0, reset_names, "earliest", NULL,
        "where to go when the next offset is out of range: earliest, latest, or error", ENUM,
        CONSUMER_FIELD(offset_reset), 0, reset_values),
    OPT("failover_tries", NULL, INT, KK_CONFIG_CONSUMER, 0, I32_MAX, NULL, "5", NULL,
        "leader lookups after a failure before a fetch gives up", INT,
        CONSUMER_FIELD(failover_tries), 0, NULL),
    OPT("retry_backoff_ms", NULL, INT, KK_CONFIG_CONSUMER, 0, I32_MAX, NULL, "200", MS,
        "pause between leader lookups", INT, CONSUMER_FIELD(retry_backoff_ms), 0, NULL),
    FETCH_BOUNDS(KK_CONFIG_CONSUMER, CONSUMER_FIELD),

    /* consumer group member */
    OPT("assignor", NULL, ENUM, KK_CONFIG_GROUP, 0, 0, assignor_names, "range", NULL,
        "how the group leader shares partitions out: range or roundrobin", ENUM_NAME,
        GROUP_FIELD(assignor), 0, NULL),
    OPT("session_timeout_ms", NULL, INT, KK_CONFIG_GROUP, 1, I32_MAX, NULL, "10000", MS,
        "a member silent for this long is dropped from the group (classic; with group_protocol "
        "consumer the broker's group.consumer.session.timeout.ms decides)",
        INT, GROUP_FIELD(session_timeout_ms), 0, NULL),
    OPT("rebalance_timeout_ms", NULL, INT, KK_CONFIG_GROUP, 1, I32_MAX, NULL, "30000", MS,
        "how long a rebalance waits for every member to rejoin", INT,
        GROUP_FIELD(rebalance_timeout_ms), 0, NULL),
    OPT("heartbeat_interval_ms", NULL, INT, KK_CONFIG_GROUP, 0, I32_MAX, NULL, "0", MS,
        "between heartbeats; 0: a third of session_timeout_ms, at most 3000 (classic; with "
        "group_protocol consumer the broker's group.consumer.heartbeat.interval.ms decides)",
        INT, GROUP_FIELD(heartbeat_interval_ms), 0, NULL),
    OPT("auto_commit_interval_ms", NULL, INT, KK_CONFIG_GROUP, 0, I32_MAX, NULL, "5000", MS,
        "commit what was consumed this often and before giving partitions up; 0: never "
        "automatically",
        INT, GROUP_FIELD(auto_commit_interval_ms), 0, NULL),
    OPT("offset_reset", NULL, ENUM, KK_CONFIG_GROUP, 0, 0, group_reset_names, "earliest", NULL,
        "where a partition without a committed offset starts: earliest or latest", ENUM,
        GROUP_FIELD(start_when_no_commit), 0, reset_values),
    OPT("trail", NULL, BOOL, KK_CONFIG_GROUP, 0, 1, NULL, "false", NULL,
        "Poseidon's way to say offset_reset latest (true) or earliest (false)", TRAIL,
        GROUP_FIELD(start_when_no_commit), 0, NULL),
    OPT("max_bytes", NULL, INT, KK_CONFIG_GROUP, 1, I32_MAX, NULL, "1048576", BYTES,
        "the most one fetch returns", I32, GROUP_FIELD(max_bytes), 0, NULL),
    OPT("max_wait_ms", NULL, INT, KK_CONFIG_GROUP, 0, I32_MAX, NULL, "100", MS,
        "how long the broker may wait for data in one fetch", I32, GROUP_FIELD(max_wait_ms), 0,
        NULL),
    OPT("metadata_refresh_interval_ms", NULL, INT, KK_CONFIG_GROUP, 1, I32_MAX, NULL, "10000", MS,
        "how often partition counts are checked (a change rebalances the group)", INT,
        GROUP_FIELD(metadata_refresh_interval_ms), 0, NULL),
    OPT("retry_backoff_ms", NULL, INT, KK_CONFIG_GROUP, 0, I32_MAX, NULL, "200", MS,
        "pause between retries of coordinator errors", INT, GROUP_FIELD(retry_backoff_ms), 0, NULL),
    FETCH_BOUNDS(KK_CONFIG_GROUP, GROUP_FIELD),
    OPT("on_assign", NULL, CALLBACK, KK_CONFIG_GROUP, 0, 0, NULL, "", NULL,
        "called with the partitions this member just claimed", CALLBACK, GROUP_FIELD(on_assign), 0,
        NULL),
    OPT("on_revoke", NULL, CALLBACK, KK_CONFIG_GROUP, 0, 0, NULL, "", NULL,
        "called with partitions about to be given up, while they are still owned (commit here)",
        CALLBACK, GROUP_FIELD(on_revoke), 0, NULL),
    OPT("group_protocol", NULL, ENUM, KK_CONFIG_GROUP, 0, 0, group_protocol_names, "classic", NULL,
        "classic (JoinGroup/SyncGroup) or consumer (KIP-848, Kafka 4.0+: the broker assigns and "
        "rebalances never stop the group; README.md says when to choose which)",
        ENUM, GROUP_FIELD(group_protocol), 0, group_protocol_values),
    OPT("group_remote_assignor", NULL, STRING, KK_CONFIG_GROUP, 0, 249, NULL, "", NULL,
        "group_protocol consumer: the broker's assignor, uniform or range; empty: the broker's "
        "default",
        STRING, GROUP_FIELD(group_remote_assignor), 0, NULL),
    OPT("group_instance_id", NULL, STRING, KK_CONFIG_GROUP, 0, 249, NULL, "", NULL,
        "static membership (KIP-345): a member back under this name within the session timeout "
        "keeps its partitions; empty: dynamic",
        STRING, GROUP_FIELD(group_instance_id), 0, NULL),
};

_Static_assert(COUNT(options) <= KK_CONFIG_MAX_OPTIONS, "raise KK_CONFIG_MAX_OPTIONS");

/* ---- the table -------------------------------------------------------------------------- */

size_t kk_option_count(void) { return COUNT(options); }

const kk_option_info_t *kk_option_at(size_t index) {
    return index < COUNT(options) ? &options[index].info : NULL;
}

const option_t *kk_config_find_option(kk_config_kind_t kind, const char *name) {
    if (!name)
        return NULL;
    for (size_t i = 0; i < COUNT(options); i++)
        if ((options[i].info.kinds & kind) && strcmp(options[i].info.name, name) == 0)
            return &options[i];
    return NULL;
}

const kk_option_info_t *kk_option_find(kk_config_kind_t kind, const char *name) {
    const option_t *o = kk_config_find_option(kind, name);
    return o ? &o->info : NULL;
}

const char *kk_config_kind_name(kk_config_kind_t kind) {
    switch (kind) {
    case KK_CONFIG_CLIENT:
        return "client";
    case KK_CONFIG_PRODUCER:
        return "producer";
    case KK_CONFIG_CONSUMER:
        return "consumer";
    case KK_CONFIG_GROUP:
        return "group";
    }
    return "unknown";
}

int kk_config_default_heartbeat_ms(int session_timeout_ms) {
    int third = session_timeout_ms / 3;
    if (third > 3000)
        return 3000;
    return third > 0 ? third : 1;
}

const option_t *kk_config_option(size_t index) {
    return index < COUNT(options) ? &options[index] : NULL;
}

size_t kk_config_option_index(const option_t *o) { return (size_t)(o - options); }
