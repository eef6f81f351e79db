/*
 * Failover on a real 3-node cluster: the partition leader's broker is stopped in the middle of
 * consumption and production. Every record must be read exactly once, in order, and the
 * producer must deliver through the new leader. script/test.d/15-cluster starts the cluster
 * (KAFKETTE_KAFKA_DIR names it, so the test can stop a node with script/kafka stop-node).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker_env.h"
#include "kafkette.h"

enum { FIRST = 300, MORE = 100 };

static kk_producer_t *new_producer(void) {
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.max_send_retries = 20;
    cfg.retry_backoff_ms = 500;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    assert_non_null(p);
    return p;
}

static void produce_range(kk_producer_t *p, const char *topic, int from, int to, int per_send) {
    for (int i = from; i < to; i += per_send) {
        kk_message_t msgs[16];
        char values[16][16];
        int n = to - i < per_send ? to - i : per_send;
        for (int j = 0; j < n; j++) {
            snprintf(values[j], sizeof(values[j]), "v%d", i + j);
            msgs[j] = (kk_message_t){
                .topic = topic, .value = values[j], .value_len = strlen(values[j]), .partition = 0};
        }
        kk_error_t err;
        if (kk_producer_send(p, msgs, (size_t)n, &err) != KK_OK)
            fail_msg("produce %d..%d: %s", i, i + n, err.message);
        for (int j = 0; j < n; j++)
            assert_int_equal(msgs[j].offset, i + j);
    }
}

static void read_until(kk_consumer_t *c, int *next, int until) {
    for (int tries = 0; *next < until && tries < 500; tries++) {
        kk_fetch_batch_t *batch = NULL;
        kk_error_t err;
        if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK)
            fail_msg("fetch at %d: %s", *next, err.message);
        for (size_t i = 0; i < batch->count && *next < until; i++) {
            char expected[16];
            snprintf(expected, sizeof(expected), "v%d", *next);
            if (batch->messages[i].offset != *next)
                fail_msg("expected offset %d, got %lld", *next,
                         (long long)batch->messages[i].offset);
            assert_memory_equal(batch->messages[i].value, expected, strlen(expected));
            (*next)++;
        }
        kk_fetch_batch_free(batch);
    }
    assert_int_equal(*next, until);
}

static void run_script(const char *args) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "'%s/script/kafka' %s >&2", KAFKETTE_SOURCE_DIR, args);
    if (system(cmd) != 0)
        fail_msg("script/kafka %s failed", args);
}

static void test_leader_stops_mid_consumption_and_production(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-failover");
    kk_client_config_t ccfg;
    kk_client_config_init(&ccfg);
    ccfg.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    kk_client_t *admin = kk_client_new(&ccfg, &err);
    if (kk_client_create_topic(admin, topic, 1, 3, NULL, 0, 30000, &err) != KK_OK)
        fail_msg("create: %s", err.message);
    kk_metadata_t *md = NULL;
    assert_int_equal(kk_client_metadata(admin, NULL, 0, &md, &err), KK_OK);
    assert_int_equal(md->broker_count, 3);
    kk_metadata_free(md);
    kk_client_free(admin);

    kk_producer_t *p = new_producer();
    produce_range(p, topic, 0, FIRST, 10); /* batches of ten: many fetches below */

    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.topic = topic;
    cfg.max_bytes = 256; /* about one batch per fetch */
    cfg.failover_tries = 30;
    cfg.retry_backoff_ms = 500;
    kk_consumer_t *c = kk_consumer_new(&cfg, &err);
    int next = 0;
    read_until(c, &next, 100);
    int32_t leader = kk_consumer_leader(c);
    assert_true(leader >= 0);

    char args[64];
    snprintf(args, sizeof(args), "stop-node %d", (int)leader);
    run_script(args);

    read_until(c, &next, FIRST);
    assert_int_not_equal(kk_consumer_leader(c), leader);
    /* the producer follows the new leader too, and the consumer reads those records */
    produce_range(p, topic, FIRST, FIRST + MORE, 10);
    read_until(c, &next, FIRST + MORE);
    assert_int_equal(kk_consumer_next_offset(c), FIRST + MORE);

    snprintf(args, sizeof(args), "start-node %d", (int)leader);
    run_script(args);
    kk_consumer_free(c);
    kk_producer_free(p);
}

int main(void) {
    if (!getenv("KAFKETTE_KAFKA_DIR"))
        kk_test_skip_without_broker("KAFKETTE_KAFKA_DIR is unset: this test needs the 3-node "
                                    "cluster that script/test.d/15-cluster starts");
    printf("cluster: %s\n", kk_test_bootstrap());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_stops_mid_consumption_and_production),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
