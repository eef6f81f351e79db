/* Consumer failover against librdkafka's mock cluster: leaders move and brokers go down in
 * the middle of consumption; every record must be read exactly once, in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kafkette.h"
#include "mock_fixture.h"

enum { N = 300 };

static kk_mock_t *start_with_data(const char *topic) {
    char errbuf[256];
    kk_mock_t *m = kk_mock_start(3, errbuf, sizeof(errbuf));
    if (!m)
        fail_msg("mock cluster: %s", errbuf);
    assert_int_equal(kk_mock_create_topic(m, topic, 1, 3), 0);
    assert_int_equal(kk_mock_partition_set_leader(m, topic, 0, 1), 0);
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_mock_bootstrap(m);
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    kk_message_t msgs[N];
    char values[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(values[i], sizeof(values[i]), "v%d", i);
        msgs[i] = (kk_message_t){.topic = topic, .value = values[i], .value_len = strlen(values[i]),
                                 .partition = 0};
    }
    /* ten records per batch: the mock answers a fetch with one batch, so consumption takes
     * many fetches and the faults below land in the middle of it */
    for (int i = 0; i < N; i += 10)
        if (kk_producer_send(p, msgs + i, 10, &err) != KK_OK)
            fail_msg("produce to the mock: %s", err.message);
    kk_producer_free(p);
    return m;
}

static kk_consumer_t *consumer_for(kk_mock_t *m, const char *topic) {
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_mock_bootstrap(m);
    cfg.client.connect_timeout_ms = 1000;
    cfg.client.request_timeout_ms = 3000;
    cfg.topic = topic;
    cfg.max_wait_ms = 10;
    cfg.retry_backoff_ms = 50;
    kk_error_t err;
    kk_consumer_t *c = kk_consumer_new(&cfg, &err);
    if (!c)
        fail_msg("consumer: %s", err.message);
    return c;
}

/* Fetches until `until` records in total were read, checking order and uniqueness. */
static void read_until(kk_consumer_t *c, int *next, int until) {
    for (int tries = 0; *next < until && tries < 200; tries++) {
        kk_fetch_batch_t *batch = NULL;
        kk_error_t err;
        if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK)
            fail_msg("fetch at %d: %s", *next, err.message);
        for (size_t i = 0; i < batch->count && *next < N; i++) {
            char expected[16];
            snprintf(expected, sizeof(expected), "v%d", *next);
            if (batch->messages[i].offset != *next)
                fail_msg("expected offset %d, got %lld", *next, (long long)batch->messages[i].offset);
            assert_int_equal(batch->messages[i].value_len, strlen(expected));
            assert_memory_equal(batch->messages[i].value, expected, strlen(expected));
            (*next)++;
        }
        kk_fetch_batch_free(batch);
    }
    assert_true(*next >= until);
}

static void test_leader_moves_mid_consumption(void **state) {
    (void)state;
    kk_mock_t *m = start_with_data("moving");
    kk_consumer_t *c = consumer_for(m, "moving");
    int next = 0;
    read_until(c, &next, 100);
    assert_int_equal(kk_consumer_leader(c), 1);
    assert_int_equal(kk_mock_partition_set_leader(m, "moving", 0, 2), 0);
    read_until(c, &next, 200);
    assert_int_equal(kk_consumer_leader(c), 2);
    assert_int_equal(kk_mock_partition_set_leader(m, "moving", 0, 3), 0);
    read_until(c, &next, N);
    assert_int_equal(kk_consumer_leader(c), 3);
    assert_int_equal(next, N);
    assert_int_equal(kk_consumer_next_offset(c), N);
    kk_consumer_free(c);
    kk_mock_stop(m);
}

static void test_leader_broker_goes_down(void **state) {
    (void)state;
    kk_mock_t *m = start_with_data("failing");
    kk_consumer_t *c = consumer_for(m, "failing");
    int next = 0;
    read_until(c, &next, 120);
    /* the leader's broker dies; the cluster elects broker 3 */
    assert_int_equal(kk_mock_broker_set_down(m, 1), 0);
    assert_int_equal(kk_mock_partition_set_leader(m, "failing", 0, 3), 0);
    read_until(c, &next, N);
    assert_int_equal(kk_consumer_leader(c), 3);
    kk_consumer_free(c);
    kk_mock_stop(m);
}

/* Injected leadership errors are followed by a new lookup, not surfaced. */
static void test_injected_not_leader_errors(void **state) {
    (void)state;
    kk_mock_t *m = start_with_data("flaky");
    kk_consumer_t *c = consumer_for(m, "flaky");
    int next = 0;
    read_until(c, &next, 50);
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, KK_API_FETCH, 6, 74, 6), 0);
    read_until(c, &next, N);
    kk_consumer_free(c);
    kk_mock_stop(m);
}

/* When no broker can serve the partition, the consumer gives up within its budget, clearly. */
static void test_gives_up_clearly(void **state) {
    (void)state;
    kk_mock_t *m = start_with_data("doomed");
    kk_consumer_t *c = consumer_for(m, "doomed");
    int next = 0;
    read_until(c, &next, 10);
    int16_t errors[12];
    for (int i = 0; i < 12; i++)
        errors[i] = 6;
    assert_int_equal(kk_mock_push_errors(m, KK_API_FETCH, 12, errors), 0);
    kk_fetch_batch_t *batch = NULL;
    kk_error_t err;
    assert_int_equal(kk_consumer_fetch(c, NULL, &batch, &err), 6);
    assert_null(batch);
    assert_non_null(strstr(err.message, "gave up after 6 leader lookups"));
    assert_non_null(strstr(err.message, "NOT_LEADER_OR_FOLLOWER"));
    /* the position did not move: nothing was skipped */
    assert_int_equal(kk_consumer_next_offset(c), 10);
    kk_consumer_free(c);
    kk_mock_stop(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_moves_mid_consumption),
        cmocka_unit_test(test_leader_broker_goes_down),
        cmocka_unit_test(test_injected_not_leader_errors),
        cmocka_unit_test(test_gives_up_clearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
