/*
 * Statistics: round-trip percentiles from the log-scale histogram (within a bucket's 25%),
 * error codes counted by code up to the cap and in the total beyond it, message bytes of a
 * send (failed messages counted by their code), shared metrics, and partition lag.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

static void test_percentiles_within_a_bucket(void **state) {
    (void)state;
    kk_metrics_t *m = kk_metrics_new();
    int slot = kk_metrics_broker_slot(m, "127.0.0.1:9092");
    assert_int_equal(slot, 0);
    assert_int_equal(kk_metrics_broker_slot(m, "127.0.0.1:9092"), 0);
    assert_int_equal(kk_metrics_broker_slot(m, "127.0.0.1:9093"), 1);
    for (int i = 0; i < 98; i++)
        kk_metrics_response(m, slot, 100, 1000); /* 1 ms */
    kk_metrics_response(m, slot, 100, 50000);    /* 50 ms */
    kk_metrics_response(m, slot, 100, 50000);
    kk_stats_t s;
    kk_metrics_read(m, &s);
    assert_int_equal(s.broker_count, 2);
    assert_string_equal(s.brokers[0].name, "127.0.0.1:9092");
    assert_int_equal(s.brokers[0].requests, 100);
    assert_in_range(s.brokers[0].rtt_p50_us, 875, 1250);
    assert_in_range(s.brokers[0].rtt_p99_us, 43750, 62500);
    assert_int_equal(s.brokers[1].requests, 0);
    assert_int_equal(s.brokers[1].rtt_p50_us, 0);
    assert_int_equal(s.response_bytes, 10000);
    /* tiny and huge values stay in range */
    kk_metrics_response(m, 1, 0, 0);
    kk_metrics_response(m, 1, 0, INT64_MAX);
    kk_metrics_unref(m);
}

static void test_errors_by_code_and_the_cap(void **state) {
    (void)state;
    kk_metrics_t *m = kk_metrics_new();
    kk_metrics_error(m, KK_ERR_TIMED_OUT);
    kk_metrics_error(m, 6);
    kk_metrics_error(m, KK_ERR_TIMED_OUT);
    kk_metrics_error(m, KK_OK); /* not an error */
    for (int code = 1000; code < 1000 + KK_STATS_MAX_ERRORS; code++)
        kk_metrics_error(m, code);
    kk_stats_t s;
    kk_metrics_read(m, &s);
    assert_int_equal(s.errors, 3 + KK_STATS_MAX_ERRORS);
    assert_int_equal(s.error_code_count, KK_STATS_MAX_ERRORS);
    assert_int_equal(s.errors_by_code[0].code, KK_ERR_TIMED_OUT);
    assert_int_equal(s.errors_by_code[0].count, 2);
    assert_int_equal(s.errors_by_code[1].code, 6);
    assert_int_equal(s.errors_by_code[1].count, 1);
    kk_metrics_unref(m);
}

static void test_produced_and_fetched(void **state) {
    (void)state;
    kk_metrics_t *m = kk_metrics_new();
    kk_metrics_ref(m); /* a second owner: survives the first unref */
    kk_header_t h = {"h", 1, "vv", 2};
    kk_message_t msgs[3] = {
        {.key = "k",
         .key_len = 1,
         .value = "value",
         .value_len = 5,
         .headers = &h,
         .header_count = 1},
        {.value = "abc", .value_len = 3},
        {.value = "lost", .value_len = 4, .error = 10},
    };
    kk_metrics_produced(m, msgs, 3, 2);
    kk_fetched_message_t fetched[2] = {{.key = "k", .key_len = 1, .value = "v", .value_len = 1},
                                       {.value = "xyz", .value_len = 3}};
    kk_fetch_batch_t batch = {.messages = fetched, .count = 2};
    kk_metrics_fetched(m, &batch);
    kk_metrics_unref(m);
    kk_stats_t s;
    kk_metrics_read(m, &s);
    assert_int_equal(s.messages_sent, 2);
    assert_int_equal(s.bytes_sent, 1 + 5 + 1 + 2 + 3);
    assert_int_equal(s.retries, 2);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.errors_by_code[0].code, 10);
    assert_int_equal(s.messages_received, 2);
    assert_int_equal(s.bytes_received, 5);
    assert_int_equal(s.queued_bytes, 0);
    kk_metrics_unref(m);
}

static void test_partition_lag(void **state) {
    (void)state;
    static kk_stats_t s; /* large: not on the test's stack */
    kk_metrics_read(NULL, &s);
    assert_int_equal(s.requests, 0);
    kk_stats_add_partition(&s, "t", 0, 10, 25);
    kk_stats_add_partition(&s, "t", 1, -1, 25);
    kk_stats_add_partition(&s, "t", 2, 30, 25); /* a position past a stale watermark */
    assert_int_equal(s.partitions[0].lag, 15);
    assert_int_equal(s.partitions[1].lag, -1);
    assert_int_equal(s.partitions[2].lag, 0);
    for (int i = 3; i < KK_STATS_MAX_PARTITIONS + 5; i++)
        kk_stats_add_partition(&s, "t", i, 0, 0);
    assert_int_equal(s.partition_count, KK_STATS_MAX_PARTITIONS);
    assert_int_equal(s.partitions_total, KK_STATS_MAX_PARTITIONS + 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_within_a_bucket),
        cmocka_unit_test(test_errors_by_code_and_the_cap),
        cmocka_unit_test(test_produced_and_fetched),
        cmocka_unit_test(test_partition_lag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
