/*
 * kafkette — an Apache Kafka client library.
 *
 * This is the only public header. Every public symbol starts with kk_ (functions, types)
 * or KK_ (macros, constants). Functions that can fail return 0 on success or a negative
 * or positive error code (see kk_err_t) and fill the kk_error_t they are given with a
 * human-readable message; the library never prints anything.
 *
 * Ownership: every function that hands out memory says who frees it.
 */
#ifndef KAFKETTE_H
#define KAFKETTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KAFKETTE_BUILDING) && defined(__GNUC__)
#define KK_API __attribute__((visibility("default")))
#else
#define KK_API
#endif

/* Equal to the top-level VERSION file, the project's one version (tests/unit/test_version.c
 * checks); the public header keeps a copy so that it stands alone. */
#define KK_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------------------------
 * Errors
 *
 * Broker error codes are positive (and -1, UNKNOWN_SERVER_ERROR), exactly as the Kafka
 * protocol defines them. Client-side codes are -100 and below, so the two never collide.
 * ---------------------------------------------------------------------------------------- */
typedef enum kk_err {
    KK_OK = 0,
    KK_ERR_UNKNOWN_SERVER_ERROR = -1,

    /* Client-side errors. */
    KK_ERR_TIMED_OUT = -100,          /* a connect or I/O deadline passed */
    KK_ERR_CONNECTION_REFUSED = -101, /* nobody listens on that host:port */
    KK_ERR_RESOLVE = -102,            /* the host name does not resolve */
    KK_ERR_CONNECTION_CLOSED = -103,  /* the peer closed the socket */
    KK_ERR_IO = -104,                 /* another socket error */
    KK_ERR_MALFORMED = -105,          /* a response that does not decode */
    KK_ERR_CORRELATION = -106,        /* a response to a request we did not send */
    KK_ERR_RESPONSE_TOO_LARGE = -107, /* a length prefix over the sane limit */
    KK_ERR_INTERRUPTED = -108,        /* kk_client_interrupt() was called */
    KK_ERR_NO_MEMORY = -109,
    KK_ERR_INVALID_ARG = -110,        /* a caller passed a bad argument */
    KK_ERR_UNSUPPORTED_VERSION = -111,/* no API version both sides speak */
    KK_ERR_NO_BROKERS = -112,         /* no seed broker could be reached */
    KK_ERR_NOT_CONNECTED = -113,      /* the connection was dropped earlier */
    KK_ERR_CRC = -114,                /* a checksum mismatch in fetched data */
    KK_ERR_COMPRESSION = -115,        /* a codec failed or is not built in */
    KK_ERR_UNKNOWN_BROKER = -116,     /* a node id the metadata does not know */
    KK_ERR_STATE = -117,              /* an object used after close, or out of order */
    KK_ERR_INVALID_PARTITION = -118,  /* no such partition, or the partitioner chose none */
    KK_ERR_PARTIAL_FAILURE = -119,    /* a send delivered some messages but not all */
    KK_ERR_NOT_ASSIGNED = -120,       /* a group member does not (or no longer) own the partition */
    KK_ERR_AUTHENTICATION = -121,     /* SASL or a client certificate was not accepted, or the
                                         broker could not prove who it is (SCRAM) */
    KK_ERR_SSL = -122,                /* the TLS handshake or a TLS record failed, or one side
                                         spoke TLS and the other did not */
    KK_ERR_CERTIFICATE = -123,        /* the broker's certificate failed verification (unknown
                                         CA, expired, host name mismatch) */
    KK_ERR_QUEUE_FULL = -124,         /* the producer's buffer_memory stayed full for max_block_ms */
    KK_ERR_PURGED = -125,             /* a message dropped unsent by kk_producer_close/purge */
} kk_err_t;

/* Room for the message is part of the struct, so filling it never allocates. */
#define KK_ERROR_MESSAGE_SIZE 512

typedef struct kk_error {
    int code; /* a kk_err_t value or a broker error code; 0 when there is no error */
    char message[KK_ERROR_MESSAGE_SIZE];
} kk_error_t;

/* The protocol guide's symbolic name for broker codes ("NOT_LEADER_OR_FOLLOWER", ...); client
 * codes start with an underscore ("_TIMED_OUT", "_MALFORMED", ...); "UNKNOWN_CODE" for a code
 * the library does not know. Static strings. */
KK_API const char *kk_err_name(int code);
/* A one-line human description of the code. Static string. */
KK_API const char *kk_err_description(int code);
/* True for codes where the same request may succeed if retried (possibly after refreshing
 * metadata): leadership changes, timeouts, lost connections, ... */
KK_API bool kk_err_is_retriable(int code);
/* Reset an error struct to "no error". */
KK_API void kk_error_clear(kk_error_t *err);
/* Every broker error code the library knows (-1, then 1 upwards; 0 is not an error), in
 * ascending order, so bindings can create one exception class per code. Sets *out to a
 * static array (never freed) and returns its length. */
KK_API size_t kk_err_broker_code_list(const int16_t **out);
/* Every client-side code (-100 downwards), in descending order. Static array, never freed. */
KK_API size_t kk_err_client_code_list(const int **out);

/* ------------------------------------------------------------------------------------------
 * The error taxonomy bindings build their exception classes from, so that one code raises the
 * same kind of error in every language.
 *
 * Every code has a category. A broker code gets a class of its own, named after the protocol's
 * name in CamelCase (NOT_LEADER_OR_FOLLOWER -> NotLeaderOrFollower), whose parent is its
 * category's class; a client-side code raises its category's class. The class list below gives
 * each class's parent (parents come first) and any other name it goes by.
 * ---------------------------------------------------------------------------------------- */
typedef enum kk_err_category {
    KK_CAT_NONE = 0,            /* KK_OK, and classes that stand for no code of their own */
    KK_CAT_BROKER,              /* a broker error without a more specific category */
    KK_CAT_CONNECTION,          /* refused, closed, reset, unresolvable, not connected */
    KK_CAT_TIMEOUT,             /* a connect or request deadline passed */
    KK_CAT_METADATA,            /* no seed reachable, a broker the metadata does not know */
    KK_CAT_MALFORMED,           /* a response that does not decode or does not match */
    KK_CAT_CHECKSUM,            /* fetched data failed its CRC */
    KK_CAT_COMPRESSION,         /* a codec failed */
    KK_CAT_UNSUPPORTED_VERSION, /* no API version both sides speak */
    KK_CAT_CLOSED,              /* an object used after close, or out of order */
    KK_CAT_INTERRUPTED,         /* kk_client_interrupt() or the interrupt check stopped a call */
    KK_CAT_INVALID_PARTITION,   /* no such partition, or the partitioner chose none */
    KK_CAT_NOT_ASSIGNED,        /* a group member does not own the partition */
    KK_CAT_INVALID_ARGUMENT,    /* a bad option or argument */
    KK_CAT_NO_MEMORY,           /* an allocation failed */
    KK_CAT_DELIVERY,            /* a send delivered some messages but not all */
    KK_CAT_AUTHENTICATION,      /* the broker did not accept who we are (SASL, TLS) */
    KK_CAT_AUTHORIZATION,       /* the broker knows who we are but does not allow the operation */
    KK_CAT_SSL,                 /* the TLS handshake or record layer failed */
    KK_CAT_CERTIFICATE,         /* the broker's certificate failed verification */
    KK_CAT_UNKNOWN,             /* a code the library does not know */
    KK_CAT__COUNT
} kk_err_category_t;

typedef struct kk_error_class {
    const char *name;             /* "ConnectionFailedError" */
    const char *parent;           /* the parent class's name; NULL for the root, "Error" */
    kk_err_category_t category;   /* the category it stands for; KK_CAT_NONE for extra classes */
    const char *alias;            /* another name bindings also define for it, or NULL */
    const char *doc;              /* one line */
} kk_error_class_t;

KK_API kk_err_category_t kk_err_category(int code);
/* The snake_case name of a category ("connection", "timeout", ...). Static string. */
KK_API const char *kk_err_category_name(kk_err_category_t category);
/* Every class that is not a broker code's own, parents before children. Static array. */
KK_API size_t kk_error_class_list(const kk_error_class_t **out);
/* Writes the name of the class that code raises into buf (always terminated when size > 0)
 * and returns its length: CamelCase of the protocol name for a known broker code, the
 * category's class otherwise ("UnrecognizedProtocolError" for an unknown broker code,
 * "Error" for an unknown client code). */
KK_API size_t kk_err_class_name(int code, char *buf, size_t size);
/* The parent of the class kk_err_class_name() names: for a known broker code its category's
 * class, for any other code the parent in kk_error_class_list() (NULL when the code raises the
 * root class, Error). Static string. */
