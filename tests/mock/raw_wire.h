/*
 * A deliberately tiny Kafka client for the mock-fixture tests: blocking POSIX sockets,
 * non-flexible request header v1, hand-written big-endian decoding of the few responses
 * the tests read. Independent of libkafkette on purpose: these tests check the fixture
 * that the library's own tests will rely on.
 */
#ifndef KK_RAW_WIRE_H
#define KK_RAW_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results of raw_connect / raw_call besides 0. */
#define RAW_ERR_CONNECT (-1) /* connect() failed (errno kept) */
#define RAW_ERR_CLOSED (-2)  /* the peer closed the connection */
#define RAW_ERR_IO (-3)      /* send/recv error or 10 s receive timeout */
#define RAW_ERR_CORRELATION (-4)
#define RAW_ERR_TOO_LARGE (-5)

#define RAW_API_PRODUCE 0
#define RAW_API_METADATA 3
#define RAW_API_FIND_COORDINATOR 10
#define RAW_API_API_VERSIONS 18
#define RAW_API_CREATE_TOPICS 19

/* "host:port" (IPv4 literal host) -> connected socket, or RAW_ERR_CONNECT. */
int raw_connect(const char *hostport);
/* The port of "host:port", or -1. */
int raw_port(const char *hostport);

/* Sends one request and reads its response. On 0, *resp (malloc'ed, caller frees) holds
 * the response body after the correlation id. */
int raw_call(int fd, int16_t api_key, int16_t api_version, const uint8_t *body, size_t body_len,
             uint8_t **resp, size_t *resp_len);

/* ---- decoded responses (fixed capacity; `truncated`/`malformed` flag overflow) ---- */

typedef struct raw_api_versions {
    int16_t error_code;
    int count;
    struct {
        int16_t key, min, max;
    } apis[128];
    bool malformed;
} raw_api_versions_t;

typedef struct raw_partition {
    int16_t error_code;
    int32_t id;
    int32_t leader;
    int32_t replica_count;
    int32_t isr_count;
} raw_partition_t;

typedef struct raw_topic {
    int16_t error_code;
    char name[128];
    bool is_internal;
    int partition_count;
    raw_partition_t partitions[64];
} raw_topic_t;

typedef struct raw_metadata {
    int broker_count;
    struct {
        int32_t node_id;
        char host[64];
        int32_t port;
    } brokers[32];
    int32_t controller_id;
    int topic_count;
    raw_topic_t topics[4];
    bool malformed;
} raw_metadata_t;

typedef struct raw_coordinator {
    int16_t error_code;
    int32_t node_id;
    char host[64];
    int32_t port;
    bool malformed;
} raw_coordinator_t;

/* Each returns the raw_call result; the decoded struct is valid only when it is 0 and
 * `malformed` is false. */
int raw_api_versions_v0(int fd, raw_api_versions_t *out);
/* topic NULL asks for all topics. */
int raw_metadata_v1(int fd, const char *topic, raw_metadata_t *out);
int raw_find_coordinator_v0(int fd, const char *group, raw_coordinator_t *out);
/* The range the broker advertised for api_key; false if absent. */
bool raw_api_versions_find(const raw_api_versions_t *v, int16_t api_key, int16_t *min,
                           int16_t *max);

#endif
