/*
 * Smoke test of the mock-cluster fixture: every wrapper is exercised against the running
 * mock over plain TCP with hand-built requests (raw_wire.c), and each assertion checks
 * what the 2.0.2 mock actually does, so later fault tests can rely on it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mock_fixture.h"
#include "raw_wire.h"

#define TOPIC "kk-smoke"
#define PARTITIONS 4
#define BROKERS 3

/* Broker error codes used below (Kafka protocol numbering). */
#define ERR_UNKNOWN_TOPIC_OR_PART 3
#define ERR_LEADER_NOT_AVAILABLE 5
#define ERR_NOT_LEADER_OR_FOLLOWER 6
#define ERR_COORDINATOR_NOT_AVAILABLE 15
#define ERR_NOT_COORDINATOR 16
#define ERR_UNSUPPORTED_VERSION 35
#define ERR_TOPIC_ALREADY_EXISTS 36
#define ERR_INVALID_REPLICATION_FACTOR 38

static int setup(void **state) {
    char errbuf[256];
    kk_mock_t *m = kk_mock_start(BROKERS, errbuf, sizeof(errbuf));
    if (!m) {
        fprintf(stderr, "kk_mock_start: %s\n", errbuf);
        return -1;
    }
    if (kk_mock_create_topic(m, TOPIC, PARTITIONS, BROKERS) != 0) {
        kk_mock_stop(m);
        return -1;
    }
    *state = m;
    return 0;
}

static int teardown(void **state) {
    kk_mock_stop(*state);
    return 0;
}

static int connect_broker(const kk_mock_t *m, int32_t id) {
    const char *addr = kk_mock_broker_address(m, id);
    assert_non_null(addr);
    int fd = raw_connect(addr);
    assert_true(fd >= 0);
    return fd;
}

static long elapsed_ms(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000L + (now.tv_nsec - since->tv_nsec) / 1000000L;
}

static void metadata_ok(int fd, const char *topic, raw_metadata_t *md) {
    assert_int_equal(raw_metadata_v1(fd, topic, md), 0);
    assert_false(md->malformed);
}

static const raw_partition_t *find_partition(const raw_topic_t *t, int32_t id) {
    for (int i = 0; i < t->partition_count; i++)
        if (t->partitions[i].id == id)
            return &t->partitions[i];
    fail_msg("partition %d missing", (int)id);
    return NULL;
}

static int16_t find_coordinator(int fd, const char *group, raw_coordinator_t *c) {
    assert_int_equal(raw_find_coordinator_v0(fd, group, c), 0);
    assert_false(c->malformed);
    return c->error_code;
}

/* ---------------------------------------------------------------------------------- */

static void test_start_and_topic_arguments(void **state) {
    kk_mock_t *m = *state;
    char errbuf[128] = "";

    assert_null(kk_mock_start(0, errbuf, sizeof(errbuf)));
    assert_non_null(strstr(errbuf, "broker_count"));
    assert_null(kk_mock_start(KK_MOCK_MAX_BROKERS + 1, NULL, 0));

    assert_int_equal(kk_mock_create_topic(m, "t0", 0, 1), RD_KAFKA_RESP_ERR__INVALID_ARG);
    assert_int_equal(kk_mock_create_topic(m, "", 1, 1), RD_KAFKA_RESP_ERR__INVALID_ARG);
    assert_int_equal(kk_mock_create_topic(m, "t1", 1, BROKERS + 1), ERR_INVALID_REPLICATION_FACTOR);
    assert_int_equal(kk_mock_create_topic(m, TOPIC, 2, 1), ERR_TOPIC_ALREADY_EXISTS);
    assert_ptr_not_equal(kk_mock_handle(m), NULL);
    assert_int_equal(kk_mock_broker_count(m), BROKERS);
}

static void test_bootstrap_lists_every_broker(void **state) {
    kk_mock_t *m = *state;
    char expected[256] = "";

    for (int32_t id = 1; id <= BROKERS; id++) {
        const char *addr = kk_mock_broker_address(m, id);
        assert_non_null(addr);
        assert_memory_equal(addr, "127.0.0.1:", 10);
        assert_int_equal(kk_mock_broker_port(m, id), raw_port(addr));
        for (int32_t other = 1; other < id; other++)
            assert_int_not_equal(kk_mock_broker_port(m, other), kk_mock_broker_port(m, id));
        if (id > 1)
            strcat(expected, ",");
        strcat(expected, addr);
    }
    assert_string_equal(kk_mock_bootstrap(m), expected);
    assert_null(kk_mock_broker_address(m, 0));
    assert_null(kk_mock_broker_address(m, BROKERS + 1));
    assert_int_equal(kk_mock_broker_port(m, BROKERS + 1), -1);
}