KK_API const char *kk_err_class_parent(int code);
/* Poseidon's name for a broker code's class where it differs from the protocol's
 * (NOT_LEADER_OR_FOLLOWER -> "NotLeaderForPartition"), or NULL. Static string. */
KK_API const char *kk_err_poseidon_alias(int code);

/* ------------------------------------------------------------------------------------------
 * Logging: the library never prints; it hands log lines to this callback if one is set.
 * ---------------------------------------------------------------------------------------- */
typedef enum kk_log_level {
    KK_LOG_ERROR = 3,
    KK_LOG_WARNING = 4,
    KK_LOG_INFO = 6,
    KK_LOG_DEBUG = 7,
} kk_log_level_t;

typedef void (*kk_log_cb)(void *opaque, kk_log_level_t level, const char *message);

/* ------------------------------------------------------------------------------------------
 * API keys and negotiated versions
 * ---------------------------------------------------------------------------------------- */
typedef enum kk_api_key {
    KK_API_PRODUCE = 0,
    KK_API_FETCH = 1,
    KK_API_LIST_OFFSETS = 2,
    KK_API_METADATA = 3,
    KK_API_OFFSET_COMMIT = 8,
    KK_API_OFFSET_FETCH = 9,
    KK_API_FIND_COORDINATOR = 10,
    KK_API_JOIN_GROUP = 11,
    KK_API_HEARTBEAT = 12,
    KK_API_LEAVE_GROUP = 13,
    KK_API_SYNC_GROUP = 14,
    KK_API_DESCRIBE_GROUPS = 15,
    KK_API_LIST_GROUPS = 16,
    KK_API_SASL_HANDSHAKE = 17,
    KK_API_API_VERSIONS = 18,
    KK_API_CREATE_TOPICS = 19,
    KK_API_DELETE_TOPICS = 20,
    KK_API_DELETE_RECORDS = 21,
    KK_API_INIT_PRODUCER_ID = 22,
    KK_API_DESCRIBE_CONFIGS = 32,
    KK_API_SASL_AUTHENTICATE = 36,
    KK_API_CREATE_PARTITIONS = 37,
    KK_API_INCREMENTAL_ALTER_CONFIGS = 44,
    KK_API_CONSUMER_GROUP_HEARTBEAT = 68, /* KIP-848 */
    KK_API__COUNT = 69 /* one past the highest key the library knows */
} kk_api_key_t;

/* ------------------------------------------------------------------------------------------
 * Cluster metadata
 * ---------------------------------------------------------------------------------------- */
typedef struct kk_broker_info {
    int32_t node_id;
    char *host;
    int32_t port;
    char *rack; /* NULL when the broker has none */
} kk_broker_info_t;

typedef struct kk_partition_info {
    int32_t partition;
    int16_t error_code;
    int32_t leader; /* -1 when there is no leader */
    int32_t leader_epoch; /* -1 when the broker does not report it */
    int32_t *replicas;
    size_t replica_count;
    int32_t *isr;
    size_t isr_count;
    int32_t *offline_replicas;
    size_t offline_replica_count;
} kk_partition_info_t;

typedef struct kk_topic_info {
    char *name;
    int16_t error_code;
    bool is_internal;
    kk_partition_info_t *partitions; /* sorted by partition id */
    size_t partition_count;
    uint8_t topic_id[16]; /* Metadata v10+; all zeros when the broker does not report it */
} kk_topic_info_t;

typedef struct kk_metadata {
    char *cluster_id; /* NULL when the broker does not report it */
    int32_t controller_id; /* -1 when unknown */
    kk_broker_info_t *brokers;
    size_t broker_count;
    kk_topic_info_t *topics;
    size_t topic_count;
} kk_metadata_t;

/* Frees a metadata snapshot and everything it points to. NULL is fine. */
KK_API void kk_metadata_free(kk_metadata_t *md);
/* Lookups into a snapshot; NULL when absent. The result points into md. */
KK_API const kk_topic_info_t *kk_metadata_topic(const kk_metadata_t *md, const char *topic);
KK_API const kk_broker_info_t *kk_metadata_broker(const kk_metadata_t *md, int32_t node_id);

/* ------------------------------------------------------------------------------------------
 * Client: a bootstrap list, a client id and timeouts; it connects to the first reachable
 * seed, negotiates API versions and fetches cluster metadata.
 *
 * Threads: a client is used by one thread at a time, except kk_client_interrupt(), which
 * any thread (or a signal-free wake-up path of a binding) may call at any time.
 * ---------------------------------------------------------------------------------------- */
typedef struct kk_client kk_client_t;

/* How connections are secured (kafka-python's security_protocol). */
typedef enum kk_security_protocol {
    KK_SECURITY_PLAINTEXT = 0,
    KK_SECURITY_SSL = 1,            /* TLS 1.2 or 1.3 */
    KK_SECURITY_SASL_PLAINTEXT = 2, /* SASL authentication, no encryption */
    KK_SECURITY_SASL_SSL = 3,       /* SASL authentication inside TLS */
} kk_security_protocol_t;

typedef enum kk_sasl_mechanism {
    KK_SASL_PLAIN = 0,
    KK_SASL_SCRAM_SHA_256 = 1,
    KK_SASL_SCRAM_SHA_512 = 2,
    KK_SASL_OAUTHBEARER = 3, /* a static token (sasl_oauth_token) or a token provider */
} kk_sasl_mechanism_t;

/* The room a token provider gets for one token, its terminating NUL included. */
#define KK_OAUTH_TOKEN_MAX 65536

/* An OAUTHBEARER token provider (the option sasl_oauth_token_provider; KIP-255): writes a token
 * (the compact JWS the broker validates, NUL-terminated, at most size - 1 bytes) into token and,
 * when it knows it, the token's expiry into *expires_at_ms (ms since the epoch; left 0: unknown).
 * Returns 0, or an error code with err filled: the authentication then fails with
 * KK_ERR_AUTHENTICATION and that message. The library wipes the buffer after use.
 *
 * When: as a connection authenticates (or re-authenticates, KIP-368) and no token is held, the
 * one held has no known expiry, or 80% of its lifetime has passed; kk_group_poll() also asks for
 * a token that is due. Threads: only ever on a thread that called the library, inside that call
 * (connect, send, fetch, poll, ...), never on a library thread. A consumer group's heartbeat
 * thread authenticates its connection with the last token the caller's calls obtained, so a
 * member whose caller polls less often than a twentieth of the token lifetime may find that
 * token expired. */
typedef int (*kk_oauth_token_cb)(void *opaque, char *token, size_t size, int64_t *expires_at_ms,
                                 kk_error_t *err);

typedef struct kk_client_config {
    const char *bootstrap_servers; /* "host:port,host:port" (required) */
    const char *client_id;         /* NULL means "kafkette" */
    int connect_timeout_ms;        /* default 10000 */
    int request_timeout_ms;        /* default 30000; the deadline for one request/response */
    int32_t max_response_bytes;    /* default 100 MiB; a larger length prefix is an error */
    bool allow_auto_topic_creation;/* for Metadata v4+; older versions always allow it */
    /* Per-API cap on the version the client will use; negative means no cap. Tests use it
     * to force old versions. kk_client_config_init() sets every entry to -1. */
    int16_t max_api_version[KK_API__COUNT];
    kk_log_cb log_cb;
    void *log_opaque;
    /* Called on the waiting thread about every 100 ms while a call waits on the network;
     * returning true aborts the call with KK_ERR_INTERRUPTED. Bindings use it to notice
     * Ctrl-C between slices of a wait. NULL: never called. */
    bool (*interrupt_check)(void *opaque);
    void *interrupt_opaque;
    /* Security (docs/CONFIGURATION.md). Strings are copied by kk_client_new(); the secrets
     * (ssl_password, sasl_password, sasl_oauth_token) never appear in a log line or an error
     * message. */
    kk_security_protocol_t security_protocol; /* default KK_SECURITY_PLAINTEXT */
    const char *ssl_cafile;   /* PEM CA certificates; NULL: the system's store */
    const char *ssl_certfile; /* PEM client certificate (chain), for mutual TLS */
    const char *ssl_keyfile;  /* PEM private key; NULL: in ssl_certfile */
    const char *ssl_password; /* for an encrypted key */
    bool ssl_check_hostname;  /* default true: the certificate must name the host */
    kk_sasl_mechanism_t sasl_mechanism; /* default KK_SASL_PLAIN */
    const char *sasl_username;
    const char *sasl_password;
    const char *sasl_oauth_token; /* OAUTHBEARER: a compact JWS the broker validates */
    /* OAUTHBEARER: where tokens come from instead (it wins over sasl_oauth_token); see
     * kk_oauth_token_cb for when and on which thread it is called. */
    kk_oauth_token_cb sasl_oauth_token_provider;
    void *sasl_oauth_token_opaque;
} kk_client_config_t;

