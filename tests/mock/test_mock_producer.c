/* Producer faults injected through librdkafka's mock cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kafkette.h"
#include "mock_fixture.h"

static kk_mock_t *start_mock(int brokers) {
    char errbuf[256];
    kk_mock_t *m = kk_mock_start(brokers, errbuf, sizeof(errbuf));
    if (!m)
        fail_msg("mock cluster: %s", errbuf);
    return m;
}

static kk_producer_t *producer_for(kk_mock_t *m, int retries) {
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_mock_bootstrap(m);
    cfg.client.request_timeout_ms = 3000;
    cfg.client.connect_timeout_ms = 1000;
    cfg.max_send_retries = retries;
    cfg.retry_backoff_ms = 20;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    if (!p)
        fail_msg("producer: %s", err.message);
    return p;
}

static void fill(kk_message_t *msgs, size_t n, const char *topic, int32_t partition) {
    memset(msgs, 0, n * sizeof(*msgs));
    for (size_t i = 0; i < n; i++)
        msgs[i] = (kk_message_t){.topic = topic, .value = "payload", .value_len = 7,
                                 .partition = partition};
}

/* NOT_LEADER_OR_FOLLOWER once, then success: delivered exactly once (offsets start at 0, so
 * the failed try appended nothing and the retry appended each record once). */
static void test_not_leader_then_success(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(3);
    kk_mock_create_topic(m, "t", 1, 3);
    kk_producer_t *p = producer_for(m, 3);
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, KK_API_PRODUCE, 6), 0);
    kk_message_t msgs[10];
    fill(msgs, 10, "t", 0);
    kk_error_t err;
    if (kk_producer_send(p, msgs, 10, &err) != KK_OK)
        fail_msg("send: %s", err.message);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(msgs[i].error, 0);
        assert_int_equal(msgs[i].offset, i);
    }
    /* a second send continues right after: nothing was duplicated */
    fill(msgs, 1, "t", 0);
    assert_int_equal(kk_producer_send(p, msgs, 1, &err), KK_OK);
    assert_int_equal(msgs[0].offset, 10);
    kk_producer_free(p);
    kk_mock_stop(m);
}

/* A retriable error past the retry budget is reported, not hidden. */
static void test_retriable_error_past_budget_is_reported(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(1);
    kk_mock_create_topic(m, "t", 1, 1);
    kk_producer_t *p = producer_for(m, 2);
    /* three tries (one + two retries), each REQUEST_TIMED_OUT; a fourth would succeed */
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, KK_API_PRODUCE, 7, 7, 7), 0);
    kk_message_t msgs[3];
    fill(msgs, 3, "t", 0);
    kk_error_t err;
    assert_int_equal(kk_producer_send(p, msgs, 3, &err), 7);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(msgs[i].error, 7);
        assert_int_equal(msgs[i].offset, -1);
    }
    assert_non_null(strstr(err.message, "3 of 3 messages not delivered"));
    assert_non_null(strstr(err.message, "REQUEST_TIMED_OUT"));
    /* the error queue is used up exactly: the next send succeeds at offset 0 */
    fill(msgs, 1, "t", 0);
    assert_int_equal(kk_producer_send(p, msgs, 1, &err), KK_OK);
    assert_int_equal(msgs[0].offset, 0);
    kk_producer_free(p);
    kk_mock_stop(m);
}

/* A non-retriable error is reported at once: no retry (the retry would have succeeded). */
static void test_fatal_error_is_not_retried(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(1);
    kk_mock_create_topic(m, "t", 1, 1);
    kk_producer_t *p = producer_for(m, 3);
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, KK_API_PRODUCE, 29), 0); /* TOPIC_AUTHORIZATION_FAILED */
    kk_message_t msgs[2];
    fill(msgs, 2, "t", 0);
    kk_error_t err;
    assert_int_equal(kk_producer_send(p, msgs, 2, &err), 29);
    assert_int_equal(msgs[0].error, 29);
    assert_int_equal(msgs[1].error, 29);
    assert_non_null(strstr(err.message, "TOPIC_AUTHORIZATION_FAILED"));
    kk_producer_free(p);
    kk_mock_stop(m);
}

/* With one broker down, its partition's messages fail clearly; the others are delivered. */
static void test_broker_down_only_fails_its_partitions(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(3);
    kk_mock_create_topic(m, "spread", 3, 1);
    for (int32_t part = 0; part < 3; part++)
        assert_int_equal(kk_mock_partition_set_leader(m, "spread", part, part + 1), 0);
    kk_producer_t *p = producer_for(m, 1);
    kk_message_t msgs[6];
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < 6; i++)
        msgs[i] = (kk_message_t){.topic = "spread", .value = "v", .value_len = 1, .partition = i % 3};
    kk_error_t err;
    /* warm up: learn metadata and connect to every leader */
    if (kk_producer_send(p, msgs, 6, &err) != KK_OK)
        fail_msg("warm-up send: %s", err.message);
    assert_int_equal(kk_mock_broker_set_down(m, 2), 0);
    for (int i = 0; i < 6; i++)
        msgs[i] = (kk_message_t){.topic = "spread", .value = "v", .value_len = 1, .partition = i % 3};
    assert_int_equal(kk_producer_send(p, msgs, 6, &err), KK_ERR_PARTIAL_FAILURE);
    for (int i = 0; i < 6; i++) {
        if (i % 3 == 1) {
            assert_true(msgs[i].error < 0); /* a client-side connection error */
            assert_true(kk_err_is_retriable(msgs[i].error));
        } else {
            assert_int_equal(msgs[i].error, 0);
            assert_int_equal(msgs[i].offset, 2 + i / 3);
        }
    }
    assert_non_null(strstr(err.message, "2 of 6"));
    kk_producer_free(p);
    kk_mock_stop(m);
}

/* The leader moves between two sends: the producer follows it after NOT_LEADER. */
static void test_leader_move_is_followed(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(3);
    kk_mock_create_topic(m, "moving", 1, 3);
    assert_int_equal(kk_mock_partition_set_leader(m, "moving", 0, 1), 0);
    kk_producer_t *p = producer_for(m, 3);
    kk_message_t msg;
    fill(&msg, 1, "moving", 0);
    kk_error_t err;
    assert_int_equal(kk_producer_send(p, &msg, 1, &err), KK_OK);
    assert_int_equal(kk_mock_partition_set_leader(m, "moving", 0, 3), 0);
    fill(&msg, 1, "moving", 0);
    if (kk_producer_send(p, &msg, 1, &err) != KK_OK)
        fail_msg("send after leader move: %s", err.message);
    assert_int_equal(msg.offset, 1);
    kk_producer_free(p);
    kk_mock_stop(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_leader_then_success),
        cmocka_unit_test(test_retriable_error_past_budget_is_reported),
        cmocka_unit_test(test_fatal_error_is_not_retried),
        cmocka_unit_test(test_broker_down_only_fails_its_partitions),
        cmocka_unit_test(test_leader_move_is_followed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