static void test_api_versions_v0(void **state) {
    kk_mock_t *m = *state;
    int fd = connect_broker(m, 1);
    raw_api_versions_t v;
    int16_t min, max;

    assert_int_equal(raw_api_versions_v0(fd, &v), 0);
    assert_false(v.malformed);
    assert_int_equal(v.error_code, 0);
    assert_true(raw_api_versions_find(&v, RAW_API_PRODUCE, &min, &max));
    assert_int_equal(min, 0);
    assert_int_equal(max, 7);
    assert_true(raw_api_versions_find(&v, RAW_API_METADATA, &min, &max));
    assert_int_equal(min, 0);
    assert_int_equal(max, 2);
    assert_true(raw_api_versions_find(&v, RAW_API_FIND_COORDINATOR, &min, &max));
    assert_true(raw_api_versions_find(&v, RAW_API_API_VERSIONS, &min, &max));
    /* No CreateTopics: topics come from kk_mock_create_topic. */
    assert_false(raw_api_versions_find(&v, RAW_API_CREATE_TOPICS, &min, &max));
    close(fd);
}

static void test_metadata_v1_shows_brokers_and_topic(void **state) {
    kk_mock_t *m = *state;
    int32_t leaders[PARTITIONS];

    /* A named Metadata request would auto-create the topic (with 4 partitions, too), so
     * first list all topics, which does not: the topic must come from setup(). */
    int fd = connect_broker(m, 1);
    raw_metadata_t all;
    metadata_ok(fd, NULL, &all);
    close(fd);
    assert_int_equal(all.topic_count, 1);
    assert_string_equal(all.topics[0].name, TOPIC);
    assert_int_equal(all.topics[0].partition_count, PARTITIONS);

    /* Every broker answers, and they agree. */
    for (int32_t via = 1; via <= BROKERS; via++) {
        int fd = connect_broker(m, via);
        raw_metadata_t md;
        metadata_ok(fd, TOPIC, &md);
        close(fd);

        assert_int_equal(md.broker_count, BROKERS);
        for (int32_t id = 1; id <= BROKERS; id++) {
            int seen = 0;
            for (int i = 0; i < md.broker_count; i++) {
                if (md.brokers[i].node_id != id)
                    continue;
                seen++;
                char addr[96];
                snprintf(addr, sizeof(addr), "%s:%d", md.brokers[i].host, (int)md.brokers[i].port);
                assert_string_equal(addr, kk_mock_broker_address(m, id));
            }
            assert_int_equal(seen, 1);
        }
        /* The 2.0.2 mock never sets a controller: it always reports node 0, which is not
         * one of its brokers. Tests must not look the controller up. */
        assert_int_equal(md.controller_id, 0);

        assert_int_equal(md.topic_count, 1);
        const raw_topic_t *t = &md.topics[0];
        assert_int_equal(t->error_code, 0);
        assert_string_equal(t->name, TOPIC);
        assert_false(t->is_internal);
        assert_int_equal(t->partition_count, PARTITIONS);
        for (int32_t p = 0; p < PARTITIONS; p++) {
            const raw_partition_t *part = find_partition(t, p);
            assert_int_equal(part->error_code, 0);
            assert_in_range(part->leader, 1, BROKERS);
            assert_int_equal(part->replica_count, BROKERS);
            assert_int_equal(part->isr_count, BROKERS);
            if (via == 1)
                leaders[p] = part->leader;
            else
                assert_int_equal(part->leader, leaders[p]);
        }
    }
}

static void test_metadata_auto_creates_unknown_topics(void **state) {
    kk_mock_t *m = *state;
    int fd = connect_broker(m, 2);
    raw_metadata_t md;

    /* Metadata v1-v3 requests auto-create, with the mock's default of 4 partitions. */
    metadata_ok(fd, "kk-auto", &md);
    assert_int_equal(md.topic_count, 1);
    assert_int_equal(md.topics[0].error_code, 0);
    assert_int_equal(md.topics[0].partition_count, 4);
    assert_int_equal(kk_mock_create_topic(m, "kk-auto", 1, 1), ERR_TOPIC_ALREADY_EXISTS);

    /* A null topic array lists both topics. */
    metadata_ok(fd, NULL, &md);
    assert_int_equal(md.topic_count, 2);
    close(fd);
}