/* Fills a config with the defaults; set bootstrap_servers afterwards. Always call it first. */
KK_API void kk_client_config_init(kk_client_config_t *cfg);

/* Creates a client; copies everything it needs from cfg. Does not connect yet.
 * Returns NULL and fills err on bad configuration. Free with kk_client_free(). */
KK_API kk_client_t *kk_client_new(const kk_client_config_t *cfg, kk_error_t *err);
KK_API void kk_client_free(kk_client_t *client);

/* Connects to the first reachable seed (if not yet connected) and negotiates versions. */
KK_API int kk_client_connect(kk_client_t *client, kk_error_t *err);

/* Fetches metadata for the given topics (topic_count 0 = all topics). On success *out is a
 * new snapshot the caller frees with kk_metadata_free(). */
KK_API int kk_client_metadata(kk_client_t *client, const char *const *topics,
                              size_t topic_count, kk_metadata_t **out, kk_error_t *err);

/* The API version negotiated with the bootstrap broker for api_key, or -1 when the broker
 * does not support it (or the client has not connected yet). */
KK_API int kk_client_api_version(const kk_client_t *client, int api_key);

/* "host:port" of the broker the client is bootstrapped to, or NULL before connecting.
 * Points into the client. */
KK_API const char *kk_client_bootstrap_broker(const kk_client_t *client);

/* Wakes any blocking call of this client, which then fails with KK_ERR_INTERRUPTED.
 * Safe from any thread. The interruption is sticky until kk_client_clear_interrupt(). */
KK_API void kk_client_interrupt(kk_client_t *client);
KK_API void kk_client_clear_interrupt(kk_client_t *client);

/* ------------------------------------------------------------------------------------------
 * Compression and partitioning choices
 * ---------------------------------------------------------------------------------------- */
typedef enum kk_codec {
    KK_CODEC_NONE = 0, /* values are the codec bits of a batch's attributes */
    KK_CODEC_GZIP = 1,
    KK_CODEC_SNAPPY = 2,
    KK_CODEC_LZ4 = 3,
    KK_CODEC_ZSTD = 4,
} kk_codec_t;

/* "none", "gzip", "snappy", "lz4", "zstd" (any case) -> codec; KK_ERR_INVALID_ARG otherwise. */
KK_API int kk_codec_from_name(const char *name, kk_codec_t *out);
/* The codec's lower-case name, or "unknown". Static string. */
KK_API const char *kk_codec_name(kk_codec_t codec);

typedef enum kk_partitioner_kind {
    KK_PARTITIONER_MURMUR2 = 0,  /* the Java client's rule (also kafka-python, librdkafka murmur2_random) */
    KK_PARTITIONER_CRC32 = 1,    /* Poseidon's rule (also librdkafka's default, consistent_random) */
    KK_PARTITIONER_CALLBACK = 2, /* the producer config's partitioner_cb decides */
} kk_partitioner_kind_t;

/* Returns the partition for a key, in [0, partition_count); anything else (negative: the
 * callback's own failure) fails the message with KK_ERR_INVALID_PARTITION. */
typedef int32_t (*kk_partitioner_cb)(void *opaque, const void *key, size_t key_len,
                                     int32_t partition_count);

/* ------------------------------------------------------------------------------------------
 * Producer: synchronous sends of message batches (kk_producer_send), and asynchronous
 * per-message produce with delivery reports (kk_producer_produce, below).
 * ---------------------------------------------------------------------------------------- */
typedef struct kk_producer kk_producer_t;

typedef struct kk_producer_config {
    kk_client_config_t client;        /* bootstrap list, client id, timeouts, logging */
    int16_t required_acks;            /* 0, 1 or -1 (all); default -1 */
    int32_t ack_timeout_ms;           /* how long the broker may wait for replicas; 1500 */
    int max_send_retries;             /* retries after the first try; default 3 */
    int retry_backoff_ms;             /* sleep before each retry; default 100 */
    int metadata_refresh_interval_ms; /* metadata older than this is refreshed; 600000 */
    kk_codec_t compression;           /* default none */
    /* Compress only these topics (NULL = all topics when compression is set). Copied. */
    const char *const *compressed_topics;
    size_t compressed_topic_count;
    kk_partitioner_kind_t partitioner;/* for keyed messages; default murmur2 */
    kk_partitioner_cb partitioner_cb; /* with KK_PARTITIONER_CALLBACK */
    void *partitioner_opaque;
    int32_t max_request_bytes;        /* a larger request is split; default 1048576 */
    /* Wait this long for an auto-created topic's leader before failing its messages. */
    int topic_wait_ms;                /* default 10000 */
    /* The asynchronous engine (kk_producer_produce and below). */
    int linger_ms;                    /* how long a partition's batch waits to fill; default 5 */
    int32_t batch_size;               /* a partition's batch is sent once this full; 1000000 */
    int max_in_flight;                /* unanswered requests per broker; default 5 (max 5 with
                                         idempotence) */
    int32_t buffer_memory;            /* bytes of queued messages at most; default 64 MiB */
    int max_block_ms;                 /* kk_producer_produce waits this long for room; 60000 */
    bool enable_idempotence;          /* default true; in effect with required_acks -1 (all) on
                                         brokers with InitProducerId and Produce v3+ */
    int delivery_timeout_ms;          /* a message not acknowledged within this fails; 120000 */
    /* Poseidon's producer type, "sync" (the default) or "async": read by the bindings, whose
     * send_messages then queues with kk_producer_produce; the core itself does not use it. */
    const char *type;
} kk_producer_config_t;

KK_API void kk_producer_config_init(kk_producer_config_t *cfg);

typedef struct kk_header {
    const char *key;
    size_t key_len;
    const void *value; /* NULL = null */
    size_t value_len;
} kk_header_t;

/* One message to send, and what became of it. The library reads the input fields and the
 * memory they point to only during kk_producer_send(). */
typedef struct kk_message {
    /* in */
    const char *topic;
    const void *key; /* NULL = no key */
    size_t key_len;
    const void *value; /* NULL = null value */
    size_t value_len;
    const kk_header_t *headers;
    size_t header_count;
    int32_t partition;    /* in: a partition, or -1 to let the partitioner choose */
    int64_t timestamp_ms; /* 0 = now */
    /* out */
    int32_t result_partition; /* where it went (-1 if it never got that far) */
    int64_t offset;           /* its offset; -1 with required_acks 0 or on failure */
    int error;                /* 0, or why this message was not delivered */
} kk_message_t;

/* Creates a producer (does not connect yet). NULL with err filled on bad configuration.
 * Free with kk_producer_free(). */
KK_API kk_producer_t *kk_producer_new(const kk_producer_config_t *cfg, kk_error_t *err);
KK_API void kk_producer_free(kk_producer_t *producer);

/* Sends messages[0..count) and waits for all of them: they are copied into the producer's
 * I/O thread (the one kk_producer_produce uses; started by the first call), sent at once
 * without linger_ms, grouped by leader, and retried (refreshing metadata first) up to
 * max_send_retries times; a partition whose leader cannot be reached counts each failed
 * connection or leaderless metadata as a try. Keyless messages go round-robin over the
 * partitions with a leader. Fills every message's out fields. Returns 0 when every message
 * was delivered; the error of the first message when none was; KK_ERR_PARTIAL_FAILURE when
 * some were. err says how many failed and why; each message's .error says its own fate (a
 * partial failure is never all-or-nothing). Interrupted (kk_client_interrupt, the
 * interrupt_check): returns within about 20 ms; messages not sent yet are dropped, the others
 * (.error KK_ERR_INTERRUPTED) may still be written. KK_ERR_STATE after kk_producer_close.
 * Brokers that need Produce v0-v2 (MessageSet v0/v1, Kafka before 0.11) are served on the
 * calling thread instead, as before the engine. */
KK_API int kk_producer_send(kk_producer_t *producer, kk_message_t *messages, size_t count,
                            kk_error_t *err);

/* The producer's client, for kk_client_interrupt() and metadata. Owned by the producer. */
KK_API kk_client_t *kk_producer_client(kk_producer_t *producer);

