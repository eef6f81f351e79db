/*
 * Test fixture: librdkafka's mock Kafka cluster, run in-process.
 *
 * The mock listens on 127.0.0.1 (one port per broker, ids 1..N) and serves requests from
 * its own thread, so a test can talk to it with kafkette or raw sockets while the fixture
 * injects faults. Only for tests: it is not part of libkafkette.
 *
 * What the Debian librdkafka 2.0.2 mock does (checked by experiment in test_mock_fixture.c):
 * - Injected request errors (kk_mock_push_errors) are consumed by Produce, Fetch,
 *   ListOffsets, OffsetFetch, OffsetCommit, ApiVersions, FindCoordinator, JoinGroup,
 *   Heartbeat, LeaveGroup, SyncGroup, InitProducerId and the transaction APIs, but NOT by
 *   Metadata; use kk_mock_topic_set_error to make Metadata report a topic error.
 * - A broker set down closes its open connections and refuses new ones (same port when
 *   set up again); Metadata from the other brokers still lists it and its leaderships.
 * - Metadata reports controller id 0, which is none of the brokers.
 * - Metadata v1..v3 for an unknown topic creates it (4 partitions).
 * - A request with a version outside the advertised range is not answered: the broker
 *   closes the connection.
 * - The replication factor given to kk_mock_create_topic is not honoured: every
 *   partition gets min(3, broker count) replicas.
 *
 * Return values: the functions returning int return 0 on success or a librdkafka error
 * code (rd_kafka_resp_err_t: broker codes positive, librdkafka's own codes negative, e.g.
 * RD_KAFKA_RESP_ERR__INVALID_ARG when the fixture rejects an argument).
 */
#ifndef KK_MOCK_FIXTURE_H
#define KK_MOCK_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kk_mock kk_mock_t;

/* Upper bound on brokers: each one is a listening socket and connections in the mock. */
#define KK_MOCK_MAX_BROKERS 32

/* Starts a cluster of broker_count brokers (1..KK_MOCK_MAX_BROKERS), ids 1..broker_count.
 * Returns NULL with a message in errbuf (if non-NULL) on failure. Free with kk_mock_stop. */
kk_mock_t *kk_mock_start(int broker_count, char *errbuf, size_t errlen);
/* Stops the cluster (closing every connection to it) and frees m. NULL is a no-op. */
void kk_mock_stop(kk_mock_t *m);

/* "127.0.0.1:p1,127.0.0.1:p2,..." in broker id order. Owned by m. */
const char *kk_mock_bootstrap(const kk_mock_t *m);
int kk_mock_broker_count(const kk_mock_t *m);
/* "127.0.0.1:port" of one broker; NULL for an unknown id. Owned by m. */
const char *kk_mock_broker_address(const kk_mock_t *m, int32_t broker_id);
/* The same broker's port, or -1 for an unknown id. */
int kk_mock_broker_port(const kk_mock_t *m, int32_t broker_id);

/* partitions >= 1; replication in 1..broker count (see above: the mock ignores it).
 * RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS if the topic exists. */
int kk_mock_create_topic(kk_mock_t *m, const char *topic, int partitions, int replication);

/* The next `count` requests of api_key, to any broker, fail with codes[0], codes[1], ...
 * (appended after errors already queued). Code -195 (RD_KAFKA_RESP_ERR__TRANSPORT) makes
 * the broker close the connection instead of answering. */
int kk_mock_push_errors(kk_mock_t *m, int16_t api_key, size_t count, const int16_t *codes);
/* Convenience: KK_MOCK_PUSH_ERRORS(m, 10, 15, 16) queues errors 15 then 16 for api 10. */
#define KK_MOCK_PUSH_ERRORS(m, api_key, ...)                                                      \
    kk_mock_push_errors((m), (api_key), sizeof((const int16_t[]){__VA_ARGS__}) / sizeof(int16_t), \
                        (const int16_t[]){__VA_ARGS__})
/* Like kk_mock_push_errors but for one broker only, each answer delayed by rtt_ms[i]
 * (rtt_ms may be NULL for no delay; code 0 with a delay just slows the answer down).
 * Per-broker errors are used before the cluster-wide ones. */
int kk_mock_broker_push_errors(kk_mock_t *m, int32_t broker_id, int16_t api_key, size_t count,
                               const int16_t *codes, const int *rtt_ms);
/* Drops the cluster-wide errors still queued for api_key. */
void kk_mock_clear_errors(kk_mock_t *m, int16_t api_key);

/* Metadata reports this error code for the topic (0 to clear). Creates the topic with
 * default settings if it does not exist. */
int kk_mock_topic_set_error(kk_mock_t *m, const char *topic, int16_t code);

/* broker_id -1 makes the partition leaderless. Does not move replicas. */
int kk_mock_partition_set_leader(kk_mock_t *m, const char *topic, int32_t partition,
                                 int32_t broker_id);

/* broker_id -1 means every broker. Down: open connections are closed, connects refused. */
int kk_mock_broker_set_down(kk_mock_t *m, int32_t broker_id);
int kk_mock_broker_set_up(kk_mock_t *m, int32_t broker_id);
/* Delays every response of the broker (or all with -1) by rtt_ms; 0 to stop. */
int kk_mock_broker_set_rtt(kk_mock_t *m, int32_t broker_id, int rtt_ms);

/* key_type "group" or "transaction". broker_id must be an existing broker: the 2.0.2 mock
 * aborts on a FindCoordinator that resolves to an unknown one, so the fixture refuses. */
int kk_mock_coordinator_set(kk_mock_t *m, const char *key_type, const char *key, int32_t broker_id);

/* Narrows the version range ApiVersions advertises for api_key (and that the mock
 * accepts); -1, -1 disables the API. max_version must not exceed what the mock implements. */
int kk_mock_set_apiversion(kk_mock_t *m, int16_t api_key, int16_t min_version, int16_t max_version);

/* The underlying mock cluster, for anything not wrapped here. Owned by m. */
rd_kafka_mock_cluster_t *kk_mock_handle(kk_mock_t *m);

#ifdef __cplusplus
}
#endif

#endif