static void test_partition_set_leader(void **state) {
    kk_mock_t *m = *state;
    int fd = connect_broker(m, 1);
    raw_metadata_t md;

    assert_int_equal(kk_mock_partition_set_leader(m, TOPIC, 0, 2), 0);
    assert_int_equal(kk_mock_partition_set_leader(m, TOPIC, 3, 3), 0);
    assert_int_equal(kk_mock_partition_set_leader(m, TOPIC, 1, -1), 0);
    metadata_ok(fd, TOPIC, &md);
    assert_int_equal(find_partition(&md.topics[0], 0)->leader, 2);
    assert_int_equal(find_partition(&md.topics[0], 3)->leader, 3);
    /* Leaderless still reports error 0 on the partition: only the leader is -1. */
    assert_int_equal(find_partition(&md.topics[0], 1)->leader, -1);
    assert_int_equal(find_partition(&md.topics[0], 1)->error_code, 0);

    assert_int_equal(kk_mock_partition_set_leader(m, TOPIC, 0, 1), 0);
    metadata_ok(fd, TOPIC, &md);
    assert_int_equal(find_partition(&md.topics[0], 0)->leader, 1);

    assert_int_equal(kk_mock_partition_set_leader(m, TOPIC, 0, 9), RD_KAFKA_RESP_ERR__INVALID_ARG);
    assert_int_equal(kk_mock_partition_set_leader(m, TOPIC, PARTITIONS, 1),
                     ERR_UNKNOWN_TOPIC_OR_PART);
    close(fd);
}

static void test_broker_down_and_up(void **state) {
    kk_mock_t *m = *state;
    raw_api_versions_t v;
    raw_metadata_t before, after;

    int fd1 = connect_broker(m, 1);
    metadata_ok(fd1, TOPIC, &before);
    int fd2 = connect_broker(m, 2);
    assert_int_equal(raw_api_versions_v0(fd2, &v), 0);

    assert_int_equal(kk_mock_broker_set_down(m, 2), 0);

    /* The open connection is closed by the mock... */
    assert_int_equal(raw_api_versions_v0(fd2, &v), RAW_ERR_CLOSED);
    close(fd2);
    /* ...and the port stays bound but does not listen, so connects are refused. */
    errno = 0;
    assert_int_equal(raw_connect(kk_mock_broker_address(m, 2)), RAW_ERR_CONNECT);
    assert_int_equal(errno, ECONNREFUSED);

    /* The others keep serving, and metadata does not notice: broker 2 is still listed
     * and keeps its leaderships (set_down does not move leaders). */
    assert_int_equal(raw_api_versions_v0(fd1, &v), 0);
    metadata_ok(fd1, TOPIC, &after);
    assert_int_equal(after.broker_count, BROKERS);
    for (int32_t p = 0; p < PARTITIONS; p++)
        assert_int_equal(find_partition(&after.topics[0], p)->leader,
                         find_partition(&before.topics[0], p)->leader);

    assert_int_equal(kk_mock_broker_set_up(m, 2), 0);
    fd2 = connect_broker(m, 2); /* same address as before */
    assert_int_equal(raw_api_versions_v0(fd2, &v), 0);
    assert_int_equal(v.error_code, 0);
    close(fd2);

    /* -1 means every broker. */
    assert_int_equal(kk_mock_broker_set_down(m, -1), 0);
    assert_int_equal(raw_api_versions_v0(fd1, &v), RAW_ERR_CLOSED);
    close(fd1);
    for (int32_t id = 1; id <= BROKERS; id++)
        assert_int_equal(raw_connect(kk_mock_broker_address(m, id)), RAW_ERR_CONNECT);
    assert_int_equal(kk_mock_broker_set_up(m, -1), 0);
    for (int32_t id = 1; id <= BROKERS; id++)
        close(connect_broker(m, id));

    assert_int_equal(kk_mock_broker_set_down(m, 4), RD_KAFKA_RESP_ERR__INVALID_ARG);
}