/* ------------------------------------------------------------------------------------------
 * Producing asynchronously: kk_producer_produce() queues one message and returns; a background
 * I/O thread (started by the first call) batches messages per partition (linger_ms,
 * batch_size), compresses, keeps up to max_in_flight requests unanswered per broker, serves
 * all brokers at once and retries, with idempotence (producer id, per-partition sequences)
 * when the broker supports it. Every message produced gets exactly one delivery report:
 * delivered, failed, or purged by close.
 *
 * Threads: the I/O thread never calls the application (no callback, no log line, no
 * partitioner: a callback partitioner runs on the thread calling kk_producer_produce). Reports
 * wait in a queue until the application drains them with kk_producer_poll() on its own thread;
 * kk_producer_event_fd() is readable while reports wait, for event loops (asyncio add_reader,
 * IO#wait_readable, epoll). The functions below may be called from several threads at once,
 * except kk_producer_free(); kk_client_interrupt(kk_producer_client(p)) wakes a waiting
 * kk_producer_produce(), kk_producer_poll() or kk_producer_flush() (within about 20 ms), which
 * then return KK_ERR_INTERRUPTED (poll: no reports).
 *
 * fork(): a producer used in a child process starts its own I/O thread and connections with an
 * empty queue; what the parent had queued stays the parent's (the child gets no reports for
 * it, and its release callbacks are not called in the child). The event fd changes: ask again.
 * ---------------------------------------------------------------------------------------- */

/* Called once per message produced with it, when the producer no longer needs key and value:
 * on the thread that drains the message's report (kk_producer_poll), or in kk_producer_free
 * for reports never drained. Never on the I/O thread. */
typedef void (*kk_release_cb)(void *opaque, void *key, void *value);

typedef struct kk_produce_message {
    const char *topic;     /* copied */
    int32_t partition;     /* -1: the partitioner (keyed) or a sticky partition (no key) */
    const void *key;       /* NULL = no key */
    size_t key_len;
    const void *value;     /* NULL = null value */
    size_t value_len;
    const kk_header_t *headers; /* copied */
    size_t header_count;
    int64_t timestamp_ms;  /* 0 = now */
    void *opaque;          /* handed back in the report (and to release) */
    /* NULL: key and value are copied during the call. Otherwise the producer keeps the
     * pointers (the caller must not change or free them) and calls release(opaque, key,
     * value) once it no longer needs them. */
    kk_release_cb release;
} kk_produce_message_t;

typedef struct kk_delivery_report {
    void *opaque;          /* the message's */
    const char *topic;     /* valid until the next kk_producer_poll() or kk_producer_free() */
    int32_t partition;     /* -1 when it never got that far */
    int64_t offset;        /* -1 on failure, with required_acks 0, or for a retry the broker
                              recognised as a duplicate (idempotence: it was written once) */
    int64_t timestamp_ms;  /* the timestamp the record carries */
    int error;             /* 0; KK_ERR_PURGED (dropped by close or purge: a purged message
                              that was already sent may have been written); KK_ERR_TIMED_OUT
                              (not acknowledged within delivery_timeout_ms); or the broker's
                              or client's error after retries */
} kk_delivery_report_t;

/* Queues one message. KK_OK; KK_ERR_INVALID_ARG (bad topic name, partition < -1, NULL with a
 * length); KK_ERR_QUEUE_FULL when buffer_memory stayed full for max_block_ms (at once with
 * max_block_ms 0); KK_ERR_INTERRUPTED; KK_ERR_STATE after kk_producer_close(); a partitioner
 * callback's KK_ERR_INVALID_PARTITION or a metadata error (callback partitioner only: it needs
 * the partition count on the calling thread). On any error the message was not queued, no
 * report will come and release is not called. A partition that does not exist, an unknown
 * topic and broker errors come in the report. */
KK_API int kk_producer_produce(kk_producer_t *producer, const kk_produce_message_t *message,
                               kk_error_t *err);

/* kk_producer_produce for a caller that must not block: when the message cannot be queued at
 * once without waiting or calling into the application (no room in buffer_memory, a keyed
 * message for a callback partitioner, an OAuth token to refresh), nothing is queued, *queued
 * is false and the result is KK_OK; call kk_producer_produce then. Lets a binding queue while
 * holding its interpreter lock and release it only when a wait may come. Errors as
 * kk_producer_produce. */
KK_API int kk_producer_try_produce(kk_producer_t *producer, const kk_produce_message_t *message,
                                   bool *queued, kk_error_t *err);

/* Moves up to cap waiting reports into reports[] (oldest first), calling each message's
 * release first, and returns how many. Waits up to timeout_ms (0: not at all, -1: without
 * limit) for the first one; returns 0 at once when interrupted. The reports' topics stay
 * valid until the next kk_producer_poll() on this producer. */
KK_API size_t kk_producer_poll(kk_producer_t *producer, kk_delivery_report_t *reports, size_t cap,
                               int timeout_ms);

/* A file descriptor that is readable while reports wait for kk_producer_poll() (read
 * nothing from it: kk_producer_poll() empties it). Owned by the producer; -1 when the I/O
 * thread could not be started (err says why). Starts the I/O thread. */
KK_API int kk_producer_event_fd(kk_producer_t *producer, kk_error_t *err);

/* Sends everything queued without waiting for linger_ms and waits up to timeout_ms (-1:
 * without limit) until every message produced so far has its report queued (drain them with
 * kk_producer_poll). *remaining (may be NULL) gets the number of messages still without a
 * report. KK_OK when none is left; KK_ERR_TIMED_OUT; KK_ERR_INTERRUPTED. */
KK_API int kk_producer_flush(kk_producer_t *producer, int timeout_ms, size_t *remaining,
                             kk_error_t *err);

/* Messages produced whose reports are not yet queued (queued, in a batch, or unanswered). */
KK_API size_t kk_producer_in_flight(kk_producer_t *producer);

/* Fails every message not yet sent with KK_ERR_PURGED (reports follow through
 * kk_producer_poll); messages already sent keep waiting for their answers. */
KK_API void kk_producer_purge(kk_producer_t *producer);

/* Flushes for up to timeout_ms (0: not at all), then purges everything left, including
 * messages sent and not yet answered (KK_ERR_PURGED), and stops the I/O thread and its
 * connections. Every message has its report queued when it returns: drain them with
 * kk_producer_poll(). Later kk_producer_produce() and kk_producer_send() calls fail with
 * KK_ERR_STATE. Returns KK_OK when nothing had to be purged,
 * else KK_ERR_TIMED_OUT (or KK_ERR_INTERRUPTED) with err saying how many were purged.
 * kk_producer_free() closes with timeout 0 and releases reports never drained. */
KK_API int kk_producer_close(kk_producer_t *producer, int timeout_ms, kk_error_t *err);

/* ------------------------------------------------------------------------------------------
 * Topic administration
 * ---------------------------------------------------------------------------------------- */
typedef struct kk_topic_config {
    const char *name;
    const char *value;
} kk_topic_config_t;

/* Creates a topic and waits (up to timeout_ms) until every partition's leader serves it, so
 * that even a required_acks 0 write right afterwards is not lost.
 * partitions / replication_factor -1 mean the broker's defaults. TOPIC_ALREADY_EXISTS (36)
 * when it exists. */
KK_API int kk_client_create_topic(kk_client_t *client, const char *topic, int32_t partitions,
                                  int16_t replication_factor, const kk_topic_config_t *configs,
                                  size_t config_count, int timeout_ms, kk_error_t *err);
/* Deletes a topic; UNKNOWN_TOPIC_OR_PARTITION (3) when there is none. */
KK_API int kk_client_delete_topic(kk_client_t *client, const char *topic, int timeout_ms,
                                  kk_error_t *err);
/* Deletes a partition's records before `offset` (-1 = all of them); *low_watermark (may be
 * NULL) gets the new log start offset. */
KK_API int kk_client_delete_records(kk_client_t *client, const char *topic, int32_t partition,
                                    int64_t offset, int timeout_ms, int64_t *low_watermark,
                                    kk_error_t *err);

/* ------------------------------------------------------------------------------------------
 * Partition consumer: fetches one partition of one topic from its leader, following the
 * leader when it moves.
 * ---------------------------------------------------------------------------------------- */
typedef struct kk_consumer kk_consumer_t;

typedef enum kk_offset_kind {
    KK_OFFSET_AT = 0,          /* value is the offset (>= 0) */
    KK_OFFSET_EARLIEST = 1,    /* the log start */
    KK_OFFSET_LATEST = 2,      /* the end: only records produced from now on */
    KK_OFFSET_FROM_LATEST = 3, /* value records before the end (Poseidon's negative offsets) */
    KK_OFFSET_AT_TIME = 4,     /* the first record with a timestamp >= value (ms) */
} kk_offset_kind_t;

