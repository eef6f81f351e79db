/* ConsumerGroupHeartbeat (KIP-848) codec: golden request bytes assembled by hand from Kafka's
 * JSON schema (v0 and v1: v1 adds SubscribedTopicRegex), a response with and without an
 * assignment, every truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"
#include "protocol_cgroup.h"

#define I32(v)                                                                                     \
    (uint8_t)((uint32_t)(v) >> 24), (uint8_t)((uint32_t)(v) >> 16), (uint8_t)((uint32_t)(v) >> 8), \
        (uint8_t)(uint32_t)(v)
#define UUID1 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16

static void test_request_join_v1(void **state) {
    (void)state;
    static const uint8_t id[16] = {UUID1};
    int32_t parts[] = {0, 2};
    kk_cg_topic_partitions_t owned = {{0}, parts, 2};
    memcpy(owned.topic_id, id, 16);
    const char *topics[] = {"t"};
    kk_cg_heartbeat_in_t in = {.group_id = "g",
                               .member_id = "m",
                               .member_epoch = 0,
                               .instance_id = "i",
                               .rebalance_timeout_ms = 30000,
                               .send_topics = true,
                               .topics = topics,
                               .topic_count = 1,
                               .server_assignor = "uniform",
                               .send_owned = true,
                               .owned = &owned,
                               .owned_count = 1};
    const uint8_t expected[] = {2,
                                'g',
                                2,
                                'm',
                                I32(0),
                                2,
                                'i',
                                0 /* rack null */,
                                I32(30000),
                                2,
                                2,
                                't',
                                0 /* regex null (v1) */,
                                8,
                                'u',
                                'n',
                                'i',
                                'f',
                                'o',
                                'r',
                                'm',
                                2,
                                UUID1,
                                3,
                                I32(0),
                                I32(2),
                                0 /* topic tags */,
                                0 /* tags */};
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_cg_heartbeat_request(&w, 1, &in);
    assert_false(w.failed);
    assert_int_equal(w.len, sizeof(expected));
    assert_memory_equal(w.data, expected, sizeof(expected));
    kk_writer_free(&w);
}

static void test_request_unchanged_v0(void **state) {
    (void)state;
    kk_cg_heartbeat_in_t in = {
        .group_id = "g", .member_id = "m", .member_epoch = 7, .rebalance_timeout_ms = -1};
    const uint8_t expected[] = {2, 'g', 2, 'm', I32(7), 0, 0, I32(-1), 0, 0, 0, 0};
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_cg_heartbeat_request(&w, 0, &in);
    assert_int_equal(w.len, sizeof(expected));
    assert_memory_equal(w.data, expected, sizeof(expected));
    kk_writer_free(&w);
}

static const uint8_t response[] = {I32(0),
                                   0,
                                   0,
                                   0 /* no message */,
                                   3,
                                   'm',
                                   'i',
                                   I32(5),
                                   I32(1000),
                                   1 /* assignment */,
                                   2,
                                   UUID1,
                                   3,
                                   I32(1),
                                   I32(4),
                                   0,
                                   0 /* assignment tags */,
                                   0 /* tags */};

static void test_response_with_assignment(void **state) {
    (void)state;
    kk_reader_t r;
    kk_reader_init(&r, response, sizeof(response));
    kk_cg_heartbeat_result_t res;
    kk_error_t err;
    assert_int_equal(kk_decode_cg_heartbeat_response(&r, 1, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 0);
    assert_string_equal(res.member_id, "mi");
    assert_int_equal(res.member_epoch, 5);
    assert_int_equal(res.heartbeat_interval_ms, 1000);
    assert_true(res.has_assignment);
    assert_int_equal(res.assigned_count, 1);
    assert_int_equal(res.assigned[0].topic_id[15], 16);
    assert_int_equal(res.assigned[0].count, 2);
    assert_int_equal(res.assigned[0].partitions[1], 4);
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_cg_heartbeat_result_free(&res);
}

static void test_response_without_assignment(void **state) {
    (void)state;
    const uint8_t bytes[] = {I32(0), 0, 110, 0, 0, I32(-1), I32(0), 0xff, 0};
    kk_reader_t r;
    kk_reader_init(&r, bytes, sizeof(bytes));
    kk_cg_heartbeat_result_t res;
    kk_error_t err;
    assert_int_equal(kk_decode_cg_heartbeat_response(&r, 0, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 110);
    assert_false(res.has_assignment);
    assert_null(res.member_id);
    kk_cg_heartbeat_result_free(&res);
}

static void test_response_truncated(void **state) {
    (void)state;
    for (size_t n = 0; n < sizeof(response); n++) {
        kk_reader_t r;
        kk_reader_init(&r, response, n);
        kk_cg_heartbeat_result_t res;
        kk_error_t err;
        assert_int_equal(kk_decode_cg_heartbeat_response(&r, 1, &res, &err), KK_ERR_MALFORMED);
        assert_null(res.assigned);
    }
}

static void test_api_is_known(void **state) {
    (void)state;
    int16_t lo, hi;
    assert_true(kk_protocol_supported(KK_API_CONSUMER_GROUP_HEARTBEAT, &lo, &hi));
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 1);
    assert_true(kk_protocol_is_flexible(KK_API_CONSUMER_GROUP_HEARTBEAT, 0));
    assert_false(kk_protocol_supported(67, &lo, &hi));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_join_v1),
        cmocka_unit_test(test_request_unchanged_v0),
        cmocka_unit_test(test_response_with_assignment),
        cmocka_unit_test(test_response_without_assignment),
        cmocka_unit_test(test_response_truncated),
        cmocka_unit_test(test_api_is_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