static void test_broker_rtt(void **state) {
    kk_mock_t *m = *state;
    raw_api_versions_t v;
    struct timespec t0;
    int fd1 = connect_broker(m, 1);
    int fd2 = connect_broker(m, 2);

    assert_int_equal(kk_mock_broker_set_rtt(m, 2, 300), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(raw_api_versions_v0(fd2, &v), 0);
    assert_true(elapsed_ms(&t0) >= 295);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(raw_api_versions_v0(fd1, &v), 0);
    assert_true(elapsed_ms(&t0) < 295);

    assert_int_equal(kk_mock_broker_set_rtt(m, 2, 0), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(raw_api_versions_v0(fd2, &v), 0);
    assert_true(elapsed_ms(&t0) < 295);

    assert_int_equal(kk_mock_broker_set_rtt(m, 2, -5), RD_KAFKA_RESP_ERR__INVALID_ARG);
    close(fd1);
    close(fd2);
}

/* Metadata ignores pushed errors in 2.0.2, so error injection is checked on
 * FindCoordinator v0, the simplest request whose handler consumes them. */
static void test_push_errors_find_coordinator(void **state) {
    kk_mock_t *m = *state;
    raw_coordinator_t c;
    raw_api_versions_t v;
    int fd1 = connect_broker(m, 1);
    int fd2 = connect_broker(m, 2);

    const int16_t codes[] = {ERR_COORDINATOR_NOT_AVAILABLE, ERR_NOT_COORDINATOR};
    assert_int_equal(kk_mock_push_errors(m, RAW_API_FIND_COORDINATOR, 2, codes), 0);

    assert_int_equal(find_coordinator(fd1, "grp", &c), ERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(c.node_id, -1);
    /* Other APIs do not consume the queue. */
    assert_int_equal(raw_api_versions_v0(fd1, &v), 0);
    assert_int_equal(v.error_code, 0);
    /* The queue is cluster-wide: the next request, to another broker, gets the next code. */
    assert_int_equal(find_coordinator(fd2, "grp", &c), ERR_NOT_COORDINATOR);
    assert_int_equal(find_coordinator(fd1, "grp", &c), 0);
    assert_in_range(c.node_id, 1, BROKERS);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, kk_mock_broker_port(m, c.node_id));

    /* The macro form, and clearing what is left. */
    assert_int_equal(
        KK_MOCK_PUSH_ERRORS(m, RAW_API_FIND_COORDINATOR, ERR_NOT_COORDINATOR, ERR_NOT_COORDINATOR),
        0);
    assert_int_equal(find_coordinator(fd1, "grp", &c), ERR_NOT_COORDINATOR);
    kk_mock_clear_errors(m, RAW_API_FIND_COORDINATOR);
    assert_int_equal(find_coordinator(fd1, "grp", &c), 0);

    /* -195 (librdkafka's __TRANSPORT) makes the broker drop the connection. */
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, RAW_API_FIND_COORDINATOR, RD_KAFKA_RESP_ERR__TRANSPORT),
                     0);
    assert_int_equal(raw_find_coordinator_v0(fd2, "grp", &c), RAW_ERR_CLOSED);

    /* ApiVersions consumes injected errors too. */
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, RAW_API_API_VERSIONS, ERR_UNSUPPORTED_VERSION), 0);
    assert_int_equal(raw_api_versions_v0(fd1, &v), 0);
    assert_int_equal(v.error_code, ERR_UNSUPPORTED_VERSION);
    assert_int_equal(raw_api_versions_v0(fd1, &v), 0);
    assert_int_equal(v.error_code, 0);

    assert_int_equal(kk_mock_push_errors(m, RAW_API_FIND_COORDINATOR, 0, NULL), 0);
    assert_int_equal(kk_mock_push_errors(m, RAW_API_FIND_COORDINATOR, 1, NULL),
                     RD_KAFKA_RESP_ERR__INVALID_ARG);
    close(fd1);
    close(fd2);
}

static void test_broker_push_errors_with_rtt(void **state) {
    kk_mock_t *m = *state;
    raw_coordinator_t c;
    struct timespec t0;
    int fd1 = connect_broker(m, 1);
    int fd2 = connect_broker(m, 2);

    const int16_t broker_codes[] = {ERR_COORDINATOR_NOT_AVAILABLE, 0};
    const int rtts[] = {250, 0};
    assert_int_equal(
        kk_mock_broker_push_errors(m, 1, RAW_API_FIND_COORDINATOR, 2, broker_codes, rtts), 0);
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, RAW_API_FIND_COORDINATOR, ERR_NOT_COORDINATOR), 0);

    /* Broker 2 has no queue of its own, so it takes the cluster-wide error. */
    assert_int_equal(find_coordinator(fd2, "grp", &c), ERR_NOT_COORDINATOR);
    /* Broker 1's own queue comes first, with its delay. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(find_coordinator(fd1, "grp", &c), ERR_COORDINATOR_NOT_AVAILABLE);
    assert_true(elapsed_ms(&t0) >= 245);
    /* An explicit 0 entry is consumed as "no error". */
    assert_int_equal(find_coordinator(fd1, "grp", &c), 0);
    assert_int_equal(find_coordinator(fd1, "grp", &c), 0);

    assert_int_equal(
        kk_mock_broker_push_errors(m, 7, RAW_API_FIND_COORDINATOR, 1, broker_codes, NULL),
        RD_KAFKA_RESP_ERR__INVALID_ARG);
    close(fd1);
    close(fd2);
}