typedef struct kk_offset_spec {
    kk_offset_kind_t kind;
    int64_t value;
} kk_offset_spec_t;

/* What to do when the broker says the next offset is out of range (deleted or beyond the end). */
typedef enum kk_offset_reset {
    KK_RESET_EARLIEST = 0, /* default */
    KK_RESET_LATEST = 1,
    KK_RESET_ERROR = 2,    /* fail the fetch with OFFSET_OUT_OF_RANGE (1) */
} kk_offset_reset_t;

typedef struct kk_consumer_config {
    kk_client_config_t client; /* bootstrap list: the seeds used to find the leader */
    const char *topic;         /* copied */
    int32_t partition;
    kk_offset_spec_t offset;   /* default: earliest */
    int32_t max_bytes;         /* per fetch; default 1048576 (grown for a bigger record) */
    int32_t min_bytes;         /* default 1 */
    int32_t max_wait_ms;       /* how long the broker may wait for min_bytes; default 100 */
    bool read_committed;       /* isolation level; default false (read uncommitted) */
    kk_offset_reset_t offset_reset;
    int failover_tries;        /* leader lookups after a failure before giving up; default 5 */
    int retry_backoff_ms;      /* default 200 */
    /* Bounds on what one fetch decodes, against decompression bombs: the decompressed bytes of
     * its compressed batches and its records (each also costs about 150 bytes of bookkeeping).
     * A fetch stops at either and returns what it decoded; the next fetch goes on from there.
     * Its first batch is always decoded whole (up to the larger of max_decompressed_bytes and
     * 256 MiB; beyond that the fetch fails with KK_ERR_COMPRESSION). 0 (the default): 32 x
     * max_bytes and max_bytes / 4 records (at least 1). */
    int32_t max_decompressed_bytes;
    int32_t max_records;
} kk_consumer_config_t;

KK_API void kk_consumer_config_init(kk_consumer_config_t *cfg);

typedef struct kk_fetched_header {
    const char *key;
    size_t key_len;
    const void *value; /* NULL = null */
    size_t value_len;
} kk_fetched_header_t;

typedef struct kk_fetched_message {
    int64_t offset;
    int64_t timestamp;      /* ms; -1 when the record carries none */
    int8_t timestamp_type;  /* 0 create time, 1 log-append time, -1 none */
    const void *key;        /* NULL = null key */
    size_t key_len;
    const void *value;      /* NULL = null value */
    size_t value_len;
    const kk_fetched_header_t *headers;
    size_t header_count;
} kk_fetched_message_t;

/* The messages of one fetch. All pointers point into memory the batch owns: it stays valid
 * until kk_fetch_batch_free(). */
typedef struct kk_fetch_batch {
    const kk_fetched_message_t *messages;
    size_t count;
    int64_t high_watermark;
    int64_t last_stable_offset; /* -1 when the broker does not report it */
    int64_t log_start_offset;   /* -1 when the broker does not report it */
} kk_fetch_batch_t;

KK_API void kk_fetch_batch_free(kk_fetch_batch_t *batch);

/* Per-call overrides of the config (negative = keep the configured value). */
typedef struct kk_fetch_options {
    int32_t max_bytes;
    int32_t min_bytes;
    int32_t max_wait_ms;
} kk_fetch_options_t;

#define KK_FETCH_OPTIONS_DEFAULT ((kk_fetch_options_t){-1, -1, -1})

/* Creates a consumer. Does not connect yet: the first fetch (or kk_consumer_connect) finds the
 * partition's leader through the seeds and resolves the starting offset. */
KK_API kk_consumer_t *kk_consumer_new(const kk_consumer_config_t *cfg, kk_error_t *err);
KK_API void kk_consumer_free(kk_consumer_t *consumer);
/* Finds the leader and resolves the starting offset now (fails like fetch would). */
KK_API int kk_consumer_connect(kk_consumer_t *consumer, kk_error_t *err);

/* Fetches the next messages (possibly none, after max_wait_ms) and advances next_offset past
 * them. On success *out is a new batch the caller frees with kk_fetch_batch_free(). */
KK_API int kk_consumer_fetch(kk_consumer_t *consumer, const kk_fetch_options_t *options,
                             kk_fetch_batch_t **out, kk_error_t *err);

/* The offset the next fetch starts at (-1 before it is resolved). */
KK_API int64_t kk_consumer_next_offset(const kk_consumer_t *consumer);
/* The partition's high watermark from the last fetch (-1 before the first). */
KK_API int64_t kk_consumer_highwater_mark(const kk_consumer_t *consumer);
KK_API int64_t kk_consumer_last_stable_offset(const kk_consumer_t *consumer);
KK_API int64_t kk_consumer_log_start_offset(const kk_consumer_t *consumer);
/* The node id of the leader being fetched from (-1 when unknown). */
KK_API int32_t kk_consumer_leader(const kk_consumer_t *consumer);
/* Resolves an offset spec for (topic, partition) through ListOffsets on the leader; -1 in
 * *offset when there is no such record (KK_OFFSET_AT_TIME past the last record). */
KK_API int kk_consumer_resolve_offset(kk_consumer_t *consumer, kk_offset_spec_t spec,
                                      int64_t *offset, kk_error_t *err);
/* The consumer's client, for kk_client_interrupt(). Owned by the consumer. */
KK_API kk_client_t *kk_consumer_client(kk_consumer_t *consumer);

/* ------------------------------------------------------------------------------------------
 * Consumer groups: co-operating processes share the partitions of a set of topics, each
 * partition read by one member at a time, with progress committed to the group coordinator so
 * that a replacement starts where the last owner stopped. Speaks the classic group protocol
 * (JoinGroup/SyncGroup) with protocol type "consumer" and the standard subscription and
 * assignment encoding, so kafkette members can share a group with Java or librdkafka consumers.
 *
 * Threads: a group is used by one thread at a time (kk_client_interrupt() on its client may be
 * called from any thread). Each group also runs one background thread while it is a member,
 * which only sends heartbeats on its own connection to the coordinator, so the membership
 * stays alive while the application processes a batch. That thread never calls the
 * application: it only raises flags (rejoin needed, fatal error) that the next call on the
 * caller's thread acts on. Rebalance callbacks run on the caller's thread, inside
 * kk_group_poll(), kk_group_join() or kk_group_close().
 *
 * Processing time: when the group rebalances, the coordinator waits up to rebalance_timeout_ms
 * for every member to rejoin, and a member rejoins in its next kk_group_poll(); a member that
 * spends longer than that on one batch loses its partitions.
 * ---------------------------------------------------------------------------------------- */
typedef struct kk_topic_partition {
    const char *topic;
    int32_t partition;
} kk_topic_partition_t;

typedef struct kk_group kk_group_t;

/* partitions[0..count) are valid only during the call. The callback may call
 * kk_group_commit() / kk_group_commit_consumed() (on_revoke: the last chance to commit what
 * was processed) but not kk_group_poll(), kk_group_join(), kk_group_close() or
 * kk_group_free(). */
typedef void (*kk_rebalance_cb)(void *opaque, const kk_topic_partition_t *partitions,
                                size_t count);

/* Which group protocol a member speaks: the classic one (JoinGroup/SyncGroup, the members'
 * leader assigns, every rebalance stops the whole group) or KIP-848's (Kafka 4.0+: the
 * coordinator assigns and moves partitions one by one with ConsumerGroupHeartbeat; members
 * that keep their partitions never stop). */
typedef enum kk_group_protocol {
    KK_GROUP_PROTOCOL_CLASSIC = 0,
    KK_GROUP_PROTOCOL_CONSUMER = 1,
} kk_group_protocol_t;

