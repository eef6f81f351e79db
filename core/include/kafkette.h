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
    KK_API_API_VERSIONS = 18,
    KK_API_CREATE_TOPICS = 19,
    KK_API_DELETE_TOPICS = 20,
    KK_API_DELETE_RECORDS = 21,
    KK_API__COUNT = 22 /* one past the highest key the library knows */
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

typedef struct kk_client_config {
    const char *bootstrap_servers; /* "host:port,host:port" (required) */
    const char *client_id;         /* NULL means "kafkette" */
    int connect_timeout_ms;        /* 0 means 10000 */
    int request_timeout_ms;        /* 0 means 30000; the deadline for one request/response */
    int32_t max_response_bytes;    /* 0 means 100 MiB; a larger length prefix is an error */
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

#ifdef __cplusplus
}
#endif

#endif /* KAFKETTE_H */