static void test_coordinator_set(void **state) {
    kk_mock_t *m = *state;
    raw_coordinator_t c;
    int fd = connect_broker(m, 1);

    for (int32_t id = BROKERS; id >= 1; id--) {
        assert_int_equal(kk_mock_coordinator_set(m, "group", "kk-group", id), 0);
        assert_int_equal(find_coordinator(fd, "kk-group", &c), 0);
        assert_int_equal(c.node_id, id);
        assert_int_equal(c.port, kk_mock_broker_port(m, id));
    }
    assert_int_equal(kk_mock_coordinator_set(m, "group", "kk-group", BROKERS + 1),
                     RD_KAFKA_RESP_ERR__INVALID_ARG);
    assert_int_equal(kk_mock_coordinator_set(m, "cluster", "kk-group", 1),
                     RD_KAFKA_RESP_ERR__INVALID_ARG);
    assert_int_equal(kk_mock_coordinator_set(m, "transaction", "kk-txn", 2), 0);
    close(fd);
}

static void test_metadata_errors(void **state) {
    kk_mock_t *m = *state;
    raw_metadata_t md;
    int fd = connect_broker(m, 3);

    /* The 2.0.2 Metadata handler never looks at the pushed errors. */
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, RAW_API_METADATA, ERR_NOT_LEADER_OR_FOLLOWER), 0);
    metadata_ok(fd, TOPIC, &md);
    assert_int_equal(md.topics[0].error_code, 0);
    kk_mock_clear_errors(m, RAW_API_METADATA);

    /* Topic errors are the way to make Metadata fail. */
    assert_int_equal(kk_mock_topic_set_error(m, TOPIC, ERR_LEADER_NOT_AVAILABLE), 0);
    metadata_ok(fd, TOPIC, &md);
    assert_int_equal(md.topic_count, 1);
    assert_int_equal(md.topics[0].error_code, ERR_LEADER_NOT_AVAILABLE);
    assert_int_equal(md.topics[0].partition_count, PARTITIONS);
    assert_int_equal(kk_mock_topic_set_error(m, TOPIC, 0), 0);
    metadata_ok(fd, TOPIC, &md);
    assert_int_equal(md.topics[0].error_code, 0);
    close(fd);
}

static void test_set_apiversion(void **state) {
    kk_mock_t *m = *state;
    raw_api_versions_t v;
    raw_metadata_t md;
    int16_t min, max;
    int fd = connect_broker(m, 1);

    assert_int_equal(kk_mock_set_apiversion(m, RAW_API_METADATA, 0, 1), 0);
    assert_int_equal(kk_mock_set_apiversion(m, RAW_API_FIND_COORDINATOR, -1, -1), 0);
    assert_int_equal(raw_api_versions_v0(fd, &v), 0);
    assert_true(raw_api_versions_find(&v, RAW_API_METADATA, &min, &max));
    assert_int_equal(min, 0);
    assert_int_equal(max, 1);
    assert_false(raw_api_versions_find(&v, RAW_API_FIND_COORDINATOR, &min, &max));

    metadata_ok(fd, TOPIC, &md);
    /* A version outside the range is not answered: the mock closes the connection. */
    const uint8_t v2_body[] = {0, 0, 0, 0}; /* empty topic array */
    uint8_t *resp = NULL;
    size_t len;
    assert_int_equal(raw_call(fd, RAW_API_METADATA, 2, v2_body, sizeof(v2_body), &resp, &len),
                     RAW_ERR_CLOSED);
    assert_null(resp);
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_and_topic_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_lists_every_broker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_versions_v0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_v1_shows_brokers_and_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_auto_creates_unknown_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_set_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_down_and_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_rtt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_errors_find_coordinator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_push_errors_with_rtt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coordinator_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_apiversion, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