typedef struct kk_group_config {
    kk_client_config_t client;       /* bootstrap list, client id, timeouts, logging */
    const char *group_id;            /* required; copied */
    const char *const *topics;       /* the subscription (1 or more existing topics); copied */
    size_t topic_count;
    const char *assignor;            /* "range" (NULL = the default) or "roundrobin" */
    /* no heartbeat for this long: the member is dead; 10000. Classic only: with
     * KK_GROUP_PROTOCOL_CONSUMER the broker's group.consumer.session.timeout.ms decides, and
     * this only bounds how long the member's own calls wait for the coordinator. */
    int session_timeout_ms;
    int rebalance_timeout_ms;        /* how long a rebalance waits for members; 30000 */
    /* 0: a third of session_timeout_ms, at most 3000. Classic only: with
     * KK_GROUP_PROTOCOL_CONSUMER the coordinator says (group.consumer.heartbeat.interval.ms). */
    int heartbeat_interval_ms;
    /* Default 5000. 0: no automatic commits. Otherwise, every interval (checked in
     * kk_group_poll) and before giving partitions up, commit what kk_group_poll() has returned
     * so far. */
    int auto_commit_interval_ms;
    /* Where a partition without a committed offset starts: KK_RESET_EARLIEST (default) or
     * KK_RESET_LATEST (only records produced from now on, Poseidon's `trail`). Also the
     * policy when a committed offset is out of range. */
    kk_offset_reset_t start_when_no_commit;
    int32_t max_bytes;               /* per fetch; default 1048576 */
    int32_t max_wait_ms;             /* per fetch; default 100 */
    /* Every member looks up its topics' partition counts this often (the leader: every
     * member's topics) and rejoins when they changed; default 10000. */
    int metadata_refresh_interval_ms;
    int retry_backoff_ms;            /* between retries of coordinator errors; default 200 */
    int32_t max_decompressed_bytes;  /* per fetch, as kk_consumer_config_t says; default 0 */
    int32_t max_records;             /* per fetch, as kk_consumer_config_t says; default 0 */
    kk_rebalance_cb on_assign;       /* after partitions were claimed; may be NULL */
    kk_rebalance_cb on_revoke;       /* before claimed partitions are given up; may be NULL */
    void *rebalance_opaque;
    kk_group_protocol_t group_protocol; /* default KK_GROUP_PROTOCOL_CLASSIC */
    /* KK_GROUP_PROTOCOL_CONSUMER: the coordinator's assignor, "uniform" or "range"; NULL or ""
     * lets the broker choose (assignor is for the classic protocol only). */
    const char *group_remote_assignor;
    /* Static membership (KIP-345), both protocols: a stable name for this member (1-249 bytes;
     * NULL or "": dynamic). A member that comes back under the same name within the session
     * timeout gets its partitions back without a rebalance; closing does not give them up at
     * once (classic: no LeaveGroup; KIP-848: it leaves with epoch -2). */
    const char *group_instance_id;
} kk_group_config_t;

KK_API void kk_group_config_init(kk_group_config_t *cfg);

/* Checks the configuration and creates a group member; does not connect yet (the first
 * kk_group_join or kk_group_poll does). NULL with err filled (KK_ERR_INVALID_ARG) on an empty
 * group id or topic list or an unknown assignor. Free with kk_group_free(). */
KK_API kk_group_t *kk_group_new(const kk_group_config_t *cfg, kk_error_t *err);
/* Frees without leaving the group or committing (the coordinator drops the member after the
 * session timeout); use kk_group_close() first for a clean exit. NULL is fine. */
KK_API void kk_group_free(kk_group_t *group);

/* Joins the group, or completes a rebalance the coordinator asked for, and claims this
 * member's partitions (starting each at its committed offset). Coordinator moves, unknown
 * member ids, stale generations and rebalances are handled by rejoining, not returned.
 * Returns KK_OK at once when the member is already up to date. The first join fails with
 * UNKNOWN_TOPIC_OR_PARTITION (3) naming the subscribed topics that do not exist. timeout_ms
 * bounds the retries, not one JoinGroup round trip (which may last rebalance_timeout_ms). */
KK_API int kk_group_join(kk_group_t *group, int timeout_ms, kk_error_t *err);

/* Joins or rejoins if needed (as kk_group_join), auto-commits when due, then fetches from the
 * claimed partitions in turn until one returns messages or timeout_ms passes. On success
 * *out is a batch of one partition (NULL when nothing arrived in time), which the caller frees
 * with kk_fetch_batch_free(); *partition (may be NULL) says which partition, its topic
 * pointing into the group (valid until kk_group_free). */
KK_API int kk_group_poll(kk_group_t *group, int timeout_ms, kk_fetch_batch_t **out,
                         kk_topic_partition_t *partition, kk_error_t *err);

/* Commits `offset` (the next offset to read, i.e. the last processed + 1) for a claimed
 * partition. An offset at or below the last commit this member knows of is not sent (commits
 * never go backwards). KK_ERR_NOT_ASSIGNED when the member does not own the partition, or
 * lost it in a rebalance the member has not caught up with yet (the next kk_group_poll
 * rejoins; records after the last successful commit are then delivered again). */
KK_API int kk_group_commit(kk_group_t *group, const char *topic, int32_t partition,
                           int64_t offset, kk_error_t *err);
/* Commits, for every claimed partition, everything kk_group_poll() has returned so far. */
KK_API int kk_group_commit_consumed(kk_group_t *group, kk_error_t *err);
/* Asks the coordinator for the group's committed offset of any partition (owned or not);
 * *offset is -1 when none is committed. */
KK_API int kk_group_committed(kk_group_t *group, const char *topic, int32_t partition,
                              int64_t *offset, kk_error_t *err);

/* Pausing: kk_group_poll() does not fetch a paused partition until it is resumed; the member
 * keeps it (and its heartbeats go on). Seeking: the next fetch of the partition starts at
 * `offset` (a commit is not made; kk_group_commit_consumed() commits only what kk_group_poll()
 * returned). Both concern a claimed partition (else KK_ERR_NOT_ASSIGNED) and may be called
 * from the rebalance callbacks (on_assign: before anything is fetched). Both survive a
 * rebalance in which the member keeps the partition: KIP-848 keeps it outright; a classic
 * rebalance gives every partition up, and those that come back to the member in the next
 * generation are paused again and, when no batch was returned since the seek, start at the
 * sought offset instead of the committed one. A partition that goes to another member starts
 * there afresh (not paused, at the committed offset). */
KK_API int kk_group_pause(kk_group_t *group, const char *topic, int32_t partition,
                          kk_error_t *err);
KK_API int kk_group_resume(kk_group_t *group, const char *topic, int32_t partition,
                           kk_error_t *err);
KK_API int kk_group_seek(kk_group_t *group, const char *topic, int32_t partition, int64_t offset,
                         kk_error_t *err);
/* Copies up to cap paused partitions into out (sorted as kk_group_claimed's; topics point into
 * the group, valid until kk_group_free) and returns how many are paused in total. */
KK_API size_t kk_group_paused(const kk_group_t *group, kk_topic_partition_t *out, size_t cap);

/* Copies up to cap claimed partitions into out (sorted by topic, then partition; topics point
 * into the group, valid until kk_group_free) and returns how many are claimed in total. */
KK_API size_t kk_group_claimed(const kk_group_t *group, kk_topic_partition_t *out, size_t cap);
/* The generation the member's claims belong to (-1 when not a member). */
KK_API int32_t kk_group_generation(const kk_group_t *group);
/* The member id the coordinator gave us ("" before joining). Points into the group; valid
 * until the next call on it. */
KK_API const char *kk_group_member_id(const kk_group_t *group);
/* True when this member computed the last assignment. */
KK_API bool kk_group_is_leader(const kk_group_t *group);

/* Leaves the group cleanly: commits what was consumed (with auto-commit), calls on_revoke,
 * stops heartbeats and sends LeaveGroup, so the others rebalance at once instead of after the
 * session timeout. Afterwards only kk_group_free() is allowed. Returns the first error (a
 * failed commit), but always leaves. */
KK_API int kk_group_close(kk_group_t *group, kk_error_t *err);

/* The client used for the coordinator and metadata, for kk_client_interrupt() (which also
 * interrupts the fetches of the group's partition consumers). Owned by the group. */
KK_API kk_client_t *kk_group_client(kk_group_t *group);

/* ------------------------------------------------------------------------------------------
 * Administration: what a cluster holds (topics with their offsets, groups with their members
 * and lag) and changing it (partitions, topic configs). Each function returns KK_OK or an
 * error code and fills err; a broker's per-item error that makes the answer useless is
 * returned as that code, with the broker's message when it sent one. Everything handed out is
 * owned by the caller and freed with the function named beside it. NULL is fine for every
 * *_free function.
 * ---------------------------------------------------------------------------------------- */

/* The names of the cluster's topics, sorted; internal topics (__consumer_offsets, ...) only
 * when include_internal. *names is a new array of new strings: kk_strings_free(*names, *count). */
KK_API int kk_client_list_topics(kk_client_t *client, bool include_internal, char ***names,
                                 size_t *count, kk_error_t *err);
KK_API void kk_strings_free(char **strings, size_t count);

/* One partition's offsets, from ListOffsets on its leader. */
typedef struct kk_partition_watermarks {
    int64_t log_start_offset; /* the first offset still in the log; -1 when unknown */
    int64_t high_watermark;   /* the offset the next record will get; -1 when unknown */
    int error;                /* 0, or why the leader could not say (the fields are then -1) */
} kk_partition_watermarks_t;

typedef struct kk_topic_descriptions {
    /* Brokers, controller and the topics asked for (every non-internal topic when none were
     * named), topics sorted by name, partitions by id. A topic that does not exist has its
     * error_code set (UNKNOWN_TOPIC_OR_PARTITION, 3) and no partitions. */
    kk_metadata_t *metadata;
    /* watermarks[t][p] belongs to metadata->topics[t].partitions[p]. */
    kk_partition_watermarks_t **watermarks;
} kk_topic_descriptions_t;

/* Describes topics (topic_count 0: every non-internal topic) with every partition's leader,
 * replicas, ISR and watermarks. Never creates a topic. On success *out is new:
 * kk_topic_descriptions_free(*out). */
KK_API int kk_client_describe_topics(kk_client_t *client, const char *const *topics,
                                     size_t topic_count, kk_topic_descriptions_t **out,
                                     kk_error_t *err);
KK_API void kk_topic_descriptions_free(kk_topic_descriptions_t *descriptions);

/* A partition's log start offset and high watermark. */
KK_API int kk_client_watermarks(kk_client_t *client, const char *topic, int32_t partition,
                                int64_t *log_start_offset, int64_t *high_watermark,
                                kk_error_t *err);

/* ListOffsets timestamps with a meaning of their own. */
#define KK_TIMESTAMP_LATEST (-1)   /* the high watermark */
#define KK_TIMESTAMP_EARLIEST (-2) /* the log start offset */

/* The offset of the first record of the partition whose timestamp is >= timestamp_ms (ms
 * since the epoch, or KK_TIMESTAMP_*). *offset is -1 when no record is that recent;
 * *record_timestamp (may be NULL) gets that record's timestamp (-1 when none). */
KK_API int kk_client_offset_for_time(kk_client_t *client, const char *topic, int32_t partition,
                                     int64_t timestamp_ms, int64_t *offset,
                                     int64_t *record_timestamp, kk_error_t *err);

/* Grows a topic to total_count partitions (CreatePartitions) and waits (up to timeout_ms)
 * until every partition's leader serves it. INVALID_PARTITIONS (37) when total_count is not
 * more than the topic has. */
KK_API int kk_client_create_partitions(kk_client_t *client, const char *topic,
                                       int32_t total_count, int timeout_ms, kk_error_t *err);

/* One group as ListGroups reports it. */
typedef struct kk_group_listing {
    char *group_id;
    char *protocol_type; /* "consumer" for consumer groups; "" for groups of the new protocol */
    char *state;         /* "Stable", "Empty", ...; NULL when the broker does not say */
    char *type;          /* "classic", "consumer", ...; NULL when the broker does not say */
    int32_t coordinator; /* the node id of the broker that listed it */
} kk_group_listing_t;

/* Every group of the cluster (ListGroups on every broker), sorted by id. *groups is new:
 * kk_group_listings_free(*groups, *count). */
KK_API int kk_client_list_groups(kk_client_t *client, kk_group_listing_t **groups, size_t *count,
                                 kk_error_t *err);
KK_API void kk_group_listings_free(kk_group_listing_t *groups, size_t count);

typedef struct kk_assigned_partition {
    char *topic;
    int32_t partition;
} kk_assigned_partition_t;

typedef struct kk_group_member_description {
    char *member_id;
    char *group_instance_id; /* NULL for dynamic members */
    char *client_id;
    char *client_host;       /* as the coordinator saw it, "/127.0.0.1" */
    uint8_t *assignment_bytes; /* the raw assignment; NULL when empty */
    size_t assignment_len;
    /* For protocol type "consumer": the assignment decoded, sorted by topic and partition;
     * NULL (count 0) otherwise or when it does not decode (then assignment_error is set). */
    kk_assigned_partition_t *assignment;
    size_t assignment_count;
    int assignment_error;
} kk_group_member_description_t;

typedef struct kk_group_description {
    char *group_id;
    char *state;         /* "Stable", "Empty", "Dead" (for a group that does not exist), ... */
    char *protocol_type; /* "consumer", or "" */
    char *protocol;      /* the assignor chosen ("range"), "" unless stable */
    int32_t coordinator; /* its node id */
    kk_group_member_description_t *members;
    size_t member_count;
} kk_group_description_t;

/* Describes a group (DescribeGroups on its coordinator). A group that does not exist comes
 * back with state "Dead" and no members. *out is new: kk_group_description_free(*out). */
KK_API int kk_client_describe_group(kk_client_t *client, const char *group_id,
                                    kk_group_description_t **out, kk_error_t *err);
KK_API void kk_group_description_free(kk_group_description_t *description);

typedef struct kk_partition_lag {
    char *topic;
    int32_t partition;
    int64_t committed; /* the group's committed offset; -1 when none */
    int64_t end;       /* the high watermark; -1 when unknown */
    int64_t lag;       /* end - committed; -1 when either is unknown */
    int error;         /* 0, or why end is unknown */
} kk_partition_lag_t;

/* A group's lag without joining it: its committed offsets (OffsetFetch on the coordinator)
 * against each partition's high watermark, for every partition of every topic the group has
 * committed for, sorted by topic and partition. *lags is new:
 * kk_partition_lags_free(*lags, *count). */
KK_API int kk_client_group_lag(kk_client_t *client, const char *group_id, kk_partition_lag_t **lags,
                               size_t *count, kk_error_t *err);
KK_API void kk_partition_lags_free(kk_partition_lag_t *lags, size_t count);

/* Resource types of DescribeConfigs / IncrementalAlterConfigs. */
typedef enum kk_resource_type {
    KK_RESOURCE_TOPIC = 2,
    KK_RESOURCE_BROKER = 4, /* name: the node id as text */
} kk_resource_type_t;

typedef struct kk_resource_config {
    char *name;
    char *value;   /* NULL when null, which a sensitive value always is */
    int8_t source; /* the protocol's ConfigSource; kk_config_source_name() */
    bool read_only;
    bool is_default; /* the value is the built-in default */
    bool is_sensitive;
} kk_resource_config_t;

typedef struct kk_resource_configs {
    kk_resource_config_t *entries; /* sorted by name */
    size_t count;
} kk_resource_configs_t;

/* "DYNAMIC_TOPIC_CONFIG", "DEFAULT_CONFIG", ... ("UNKNOWN" otherwise). Static string. */
KK_API const char *kk_config_source_name(int8_t source);

/* Every config of a topic or broker (DescribeConfigs; a broker's from that broker). *out is
 * new: kk_resource_configs_free(*out). */
KK_API int kk_client_describe_configs(kk_client_t *client, kk_resource_type_t type,
                                      const char *name, kk_resource_configs_t **out,
                                      kk_error_t *err);
KK_API void kk_resource_configs_free(kk_resource_configs_t *configs);

typedef enum kk_alter_op {
    KK_ALTER_SET = 0,
    KK_ALTER_DELETE = 1,  /* back to the default; value is ignored */
    KK_ALTER_APPEND = 2,  /* to a list config */
    KK_ALTER_SUBTRACT = 3 /* from a list config */
} kk_alter_op_t;

typedef struct kk_config_alteration {
    const char *name;
    kk_alter_op_t op;
    const char *value;
} kk_config_alteration_t;

/* Changes some configs of a topic or broker, leaving the others alone
 * (IncrementalAlterConfigs). validate_only: check without changing anything. */
KK_API int kk_client_alter_configs(kk_client_t *client, kk_resource_type_t type, const char *name,
                                   const kk_config_alteration_t *alterations, size_t count,
                                   bool validate_only, kk_error_t *err);

/* ------------------------------------------------------------------------------------------
 * Statistics: what a producer, partition consumer or consumer group has done since it was
 * created, counted where every request passes (the connection layer) and where messages are
 * delivered or fetched. Reading copies a fixed-size struct: no allocation, a few microseconds,
 * cheap enough to call every second (docs/STATISTICS.md).
 * ---------------------------------------------------------------------------------------- */
#define KK_STATS_MAX_BROKERS 16     /* brokers with round-trip figures (more are not counted) */
#define KK_STATS_MAX_ERRORS 32      /* distinct error codes counted (more count in errors only) */
#define KK_STATS_MAX_PARTITIONS 256 /* partitions listed (partitions_total counts them all) */
#define KK_STATS_BROKER_NAME_SIZE 264

typedef struct kk_broker_stats {
    char name[KK_STATS_BROKER_NAME_SIZE]; /* "host:port" as the connection names it */
    uint64_t requests;                    /* requests answered by this broker */
    uint64_t rtt_p50_us;                  /* median request round trip, microseconds */
    uint64_t rtt_p99_us;                  /* 99th percentile (log-scale buckets: within 25%) */
} kk_broker_stats_t;

typedef struct kk_error_count {
    int code;       /* a kk_err_t or broker code (kk_err_name() names it) */
    uint64_t count;
} kk_error_count_t;

typedef struct kk_partition_stats {
    const char *topic;      /* points into the object: valid until its next call or free */
    int32_t partition;
    int64_t position;       /* the next offset to fetch; -1 before it is resolved */
    int64_t high_watermark; /* from the latest fetch; -1 before the first */
    int64_t lag;            /* high_watermark - position (>= 0); -1 when either is unknown */
} kk_partition_stats_t;

typedef struct kk_stats {
    uint64_t messages_sent;      /* producer: messages delivered (acknowledged, or sent with acks 0) */
    uint64_t bytes_sent;         /* their keys, values and headers */
    uint64_t messages_received;  /* consumer/group: messages returned by fetches */
    uint64_t bytes_received;     /* their keys, values and headers */
    uint64_t requests;           /* requests written to a socket (every API, every broker) */
    uint64_t request_bytes;      /* bytes of those requests on the wire (before TLS) */
    uint64_t response_bytes;     /* bytes of responses read */
    uint64_t retries;            /* producer: sends gone round again; consumer: leader look-ups
                                    after a failure; group: coordinator retries */
    uint64_t errors;             /* every error counted below, including codes over the cap */
    uint64_t reconnects;         /* connections opened again after being open before */
    uint64_t in_flight_requests; /* sent and not yet answered, now */
    uint64_t queued_bytes;       /* waiting to be sent, now (0: the producer queues nothing yet) */
    /* By code: connection failures (timeouts, refused, closed, malformed, ...), each message a
     * producer failed to deliver, and each fetch or group call that failed. */
    kk_error_count_t errors_by_code[KK_STATS_MAX_ERRORS];
    size_t error_code_count;
    kk_broker_stats_t brokers[KK_STATS_MAX_BROKERS];
    size_t broker_count;
    /* Consumer: its partition; group: every claimed partition, sorted by topic and partition. */
    kk_partition_stats_t partitions[KK_STATS_MAX_PARTITIONS];
    size_t partition_count;
    size_t partitions_total;
} kk_stats_t;

/* Fill *out (every field) with the object's statistics. Never fails for a valid object (NULL
 * clears *out). A producer's may be read from any thread; a consumer's or group's on the thread
 * that uses it (the bindings take the object's lock), since partition positions move with it. */
KK_API void kk_producer_stats(kk_producer_t *producer, kk_stats_t *out);
KK_API void kk_consumer_stats(kk_consumer_t *consumer, kk_stats_t *out);
KK_API void kk_group_stats(kk_group_t *group, kk_stats_t *out);

/* ------------------------------------------------------------------------------------------
 * Options: one table declares every option of every object (name, type, range, default, unit,
 * a line of documentation), and a kk_config_t fills the typed config structs above from names
 * and values. Bindings pass their keyword options through it, so an unknown option, a value of
 * the wrong type or out of range gets the same message in C, Python and Ruby; the
 * kk_*_new() functions check the typed structs against the same table.
 * ---------------------------------------------------------------------------------------- */
typedef enum kk_option_type {
    KK_OPTION_INT = 0,  /* an integer in [min, max]; some also take names (required_acks "all") */
    KK_OPTION_BOOL,
    KK_OPTION_STRING,
    KK_OPTION_ENUM,     /* one of `names` (any case) */
    KK_OPTION_LIST,     /* a list of strings; as text, comma-separated */
    KK_OPTION_MAP,      /* integer keys to integer values; as text "key=value,key=value" */
    KK_OPTION_CALLBACK, /* a function: set through a binding, or on the typed struct in C */
} kk_option_type_t;

/* The kinds of object a config is for; an option lists the kinds that take it as bits. */
typedef enum kk_config_kind {
    KK_CONFIG_CLIENT = 1,   /* topic administration and metadata (every kind takes these) */
    KK_CONFIG_PRODUCER = 2,
    KK_CONFIG_CONSUMER = 4, /* a partition consumer */
    KK_CONFIG_GROUP = 8,    /* a consumer group member */
} kk_config_kind_t;

typedef struct kk_option_info {
    const char *name;
    const char *alias_of;      /* NULL, or the option this name is another spelling of */
    kk_option_type_t type;
    unsigned kinds;            /* KK_CONFIG_* bits */
    int64_t min, max;          /* KK_OPTION_INT and KK_OPTION_MAP values */
    const char *const *names;  /* ENUM: the choices; INT: names it also takes; NULL-terminated */
    const char *default_value; /* as documentation shows it */
    const char *unit;          /* "ms", "bytes", or NULL */
    const char *doc;           /* one line */
    bool secret;               /* a password or token: kk_config_get() shows "***" */
} kk_option_info_t;

/* The table, entry by entry (an option that means different things to different kinds has
 * one entry per meaning). Entries are static; index < kk_option_count(). */
KK_API size_t kk_option_count(void);
KK_API const kk_option_info_t *kk_option_at(size_t index);
/* The entry `kind` uses for `name` (an alias finds its own entry), or NULL. */
KK_API const kk_option_info_t *kk_option_find(kk_config_kind_t kind, const char *name);
/* The kind's name: "client", "producer", "consumer", "group". Static string. */
KK_API const char *kk_config_kind_name(kk_config_kind_t kind);

typedef struct kk_config kk_config_t;

/* A config of one kind with every option at its default. NULL when out of memory or for an
 * unknown kind. Free with kk_config_free(). */
KK_API kk_config_t *kk_config_new(kk_config_kind_t kind);
KK_API void kk_config_free(kk_config_t *config);
KK_API kk_config_kind_t kk_config_kind(const kk_config_t *config);

/* Set an option from text ("100", "true", "gzip", "a,b,c", "3=1,1=4"). KK_ERR_INVALID_ARG
 * with a message naming the option, the value and what is allowed when the option is unknown
 * for this kind, the text does not parse, or the value is out of range; the config then keeps
 * its old value. The config copies what it keeps. */
KK_API int kk_config_set(kk_config_t *config, const char *name, const char *value,
                         kk_error_t *err);
/* Typed setters for bindings that hold a native value. Each fails like kk_config_set() when
 * the option takes another type. */
KK_API int kk_config_set_int(kk_config_t *config, const char *name, int64_t value,
                             kk_error_t *err);
KK_API int kk_config_set_bool(kk_config_t *config, const char *name, bool value,
                              kk_error_t *err);
KK_API int kk_config_set_list(kk_config_t *config, const char *name, const char *const *items,
                              size_t count, kk_error_t *err);
/* Key/value pairs for a KK_OPTION_MAP option (replacing what it held). */
KK_API int kk_config_set_map(kk_config_t *config, const char *name, const int64_t *keys,
                             const int64_t *values, size_t count, kk_error_t *err);
/* Back to the default (a binding's None / nil). */
KK_API int kk_config_set_default(kk_config_t *config, const char *name, kk_error_t *err);
/* Fills err as for a value of the wrong type: a binding calls it when it holds a value it
 * cannot pass (type_name: the language's name for its type, "float", "Hash"). Returns
 * KK_ERR_INVALID_ARG (or the unknown-option error when name is unknown). */
KK_API int kk_config_reject_type(const kk_config_t *config, const char *name,
                                 const char *type_name, kk_error_t *err);
/* The option's current value as text (lists comma-separated) into buf; returns the length
 * (as snprintf), or -1 when the option is unknown for this kind or is a callback. */
KK_API int kk_config_get(const kk_config_t *config, const char *name, char *buf, size_t size);
/* True when the option was set (by any spelling) since kk_config_new(). */
KK_API bool kk_config_is_set(const kk_config_t *config, const char *name);

/* The typed config behind a kk_config_t, for kk_*_new() and for fields no option names
 * (callbacks, log_cb, interrupt_check). Valid until kk_config_free(); the strings it holds
 * belong to the config. kk_config_client() works for every kind (the struct's client part);
 * the others return NULL for a config of another kind. */
KK_API kk_client_config_t *kk_config_client(kk_config_t *config);
KK_API kk_producer_config_t *kk_config_producer(kk_config_t *config);
KK_API kk_consumer_config_t *kk_config_consumer(kk_config_t *config);
KK_API kk_group_config_t *kk_config_group(kk_config_t *config);

#ifdef __cplusplus
}
#endif

#endif /* KAFKETTE_H */
